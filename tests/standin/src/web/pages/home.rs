//! The landing page after sign-in, with **Manage Smartcard**.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use crate::app::AppState;
use crate::web::auth::page_session;
use crate::web::html::{esc, Page};

/// `GET /` — home when signed in, else sign-in.
pub async fn root(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if app.sessions.from_headers(&headers).is_some() {
        Redirect::to("/home").into_response()
    } else {
        Redirect::to("/signin").into_response()
    }
}

/// `GET /home`
pub async fn show(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let session = match page_session(&app, &headers, "/home") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    Page {
        title: "Dashboard",
        page_id: "home",
        session: Some(&session),
        body: format!(
            r#"<h1>Welcome, {name}</h1>
<p>Choose what you want to do.</p>
<nav aria-label="Dashboard options" id="dashboard-options">
<ul class="options">
<li><a class="button" id="manage-smartcard" href="/smartcard">Manage Smartcard</a>
<p class="hint">Unlock, cancel or check a user's smartcard, and assist renewal of certificates.</p></li>
</ul>
</nav>"#,
            name = esc(&session.display_name)
        ),
    }
    .render()
}
