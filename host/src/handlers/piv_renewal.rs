//! The PIV branches of `renewBegin`, `renewComplete` and `renewCancel` (`renewAdmin` has its
//! own handler). A card whose status says `cardAdmin: true` takes this path.
//!
//! - `renewBegin {"cardSerial"?}` (no passcode) -> `{"renewalId", "cardAdmin": {"algorithm",
//!   "cardId", "witness"}}`. Nothing on the card changes.
//! - `renewComplete` as for PKCS#11 cards -> the new `status`.
//! - `renewCancel {"renewalId"}` -> `{"cancelled": true}`, plus `"interrupted": true` and
//!   `"remaining"` once the keys were replaced (the next renewal finishes the card).

use super::params;
use super::renew_begin::describe;
use super::renew_complete::CompleteParams;
use super::status::{piv_report, status};
use crate::certs::chain::load_anchors;
use crate::certs::parse_certificate;
use crate::config::CardBackend;
use crate::piv::inventory;
use crate::piv::renewal::{OldCertificate, PivRenewal};
use crate::protocol::{ErrorCode, HostError};
use crate::readers::Readers;
use crate::renewal::steps::ProgressSink;
use crate::services::Services;
use crate::token::lock::CardLock;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

/// Starts a PIV renewal when the managed card is a PIV card; `Ok(None)` leaves the request to
/// the PKCS#11 path.
pub fn try_begin(services: &Services, params: &Map<String, Value>) -> Result<Option<PivRenewal>, HostError> {
    if services.config.card_backend == CardBackend::Pkcs11 {
        return Ok(None);
    }
    let readers = Readers::connect()?.list()?;
    let names: Vec<&str> = readers.iter().map(|r| r.name.as_str()).collect();
    let Some(reader) = services.reader_rule().pick(&names).map(|i| &readers[i]) else { return Ok(None) };
    if !reader.card_present {
        return Ok(None);
    }
    let Some(inventory) = inventory::read(&reader.name).ok().flatten() else { return Ok(None) };
    params::only(params, &["cardSerial", "confirmFinalTry"])?;
    let card = piv_report(services, reader, &inventory);
    match params.get("cardSerial") {
        None => {}
        Some(Value::String(serial)) if serial.eq_ignore_ascii_case(&card.token.serial) => {}
        Some(Value::String(_)) => {
            return Err(HostError::new(
                ErrorCode::NoCard,
                "The card in the managed reader is not the card selected.",
            )
            .with("reason", "CARD_CHANGED"))
        }
        Some(_) => return Err(HostError::bad_request("The parameter 'cardSerial' must be a string.")),
    }
    if !card.renewable && !card.interrupted {
        return Err(match card.reason {
            Some("PIN_LOCKED") => HostError::new(
                ErrorCode::PinLocked,
                "The passcode is locked. Unlock the card first, then renew.",
            ),
            reason => {
                HostError::new(ErrorCode::NotRenewable, describe(reason)).with("reason", reason.unwrap_or(""))
            }
        });
    }
    if card.pin == "locked" {
        return Err(HostError::new(
            ErrorCode::PinLocked,
            "The passcode is locked. Unlock the card first, then renew.",
        ));
    }
    if !card.interrupted {
        // A journal whose slots all hold their new certificates is finished (an interruption
        // after the last PUT DATA but before the journal went): its keys must not be reused.
        crate::piv::journal::remove(&card.token.serial);
    }
    // An interrupted renewal finishes what it left, and renews what is due besides.
    let due = |role: &str| card.certificates.iter().any(|c| c.role == role && c.renewable);
    let old: Vec<OldCertificate> = inventory
        .certificates
        .iter()
        .filter_map(|(slot, der)| {
            parse_certificate(der).ok().map(|info| OldCertificate { slot: *slot, info })
        })
        .filter(|old| {
            let role = old.slot.role().as_str();
            !card.interrupted || card.remaining.contains(&role) || due(role)
        })
        .collect();
    if old.is_empty() {
        return Err(HostError::new(ErrorCode::NotRenewable, "The card has no certificate to renew.")
            .with("reason", "NO_CERTIFICATES"));
    }
    let lock = CardLock::acquire(&card.token.serial)?;
    Ok(Some(PivRenewal::begin(&reader.name, &inventory, old)?.with_lock(lock)))
}

/// Whether `params` name the open PIV renewal.
pub fn owns(open: &Option<PivRenewal>, params: &Map<String, Value>) -> bool {
    match (open, params.get("renewalId")) {
        (Some(renewal), Some(Value::String(id))) => renewal.id() == id,
        _ => false,
    }
}

/// `renewComplete` for the open PIV renewal.
pub fn complete(
    services: &Services,
    open: &mut Option<PivRenewal>,
    params: CompleteParams,
    progress: ProgressSink<'_>,
) -> Result<Value, HostError> {
    let Some(renewal) = open.as_mut() else {
        return Err(HostError::new(ErrorCode::UnknownRenewal, "No renewal is open."));
    };
    let anchors = load_anchors(&services.config.trust_anchors).map_err(|problem| {
        HostError::new(
            ErrorCode::ConfigInvalid,
            format!("A trust anchor in the host configuration cannot be used: {problem}."),
        )
    })?;
    match renewal.complete(&params.certificates, &anchors, OffsetDateTime::now_utc(), progress) {
        Ok(()) => {}
        // Nothing was written: the browser may try again with the right answer.
        Err(e) if matches!(e.code, ErrorCode::CertificateMismatch | ErrorCode::CertificateInvalid) => {
            return Err(e)
        }
        Err(e) if e.code == ErrorCode::UnknownRenewal => return Err(e),
        Err(e) => {
            // The card failed mid-install: the journal says what is left for the next attempt.
            open.take();
            return Err(e);
        }
    }
    open.take();
    serde_json::to_value(status(services)?)
        .map_err(|e| HostError::new(ErrorCode::InternalError, e.to_string()))
}

/// `renewCancel` for the open PIV renewal.
pub fn cancel(open: &mut Option<PivRenewal>, params: &Map<String, Value>) -> Result<Value, HostError> {
    params::only(params, &["renewalId"])?;
    let Some(renewal) = open.take() else {
        return Err(HostError::new(ErrorCode::UnknownRenewal, "No renewal is open."));
    };
    if renewal.keys_replaced() {
        let remaining = renewal.remaining();
        // Dropping it resets the card; the journal stays for the next attempt.
        drop(renewal);
        return Ok(json!({"cancelled": true, "interrupted": true, "remaining": remaining}));
    }
    drop(renewal);
    Ok(json!({"cancelled": true}))
}
