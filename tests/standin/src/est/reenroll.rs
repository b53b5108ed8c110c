//! The renewal rules of `simplereenroll`, in order: a valid P-384 CSR; one
//! role; a card the stand-in knows whose current certificate of that role has
//! the CSR's subject; one renewal per role; the renewal window; then issue.

use axum::http::StatusCode;

use super::refusal::Refusal;
use crate::app::App;
use crate::ca::{self, IssueRequest};
use crate::certinfo::CertInfo;
use crate::clock::{self, DAY};
use crate::csr;
use crate::role::Role;
use crate::store::{CertRecord, NewAudit, NewCert};
use crate::web::session::Session;

/// Clock skew allowance put before the issued certificate's start.
const BACKDATE_SECONDS: i64 = 300;

/// A certificate handed out.
#[derive(Debug)]
pub struct Issued {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Its serial, hex.
    pub serial: String,
    /// True when this repeats an earlier answer to a retried request.
    pub repeated: bool,
}

/// Runs the rules for one request; fills `audit` with what becomes known.
pub fn reenroll(
    app: &App,
    session: &Session,
    csr_der: &[u8],
    path_role: Option<Role>,
    now: i64,
    audit: &mut NewAudit,
) -> Result<Issued, Refusal> {
    let csr = csr::check(csr_der)?;
    audit.subject = Some(csr.subject.clone());
    let role = pick_role(csr.role, path_role)?;
    audit.role = Some(role.as_str().to_owned());

    let current = find_current(app, session, &csr.subject_der, &csr.subject, role)?;
    let card = app
        .store
        .card_by_id(current.card_id)
        .map_err(Refusal::internal)?
        .ok_or_else(|| Refusal::internal("card of a certificate is missing"))?;
    audit.card_serial = Some(card.serial.clone());

    let window = app.policy.window_days;
    let window_opens = current.not_after - window * DAY;
    if current.source == "renewed" && now < window_opens {
        if current.public_key == csr.public_key_sec1 {
            return Ok(Issued { der: current.der.clone(), serial: current.serial.clone(), repeated: true });
        }
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "already-renewed",
            format!(
                "The {role} certificate of card {card} was already renewed on {date} \
                 (serial {serial}); one request per role.",
                card = card.serial,
                date = clock::long_date(current.created_at),
                serial = current.serial
            ),
        ));
    }
    if current.public_key == csr.public_key_sec1 {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "key-reused",
            "The CSR reuses the key of the current certificate; renewal needs a new key made on the card.",
        ));
    }
    if now >= current.not_after {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "expired",
            format!(
                "The {role} certificate of card {card} expired on {date}; an expired certificate \
                 cannot be renewed, the card needs new certificates from the registration authority.",
                card = card.serial,
                date = clock::long_date(current.not_after)
            ),
        ));
    }
    if now < window_opens || now < current.not_before {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-due",
            format!(
                "The {role} certificate of card {card} expires on {expiry} and is not due for \
                 renewal until {opens} ({window} days before expiry).",
                card = card.serial,
                expiry = clock::long_date(current.not_after),
                opens = clock::long_date(window_opens)
            ),
        ));
    }

    let der = ca::issue(
        &app.ca,
        &IssueRequest {
            subject_der: csr.subject_der.clone(),
            public_key_sec1: csr.public_key_sec1.clone(),
            role,
            not_before: now - BACKDATE_SECONDS,
            not_after: now + app.policy.validity_days * DAY,
        },
    )
    .map_err(Refusal::internal)?;
    let info = CertInfo::parse(&der).map_err(Refusal::internal)?;
    app.store.record_renewal(&current, &NewCert { info: &info, role }, session.sponsor_id).map_err(|e| {
        match e {
            crate::store::StoreError::NotFound(_) => Refusal::new(
                StatusCode::CONFLICT,
                "already-renewed",
                format!("The {role} certificate was renewed by another request just now."),
            ),
            other => Refusal::internal(other),
        }
    })?;
    Ok(Issued { serial: info.serial, der, repeated: false })
}

fn pick_role(from_csr: Option<Role>, from_path: Option<Role>) -> Result<Role, Refusal> {
    match (from_csr, from_path) {
        (Some(a), Some(b)) if a != b => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "role-mismatch",
            format!("The CSR's key usage asks for {a} but the URL says {b}."),
        )),
        (Some(r), _) | (None, Some(r)) => Ok(r),
        (None, None) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "role-missing",
            "Say which certificate this renews: put keyUsage digitalSignature (authentication) \
             or nonRepudiation (signing) in the CSR's extensionRequest, or post to \
             /.well-known/est/authentication/simplereenroll or /.well-known/est/signing/simplereenroll.",
        )),
    }
}

/// The current certificate this request renews.
fn find_current(
    app: &App,
    session: &Session,
    subject_der: &[u8],
    subject: &str,
    role: Role,
) -> Result<CertRecord, Refusal> {
    let mut candidates = app.store.current_certs_by_subject(subject_der, role).map_err(Refusal::internal)?;
    if candidates.len() > 1 {
        // Several cards of the same person: the one the sponsor selected wins.
        let selected =
            session.selected_card.as_deref().and_then(|s| app.store.card_by_serial(s).ok().flatten());
        if let Some(card) = selected {
            candidates.retain(|c| c.card_id == card.id);
        }
    }
    match candidates.len() {
        1 => Ok(candidates.remove(0)),
        0 => Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-subject",
            format!(
                "No card known to the stand-in has a current {role} certificate with subject \
                 \"{subject}\"; the CSR subject must be copied from the card's certificate."
            ),
        )),
        n => Err(Refusal::new(
            StatusCode::CONFLICT,
            "ambiguous-card",
            format!(
                "{n} cards have a current {role} certificate with this subject; select the card \
                 on Manage Smartcard first."
            ),
        )),
    }
}
