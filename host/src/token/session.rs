//! Signing in to the card: the passcode's length is checked against the token's limits before
//! the card sees it (a wrong length must not cost a try), and a wrong passcode is reported with
//! the state the token shows afterwards.
//!
//! The passcode is a `cryptoki::types::AuthPin` (a `secrecy` string, wiped when dropped); it is
//! never logged and never put in a reply.

use super::card::{Card, CryptokiCard, TokenState};
use super::{token_error, PinState, TokenSummary};
use crate::protocol::{ErrorCode, HostError};
use cryptoki::error::{Error as CryptokiError, RvError};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use secrecy::ExposeSecret;

impl CryptokiCard {
    pub(super) fn read_token_state(&self) -> Result<TokenState, HostError> {
        let info = self.module.pkcs11().get_token_info(self.slot).map_err(token_error)?;
        let summary = TokenSummary::from_info(&info);
        Ok(TokenState {
            pin: summary.pin,
            pin_min: summary.pin_min,
            pin_max: summary.pin_max,
            pin_pad: summary.pin_pad,
        })
    }

    pub(super) fn login_user(&self, pin: Option<&AuthPin>) -> Result<(), HostError> {
        match self.session.login(UserType::User, pin) {
            Ok(()) => Ok(()),
            // Signed in already (another session of this process, or a card that kept its
            // state): that says nothing about this passcode, so sign out and check it.
            Err(CryptokiError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
                log::info!("the token was signed in already; signing out to check the passcode");
                self.session.logout().map_err(token_error)?;
                self.session.login(UserType::User, pin).map_err(token_error)
            }
            Err(e) => Err(token_error(e)),
        }
    }
}

/// Checks a passcode's length (in bytes, as PKCS#11 counts) against the token's limits.
pub fn check_pin_length(pin: &str, state: &TokenState) -> Result<(), HostError> {
    let length = pin.len();
    // Some tokens report 0 or a huge maximum for "no limit".
    let max = if state.pin_max == 0 { usize::MAX } else { state.pin_max };
    if length < state.pin_min.max(1) || length > max {
        return Err(HostError::new(
            ErrorCode::PinInvalid,
            format!(
                "The passcode must be {} to {} characters long.",
                state.pin_min.max(1),
                if max == usize::MAX { "any number of".to_string() } else { max.to_string() }
            ),
        )
        .with("min", state.pin_min)
        .with("max", state.pin_max));
    }
    Ok(())
}

/// Signs in to `card`: refuses a locked passcode and a passcode of the wrong length before the
/// card is asked; on a wrong passcode re-reads the token's flags to say how serious it is.
///
/// `pin` is `None` only for a PIN-pad reader, which collects the passcode itself. At the final
/// try the card is asked only when the caller says the holder confirmed (`final_try_confirmed`),
/// so no caller spends the last try by accident.
pub fn sign_in(
    card: &mut dyn Card,
    pin: Option<&AuthPin>,
    final_try_confirmed: bool,
) -> Result<(), HostError> {
    let state = card.token_state()?;
    match state.pin {
        PinState::Locked => return Err(locked()),
        PinState::FinalTry if !final_try_confirmed => return Err(final_try()),
        PinState::NotInitialized => {
            return Err(HostError::new(ErrorCode::NotRenewable, "The card's passcode has not been set.")
                .with("reason", "PIN_NOT_INITIALIZED"))
        }
        _ => {}
    }
    match pin {
        Some(pin) => check_pin_length(pin.expose_secret(), &state)?,
        None if !state.pin_pad => {
            return Err(HostError::new(ErrorCode::PinInvalid, "Enter the card's passcode."))
        }
        None => {}
    }
    match card.login(pin) {
        Ok(()) => Ok(()),
        Err(error) if error.code == ErrorCode::PinIncorrect => Err(wrong_pin(card)),
        Err(error) if error.code == ErrorCode::PinLocked => Err(locked()),
        Err(error) => Err(error),
    }
}

fn final_try() -> HostError {
    HostError::new(
        ErrorCode::PinFinalTry,
        "One try is left: one more wrong passcode locks the card. Ask the holder to confirm, then send confirmFinalTry.",
    )
    .with("pin", PinState::FinalTry.as_str())
    .with("triesLeft", 1)
}

fn locked() -> HostError {
    HostError::new(ErrorCode::PinLocked, "The passcode is locked. Unlock the card first, then renew.")
        .with("pin", PinState::Locked.as_str())
}

/// The error for a wrong passcode, with the state the token shows now. PKCS#11 has no tries
/// counter; `FINAL_TRY` means exactly one try is left, so that much is reported as `triesLeft`.
fn wrong_pin(card: &mut dyn Card) -> HostError {
    let after = card.token_state().map(|s| s.pin).unwrap_or(PinState::CountLow);
    match after {
        PinState::Locked => HostError::new(
            ErrorCode::PinLocked,
            "The passcode was wrong and is now locked. Unlock the card first, then renew.",
        )
        .with("pin", after.as_str()),
        PinState::FinalTry => HostError::new(
            ErrorCode::PinIncorrect,
            "The passcode is wrong. One more wrong passcode will lock the card.",
        )
        .with("pin", after.as_str())
        .with("triesLeft", 1),
        other => {
            // The token may still say "ok" after a miss (some never set COUNT_LOW): a wrong
            // passcode means the count is low, whatever the flags say.
            let shown = if other == PinState::Ok { PinState::CountLow } else { other };
            HostError::new(ErrorCode::PinIncorrect, "The passcode is wrong.").with("pin", shown.as_str())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(min: usize, max: usize) -> TokenState {
        TokenState { pin: PinState::Ok, pin_min: min, pin_max: max, pin_pad: false }
    }

    #[test]
    fn check_pin_length_at_the_edges() {
        let cases = [
            ("123", limits(4, 8), false),
            ("1234", limits(4, 8), true),
            ("12345678", limits(4, 8), true),
            ("123456789", limits(4, 8), false),
            ("", limits(0, 8), false),
            ("1", limits(0, 0), true),
            // Bytes, not characters: "é" is two bytes.
            ("éé", limits(4, 8), true),
            ("é", limits(4, 8), false),
        ];
        for (pin, state, ok) in cases {
            let result = check_pin_length(pin, &state);
            assert_eq!(result.is_ok(), ok, "{pin:?} {state:?}");
            if let Err(error) = result {
                assert_eq!(error.code, ErrorCode::PinInvalid);
                assert!(!error.message.contains(pin) || pin.is_empty(), "the PIN must not be echoed");
            }
        }
    }
}
