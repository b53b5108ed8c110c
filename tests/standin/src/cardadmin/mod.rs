//! The card-management API (`/card-admin/v1/`): the renewal service's side of PIV renewals.
//! The service holds each PIV card's management key (derived from a master secret, see
//! [`keys`]) and answers the card's mutual-authentication witness, relayed by the extension
//! and the host, so the key never leaves the service. It checks the card's answer to its own
//! challenge before it issues, applies EST's `simplereenroll` rules to each CSR, and keeps
//! each renewal's record so an interrupted one can be finished. See docs/renewal-service.md.
//!
//! Same session rules as EST: the sponsor's session cookie, and `X-CSRF-Token` on every POST
//! (refusal codes `not-signed-in` 401 and `csrf` 403, as EST). Bodies are JSON; refusals are
//! JSON `{"error", "message"}`.

pub mod keys;
mod renewal;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use crate::app::AppState;
use crate::est::Refusal;
use crate::store::NewAudit;
use crate::web::session::{Session, CSRF_HEADER};

const MAX_BODY: usize = 64 * 1024;

/// The card-management routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/card-admin/v1/renewals", post(begin))
        .route("/card-admin/v1/renewals/{renewal}/certificates", post(certificates))
        .route("/card-admin/v1/renewals/{renewal}/installed", post(installed))
        .route("/card-admin/v1/cards/{card_id}/renewal", get(card_renewal))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// `POST /card-admin/v1/renewals`
async fn begin(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let mut audit = NewAudit::default();
    let result = post_session(&app, &headers, &mut audit)
        .and_then(|s| json_body(&headers, &body).map(|b| (s, b)))
        .and_then(|(s, b)| renewal::begin(&app, &s, &b, &mut audit));
    answer(&app, audit, result.map(|v| (StatusCode::CREATED, Some(v))))
}

/// `POST /card-admin/v1/renewals/{renewal}/certificates`
async fn certificates(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut audit = NewAudit::default();
    let result = post_session(&app, &headers, &mut audit)
        .and_then(|s| json_body(&headers, &body).map(|b| (s, b)))
        .and_then(|(s, b)| renewal::certificates(&app, &s, &id, &b, &mut audit));
    answer(&app, audit, result.map(|v| (StatusCode::OK, Some(v))))
}

/// `POST /card-admin/v1/renewals/{renewal}/installed`
async fn installed(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    // Read (and ignored) so the connection stays usable for the client's next request.
    _body: Bytes,
) -> Response {
    let mut audit = NewAudit::default();
    let result =
        post_session(&app, &headers, &mut audit).and_then(|s| renewal::installed(&app, &s, &id, &mut audit));
    answer(&app, audit, result.map(|()| (StatusCode::NO_CONTENT, None)))
}

/// `GET /card-admin/v1/cards/{cardId}/renewal`
async fn card_renewal(
    State(app): State<AppState>,
    Path(card_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut audit = NewAudit::default();
    let result =
        session(&app, &headers, &mut audit).and_then(|_| renewal::of_card(&app, &card_id, &mut audit));
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        // Reading creates nothing and is not an attempt: no audit entry.
        Err(r) => r.into_response(),
    }
}

/// The signed-in sponsor's session, as EST requires it.
fn session(app: &AppState, headers: &HeaderMap, audit: &mut NewAudit) -> Result<Session, Refusal> {
    let s = app.sessions.from_headers(headers).ok_or_else(|| {
        Refusal::new(
            StatusCode::UNAUTHORIZED,
            "not-signed-in",
            "Sign in to the dashboard first: card management needs the sponsor's session.",
        )
    })?;
    audit.sponsor = Some(s.username.clone());
    Ok(s)
}

/// [`session`] plus the CSRF token, for every state-changing request.
fn post_session(app: &AppState, headers: &HeaderMap, audit: &mut NewAudit) -> Result<Session, Refusal> {
    let s = session(app, headers, audit)?;
    let token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if !s.csrf_matches(token) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "The X-CSRF-Token header is missing or wrong; read it from <meta name=\"csrf-token\">.",
        ));
    }
    Ok(s)
}

fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, Refusal> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Send the body as application/json (got {content_type:?})."),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        Refusal::new(StatusCode::BAD_REQUEST, "bad_request", format!("The body is not JSON: {e}."))
    })
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut r = (status, v.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Sends the result; refusals are written to the audit trail.
fn answer(
    app: &AppState,
    mut audit: NewAudit,
    result: Result<(StatusCode, Option<Value>), Refusal>,
) -> Response {
    match result {
        Ok((status, Some(v))) => json_response(status, &v),
        Ok((status, None)) => {
            let mut r = status.into_response();
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(r) => {
            audit.status = r.status.as_u16();
            audit.code = r.code.to_owned();
            audit.reason = r.message.clone();
            audit.issued_serial = None;
            if let Err(e) = app.store.audit(&audit) {
                eprintln!("cis-standin: audit write failed: {e}");
            }
            r.into_response()
        }
    }
}
