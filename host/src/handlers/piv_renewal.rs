//! The PIV branches of `renewBegin`, `renewComplete` and `renewCancel` (`renewAdmin` has its
//! own handler). A card whose status says `cardAdmin: true` takes this path.
//!
//! - `renewBegin {"cardSerial", "keyAlgorithm"?}` (no passcode) -> `{"renewalId", "cardAdmin": {"algorithm",
//!   "cardId", "witness"}}`. Nothing on the card changes.
//! - `renewComplete` as for PKCS#11 cards -> the new `status`.
//! - `renewCancel {"renewalId"}` -> `{"cancelled": true}`, plus `"interrupted": true` and
//!   `"remaining"` once the keys were replaced (the next renewal finishes the card).

use super::params;
use super::renew_begin::{choose_algorithm, not_renewable, BeginParams};
use super::renew_complete::CompleteParams;
use super::status::{managed_card, status};
use crate::certs::parse_certificate;
use crate::certs::renewed::TrustPolicy;
use crate::certs::{assess_certificate, Eligibility, NotRenewableReason};
use crate::config::CardBackend;
use crate::piv::renewal::{OldCertificate, PivRenewal};
use crate::protocol::{ErrorCode, HostError};
use crate::readers::Readers;
use crate::renewal::steps::ProgressSink;
use crate::services::Services;
use crate::token::lock::CardLock;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

/// Starts a PIV renewal when the managed card is a PIV card; `Ok(None)` leaves the request to
/// the PKCS#11 path. `params` are `renewBegin`'s, checked by `take_params` (no passcode: a
/// `renewBegin` with one always takes the PKCS#11 path).
pub fn try_begin(services: &Services, params: &BeginParams) -> Result<Option<PivRenewal>, HostError> {
    if services.config.card_backend == CardBackend::Pkcs11 || params.pin.is_some() {
        return Ok(None);
    }
    let readers = Readers::connect()?.list()?;
    let Ok(card) = managed_card(services, &readers, false)? else { return Ok(None) };
    let Some(piv) = &card.piv else { return Ok(None) };
    // Fail closed before the card is touched: without anchors no certificate could be
    // accepted, and on PIV the keys are replaced before the certificates come.
    if services.config.trust_anchors.is_empty() {
        return Err(crate::certs::renewed::not_configured());
    }
    if !params.card_serial.trim().eq_ignore_ascii_case(&card.summary.serial) {
        return Err(HostError::new(
            ErrorCode::CardChanged,
            "The card in the managed reader is not the card selected.",
        )
        .with("cardSerial", card.summary.serial.clone()));
    }
    let key_algorithm = piv_algorithm(services, params.key_algorithm.as_deref())?;
    let remaining = crate::piv::journal::remaining(piv);
    let interrupted = !remaining.is_empty();
    let now = OffsetDateTime::now_utc();
    let verdict = card.eligibility(now, services.config.renewal_window_days);
    if let Some(reason) = verdict.reason {
        if !interrupted || reason == NotRenewableReason::PinLocked {
            return Err(not_renewable(reason));
        }
    }
    if !interrupted {
        // A journal whose slots all hold their new certificates is finished (an interruption
        // after the last PUT DATA but before the journal went): its keys must not be reused.
        crate::piv::journal::remove(&card.summary.serial);
    }
    // An interrupted renewal finishes what it left, and renews what is due besides.
    let window = services.config.renewal_window_days;
    let old: Vec<OldCertificate> = piv
        .certificates
        .iter()
        .filter_map(|(slot, der)| {
            parse_certificate(der).ok().map(|info| OldCertificate { slot: *slot, info, der: der.clone() })
        })
        .filter(|old| {
            let due = assess_certificate(now, old.info.not_after, window) == Eligibility::Due;
            due || remaining.contains(&old.slot.role().as_str())
        })
        .collect();
    if old.is_empty() {
        return Err(not_renewable(NotRenewableReason::NoCertificates));
    }
    let lock = CardLock::acquire(&card.lock_key())?;
    Ok(Some(PivRenewal::begin(&card.reader.name, piv, old, key_algorithm)?.with_lock(Some(lock))))
}

/// The new keys' algorithm on a PIV card: chosen as for PKCS#11 cards (`keyAlgorithm`, else
/// `newKeyAlgorithm`, within `allowedKeyAlgorithms`), and refused when PIV has no such key
/// (RSA-3072 is not in SP 800-78-4's set).
fn piv_algorithm(services: &Services, asked: Option<&str>) -> Result<crate::piv::KeyAlgorithm, HostError> {
    let chosen = choose_algorithm(&services.config, asked)?;
    crate::piv::KeyAlgorithm::from_model(chosen).ok_or_else(|| {
        HostError::new(
            ErrorCode::KeyAlgorithmUnsupported,
            format!("This PIV card cannot make {} keys; nothing on the card changed.", chosen.describe()),
        )
        .with("keyAlgorithm", chosen.name())
    })
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
    // Read at each use, as for PKCS#11 cards: IT may replace the files meanwhile.
    let config = &services.config;
    let trust = TrustPolicy::load(&config.trust_anchors, config.allow_issuer_change)?;
    match renewal.complete(&params.certificates, &trust, OffsetDateTime::now_utc(), progress) {
        Ok(()) => {}
        // Nothing was written: the browser may try again with the right answer.
        Err(e)
            if matches!(
                e.code,
                ErrorCode::CertificateMismatch
                    | ErrorCode::CertificateInvalid
                    | ErrorCode::CertificateUntrusted
                    | ErrorCode::TrustNotConfigured
            ) =>
        {
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
