//! `renewBegin` `{"pin", "confirmFinalTry"}`: signs in to the card in the managed reader, finishes or undoes any
//! interrupted renewal, makes one new P-384 key pair per role on the card and returns one
//! signed request per role: `{"renewalId", "requests": [{"role", "subject", "csr"}]}`.
//!
//! Progress events: `login`, `generateKey` n of m, `buildRequest` n of m. The PIN is taken
//! out of the request, held in wiped memory, and dropped right after the login.

use super::params;
use super::status::managed_card;
use crate::certs::NotRenewableReason;
use crate::protocol::{ErrorCode, HostError};
use crate::readers::presence::PcscPresence;
use crate::readers::Readers;
use crate::renewal::steps::ProgressSink;
use crate::renewal::{Opened, Requested, Settings};
use crate::services::Services;
use crate::token::algorithm::KeyAlgorithm;
use crate::token::card::CryptokiCard;
use crate::token::lock::CardLock;
use base64::Engine;
use cryptoki::types::AuthPin;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// Longest passcode accepted in a request (before the token's own limit is checked).
const MAX_PIN_BYTES: usize = 256;

/// Takes `confirmFinalTry` out of `params` (false when absent): the holder accepted that a
/// wrong passcode at the final try locks the card.
pub fn take_confirm_final_try(params: &mut Map<String, Value>) -> Result<bool, HostError> {
    match params.remove("confirmFinalTry") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(confirmed)) => Ok(confirmed),
        Some(_) => Err(HostError::bad_request("The parameter 'confirmFinalTry' must be true or false.")),
    }
}

/// Takes the PIN out of `params` (so no copy stays in the request) and checks the rest.
pub fn take_pin(params: &mut Map<String, Value>) -> Result<Option<AuthPin>, HostError> {
    let pin = match params.remove("pin") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            let text = Zeroizing::new(text);
            if text.len() > MAX_PIN_BYTES {
                return Err(HostError::new(ErrorCode::PinInvalid, "The passcode is too long."));
            }
            // Copied into a fresh secret; `text` is wiped when it drops.
            Some(AuthPin::new(Box::from(text.as_str())))
        }
        Some(_) => return Err(HostError::bad_request("The parameter 'pin' must be a string.")),
    };
    params::only(params, &[])?;
    Ok(pin)
}

/// Runs the first half of a renewal on the managed card.
pub fn begin(
    services: &Services,
    pin: Option<AuthPin>,
    confirm_final_try: bool,
    progress: ProgressSink<'_>,
) -> Result<Requested, HostError> {
    // Fail closed: without anchors no answer could be accepted, so do not spend the passcode
    // or make keys on the card.
    if services.config.trust_anchors.is_empty() {
        return Err(crate::certs::renewed::not_configured());
    }
    let readers = Readers::connect()?.list()?;
    let card = match managed_card(services, &readers)? {
        Ok(card) => card,
        Err(reason) => {
            return Err(
                HostError::new(ErrorCode::NoCard, "No card is in the managed reader.").with("reason", reason)
            )
        }
    };
    // The same rule as `status`, on the same model: refuse before asking the card for the
    // passcode, unless the card shows an interrupted renewal; then sign in anyway, so recovery
    // can finish it (and the rule is applied again to the recovered card).
    let verdict = card.eligibility(OffsetDateTime::now_utc(), services.config.renewal_window_days);
    if let Some(reason) = verdict.reason {
        if !card.inventory.interrupted() || reason == NotRenewableReason::PinLocked {
            return Err(not_renewable(reason));
        }
    }
    let presence = PcscPresence::capture(&card.reader.name)?;
    let module = services.token()?;
    let slot = module
        .slot_for_reader(&card.reader.name, services.config.slot_map.get(&card.reader.name))?
        .ok_or_else(|| HostError::new(ErrorCode::NoCard, "The card in the managed reader has gone."))?;
    // Before signing in: recovery at sign-in must not mistake another host's open renewal on
    // this card for leftovers.
    let lock = CardLock::acquire(&card.summary.serial)?;
    let session = CryptokiCard::open(module, slot, Some(Box::new(presence)))?.with_lock(lock);
    let settings =
        Settings { window_days: services.config.renewal_window_days, new_key_algorithm: KeyAlgorithm::P384 };
    let signed_in = Opened::new(Box::new(session), settings)
        .final_try_confirmed(confirm_final_try)
        .sign_in(pin.as_ref(), progress)?;
    drop(pin);
    let ready = signed_in.prepare(OffsetDateTime::now_utc())?;
    let keys = ready.generate_keys(progress)?;
    keys.build_requests(progress)
}

/// The refusal for a card the rule says no to.
pub(crate) fn not_renewable(reason: NotRenewableReason) -> HostError {
    match reason {
        NotRenewableReason::PinLocked => {
            HostError::new(ErrorCode::PinLocked, "The passcode is locked. Unlock the card first, then renew.")
        }
        reason => HostError::new(ErrorCode::NotRenewable, reason.describe()).with("reason", reason.as_str()),
    }
}

/// The `renewBegin` result.
pub fn result(requested: &Requested) -> Value {
    let requests: Vec<Value> = requested
        .roles()
        .iter()
        .map(|role| {
            json!({
                "role": role.old.role.as_str(),
                "subject": role.old.group.info.as_ref().map(|i| i.subject.clone()).unwrap_or_default(),
                "csr": base64::engine::general_purpose::STANDARD.encode(&role.csr),
            })
        })
        .collect();
    json!({"renewalId": requested.id().as_str(), "requests": requests})
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn take_pin_removes_it_and_checks_types() {
        let mut params = Map::new();
        params.insert("pin".into(), json!("123456"));
        let pin = take_pin(&mut params).expect("pin").expect("some");
        assert_eq!(pin.expose_secret(), "123456");
        assert!(params.is_empty(), "the PIN must not stay in the request");

        assert!(take_pin(&mut Map::new()).expect("no pin").is_none());
        for bad in [json!({"pin": 123456}), json!({"pin": "1", "extra": 1})] {
            let mut params = bad.as_object().expect("object").clone();
            assert_eq!(take_pin(&mut params).expect_err("bad").code, ErrorCode::BadRequest, "{bad}");
        }
        let mut confirm = json!({"pin": "1", "confirmFinalTry": true}).as_object().expect("object").clone();
        assert!(take_confirm_final_try(&mut confirm).expect("bool"));
        assert!(
            take_pin(&mut confirm).is_ok(),
            "confirmFinalTry is taken out before the exact-members check"
        );
        assert!(!take_confirm_final_try(&mut Map::new()).expect("absent"));
        let mut wrong = json!({"confirmFinalTry": "yes"}).as_object().expect("object").clone();
        assert_eq!(take_confirm_final_try(&mut wrong).expect_err("string").code, ErrorCode::BadRequest);
        let mut long = Map::new();
        long.insert("pin".into(), json!("1".repeat(MAX_PIN_BYTES + 1)));
        assert_eq!(take_pin(&mut long).expect_err("long").code, ErrorCode::PinInvalid);
    }
}
