//! The admin JSON API for tests and the demo, under `/admin/api/`. Every call
//! needs `Authorization: Bearer <adminToken>` (the token is printed in the
//! ready line; the server only listens on 127.0.0.1).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use der::EncodePem;
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::clock;
use crate::enrol::{self, DemoCard, EnrolError};
use crate::store::{CardWithUser, CertRecord};

/// The admin routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/api/cards", get(cards).post(create_card))
        .route("/admin/api/issued", get(issued))
        .route("/admin/api/audit", get(audit))
        .route("/admin/api/users", get(users))
}

fn json_response(status: StatusCode, v: Value) -> Response {
    let mut r = (status, v.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn error(status: StatusCode, code: &str, message: impl std::fmt::Display) -> Response {
    json_response(status, json!({ "error": code, "message": message.to_string() }))
}

fn authorised(app: &AppState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !given.is_empty() && bool::from(given.as_bytes().ct_eq(app.admin_token.as_bytes())) {
        Ok(())
    } else {
        Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "admin-token",
            "Send Authorization: Bearer <adminToken> from the ready line.",
        )))
    }
}

fn pem(der: &[u8]) -> String {
    <x509_cert::Certificate as der::Decode>::from_der(der)
        .ok()
        .and_then(|c| c.to_pem(der::pem::LineEnding::LF).ok())
        .unwrap_or_default()
}

/// JSON view of a certificate record.
pub fn cert_json(c: &CertRecord) -> Value {
    json!({
        "role": c.role,
        "serial": c.serial,
        "subject": c.subject,
        "notBefore": clock::iso_datetime(c.not_before),
        "notAfter": clock::iso_datetime(c.not_after),
        "notAfterUnix": c.not_after,
        "source": c.source,
        "isCurrent": c.is_current,
        "renewsId": c.renews_id,
        "id": c.id,
        "pem": pem(&c.der),
    })
}

fn card_json(c: &CardWithUser) -> Value {
    json!({
        "serial": c.card.serial,
        "label": c.card.label,
        "registeredAt": clock::iso_datetime(c.card.registered_at),
        "user": { "handle": c.user.handle, "uuid": c.user.uuid, "name": c.user.name },
        "certificates": c.certs.iter().map(cert_json).collect::<Vec<_>>(),
    })
}

/// `GET /admin/api/cards`
async fn cards(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorised(&app, &headers) {
        return *r;
    }
    match app.store.cards_with_users() {
        Ok(all) => json_response(StatusCode::OK, Value::Array(all.iter().map(card_json).collect())),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateCard {
    user: String,
    serial: Option<String>,
    label: Option<String>,
    auth_days: i64,
    sign_days: i64,
    subject: Option<String>,
}

/// `POST /admin/api/cards` — registers a card with certificates issued to
/// throwaway keys (no token). Body: `{"user", "authDays", "signDays",
/// "serial"?, "label"?, "subject"?}`.
async fn create_card(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorised(&app, &headers) {
        return *r;
    }
    let req: CreateCard = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad-json", e),
    };
    let user = match app.store.user_by_handle_or_uuid(&req.user) {
        Ok(Some(u)) => u,
        Ok(None) => return error(StatusCode::NOT_FOUND, "unknown-user", format!("no user {:?}", req.user)),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    };
    let spec = DemoCard {
        serial: req.serial,
        label: req.label.unwrap_or_else(|| format!("{} card", user.name)),
        auth_days: req.auth_days,
        sign_days: req.sign_days,
        subject: req.subject,
    };
    let card = match enrol::register_demo_card(&app.store, &app.ca, &user, &spec) {
        Ok(c) => c,
        Err(EnrolError::Invalid(m)) => return error(StatusCode::BAD_REQUEST, "invalid", m),
        Err(EnrolError::Internal(m)) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", m),
    };
    match app.store.current_certs(card.id) {
        Ok(certs) => json_response(StatusCode::CREATED, card_json(&CardWithUser { card, user, certs })),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    }
}

/// `GET /admin/api/issued` — certificates issued by renewal, newest first.
async fn issued(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorised(&app, &headers) {
        return *r;
    }
    let certs = match app.store.renewed_certs() {
        Ok(c) => c,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    };
    let mut out = Vec::new();
    for c in &certs {
        let mut v = cert_json(c);
        let card = app.store.card_by_id(c.card_id).ok().flatten();
        let renews = c.renews_id.and_then(|id| app.store.cert_by_id(id).ok().flatten());
        v["cardSerial"] = json!(card.map(|k| k.serial));
        v["renewsSerial"] = json!(renews.map(|r| r.serial));
        out.push(v);
    }
    json_response(StatusCode::OK, Value::Array(out))
}

/// `GET /admin/api/audit` — every renewal attempt, oldest first.
async fn audit(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorised(&app, &headers) {
        return *r;
    }
    match app.store.audit_entries() {
        Ok(a) => json_response(StatusCode::OK, json!(a)),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    }
}

/// `GET /admin/api/users`
async fn users(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorised(&app, &headers) {
        return *r;
    }
    match app.store.users() {
        Ok(u) => json_response(StatusCode::OK, json!(u)),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    }
}
