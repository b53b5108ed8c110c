//! Card readers through PC/SC: which readers exist, which hold a card, and which one is the
//! managed reader (the user's card; the sponsor's own card sits in the other reader).
//!
//! Nothing here connects to a card: presence and ATR come from `SCardGetStatusChange`, so the
//! sponsor's card in the first reader is listed but never opened.

pub mod presence;
pub mod rule;
pub mod track;
pub mod watch;

pub use rule::ReaderRule;

use crate::protocol::{ErrorCode, HostError};
use pcsc::{Context, Error as PcscError, ReaderState, Scope, State};
use std::ffi::CString;
use std::time::Duration;

/// One reader as PC/SC sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// The reader's name.
    pub name: String,
    /// Whether a card is in it.
    pub card_present: bool,
    /// The card's ATR, when present.
    pub atr: Option<Vec<u8>>,
}

/// A PC/SC context.
pub struct Readers {
    context: Context,
}

impl Readers {
    /// Connects to PC/SC; fails at once with `PCSC_UNAVAILABLE` when the service is not there.
    pub fn connect() -> Result<Readers, HostError> {
        let context = Context::establish(Scope::User).map_err(pcsc_error)?;
        Ok(Readers { context })
    }

    /// The underlying context (for the watcher).
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Lists readers with card presence, in PC/SC order.
    pub fn list(&self) -> Result<Vec<ReaderInfo>, HostError> {
        let names = match self.context.list_readers_owned() {
            Ok(names) => names,
            Err(PcscError::NoReadersAvailable) => return Ok(Vec::new()),
            Err(e) => return Err(pcsc_error(e)),
        };
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut states: Vec<ReaderState> =
            names.iter().map(|name| ReaderState::new(name.clone(), State::UNAWARE)).collect();
        match self.context.get_status_change(Duration::ZERO, &mut states) {
            Ok(()) | Err(PcscError::Timeout) => {}
            // A reader unplugged between the two calls: report what remains.
            Err(PcscError::UnknownReader) | Err(PcscError::ReaderUnavailable) => {
                return self.list_one_by_one(&names)
            }
            Err(e) => return Err(pcsc_error(e)),
        }
        Ok(states.iter().map(reader_info).collect())
    }

    fn list_one_by_one(&self, names: &[CString]) -> Result<Vec<ReaderInfo>, HostError> {
        let mut readers = Vec::new();
        for name in names {
            let mut state = [ReaderState::new(name.clone(), State::UNAWARE)];
            match self.context.get_status_change(Duration::ZERO, &mut state) {
                Ok(()) | Err(PcscError::Timeout) => readers.push(reader_info(&state[0])),
                Err(PcscError::UnknownReader) | Err(PcscError::ReaderUnavailable) => {}
                Err(e) => return Err(pcsc_error(e)),
            }
        }
        Ok(readers)
    }
}

/// Reads one reader's presence and ATR from its state.
pub fn reader_info(state: &ReaderState) -> ReaderInfo {
    let event = state.event_state();
    let card_present = event.contains(State::PRESENT) && !event.contains(State::MUTE);
    ReaderInfo {
        name: state.name().to_string_lossy().into_owned(),
        card_present,
        atr: card_present.then(|| state.atr().to_vec()).filter(|atr| !atr.is_empty()),
    }
}

/// Maps a PC/SC failure to a wire error.
pub fn pcsc_error(error: PcscError) -> HostError {
    match error {
        PcscError::NoService | PcscError::ServiceStopped | PcscError::InternalError | PcscError::NoMemory => {
            HostError::new(
                ErrorCode::PcscUnavailable,
                format!(
                    "The smart card service is not available ({error}). Check that the Smart Card service (pcscd) is running."
                ),
            )
        }
        PcscError::RemovedCard | PcscError::NoSmartcard => {
            HostError::new(ErrorCode::CardRemoved, "The card was removed.")
        }
        other => HostError::new(ErrorCode::PcscUnavailable, format!("The smart card service failed ({other}).")),
    }
}
