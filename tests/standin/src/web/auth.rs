//! Gates for handlers: a page needs a session (else redirect to sign-in), a
//! form post needs a session (else 401) and its CSRF token (else 403).

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::html::{message_page, query_value};
use super::session::{Session, CSRF_HEADER};
use crate::app::App;

/// (Responses are boxed: they are large and the happy path is the common one.)
///
/// The session for a page view, or a redirect to `/signin?next=...`.
pub fn page_session(app: &App, headers: &HeaderMap, here: &str) -> Result<Session, Box<Response>> {
    app.sessions
        .from_headers(headers)
        .ok_or_else(|| Box::new(Redirect::to(&format!("/signin?next={}", query_value(here))).into_response()))
}

/// The session for a state-changing form post: 401 without a session, 403
/// when the CSRF token (form field `csrf_token` or `X-CSRF-Token` header)
/// is missing or wrong.
pub fn post_session(
    app: &App,
    headers: &HeaderMap,
    form_token: Option<&str>,
) -> Result<Session, Box<Response>> {
    let Some(session) = app.sessions.from_headers(headers) else {
        let mut r = message_page(
            StatusCode::UNAUTHORIZED,
            "You are not signed in",
            "not-signed-in",
            "Your session has ended or you have not signed in. Sign in and try again.",
            None,
        );
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Cookie"));
        return Err(Box::new(r));
    };
    let header_token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if !session.csrf_matches(form_token.or(header_token)) {
        return Err(Box::new(message_page(
            StatusCode::FORBIDDEN,
            "This form has expired",
            "csrf-error",
            "The security token sent with this request is missing or wrong. Reload the page and try again.",
            Some(&session),
        )));
    }
    Ok(session)
}

/// Whether `next` is a safe local path to go to after sign-in.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/home",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_next_only_allows_local_paths() {
        assert_eq!(safe_next(Some("/smartcard?card=1")), "/smartcard?card=1");
        for bad in ["//evil.example/", "https://evil.example/", "/\\evil", ""] {
            assert_eq!(safe_next(Some(bad)), "/home", "{bad}");
        }
        assert_eq!(safe_next(None), "/home");
    }
}
