//! `renewBegin` `{"pin", "cardSerial", "keyAlgorithm", "confirmFinalTry"}`: checks that the card in the managed
//! reader is the one the sponsor confirmed (`cardSerial`, else `CARD_CHANGED`) and that the new
//! keys' algorithm (`keyAlgorithm`, as the renewal service's `/csrattrs` named it, else the
//! config's `newKeyAlgorithm`) is in `allowedKeyAlgorithms` (else `KEY_ALGORITHM_NOT_ALLOWED`),
//! all before the passcode is tried; at the final try (`PIN_FINAL_TRY`) it asks the card only
//! with `confirmFinalTry: true`; then signs in, finishes or undoes any interrupted renewal,
//! makes one new key pair per role on the card and returns one signed request per role:
//! `{"renewalId", "keyAlgorithm", "requests": [{"role", "subject", "csr"}]}`.
//!
//! Progress events: `login`, `generateKey` n of m, `buildRequest` n of m. The PIN is taken
//! out of the request, held in wiped memory, and dropped right after the login.

use super::params;
use super::status::managed_card;
use crate::certs::NotRenewableReason;
use crate::config::{Config, NewKeyAlgorithm};
use crate::protocol::message::truncate;
use crate::protocol::{ErrorCode, HostError};
use crate::readers::presence::PcscPresence;
use crate::readers::Readers;
use crate::renewal::steps::ProgressSink;
use crate::renewal::{cancelled, Opened, Requested, Settings};
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

/// A checked `renewBegin`.
pub struct BeginParams {
    /// The passcode (wiped when dropped); `None` for a PIN-pad reader.
    pub pin: Option<AuthPin>,
    /// The token serial the sponsor confirmed (status' `card.token.serial`; may be empty for a
    /// token that reports none).
    pub card_serial: String,
    /// The algorithm the renewal service asked for, by name.
    pub key_algorithm: Option<String>,
    /// The holder accepted that a wrong passcode at the final try locks the card.
    pub confirm_final_try: bool,
}

/// Longest `cardSerial` / `keyAlgorithm` accepted.
const MAX_NAME_LENGTH: usize = 64;

/// Takes the passcode out of `params` first (so no copy stays in the request, whatever else is
/// wrong with it), then checks the rest.
pub fn take_params(params: &mut Map<String, Value>) -> Result<BeginParams, HostError> {
    let pin = take_pin(params)?;
    let confirm_final_try = take_confirm_final_try(params)?;
    let text = |params: &Map<String, Value>, name: &str| match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if !text.is_empty() && text.len() <= MAX_NAME_LENGTH => {
            Ok(Some(text.clone()))
        }
        Some(_) => Err(HostError::bad_request(format!(
            "The parameter '{name}' must be a string of 1 to {MAX_NAME_LENGTH} characters."
        ))),
    };
    let card_serial = match params.get("cardSerial") {
        Some(Value::String(serial)) if serial.len() <= MAX_NAME_LENGTH => serial.clone(),
        None | Some(Value::Null) => {
            return Err(HostError::bad_request(
                "The parameter 'cardSerial' is missing: send the serial of the card the sponsor confirmed (status' card.token.serial).",
            ))
        }
        Some(_) => {
            return Err(HostError::bad_request(format!(
                "The parameter 'cardSerial' must be a string of at most {MAX_NAME_LENGTH} characters."
            )))
        }
    };
    let key_algorithm = text(params, "keyAlgorithm")?;
    params::only(params, &["cardSerial", "keyAlgorithm"])?;
    Ok(BeginParams { pin, card_serial, key_algorithm, confirm_final_try })
}

/// Takes `confirmFinalTry` out of `params` (false when absent): the holder accepted that a
/// wrong passcode at the final try locks the card.
pub fn take_confirm_final_try(params: &mut Map<String, Value>) -> Result<bool, HostError> {
    match params.remove("confirmFinalTry") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(confirmed)) => Ok(confirmed),
        Some(_) => Err(HostError::bad_request("The parameter 'confirmFinalTry' must be true or false.")),
    }
}

/// Takes the PIN out of `params`.
pub fn take_pin(params: &mut Map<String, Value>) -> Result<Option<AuthPin>, HostError> {
    match params.remove("pin") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            let text = Zeroizing::new(text);
            if text.len() > MAX_PIN_BYTES {
                return Err(HostError::new(ErrorCode::PinInvalid, "The passcode is too long."));
            }
            // Copied into a fresh secret; `text` is wiped when it drops.
            Ok(Some(AuthPin::new(Box::from(text.as_str()))))
        }
        Some(mut other) => {
            let mut holder = Map::new();
            holder.insert(String::new(), std::mem::take(&mut other));
            crate::protocol::message::wipe(&mut holder);
            Err(HostError::bad_request("The parameter 'pin' must be a string."))
        }
    }
}

/// The new keys' algorithm: what the renewal service asked for, else the config's default;
/// refused unless IT's `allowedKeyAlgorithms` has it.
pub fn choose_algorithm(config: &Config, asked: Option<&str>) -> Result<KeyAlgorithm, HostError> {
    let chosen = match asked {
        None => config.new_key_algorithm,
        Some(name) => NewKeyAlgorithm::from_name(name).ok_or_else(|| {
            HostError::new(
                ErrorCode::KeyAlgorithmNotAllowed,
                format!(
                    "The renewal service asked for '{}' keys; this host makes p384, p256, rsa2048 or rsa3072 keys.",
                    truncate(name)
                ),
            )
            .with("keyAlgorithm", truncate(name))
        })?,
    };
    if !config.allowed_key_algorithms.contains(&chosen) {
        let name = chosen.algorithm().name();
        return Err(HostError::new(
            ErrorCode::KeyAlgorithmNotAllowed,
            format!(
                "The renewal service asked for {} keys, which this computer's settings do not allow. Ask IT to check 'allowedKeyAlgorithms'.",
                chosen.algorithm().describe()
            ),
        )
        .with("keyAlgorithm", name));
    }
    Ok(chosen.algorithm())
}

/// Runs the first half of a renewal on the managed card.
pub fn begin(
    services: &Services,
    params: BeginParams,
    progress: ProgressSink<'_>,
    stopped: &dyn Fn() -> bool,
) -> Result<Requested, HostError> {
    let BeginParams { pin, card_serial, key_algorithm, confirm_final_try } = params;
    let algorithm = choose_algorithm(&services.config, key_algorithm.as_deref())?;
    // Fail closed: without anchors no answer could be accepted, so do not spend the passcode
    // or make keys on the card.
    if services.config.trust_anchors.is_empty() {
        return Err(crate::certs::renewed::not_configured());
    }
    let readers = Readers::connect()?.list()?;
    let card = match managed_card(services, &readers, false)? {
        Ok(card) => card,
        Err(reason) => {
            return Err(
                HostError::new(ErrorCode::NoCard, "No card is in the managed reader.").with("reason", reason)
            )
        }
    };
    if card_serial.trim() != card.summary.serial.trim() {
        return Err(HostError::new(
            ErrorCode::CardChanged,
            "The card in the reader is not the one you confirmed. Check the card, then start again.",
        )
        .with("cardSerial", card.summary.serial.clone()));
    }
    // The same rule as `status`, on the same model: refuse before asking the card for the
    // passcode, unless the card shows an interrupted renewal; then sign in anyway, so recovery
    // can finish it (and the rule is applied again to the recovered card).
    let verdict = card.eligibility(OffsetDateTime::now_utc(), services.config.renewal_window_days);
    // After reading the card: OpenSC shows a card pulled while it was read as a card with
    // fewer objects, so a card gone by now is NO_CARD, not whatever that reading suggests.
    let presence = PcscPresence::capture(&card.reader.name)?;
    if let Some(reason) = verdict.reason {
        if !card.inventory.interrupted() || reason == NotRenewableReason::PinLocked {
            if reason != NotRenewableReason::PinLocked {
                crate::readers::presence::Presence::check_settled(&presence)?;
            }
            return Err(not_renewable(reason));
        }
    }
    let module = services.token()?;
    let slot = module
        .slot_for_reader(&card.reader.name, services.config.slot_map.get(&card.reader.name))?
        .ok_or_else(|| HostError::new(ErrorCode::NoCard, "The card in the managed reader has gone."))?;
    // Before signing in: recovery at sign-in must not mistake another host's open renewal on
    // this card for leftovers.
    let lock = CardLock::acquire(&card.lock_key())?;
    let session = CryptokiCard::open(module, slot, Some(Box::new(presence)))?.with_lock(Some(lock));
    let settings =
        Settings { window_days: services.config.renewal_window_days, new_key_algorithm: algorithm };
    if stopped() {
        return Err(cancelled());
    }
    let signed_in = Opened::new(Box::new(session), settings)
        .final_try_confirmed(confirm_final_try)
        .sign_in(pin.as_ref(), progress)?;
    drop(pin);
    if stopped() {
        return Err(cancelled());
    }
    let ready = signed_in.prepare(OffsetDateTime::now_utc())?;
    let keys = ready.generate_keys(progress, stopped)?;
    let requested = keys.build_requests(progress)?;
    if stopped() {
        requested.cancel()?;
        return Err(cancelled());
    }
    Ok(requested)
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
    let algorithm = requested.roles().first().map(|r| r.new.public.algorithm().name());
    json!({"renewalId": requested.id().as_str(), "keyAlgorithm": algorithm, "requests": requests})
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn take_params_removes_the_pin_and_checks_types() {
        let mut params = Map::new();
        params.insert("pin".into(), json!("123456"));
        params.insert("cardSerial".into(), json!("ABC"));
        let taken = take_params(&mut params).expect("params");
        assert_eq!(taken.pin.expect("some").expose_secret(), "123456");
        assert_eq!(taken.card_serial, "ABC");
        assert!(!params.contains_key("pin"), "the PIN must not stay in the request");

        let mut serial_only = json!({"cardSerial": ""}).as_object().expect("object").clone();
        let taken = take_params(&mut serial_only).expect("no pin, a token without a serial");
        assert!(taken.pin.is_none() && taken.card_serial.is_empty());
        let mut missing = json!({"pin": "123456"}).as_object().expect("object").clone();
        let error = take_params(&mut missing).err().expect("no cardSerial");
        assert_eq!(error.code, ErrorCode::BadRequest);
        assert!(error.message.contains("'cardSerial' is missing"), "{}", error.message);
        assert!(!missing.contains_key("pin"), "the PIN is taken out even then");
        for bad in [
            json!({"pin": 123456, "cardSerial": "A"}),
            json!({"pin": "1", "cardSerial": "A", "extra": 1}),
            json!({"pin": "1", "cardSerial": 5}),
            json!({"pin": "1", "cardSerial": "A".repeat(MAX_NAME_LENGTH + 1)}),
            json!({"pin": "1", "cardSerial": null}),
            json!({"cardSerial": "A", "keyAlgorithm": ""}),
        ] {
            let mut params = bad.as_object().expect("object").clone();
            assert_eq!(take_params(&mut params).err().expect("bad").code, ErrorCode::BadRequest, "{bad}");
            assert!(!params.contains_key("pin"), "the PIN is taken out even when the request is refused");
        }
        let mut confirm = json!({"pin": "1", "cardSerial": "A", "confirmFinalTry": true})
            .as_object()
            .expect("object")
            .clone();
        assert!(take_params(&mut confirm).expect("confirmed").confirm_final_try);
        let mut absent = json!({"cardSerial": "A"}).as_object().expect("object").clone();
        assert!(!take_params(&mut absent).expect("absent").confirm_final_try);
        let mut confirm = json!({"confirmFinalTry": true}).as_object().expect("object").clone();
        assert!(take_confirm_final_try(&mut confirm).expect("bool"));
        assert!(!take_confirm_final_try(&mut Map::new()).expect("absent"));
        let mut wrong = json!({"confirmFinalTry": "yes"}).as_object().expect("object").clone();
        assert_eq!(take_confirm_final_try(&mut wrong).expect_err("string").code, ErrorCode::BadRequest);
        let mut long = Map::new();
        long.insert("pin".into(), json!("1".repeat(MAX_PIN_BYTES + 1)));
        assert_eq!(take_params(&mut long).err().expect("long").code, ErrorCode::PinInvalid);
    }

    #[test]
    fn choose_algorithm_defaults_and_refuses_what_is_not_allowed() {
        let mut config = Config::default();
        assert_eq!(choose_algorithm(&config, None).expect("default"), KeyAlgorithm::P384);
        assert_eq!(choose_algorithm(&config, Some("rsa2048")).expect("asked"), KeyAlgorithm::RSA2048);
        config.allowed_key_algorithms = vec![NewKeyAlgorithm::P384];
        let error = choose_algorithm(&config, Some("rsa2048")).expect_err("not allowed");
        assert_eq!(error.code, ErrorCode::KeyAlgorithmNotAllowed);
        assert!(error.message.contains("RSA-2048"), "{}", error.message);
        let error = choose_algorithm(&config, Some("ed25519")).expect_err("unknown");
        assert_eq!(error.code, ErrorCode::KeyAlgorithmNotAllowed);
    }
}
