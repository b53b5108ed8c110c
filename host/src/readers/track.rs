//! The watch loop's decisions, free of PC/SC: given the reader states we wait on and what
//! `SCardGetStatusChange` (or the reader list) answered, the next states, the updates to send
//! and the next step. [`super::watch`] does the calls.
//!
//! The rules follow the `pcsc` crate's monitor example: every state, the plug-and-play
//! pseudo-reader's included, is carried over from its last answer (Windows answers a wait on
//! an UNAWARE pseudo-reader at once, so resetting it each turn spins), and a reader PC/SC
//! calls UNKNOWN or IGNORE is dropped, never waited on again.

use super::{pcsc_error, ReaderInfo};
use crate::protocol::HostError;
use pcsc::{Error as PcscError, State, PNP_NOTIFICATION};
use std::ffi::CString;

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

/// A reader state as PC/SC reports it: the flags and the event counter (the high 16 bits of
/// the raw word, which Windows compares too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    /// The state flags.
    pub state: State,
    /// The insert/remove counter (for the pseudo-reader, the number of readers).
    pub count: u32,
}

impl Known {
    /// Nothing known yet: PC/SC answers at once.
    pub const UNAWARE: Known = Known { state: State::UNAWARE, count: 0 };
}

/// One entry of the set passed to `SCardGetStatusChange`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The reader's name, or the pseudo-reader's.
    pub name: CString,
    /// What we tell PC/SC we know (the wait returns when this differs from the truth).
    pub current: Known,
    /// What PC/SC answered last.
    pub event: Known,
    /// The card's ATR from the last answer.
    pub atr: Vec<u8>,
}

impl Slot {
    /// A state PC/SC has not answered for yet.
    pub fn unaware(name: CString) -> Slot {
        Slot { name, current: Known::UNAWARE, event: Known::UNAWARE, atr: Vec::new() }
    }

    fn is_pnp(&self) -> bool {
        self.name.as_c_str() == PNP_NOTIFICATION()
    }

    fn is_dead(&self) -> bool {
        self.event.state.intersects(State::UNKNOWN | State::IGNORE)
    }

    fn snapshot(&self) -> Snapshot {
        let event = self.event.state;
        let card_present = event.contains(State::PRESENT) && !event.contains(State::MUTE);
        Snapshot {
            reader: ReaderInfo {
                name: self.name.to_string_lossy().into_owned(),
                card_present,
                atr: (card_present && !self.atr.is_empty()).then(|| self.atr.clone()),
            },
            event_count: self.event.count,
        }
    }
}

/// What the loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait on [`Tracker::slots`] for a change.
    Wait,
    /// List the readers again and pass the answer to [`Tracker::listed`].
    Relist,
    /// Pause (nothing to wait on), then list again.
    PauseThenRelist,
    /// The service is gone: pause, make a new context, then list again ([`Tracker::reconnected`]).
    Reconnect,
    /// The wait was cancelled: end.
    Stop,
}

/// The reader states between turns, and what was last reported.
#[derive(Debug, Default)]
pub struct Tracker {
    slots: Vec<Slot>,
    last: Option<Vec<Snapshot>>,
    unavailable: bool,
    /// PC/SC called the pseudo-reader UNKNOWN or IGNORE (no plug-and-play support).
    pnp_dead: bool,
    /// Listed readers PC/SC called UNKNOWN or IGNORE: not waited on again until the set of
    /// readers changes, else a list that keeps naming one would answer every wait at once.
    dead: Vec<CString>,
}

impl Tracker {
    /// A tracker with nothing known: the loop starts with [`Next::Relist`].
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// The states to wait on; the PC/SC side fills in each `event` and `atr`.
    pub fn slots_mut(&mut self) -> &mut [Slot] {
        &mut self.slots
    }

    /// The states to wait on.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// A fresh context knows nothing of the old states.
    pub fn reconnected(&mut self) {
        self.slots.clear();
        self.pnp_dead = false;
        self.dead.clear();
    }

    /// Takes the reader list: keeps the states of readers still there (and the pseudo-reader's,
    /// unless PC/SC said it does not support it), drops the others, adds new readers UNAWARE.
    pub fn listed(&mut self, names: Result<Vec<CString>, PcscError>) -> (Vec<WatchUpdate>, Next) {
        let names = match names {
            Ok(names) => names,
            Err(PcscError::NoReadersAvailable) => Vec::new(),
            Err(e) => return (self.unavailable(e), Next::Reconnect),
        };
        let mut kept: Vec<Slot> = Vec::with_capacity(names.len() + 1);
        match self.slots.iter().find(|s| s.is_pnp()) {
            Some(pnp) => kept.push(pnp.clone()),
            None if !self.pnp_dead => kept.push(Slot::unaware(PNP_NOTIFICATION().to_owned())),
            // Unsupported: we re-list on every quiet turn instead.
            None => {}
        }
        self.dead.retain(|d| names.contains(d));
        let mut added = false;
        for name in names.into_iter().filter(|n| !self.dead.contains(n)) {
            if let Some(old) = self.slots.iter().find(|s| s.name == name && !s.is_pnp()) {
                kept.push(old.clone());
            } else {
                kept.push(Slot::unaware(name));
                added = true;
            }
        }
        self.slots = kept;
        if self.slots.is_empty() {
            return (self.report(), Next::PauseThenRelist);
        }
        // New readers answer the next wait at once; until then their state is unknown.
        let updates = if added { Vec::new() } else { self.report() };
        (updates, Next::Wait)
    }

    /// Takes the answer of a wait on [`Tracker::slots`].
    pub fn waited(&mut self, outcome: Result<(), PcscError>) -> (Vec<WatchUpdate>, Next) {
        match outcome {
            Ok(()) => {}
            Err(PcscError::Timeout) => {
                // Nothing changed; whatever PC/SC left in the answer fields is not news.
                for slot in &mut self.slots {
                    slot.event = slot.current;
                }
                let pnp_missing = !self.slots.iter().any(Slot::is_pnp);
                let next = if pnp_missing { Next::Relist } else { Next::Wait };
                return (self.report(), next);
            }
            Err(PcscError::UnknownReader) | Err(PcscError::ReaderUnavailable) => {
                return (Vec::new(), Next::Relist)
            }
            Err(PcscError::Cancelled) => return (Vec::new(), Next::Stop),
            Err(e) => return (self.unavailable(e), Next::Reconnect),
        }
        let before = self.slots.len();
        // The first answer from UNAWARE is always CHANGED; the list we just made is current.
        let pnp_changed = self
            .slots
            .iter()
            .any(|s| s.is_pnp() && s.current != Known::UNAWARE && s.event.state.contains(State::CHANGED));
        if pnp_changed {
            // A reader came or went: give every listed reader one more chance.
            self.dead.clear();
        }
        for slot in self.slots.iter().filter(|s| s.is_dead()) {
            match slot.is_pnp() {
                true => self.pnp_dead = true,
                false => self.dead.push(slot.name.clone()),
            }
        }
        self.slots.retain(|s| !s.is_dead());
        for slot in &mut self.slots {
            slot.current = slot.event;
        }
        let pnp_missing = !self.slots.iter().any(Slot::is_pnp);
        let updates = self.report();
        if pnp_changed || pnp_missing || self.slots.len() != before {
            (updates, Next::Relist)
        } else {
            (updates, Next::Wait)
        }
    }

    fn report(&mut self) -> Vec<WatchUpdate> {
        if self.slots.iter().any(|s| !s.is_pnp() && s.event == Known::UNAWARE) {
            return Vec::new();
        }
        let now: Vec<Snapshot> = self.slots.iter().filter(|s| !s.is_pnp()).map(Slot::snapshot).collect();
        if self.last.as_ref() == Some(&now) {
            return Vec::new();
        }
        self.unavailable = false;
        self.last = Some(now.clone());
        vec![WatchUpdate::Readers(now)]
    }

    fn unavailable(&mut self, error: PcscError) -> Vec<WatchUpdate> {
        self.last = None;
        if self.unavailable {
            return Vec::new();
        }
        self.unavailable = true;
        vec![WatchUpdate::Unavailable(pcsc_error(error))]
    }
}
