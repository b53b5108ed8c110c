//! Manage Smartcard: asks for the card in the second reader, looks it up by
//! serial (`?card=SERIAL`, or the lookup form), shows **Smartcard Details**
//! (the holder and their cards), Select / **Deselect**, and **Select
//! Service** with the dashboard's own services.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use super::{cert_status, service_menu, status_tag};
use crate::app::AppState;
use crate::clock;
use crate::store::{CardWithUser, CertRecord, StoreResult, User};
use crate::web::auth::{page_session, post_session};
use crate::web::html::{esc, message_page, query_value, Page};
use crate::web::session::Session;

/// Longest card serial accepted (SoftHSM serials are 16 hex digits).
const MAX_SERIAL: usize = 64;

fn clean_serial(raw: Option<&String>) -> Option<String> {
    raw.map(|s| s.trim()).filter(|s| !s.is_empty() && s.len() <= MAX_SERIAL).map(str::to_owned)
}

fn server_error(session: Option<&Session>) -> Response {
    message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "server-error",
        "The stand-in could not read its records. See its log.",
        session,
    )
}

/// `GET /smartcard[?card=SERIAL]`
pub async fn show(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let serial = clean_serial(q.get("card"));
    let here = match &serial {
        Some(s) => format!("/smartcard?card={}", query_value(s)),
        None => "/smartcard".to_owned(),
    };
    let session = match page_session(&app, &headers, &here) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match render(&app, &session, serial.as_deref()) {
        Ok((status, body)) => {
            Page { title: "Manage Smartcard", page_id: "manage-smartcard", session: Some(&session), body }
                .render_with(status)
        }
        Err(_) => server_error(Some(&session)),
    }
}

fn render(app: &AppState, session: &Session, serial: Option<&str>) -> StoreResult<(StatusCode, String)> {
    let mut body = String::new();
    let _ = writeln!(
        body,
        r#"<h1>Manage Smartcard</h1>
<div class="inset" id="reader-prompt">
<p>Ask the user to insert their smartcard into the <strong>second smartcard reader</strong>.
The details of the card in that reader are shown below.</p>
</div>
<form id="card-lookup-form" method="get" action="/smartcard" role="search" aria-label="Find a card">
<label for="card-serial">Card serial</label>
<p class="hint" id="card-serial-hint">The serial number of the card in the second reader.</p>
<input type="text" id="card-serial" name="card" value="{value}" aria-describedby="card-serial-hint" autocomplete="off" spellcheck="false">
<div><button type="submit" id="card-lookup-button" class="secondary">Find card</button></div>
</form>"#,
        value = esc(serial.unwrap_or(""))
    );
    let mut status = StatusCode::OK;
    let found = match serial {
        Some(s) => app.store.card_by_serial(s)?,
        None => None,
    };
    match (serial, found) {
        (Some(serial), Some(card)) => {
            let user = app.store.user_by_id(card.user_id)?;
            if let Some(user) = user {
                details(app, session, &mut body, &user, serial)?;
            }
        }
        (Some(serial), None) => {
            status = StatusCode::NOT_FOUND;
            let _ = writeln!(
                body,
                r#"<div class="error-summary" id="card-not-found" role="alert" data-card-serial="{s}"><p>No card with serial <strong>{s}</strong> is registered.</p></div>"#,
                s = esc(serial)
            );
            known_cards(app, &mut body)?;
        }
        (None, _) => known_cards(app, &mut body)?,
    }
    Ok((status, body))
}

fn cert_cell(certs: &[CertRecord], role: &str, now: i64, window: i64) -> String {
    match certs.iter().find(|c| c.role == role) {
        Some(c) => {
            let st = cert_status(c.not_after, now, window);
            format!(
                r#"<td data-cert-role="{role}" data-cert-serial="{serial}" data-not-after="{iso}" data-status="{st}">{date}{tag}</td>"#,
                serial = esc(&c.serial),
                iso = clock::iso_datetime(c.not_after),
                date = clock::long_date(c.not_after),
                tag = status_tag(st)
            )
        }
        None => format!(r#"<td data-cert-role="{role}" data-status="none">None</td>"#),
    }
}

fn details(
    app: &AppState,
    session: &Session,
    body: &mut String,
    user: &User,
    in_reader: &str,
) -> StoreResult<()> {
    let now = clock::now();
    let window = app.policy.window_days;
    let cards = app.store.cards_of_user(user.id)?;
    let selected = session.selected_card.as_deref().filter(|s| cards.iter().any(|c| c.serial == *s));
    let _ = writeln!(
        body,
        r#"<section id="smartcard-details" class="panel" aria-labelledby="smartcard-details-heading" data-card-serial="{reader}" data-user-uuid="{uuid}">
<h2 id="smartcard-details-heading">Smartcard Details</h2>
<dl class="summary" id="user-details">
<dt>Name</dt><dd id="user-name">{name}</dd>
<dt>UUID</dt><dd id="user-uuid">{uuid}</dd>
<dt>Job role</dt><dd id="user-job-role">{job}</dd>
<dt>Organisation</dt><dd id="user-organisation">{org}</dd>
</dl>
<table id="card-list" aria-describedby="card-list-caption">
<caption id="card-list-caption">Cards of {name}</caption>
<thead><tr><th scope="col">Card serial</th><th scope="col">Label</th><th scope="col">Authentication certificate expires</th><th scope="col">Signing certificate expires</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
<tbody>"#,
        reader = esc(in_reader),
        uuid = esc(&user.uuid),
        name = esc(&user.name),
        job = esc(&user.job_role),
        org = esc(&user.organisation),
    );
    for card in &cards {
        let certs = app.store.current_certs(card.id)?;
        let is_selected = selected == Some(card.serial.as_str());
        let is_in_reader = card.serial == in_reader;
        let action = if is_selected {
            r#"<strong class="tag selected">Selected</strong>"#.to_owned()
        } else {
            format!(
                r#"<form method="post" action="/smartcard/select">
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="card" value="{s}">
<input type="hidden" name="return" value="{reader}">
<button type="submit" class="card-select-button secondary" data-card-serial="{s}">Select<span class="visually-hidden"> card {s}</span></button>
</form>"#,
                csrf = esc(&session.csrf),
                s = esc(&card.serial),
                reader = esc(in_reader),
            )
        };
        let _ = writeln!(
            body,
            r#"<tr class="card-row" data-card-serial="{s}" data-selected="{sel}" data-in-reader="{inr}"{current}>
<td class="card-serial">{s}{reader_tag}</td><td class="card-label">{label}</td>{auth}{sign}<td>{action}</td></tr>"#,
            s = esc(&card.serial),
            sel = is_selected,
            inr = is_in_reader,
            current = if is_selected { r#" aria-current="true""# } else { "" },
            reader_tag = if is_in_reader { r#" <strong class="tag">In reader</strong>"# } else { "" },
            label = esc(&card.label),
            auth = cert_cell(&certs, "authentication", now, window),
            sign = cert_cell(&certs, "signing", now, window),
        );
    }
    body.push_str("</tbody>\n</table>\n<div class=\"selection-bar\">\n");
    let kind = app.policy.service_menu;
    body.push_str(&service_menu::selected_line(kind, selected));
    body.push('\n');
    if selected.is_some() {
        let _ = writeln!(
            body,
            r#"<form method="post" action="/smartcard/deselect">
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="return" value="{reader}">
<button type="submit" id="deselect-card" class="secondary">Deselect</button>
</form>"#,
            csrf = esc(&session.csrf),
            reader = esc(in_reader),
        );
    }
    let sel_q = selected.map(query_value).unwrap_or_default();
    body.push_str(&service_menu::render(kind, &sel_q, selected.is_some()));
    body.push_str("</div>\n</section>\n");
    Ok(())
}

fn known_cards(app: &AppState, body: &mut String) -> StoreResult<()> {
    let all = app.store.cards_with_users()?;
    body.push_str(
        r#"<section id="known-cards-section" aria-labelledby="known-cards-heading">
<h2 id="known-cards-heading">Registered cards</h2>
"#,
    );
    if all.is_empty() {
        body.push_str(r#"<p id="known-cards-empty">No cards are registered yet.</p></section>"#);
        return Ok(());
    }
    body.push_str(
        r#"<table id="known-cards"><thead><tr><th scope="col">Card serial</th><th scope="col">Holder</th><th scope="col">Label</th></tr></thead><tbody>
"#,
    );
    for CardWithUser { card, user, .. } in &all {
        let _ = writeln!(
            body,
            r#"<tr data-card-serial="{s}"><td><a class="card-open" href="/smartcard?card={q}">{s}</a></td><td>{name}</td><td>{label}</td></tr>"#,
            s = esc(&card.serial),
            q = esc(&query_value(&card.serial)),
            name = esc(&user.name),
            label = esc(&card.label),
        );
    }
    body.push_str("</tbody></table>\n</section>\n");
    Ok(())
}

fn back_to(form: &HashMap<String, String>, fallback: Option<&str>) -> String {
    match clean_serial(form.get("return")).as_deref().or(fallback) {
        Some(s) => format!("/smartcard?card={}", query_value(s)),
        None => "/smartcard".to_owned(),
    }
}

/// `POST /smartcard/select` (form: csrf_token, card, return)
pub async fn select(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match post_session(&app, &headers, form.get("csrf_token").map(String::as_str)) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Some(serial) = clean_serial(form.get("card")) else {
        return message_page(
            StatusCode::BAD_REQUEST,
            "No card given",
            "select-error",
            "Say which card to select.",
            Some(&session),
        );
    };
    match app.store.card_by_serial(&serial) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return message_page(
                StatusCode::NOT_FOUND,
                "Card not found",
                "select-error",
                "No card with that serial is registered.",
                Some(&session),
            )
        }
        Err(_) => return server_error(Some(&session)),
    }
    app.sessions.select_card(&session.id, Some(serial.clone()));
    Redirect::to(&back_to(&form, Some(&serial))).into_response()
}

/// `POST /smartcard/deselect` (form: csrf_token, return)
pub async fn deselect(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match post_session(&app, &headers, form.get("csrf_token").map(String::as_str)) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    app.sessions.select_card(&session.id, None);
    Redirect::to(&back_to(&form, session.selected_card.as_deref())).into_response()
}
