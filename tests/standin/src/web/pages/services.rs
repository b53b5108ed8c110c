//! The dashboard's own services from the Select Service menu: View
//! Certificates, Unlock Smartcard and Cancel Smartcard. The last two are
//! placeholders: the stand-in only needs them to exist in the menu.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{cert_status, status_tag};
use crate::app::AppState;
use crate::clock;
use crate::store::Card;
use crate::web::auth::page_session;
use crate::web::html::{esc, message_page, query_value, Page};
use crate::web::session::Session;

/// Signed-in session and the card named by `?card=`, or the page to show instead.
fn card_page(
    app: &AppState,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    path: &str,
) -> Result<(Session, Card), Box<Response>> {
    let serial = q.get("card").map(|s| s.trim()).unwrap_or("");
    let here = format!("{path}?card={}", query_value(serial));
    let session = page_session(app, headers, &here)?;
    match app.store.card_by_serial(serial) {
        Ok(Some(card)) => Ok((session, card)),
        Ok(None) => Err(Box::new(message_page(
            StatusCode::NOT_FOUND,
            "Card not found",
            "card-not-found",
            "No card with that serial is registered. Select a card on Manage Smartcard first.",
            Some(&session),
        ))),
        Err(_) => Err(Box::new(message_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "server-error",
            "The stand-in could not read its records.",
            Some(&session),
        ))),
    }
}

fn back_link(card: &Card) -> String {
    format!(
        r#"<p><a id="back-to-smartcard" href="/smartcard?card={}">Back to Manage Smartcard</a></p>"#,
        esc(&query_value(&card.serial))
    )
}

/// `GET /smartcard/certificates?card=SERIAL`
pub async fn certificates(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (session, card) = match card_page(&app, &headers, &q, "/smartcard/certificates") {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Ok(certs) = app.store.current_certs(card.id) else {
        return message_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "server-error",
            "The stand-in could not read its records.",
            Some(&session),
        );
    };
    let now = clock::now();
    let mut body = format!(
        r#"<h1>View Certificates</h1>
<p>Certificates on card <strong id="certificates-card" data-card-serial="{s}">{s}</strong>.</p>
<table id="certificate-list"><thead><tr><th scope="col">Role</th><th scope="col">Serial</th><th scope="col">Subject</th><th scope="col">Valid from</th><th scope="col">Expires</th></tr></thead><tbody>
"#,
        s = esc(&card.serial)
    );
    for c in &certs {
        let st = cert_status(c.not_after, now, app.policy.window_days);
        let _ = writeln!(
            body,
            r#"<tr data-cert-role="{role}" data-cert-serial="{serial}" data-not-after="{iso}" data-status="{st}" data-source="{src}"><td>{label}</td><td><code>{serial}</code></td><td>{subject}</td><td>{from}</td><td>{to}{tag}</td></tr>"#,
            role = esc(&c.role),
            serial = esc(&c.serial),
            iso = clock::iso_datetime(c.not_after),
            src = esc(&c.source),
            label = c.role().map(|r| r.label()).unwrap_or("Unknown"),
            subject = esc(&c.subject),
            from = clock::long_date(c.not_before),
            to = clock::long_date(c.not_after),
            tag = status_tag(st),
        );
    }
    body.push_str("</tbody></table>\n");
    body.push_str(&back_link(&card));
    Page { title: "View Certificates", page_id: "view-certificates", session: Some(&session), body }.render()
}

fn placeholder(
    app: &AppState,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    path: &str,
    title: &str,
    page_id: &str,
    text: &str,
) -> Response {
    let (session, card) = match card_page(app, headers, q, path) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    Page {
        title,
        page_id,
        session: Some(&session),
        body: format!(
            r#"<h1>{t}</h1>
<div class="inset" id="{page_id}-notice" data-card-serial="{s}"><p>{text}</p></div>
{back}"#,
            t = esc(title),
            s = esc(&card.serial),
            text = esc(text),
            back = back_link(&card)
        ),
    }
    .render()
}

/// `GET /smartcard/unlock?card=SERIAL`
pub async fn unlock(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    placeholder(
        &app,
        &headers,
        &q,
        "/smartcard/unlock",
        "Unlock Smartcard",
        "unlock-smartcard",
        "In the real dashboard the sponsor unlocks the card here and the user sets a new passcode. The stand-in does not unlock cards.",
    )
}

/// `GET /smartcard/cancel?card=SERIAL`
pub async fn cancel(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    placeholder(
        &app,
        &headers,
        &q,
        "/smartcard/cancel",
        "Cancel Smartcard",
        "cancel-smartcard",
        "In the real dashboard the sponsor cancels a lost or damaged card here. The stand-in does not cancel cards.",
    )
}
