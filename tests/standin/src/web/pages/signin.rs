//! Sign-in and sign-out. The sign-in form carries a one-off token paired with
//! the `cis_signin` cookie (login CSRF); a success starts a session.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use crate::app::AppState;
use crate::password;
use crate::web::auth::{post_session, safe_next};
use crate::web::html::{esc, message_page, Page};
use crate::web::session::{cookie, random_token, set_cookie, tokens_match, SESSION_COOKIE, SIGNIN_COOKIE};

fn internal() -> Response {
    message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "server-error",
        "The stand-in could not complete the request. See its log.",
        None,
    )
}

fn signin_page(app: &AppState, next: &str, error: Option<&str>, username: &str) -> Response {
    let Ok(token) = random_token() else {
        return internal();
    };
    let error_html = error
        .map(|e| {
            format!(
                r#"<div class="error-summary" id="signin-error" role="alert" tabindex="-1"><p>{}</p></div>"#,
                esc(e)
            )
        })
        .unwrap_or_default();
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    let mut resp = Page {
        title: "Sign in",
        page_id: "signin",
        session: None,
        body: format!(
            r#"<h1>Sign in to Care Identity Service</h1>
{error_html}<div class="panel">
<form id="signin-form" method="post" action="/signin" novalidate>
<input type="hidden" name="signin_token" value="{token}">
<input type="hidden" name="next" value="{next}">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" value="{username}" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<div><button type="submit" id="signin-button">Sign in</button></div>
</form>
</div>
<p class="hint" id="signin-hint">In the real service the sponsor signs in with their own smartcard in the first reader. The stand-in uses demo accounts (see its README).</p>"#,
            next = esc(next),
            username = esc(username),
        ),
    }
    .render_with(status);
    if let Ok(v) = HeaderValue::from_str(&set_cookie(SIGNIN_COOKIE, &token, Some(1800), app.secure_cookies)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `GET /signin`
pub async fn show(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let next = safe_next(q.get("next").map(String::as_str));
    if app.sessions.from_headers(&headers).is_some() {
        return Redirect::to(next).into_response();
    }
    signin_page(&app, next, None, "")
}

/// `POST /signin` (form: username, password, signin_token, next)
pub async fn submit(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str);
    let next = safe_next(field("next")).to_owned();
    let username = field("username").unwrap_or("").trim();
    if !tokens_match(field("signin_token"), cookie(&headers, SIGNIN_COOKIE)) {
        let mut r = signin_page(&app, &next, Some("The sign-in form expired. Try again."), username);
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    let password_given = field("password").unwrap_or("");
    let sponsor = match app.store.sponsor_by_username(username) {
        Ok(s) => s,
        Err(_) => return internal(),
    };
    let Some(sponsor) = sponsor.filter(|s| password::verify(password_given, &s.password_hash)) else {
        return signin_page(&app, &next, Some("The username or password is not right."), username);
    };
    let Ok(session) = app.sessions.create(sponsor.id, &sponsor.username, &sponsor.display_name) else {
        return internal();
    };
    let mut resp = Redirect::to(&next).into_response();
    let cookies = [
        set_cookie(SESSION_COOKIE, &session.id, None, app.secure_cookies),
        set_cookie(SIGNIN_COOKIE, "", Some(0), app.secure_cookies),
    ];
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// `POST /signout` (form: csrf_token)
pub async fn signout(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match post_session(&app, &headers, form.get("csrf_token").map(String::as_str)) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    app.sessions.remove(&session.id);
    let mut resp = Redirect::to("/signin").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(SESSION_COOKIE, "", Some(0), app.secure_cookies)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
