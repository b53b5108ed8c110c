//! Stable wire error codes and the host's one error type.
//!
//! Every failure the browser can see is a [`HostError`]: a code from [`ErrorCode`] (the extension
//! keeps the same list), a sentence for people, and typed extra fields such as `triesLeft`.

use serde_json::{Map, Value};
use std::fmt;

/// Error codes on the wire. The names are a contract with the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The frame was not a valid request (bad UTF-8, bad JSON, wrong types, unknown params).
    BadRequest,
    /// The frame was longer than the inbound limit; the host stops reading.
    MessageTooLarge,
    /// The command is not one the host knows.
    UnknownCommand,
    /// The caller (extension origin or add-on ID) is not allowed by the configuration.
    OriginNotAllowed,
    /// The host's configuration file is invalid.
    ConfigInvalid,
    /// PC/SC is not available (pcscd or the Smart Card service is not running).
    PcscUnavailable,
    /// The PKCS#11 module could not be loaded or initialised.
    TokenUnavailable,
    /// A PKCS#11 call failed; the message names the call and the return value.
    TokenError,
    /// The card went away during the operation.
    CardRemoved,
    /// No card (or no token for it) is in the managed reader.
    NoCard,
    /// The passcode was wrong.
    PinIncorrect,
    /// The passcode is blocked: the card must be unlocked first.
    PinLocked,
    /// One try is left and the request did not say the holder accepted the risk
    /// (`confirmFinalTry`): the card was not asked, so the try is not spent.
    PinFinalTry,
    /// The passcode is outside the token's length limits.
    PinInvalid,
    /// The card is not eligible for renewal now.
    NotRenewable,
    /// A returned certificate does not match the new key or the old subject.
    CertificateMismatch,
    /// A returned certificate or PKCS#7 could not be used (not DER, expired, wrong usage).
    CertificateInvalid,
    /// A returned certificate does not chain to a configured trust anchor.
    CertificateUntrusted,
    /// No trust anchors are configured, so no renewed certificate could be accepted.
    TrustNotConfigured,
    /// The renewal id is not one this host started.
    UnknownRenewal,
    /// Another renewal is in progress on this card.
    Busy,
    /// The renewal was cancelled (`renewCancel` or end of input) while it began; the card
    /// keeps its old pairs.
    Cancelled,
    /// A PIV card refused the renewal service's answer to its management-key witness; nothing
    /// on the card changed.
    CardAuthFailed,
    /// The card in the reader is not the one the sponsor confirmed (`cardSerial`).
    CardChanged,
    /// The key algorithm asked for is not in IT's `allowedKeyAlgorithms`.
    KeyAlgorithmNotAllowed,
    /// The card cannot make (or sign with) a key of the chosen algorithm.
    KeyAlgorithmUnsupported,
    /// A reply would exceed the outbound frame limit.
    ResponseTooLarge,
    /// A bug or an unexpected state; details are in the log.
    InternalError,
}

impl ErrorCode {
    /// The code as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::MessageTooLarge => "MESSAGE_TOO_LARGE",
            ErrorCode::UnknownCommand => "UNKNOWN_COMMAND",
            ErrorCode::OriginNotAllowed => "ORIGIN_NOT_ALLOWED",
            ErrorCode::ConfigInvalid => "CONFIG_INVALID",
            ErrorCode::PcscUnavailable => "PCSC_UNAVAILABLE",
            ErrorCode::TokenUnavailable => "TOKEN_UNAVAILABLE",
            ErrorCode::TokenError => "TOKEN_ERROR",
            ErrorCode::CardRemoved => "CARD_REMOVED",
            ErrorCode::NoCard => "NO_CARD",
            ErrorCode::PinIncorrect => "PIN_INCORRECT",
            ErrorCode::PinLocked => "PIN_LOCKED",
            ErrorCode::PinFinalTry => "PIN_FINAL_TRY",
            ErrorCode::PinInvalid => "PIN_INVALID",
            ErrorCode::NotRenewable => "NOT_RENEWABLE",
            ErrorCode::CertificateMismatch => "CERTIFICATE_MISMATCH",
            ErrorCode::CertificateInvalid => "CERTIFICATE_INVALID",
            ErrorCode::CertificateUntrusted => "CERTIFICATE_UNTRUSTED",
            ErrorCode::TrustNotConfigured => "TRUST_NOT_CONFIGURED",
            ErrorCode::UnknownRenewal => "UNKNOWN_RENEWAL",
            ErrorCode::Busy => "BUSY",
            ErrorCode::Cancelled => "CANCELLED",
            ErrorCode::CardAuthFailed => "CARD_AUTH_FAILED",
            ErrorCode::CardChanged => "CARD_CHANGED",
            ErrorCode::KeyAlgorithmNotAllowed => "KEY_ALGORITHM_NOT_ALLOWED",
            ErrorCode::KeyAlgorithmUnsupported => "KEY_ALGORITHM_UNSUPPORTED",
            ErrorCode::ResponseTooLarge => "RESPONSE_TOO_LARGE",
            ErrorCode::InternalError => "INTERNAL_ERROR",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that can be shown to the browser.
#[derive(Debug, Clone, PartialEq)]
pub struct HostError {
    /// The stable code.
    pub code: ErrorCode,
    /// A sentence a sponsor or support person can act on.
    pub message: String,
    /// Typed extra members (camelCase), e.g. `triesLeft`.
    pub extra: Map<String, Value>,
}

impl HostError {
    /// An error with no extra fields.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        HostError { code, message: message.into(), extra: Map::new() }
    }

    /// Adds an extra member to the wire error.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// Shorthand for [`ErrorCode::BadRequest`].
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// The `error` object of a reply.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("code".into(), Value::from(self.code.as_str()));
        object.insert("message".into(), Value::from(self.message.clone()));
        for (key, value) in &self.extra {
            object.insert(key.clone(), value.clone());
        }
        Value::Object(object)
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for HostError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_json_carries_code_message_and_extras() {
        let error = HostError::new(ErrorCode::PinIncorrect, "Wrong passcode.").with("triesLeft", 2);
        assert_eq!(
            error.to_json(),
            serde_json::json!({"code": "PIN_INCORRECT", "message": "Wrong passcode.", "triesLeft": 2})
        );
    }
}
