//! Follows reader and card changes on a thread of its own until stopped.
//!
//! PC/SC blocks in `SCardGetStatusChange` until something changes; we also wake every
//! [`POLL`] so a stop request or a dead service is noticed without relying on cancel support.
//! What to do with each answer is decided in [`super::track`]; this module only makes the
//! calls, through [`StatusSource`] so a scripted source can drive the loop in tests.

use super::pcsc_error;
use super::track::{Known, Next, Slot, Tracker};
pub use super::track::{Snapshot, WatchUpdate};
use crate::protocol::HostError;
use pcsc::{Context, Error as PcscError, ReaderState, Scope, State};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Longest wait before the loop checks for a stop; bounds how late a stop is seen.
const POLL: Duration = Duration::from_millis(500);

/// The PC/SC calls the watch loop makes.
pub trait StatusSource {
    /// `SCardListReaders`.
    fn list_readers(&mut self) -> Result<Vec<CString>, PcscError>;
    /// `SCardGetStatusChange` on `slots` (waiting while each `current` is the truth); on
    /// success fills in every slot's `event` and `atr`, otherwise leaves them alone.
    fn get_status_change(&mut self, timeout: Duration, slots: &mut [Slot]) -> Result<(), PcscError>;
    /// Waits `pause` (the service is gone or there is nothing to wait on).
    fn pause(&mut self, pause: Duration);
    /// Makes a new context after the service went away.
    fn reconnect(&mut self) -> Result<(), PcscError>;
}

/// A running watcher; stopping it (or dropping it) ends the thread.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Starts watching; fails at once when PC/SC is unavailable.
    pub fn spawn<F>(mut report: F) -> Result<Watcher, HostError>
    where
        F: FnMut(WatchUpdate) + Send + 'static,
    {
        let context = Context::establish(Scope::User).map_err(pcsc_error)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut source = Pcsc { context };
            run(&mut source, &|| stop_flag.load(Ordering::SeqCst), &mut report)
        });
        Ok(Watcher { stop, thread: Some(thread) })
    }

    /// Asks the thread to stop and waits for it (at most about [`POLL`]).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The watch loop: asks `source`, lets the tracker decide, reports, until `stopped` or cancelled.
pub fn run(source: &mut dyn StatusSource, stopped: &dyn Fn() -> bool, report: &mut dyn FnMut(WatchUpdate)) {
    let mut tracker = Tracker::new();
    let mut next = Next::Relist;
    while !stopped() {
        let (updates, then) = match next {
            Next::Wait => {
                let outcome = source.get_status_change(POLL, tracker.slots_mut());
                tracker.waited(outcome)
            }
            Next::Relist => tracker.listed(source.list_readers()),
            Next::PauseThenRelist => {
                source.pause(POLL);
                tracker.listed(source.list_readers())
            }
            Next::Reconnect => {
                source.pause(POLL);
                // A failed reconnect shows as a failed list, which comes back here.
                let _ = source.reconnect();
                tracker.reconnected();
                tracker.listed(source.list_readers())
            }
            Next::Stop => break,
        };
        updates.into_iter().for_each(&mut *report);
        next = then;
    }
}

/// The real PC/SC service.
struct Pcsc {
    context: Context,
}

impl StatusSource for Pcsc {
    fn list_readers(&mut self) -> Result<Vec<CString>, PcscError> {
        self.context.list_readers_owned()
    }

    fn get_status_change(&mut self, timeout: Duration, slots: &mut [Slot]) -> Result<(), PcscError> {
        let mut states: Vec<ReaderState> =
            slots.iter().map(|s| ReaderState::new(s.name.clone(), raw(s.current))).collect();
        let outcome = self.context.get_status_change(timeout, &mut states);
        // On a timeout or failure the answer fields hold nothing we can trust.
        for (slot, state) in slots.iter_mut().zip(&states).filter(|_| outcome.is_ok()) {
            slot.event = Known { state: state.event_state(), count: state.event_count() };
            slot.atr = state.atr().to_vec();
        }
        outcome
    }

    fn pause(&mut self, pause: Duration) {
        std::thread::sleep(pause);
    }

    fn reconnect(&mut self) -> Result<(), PcscError> {
        self.context = Context::establish(Scope::User)?;
        Ok(())
    }
}

/// The raw state word with the counter in its high 16 bits, as PC/SC answered it: Windows
/// compares the counter too, so leaving it out makes every wait answer at once.
// DWORD is u32 on Windows and c_ulong elsewhere, so the widening is a no-op on one target.
#[allow(clippy::useless_conversion)]
fn raw(known: Known) -> State {
    State::from_bits_retain(known.state.bits() | pcsc::ffi::DWORD::from(known.count & 0xFFFF) << 16)
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
