//! Token identity and passcode state, from `C_GetTokenInfo`.

use super::{token_error, TokenModule};
use crate::protocol::HostError;
use cryptoki::slot::{Slot, TokenInfo};

/// The passcode's state as the token reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinState {
    /// Nothing to report.
    Ok,
    /// A wrong passcode was entered since the last right one.
    CountLow,
    /// One more wrong passcode locks the card.
    FinalTry,
    /// The passcode is blocked.
    Locked,
    /// The passcode was never set.
    NotInitialized,
}

impl PinState {
    /// The state on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            PinState::Ok => "ok",
            PinState::CountLow => "countLow",
            PinState::FinalTry => "finalTry",
            PinState::Locked => "locked",
            PinState::NotInitialized => "notInitialized",
        }
    }

    /// Reads the state from token flags, the most serious first.
    pub fn from_flags(initialized: bool, locked: bool, final_try: bool, count_low: bool) -> PinState {
        if !initialized {
            PinState::NotInitialized
        } else if locked {
            PinState::Locked
        } else if final_try {
            PinState::FinalTry
        } else if count_low {
            PinState::CountLow
        } else {
            PinState::Ok
        }
    }
}

/// What the status shows about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSummary {
    /// Token label.
    pub label: String,
    /// Token serial number.
    pub serial: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Passcode state.
    pub pin: PinState,
    /// The reader has a PIN pad (protected authentication path).
    pub pin_pad: bool,
    /// Shortest passcode the token takes.
    pub pin_min: usize,
    /// Longest passcode the token takes.
    pub pin_max: usize,
}

impl TokenSummary {
    /// Builds the summary from token info.
    pub fn from_info(info: &TokenInfo) -> TokenSummary {
        TokenSummary {
            label: info.label().trim().to_owned(),
            serial: info.serial_number().trim().to_owned(),
            manufacturer: info.manufacturer_id().trim().to_owned(),
            model: info.model().trim().to_owned(),
            pin: PinState::from_flags(
                info.user_pin_initialized(),
                info.user_pin_locked(),
                info.user_pin_final_try(),
                info.user_pin_count_low(),
            ),
            pin_pad: info.protected_authentication_path(),
            pin_min: info.min_pin_length(),
            pin_max: info.max_pin_length(),
        }
    }
}

impl TokenModule {
    /// Reads the token's summary.
    pub fn summary(&self, slot: Slot) -> Result<TokenSummary, HostError> {
        let info = self.pkcs11().get_token_info(slot).map_err(token_error)?;
        Ok(TokenSummary::from_info(&info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_flags_reports_most_serious_state() {
        let cases = [
            ((false, true, true, true), PinState::NotInitialized),
            ((true, true, true, true), PinState::Locked),
            ((true, false, true, true), PinState::FinalTry),
            ((true, false, false, true), PinState::CountLow),
            ((true, false, false, false), PinState::Ok),
        ];
        for ((initialized, locked, final_try, count_low), expected) in cases {
            assert_eq!(PinState::from_flags(initialized, locked, final_try, count_low), expected);
        }
    }
}
