//! Is the same card still in the reader? A renewal captures the managed reader's state when it
//! starts and checks it before every card operation.
//!
//! PC/SC's per-reader event counter changes whenever a card goes in or out, so a card pulled
//! and put back (or swapped for another with the same ATR) is caught too. A check that passed
//! less than [`RECHECK_AFTER`] ago is not repeated: PC/SC itself learns of a removal only some
//! tens of milliseconds after it happens, so asking pcscd again within that time adds a round
//! trip per PKCS#11 call (about 0.1 ms, with spikes of several ms on a busy machine) and no
//! safety. Real middleware also
//! returns CKR_DEVICE_REMOVED; SoftHSM (the test bed's card) keeps answering without a card, so
//! this check is what makes "card removed" true there.

use super::pcsc_error;
use crate::protocol::{ErrorCode, HostError};
use pcsc::{Context, Error as PcscError, ReaderState, Scope, State};
use std::cell::Cell;
use std::ffi::CString;
use std::time::{Duration, Instant};

/// How long a passed check stands.
pub const RECHECK_AFTER: Duration = Duration::from_millis(20);

/// A check that the card a renewal started with is still there.
pub trait Presence {
    /// `Ok` when the same card is present; `CARD_REMOVED` otherwise.
    fn check(&self) -> Result<(), HostError>;

    /// Like [`Presence::check`], asking PC/SC now even if a check passed a moment ago (after
    /// an operation failed, to tell a pulled card from a card error).
    fn check_now(&self) -> Result<(), HostError> {
        self.check()
    }

    /// Like [`Presence::check_now`], checking again for a short while: PC/SC may take a poll
    /// interval (vpcd: up to ~0.4 s) to notice a card pulled mid-command. For error paths.
    fn check_settled(&self) -> Result<(), HostError> {
        self.check_now()
    }
}

/// How long [`Presence::check_settled`] gives PC/SC.
pub const SETTLE: Duration = Duration::from_millis(500);

/// The managed reader's card as PC/SC saw it when the renewal started.
pub struct PcscPresence {
    context: Context,
    reader: CString,
    event_count: u32,
    last_passed: Cell<Option<Instant>>,
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
        Ok(PcscPresence { context, reader, event_count, last_passed: Cell::new(Some(Instant::now())) })
    }
}

impl Presence for PcscPresence {
    fn check(&self) -> Result<(), HostError> {
        if self.last_passed.get().is_some_and(|at| at.elapsed() < RECHECK_AFTER) {
            return Ok(());
        }
        let (present, event_count) = read_state(&self.context, &self.reader)?;
        if present && event_count == self.event_count {
            self.last_passed.set(Some(Instant::now()));
            Ok(())
        } else {
            self.last_passed.set(None);
            Err(HostError::new(ErrorCode::CardRemoved, "The card was removed. Put it back and try again."))
        }
    }

    fn check_now(&self) -> Result<(), HostError> {
        self.last_passed.set(None);
        self.check()
    }

    fn check_settled(&self) -> Result<(), HostError> {
        let start = Instant::now();
        loop {
            self.check_now()?;
            if start.elapsed() >= SETTLE {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
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
