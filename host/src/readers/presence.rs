//! Is the same card still in the reader? A renewal captures the managed reader's state when it
//! starts and checks it before every card operation.
//!
//! PC/SC's per-reader event counter changes whenever a card goes in or out, so a card pulled
//! and put back (or swapped for another with the same ATR) is caught too. Real middleware also
//! returns CKR_DEVICE_REMOVED; SoftHSM (the test bed's card) keeps answering without a card, so
//! this check is what makes "card removed" true there.

use super::pcsc_error;
use crate::protocol::{ErrorCode, HostError};
use pcsc::{Context, Error as PcscError, ReaderState, Scope, State};
use std::ffi::CString;
use std::time::Duration;

/// A check that the card a renewal started with is still there.
pub trait Presence {
    /// `Ok` when the same card is present; `CARD_REMOVED` otherwise.
    fn check(&self) -> Result<(), HostError>;
}

/// The managed reader's card as PC/SC saw it when the renewal started.
pub struct PcscPresence {
    context: Context,
    reader: CString,
    event_count: u32,
}

impl PcscPresence {
    /// Captures `reader`'s current card; `NO_CARD` when it holds none.
    pub fn capture(reader: &str) -> Result<PcscPresence, HostError> {
        let context = Context::establish(Scope::User).map_err(pcsc_error)?;
        let reader = CString::new(reader)
            .map_err(|_| HostError::new(ErrorCode::InternalError, "reader name contains a NUL byte"))?;
        let (present, event_count) = read_state(&context, &reader)?;
        if !present {
            return Err(HostError::new(ErrorCode::NoCard, "No card is in the managed reader."));
        }
        Ok(PcscPresence { context, reader, event_count })
    }
}

impl Presence for PcscPresence {
    fn check(&self) -> Result<(), HostError> {
        let (present, event_count) = read_state(&self.context, &self.reader)?;
        if present && event_count == self.event_count {
            Ok(())
        } else {
            Err(HostError::new(ErrorCode::CardRemoved, "The card was removed. Put it back and try again."))
        }
    }
}

fn read_state(context: &Context, reader: &CString) -> Result<(bool, u32), HostError> {
    let mut states = [ReaderState::new(reader.clone(), State::UNAWARE)];
    match context.get_status_change(Duration::ZERO, &mut states) {
        Ok(()) | Err(PcscError::Timeout) => {}
        // The reader itself went away: so did the card.
        Err(PcscError::UnknownReader) | Err(PcscError::ReaderUnavailable) => return Ok((false, 0)),
        Err(e) => return Err(pcsc_error(e)),
    }
    let state = states[0].event_state();
    let present = state.contains(State::PRESENT) && !state.contains(State::MUTE);
    Ok((present, states[0].event_count()))
}
