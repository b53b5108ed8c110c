//! The card's contents through PKCS#11 (`cryptoki`): loading the module, finding the token for
//! a reader, reading its state and its certificates.
//!
//! The card model is [`inventory`] (with [`algorithm`] for key algorithms): every backend's
//! picture of a card, and the one eligibility rule. One file per group of operations, as
//! rust-cryptoki does: [`slots`] finds tokens, [`info`] reads token and PIN state, [`objects`]
//! reads the objects the model is built from. The renewal works on the card
//! through the [`card::Card`] seam: [`session`] signs in, [`keys`] makes key pairs, [`sign`]
//! signs, [`write`] creates, relabels and destroys objects; [`fault`] wraps a card to make the
//! k-th operation fail (tests).

pub mod algorithm;
pub mod card;
pub mod fault;
pub mod info;
pub mod inventory;
pub mod keys;
pub mod lock;
pub mod objects;
pub mod session;
pub mod sign;
pub mod slots;
pub mod write;

pub use algorithm::{Curve, KeyAlgorithm, PublicKey, Signature};
pub use info::{PinState, TokenSummary};
pub use inventory::{Inventory, KeyGroup, Presence, Visibility, WorkingPair};

use crate::protocol::{ErrorCode, HostError};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CryptokiError, RvError};
use std::path::Path;

/// A loaded and initialised PKCS#11 module. Finalised when dropped.
pub struct TokenModule {
    pkcs11: Pkcs11,
}

impl TokenModule {
    /// Loads and initialises the module at `path`.
    pub fn load(path: &Path) -> Result<TokenModule, HostError> {
        // The module sees every passcode: load it only if administrators alone can change it.
        // A relative name would be looked up along the library path, which users can set.
        if !path.is_absolute() {
            return Err(crate::config::untrusted_file(path, "PKCS#11 module", "is not an absolute path"));
        }
        if path.exists() {
            crate::fileperm::check_admin_only(path)
                .map_err(|problem| crate::config::untrusted_file(path, "PKCS#11 module", &problem))?;
        }
        let pkcs11 = Pkcs11::new(path).map_err(|e| {
            HostError::new(
                ErrorCode::TokenUnavailable,
                format!("The card middleware {} could not be loaded ({e}).", path.display()),
            )
        })?;
        match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CryptokiError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => {
                return Err(HostError::new(
                    ErrorCode::TokenUnavailable,
                    format!("The card middleware {} could not be initialised ({e}).", path.display()),
                ))
            }
        }
        Ok(TokenModule { pkcs11 })
    }

    /// The cryptoki context.
    pub fn pkcs11(&self) -> &Pkcs11 {
        &self.pkcs11
    }
}

/// `C_CreateObject: CKR_DEVICE_ERROR`: the call and its return value by their PKCS#11 names
/// (cryptoki's own wording is a paragraph of the specification per return value).
fn pkcs11_call(function: &cryptoki::context::Function, rv: &RvError) -> String {
    let mut name = String::from("CKR");
    for c in format!("{rv:?}").chars() {
        if c.is_ascii_uppercase() {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    format!("C_{function:?}: {name}")
}

/// Maps a PKCS#11 failure to a wire error that names the failing call.
pub fn token_error(error: CryptokiError) -> HostError {
    match &error {
        CryptokiError::Pkcs11(rv, function) => match rv {
            RvError::DeviceRemoved | RvError::TokenNotPresent | RvError::SessionHandleInvalid => {
                HostError::new(ErrorCode::CardRemoved, "The card was removed. Put it back and try again.")
                    .with("pkcs11", pkcs11_call(function, rv))
            }
            RvError::PinLocked => HostError::new(
                ErrorCode::PinLocked,
                "The passcode is locked. Unlock the card first, then renew.",
            ),
            // Sign-in enriches these with the PIN state it re-reads (`session::sign_in`).
            RvError::PinIncorrect => HostError::new(ErrorCode::PinIncorrect, "The passcode is wrong."),
            RvError::PinLenRange | RvError::PinInvalid => HostError::new(
                ErrorCode::PinInvalid,
                "The passcode has a length or characters the card does not accept.",
            ),
            _ => {
                let call = pkcs11_call(function, rv);
                let (name, value) = call.split_once(": ").unwrap_or((call.as_str(), ""));
                HostError::new(ErrorCode::TokenError, format!("The card failed: {name} returned {value}."))
                    .with("pkcs11", call.clone())
            }
        },
        other => HostError::new(ErrorCode::TokenError, format!("The card middleware failed ({other}).")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::context::Function;

    #[test]
    fn token_error_names_the_call_and_return_value_as_pkcs11_does() {
        let error = token_error(CryptokiError::Pkcs11(RvError::DeviceError, Function::CreateObject));
        assert_eq!(error.code, ErrorCode::TokenError);
        assert_eq!(error.message, "The card failed: C_CreateObject returned CKR_DEVICE_ERROR.");
        assert_eq!(
            error.extra.get("pkcs11").and_then(|v| v.as_str()),
            Some("C_CreateObject: CKR_DEVICE_ERROR")
        );
        let removed = token_error(CryptokiError::Pkcs11(RvError::DeviceRemoved, Function::Sign));
        assert_eq!(removed.code, ErrorCode::CardRemoved);
        assert_eq!(removed.extra.get("pkcs11").and_then(|v| v.as_str()), Some("C_Sign: CKR_DEVICE_REMOVED"));
        let memory = token_error(CryptokiError::Pkcs11(RvError::DeviceMemory, Function::GenerateKeyPair));
        assert_eq!(memory.message, "The card failed: C_GenerateKeyPair returned CKR_DEVICE_MEMORY.");
    }
}
