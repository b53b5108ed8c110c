//! Follows reader and card changes on a thread of its own until stopped.
//!
//! PC/SC blocks in `SCardGetStatusChange` until something changes; we also wake every
//! [`POLL`] so a stop request or a dead service is noticed without relying on cancel support.

use super::{pcsc_error, reader_info, ReaderInfo};
use crate::protocol::HostError;
use pcsc::{Context, Error as PcscError, ReaderState, Scope, State, PNP_NOTIFICATION};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Longest wait before the loop checks for a stop; bounds how late a stop is seen.
const POLL: Duration = Duration::from_millis(500);

/// What the watcher reports.
#[derive(Debug, Clone)]
pub enum WatchUpdate {
    /// The readers as they are now (sent at start and after every change).
    Readers(Vec<Snapshot>),
    /// PC/SC went away; the watcher keeps trying to reconnect.
    Unavailable(HostError),
}

/// A reader plus the PC/SC event counter, which changes when a card is swapped even if the
/// new card has the same ATR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Presence and ATR.
    pub reader: ReaderInfo,
    /// PC/SC's insert/remove counter for the reader.
    pub event_count: u32,
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
        let thread = std::thread::spawn(move || watch_loop(context, &stop_flag, &mut report));
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

fn watch_loop(mut context: Context, stop: &AtomicBool, report: &mut dyn FnMut(WatchUpdate)) {
    let mut states = match reader_states(&context) {
        Ok(states) => states,
        Err(e) => {
            report(WatchUpdate::Unavailable(e));
            Vec::new()
        }
    };
    let mut last: Option<Vec<Snapshot>> = None;
    let mut unavailable = false;
    while !stop.load(Ordering::SeqCst) {
        for state in states.iter_mut() {
            state.sync_current_state();
        }
        let outcome = if states.is_empty() {
            Err(PcscError::NoService)
        } else {
            context.get_status_change(POLL, &mut states)
        };
        match outcome {
            Ok(()) | Err(PcscError::Timeout) => {
                let pnp_changed =
                    states.iter().any(|s| is_pnp(s) && s.event_state().contains(State::CHANGED));
                if pnp_changed {
                    match reader_states(&context) {
                        Ok(fresh) => states = fresh,
                        Err(e) => report(WatchUpdate::Unavailable(e)),
                    }
                    continue;
                }
                let now = snapshots(&states);
                if last.as_ref() != Some(&now) {
                    unavailable = false;
                    report(WatchUpdate::Readers(now.clone()));
                    last = Some(now);
                }
            }
            Err(PcscError::UnknownReader) | Err(PcscError::ReaderUnavailable) => {
                if let Ok(fresh) = reader_states(&context) {
                    states = fresh;
                }
            }
            Err(PcscError::Cancelled) => break,
            Err(e) => {
                if !unavailable {
                    report(WatchUpdate::Unavailable(pcsc_error(e)));
                    unavailable = true;
                    last = None;
                }
                std::thread::sleep(POLL);
                if let Ok(fresh) = Context::establish(Scope::User) {
                    context = fresh;
                }
                states = reader_states(&context).unwrap_or_default();
            }
        }
    }
}

fn is_pnp(state: &ReaderState) -> bool {
    state.name() == PNP_NOTIFICATION()
}

/// The PnP pseudo-reader plus one state per reader, all UNAWARE so the first wait answers at once.
fn reader_states(context: &Context) -> Result<Vec<ReaderState>, HostError> {
    let mut states = vec![ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE)];
    match context.list_readers_owned() {
        Ok(names) => states.extend(names.into_iter().map(|n| ReaderState::new(n, State::UNAWARE))),
        Err(PcscError::NoReadersAvailable) => {}
        Err(e) => return Err(pcsc_error(e)),
    }
    Ok(states)
}

fn snapshots(states: &[ReaderState]) -> Vec<Snapshot> {
    states
        .iter()
        .filter(|s| !is_pnp(s))
        .map(|s| Snapshot { reader: reader_info(s), event_count: s.event_count() })
        .collect()
}
