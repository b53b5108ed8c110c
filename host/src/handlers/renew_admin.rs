//! `renewAdmin {"renewalId", "witness", "challenge", "pin", "confirmFinalTry"?}` (PIV cards):
//! completes the card's mutual authentication with the service's answer, verifies the
//! passcode, makes the keys and the requests -> `{"response", "requests": [{"role", "subject",
//! "csr"}]}`.
//!
//! Progress events: `login`, `generateKey` n of m, `buildRequest` n of m. Errors:
//! `CARD_AUTH_FAILED` (the card refused the witness; nothing changed; the renewal ends),
//! `PIN_INCORRECT` with `triesLeft` (the renewal stays open: send renewAdmin again with the same
//! witness and challenge), `PIN_FINAL_TRY` (one try left and no `confirmFinalTry`),
//! `PIN_LOCKED`.

use super::params;
use crate::piv::card::pin_bytes;
use crate::piv::renewal::{AdminParams, PivRenewal};
use crate::protocol::message::truncate;
use crate::protocol::{ErrorCode, HostError};
use crate::renewal::steps::ProgressSink;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// Longest witness or challenge accepted (one AES block; a little slack for other ciphers).
const MAX_BLOCK: usize = 32;

/// Checks the parameters, taking the passcode out of `params`.
pub fn parse(params: &mut Map<String, Value>) -> Result<(String, AdminParams), HostError> {
    let pin = match params.remove("pin") {
        Some(Value::String(text)) => {
            let text = Zeroizing::new(text);
            pin_bytes(&text)?
        }
        Some(_) => return Err(HostError::bad_request("The parameter 'pin' must be a string.")),
        None => return Err(HostError::bad_request("The parameter 'pin' is missing.")),
    };
    params::only(params, &["renewalId", "witness", "challenge", "confirmFinalTry"])?;
    let id = super::renew_complete::renewal_id(params)?;
    let block = |name: &str| -> Result<Vec<u8>, HostError> {
        let text = params.get(name).and_then(Value::as_str).ok_or_else(|| {
            HostError::bad_request(format!("The parameter '{name}' must be a base64 string."))
        })?;
        let bytes = BASE64
            .decode(text)
            .map_err(|_| HostError::bad_request(format!("The parameter '{name}' is not base64.")))?;
        if bytes.is_empty() || bytes.len() > MAX_BLOCK {
            return Err(HostError::bad_request(format!("The parameter '{name}' has a wrong length.")));
        }
        Ok(bytes)
    };
    let witness = block("witness")?;
    let challenge = block("challenge")?;
    let confirm_final_try = match params.get("confirmFinalTry") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(HostError::bad_request("The parameter 'confirmFinalTry' must be true or false."))
        }
    };
    Ok((id, AdminParams { witness, challenge, pin, confirm_final_try }))
}

/// The answer for a `renewAdmin` naming no open PIV renewal.
pub fn unknown(id: &str) -> HostError {
    HostError::new(ErrorCode::UnknownRenewal, format!("No renewal '{}' is open.", truncate(id)))
}

/// Handles `renewAdmin` for renewal `id` with the params [`parse`] checked.
pub fn handle(
    open: &mut Option<PivRenewal>,
    id: &str,
    admin: AdminParams,
    progress: ProgressSink<'_>,
) -> Result<Value, HostError> {
    let Some(renewal) = open.as_mut().filter(|r| r.id() == id) else {
        return Err(unknown(id));
    };
    match renewal.admin(admin, progress) {
        Ok(result) => Ok(result),
        // The card refused the service, or was pulled: this renewal cannot go on.
        Err(e) if matches!(e.code, ErrorCode::CardAuthFailed | ErrorCode::CardRemoved) => {
            open.take();
            Err(e)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_takes_the_pin_out_and_checks_each_member() {
        let mut good = json!({"renewalId": "r", "witness": "AAECAwQFBgc=", "challenge": "AAECAwQFBgc=",
            "pin": "123456", "confirmFinalTry": true})
        .as_object()
        .expect("object")
        .clone();
        let (id, admin) = parse(&mut good).expect("valid");
        assert_eq!(id, "r");
        assert_eq!(admin.witness, (0u8..8).collect::<Vec<_>>());
        assert_eq!(admin.pin.as_slice(), b"123456");
        assert!(admin.confirm_final_try);
        assert!(!good.contains_key("pin"), "the PIN must not stay in the request");

        let cases = [
            (json!({"renewalId": "r", "witness": "AA==", "challenge": "AA=="}), "BAD_REQUEST"),
            (json!({"renewalId": "r", "witness": "AA==", "challenge": "AA==", "pin": 123456}), "BAD_REQUEST"),
            (
                json!({"renewalId": "r", "witness": "AA==", "challenge": "AA==", "pin": "12"}),
                "PIN_INCORRECT_LENGTH",
            ),
            (json!({"renewalId": "r", "witness": "%%", "challenge": "AA==", "pin": "123456"}), "BAD_REQUEST"),
            (json!({"renewalId": "r", "witness": "", "challenge": "AA==", "pin": "123456"}), "BAD_REQUEST"),
            (json!({"renewalId": "r", "challenge": "AA==", "pin": "123456"}), "BAD_REQUEST"),
            (
                json!({"renewalId": "r", "witness": "AA==", "challenge": "AA==", "pin": "123456", "x": 1}),
                "BAD_REQUEST",
            ),
            (
                json!({"renewalId": "r", "witness": "AA==", "challenge": "AA==", "pin": "123456", "confirmFinalTry": 1}),
                "BAD_REQUEST",
            ),
            (json!({"witness": "AA==", "challenge": "AA==", "pin": "123456"}), "BAD_REQUEST"),
        ];
        for (value, code) in cases {
            let mut params = value.as_object().expect("object").clone();
            let code = if code == "PIN_INCORRECT_LENGTH" { "PIN_INVALID" } else { code };
            assert_eq!(parse(&mut params).expect_err("bad").code.as_str(), code, "{value}");
        }
    }
}
