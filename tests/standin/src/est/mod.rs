//! EST (RFC 7030) for the stand-in CA: `cacerts`, `csrattrs` and
//! `simplereenroll`, plus the labelled forms
//! `/.well-known/est/<authentication|signing>/...`.
//!
//! `csrattrs` needs the sponsor's session (a GET, so no CSRF header); its
//! answer is base64 DER `CsrAttrs` (`application/csrattrs`) naming the key
//! algorithm of `--csr-key-algorithm`.
//!
//! `simplereenroll` is authorised by the sponsor's session cookie and the
//! `X-CSRF-Token` header; body base64 DER PKCS#10 (`application/pkcs10`);
//! answer base64 certs-only PKCS#7. Every attempt is written to the audit
//! trail. Refusals are JSON `{"error", "message"}` with a 4xx status.

pub(crate) mod csrattrs;
pub(crate) mod reenroll;
mod refusal;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;

use crate::app::AppState;
use crate::clock;
use crate::csr;
use crate::pkcs7;
use crate::role::Role;
use crate::store::NewAudit;
use crate::web::session::CSRF_HEADER;
pub use refusal::Refusal;

/// Largest accepted request body.
const MAX_BODY: usize = 64 * 1024;
const PKCS7_TYPE: &str = "application/pkcs7-mime; smime-type=certs-only";

/// The EST routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/est/cacerts", get(cacerts))
        .route("/.well-known/est/{label}/cacerts", get(cacerts_labelled))
        .route("/.well-known/est/csrattrs", get(csrattrs))
        .route("/.well-known/est/{label}/csrattrs", get(csrattrs_labelled))
        .route("/.well-known/est/simplereenroll", post(simplereenroll))
        .route("/.well-known/est/{label}/simplereenroll", post(simplereenroll_labelled))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// Base64 with CRLF every 76 characters (RFC 2045), as EST sends it.
pub fn mime_base64(der: &[u8]) -> String {
    let flat = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(flat.len() + flat.len() / 38 + 2);
    for chunk in flat.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

fn pkcs7_response(b64: String) -> Response {
    let mut r = (StatusCode::OK, b64).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PKCS7_TYPE));
    h.insert("content-transfer-encoding", HeaderValue::from_static("base64"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn label_role(label: &str) -> Result<Role, Refusal> {
    label.parse().map_err(|_| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            "unknown-label",
            format!("No EST label {label:?}; use authentication or signing."),
        )
    })
}

/// `GET /.well-known/est/cacerts`
async fn cacerts(State(app): State<AppState>) -> Response {
    pkcs7_response(app.cacerts_b64.clone())
}

/// `GET /.well-known/est/{label}/cacerts`
async fn cacerts_labelled(State(app): State<AppState>, Path(label): Path<String>) -> Response {
    match label_role(&label) {
        Ok(_) => pkcs7_response(app.cacerts_b64.clone()),
        Err(r) => r.into_response(),
    }
}

fn not_signed_in() -> Refusal {
    Refusal::new(
        StatusCode::UNAUTHORIZED,
        "not-signed-in",
        "Sign in to the dashboard first: renewal needs the sponsor's session.",
    )
}

/// `GET /.well-known/est/csrattrs`
async fn csrattrs(State(app): State<AppState>, headers: HeaderMap) -> Response {
    csrattrs_answer(&app, &headers)
}

/// `GET /.well-known/est/{label}/csrattrs`
async fn csrattrs_labelled(
    State(app): State<AppState>,
    Path(label): Path<String>,
    headers: HeaderMap,
) -> Response {
    match label_role(&label) {
        Ok(_) => csrattrs_answer(&app, &headers),
        Err(r) => r.into_response(),
    }
}

fn csrattrs_answer(app: &AppState, headers: &HeaderMap) -> Response {
    if app.sessions.from_headers(headers).is_none() {
        return not_signed_in().into_response();
    }
    let der = match csrattrs::csr_attrs_der(app.policy.csr_key_algorithm) {
        Ok(d) => d,
        Err(e) => return Refusal::internal(e).into_response(),
    };
    let mut r = (StatusCode::OK, mime_base64(&der)).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/csrattrs"));
    h.insert("content-transfer-encoding", HeaderValue::from_static("base64"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `POST /.well-known/est/simplereenroll`
async fn simplereenroll(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&app, &headers, &body, None)
}

/// `POST /.well-known/est/{label}/simplereenroll`
async fn simplereenroll_labelled(
    State(app): State<AppState>,
    Path(label): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match label_role(&label) {
        Ok(role) => handle(&app, &headers, &body, Some(role)),
        Err(r) => r.into_response(),
    }
}

fn handle(app: &AppState, headers: &HeaderMap, body: &[u8], path_role: Option<Role>) -> Response {
    let mut audit = NewAudit { role: path_role.map(|r| r.as_str().to_owned()), ..NewAudit::default() };
    let outcome = attempt(app, headers, body, path_role, &mut audit);
    match outcome {
        Ok(issued) => {
            audit.status = 200;
            audit.code = if issued.repeated { "repeated" } else { "issued" }.to_owned();
            audit.reason = if issued.repeated {
                "Returned the certificate already issued for this key (retry).".to_owned()
            } else {
                "Certificate issued.".to_owned()
            };
            audit.issued_serial = Some(issued.serial.clone());
            let body = match pkcs7::certs_only(&[&issued.der]) {
                Ok(p7) => mime_base64(&p7),
                Err(e) => return refuse(app, audit, Refusal::internal(e)),
            };
            if let Err(e) = app.store.audit(&audit) {
                eprintln!("cis-standin: audit write failed: {e}");
            }
            pkcs7_response(body)
        }
        Err(r) => refuse(app, audit, r),
    }
}

fn refuse(app: &AppState, mut audit: NewAudit, r: Refusal) -> Response {
    audit.status = r.status.as_u16();
    audit.code = r.code.to_owned();
    audit.reason = r.message.clone();
    audit.issued_serial = None;
    if let Err(e) = app.store.audit(&audit) {
        eprintln!("cis-standin: audit write failed: {e}");
    }
    r.into_response()
}

fn attempt(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    path_role: Option<Role>,
    audit: &mut NewAudit,
) -> Result<reenroll::Issued, Refusal> {
    let Some(session) = app.sessions.from_headers(headers) else {
        return Err(not_signed_in());
    };
    audit.sponsor = Some(session.username.clone());
    audit.card_serial = session.selected_card.clone();
    let token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if !session.csrf_matches(token) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "The X-CSRF-Token header is missing or wrong; read it from <meta name=\"csrf-token\">.",
        ));
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/pkcs10") {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("Send the CSR as application/pkcs10 (got {content_type:?})."),
        ));
    }
    let der = csr::decode_body(body)?;
    reenroll::reenroll(app, &session, &der, path_role, clock::now(), audit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_base64_wraps_at_76() {
        let s = mime_base64(&[0u8; 100]);
        let lines: Vec<&str> = s.split("\r\n").collect();
        assert_eq!(lines[0].len(), 76);
        assert!(lines.iter().all(|l| l.len() <= 76));
        assert_eq!(s.replace("\r\n", ""), base64::engine::general_purpose::STANDARD.encode([0u8; 100]));
    }
}
