//! PC/SC queries made with the `pcsc` crate, run only inside a `cis-testbed pcsc ...` child
//! process.
//!
//! Why a child process: libpcsclite reads `PCSCLITE_CSOCK_NAME` once, on the first
//! `SCardEstablishContext` of a process, and caches the socket name for the life of that
//! process. A test binary that runs several [`crate::Pcscd`]s (parallel test threads) could
//! therefore talk to only one of them, and setting the variable under a mutex would not help.
//! A short-lived child with the variable set in its own environment is always right, at the
//! cost of one process start (a few ms) per query.

use std::time::{Duration, Instant};

use pcsc::{Context, ReaderState, Scope, State};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::util::hex;

/// One reader as PC/SC sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReaderStatus {
    /// Reader name, e.g. `Virtual PCD 00 01`.
    pub name: String,
    /// Whether a card is present (PC/SC `SCARD_STATE_PRESENT`).
    pub present: bool,
    /// The card's ATR as lower-case hex, when present.
    pub atr: Option<String>,
}

/// What [`wait`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// At least this many readers are listed.
    Readers(usize),
    /// A card is present in the reader with this name index in [`crate::READERS`].
    Present(usize),
    /// The reader with this index is empty.
    Absent(usize),
}

fn establish(deadline: Instant) -> Result<Context> {
    // pcscd may still be starting: its socket appears before it accepts clients.
    loop {
        match Context::establish(Scope::User) {
            Ok(ctx) => return Ok(ctx),
            Err(pcsc::Error::NoService) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => return Err(Error::pcsc("SCardEstablishContext", e)),
        }
    }
}

fn list(ctx: &Context) -> Result<Vec<String>> {
    match ctx.list_readers_owned() {
        Ok(names) => Ok(names.into_iter().map(|n| n.to_string_lossy().into_owned()).collect()),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(Error::pcsc("SCardListReaders", e)),
    }
}

fn statuses(ctx: &Context) -> Result<Vec<ReaderStatus>> {
    let names = list(ctx)?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut states = Vec::with_capacity(names.len());
    for n in &names {
        let c = std::ffi::CString::new(n.as_str())
            .map_err(|_| Error::Invalid(format!("reader name with NUL: {n:?}")))?;
        states.push(ReaderState::new(c, State::UNAWARE));
    }
    ctx.get_status_change(Duration::ZERO, &mut states).map_err(|e| Error::pcsc("SCardGetStatusChange", e))?;
    Ok(names
        .into_iter()
        .zip(states.iter())
        .map(|(name, rs)| {
            let present = rs.event_state().contains(State::PRESENT);
            ReaderStatus { name, present, atr: present.then(|| hex(rs.atr())) }
        })
        .collect())
}

/// Every reader with its card state. `PCSCLITE_CSOCK_NAME` must already be set.
pub fn status() -> Result<Vec<ReaderStatus>> {
    let ctx = establish(Instant::now() + Duration::from_secs(2))?;
    statuses(&ctx)
}

/// Waits until `what` holds, then returns the readers' state. `PCSCLITE_CSOCK_NAME` must
/// already be set. On timeout returns [`Error::Timeout`].
pub fn wait(what: WaitFor, timeout: Duration) -> Result<Vec<ReaderStatus>> {
    let start = Instant::now();
    let deadline = start + timeout;
    let timed_out = |what: WaitFor| Error::Timeout {
        what: format!("{what:?}"),
        waited: start.elapsed(),
        log: String::new(),
    };
    let ctx = establish(deadline)?;
    match what {
        WaitFor::Readers(n) => loop {
            // Readers come from the fixed config, so a short poll is enough here.
            if list(&ctx)?.len() >= n {
                return statuses(&ctx);
            }
            if Instant::now() >= deadline {
                return Err(timed_out(what));
            }
            std::thread::sleep(Duration::from_millis(20));
        },
        WaitFor::Present(i) | WaitFor::Absent(i) => {
            let want_present = matches!(what, WaitFor::Present(_));
            let name =
                crate::READERS.get(i).ok_or_else(|| Error::Invalid(format!("no reader number {i}")))?;
            let c = std::ffi::CString::new(*name)
                .map_err(|_| Error::Invalid(format!("reader name with NUL: {name:?}")))?;
            let mut states = [ReaderState::new(c, State::UNAWARE)];
            let mut wait = Duration::ZERO;
            loop {
                // Event-driven: pcscd wakes us on the change, so latency is pcscd's own.
                match ctx.get_status_change(wait, &mut states) {
                    Ok(()) => {}
                    Err(pcsc::Error::Timeout) => {}
                    Err(e) => return Err(Error::pcsc("SCardGetStatusChange", e)),
                }
                let ev = states[0].event_state();
                if ev.contains(State::UNKNOWN) {
                    return Err(Error::Invalid(format!("reader {name:?} is not known to pcscd")));
                }
                // PRESENT alone is not enough for "present": it must not be MUTE (no ATR yet).
                let present = ev.contains(State::PRESENT) && !ev.contains(State::MUTE);
                let absent = ev.contains(State::EMPTY);
                if (want_present && present) || (!want_present && absent) {
                    return statuses(&ctx);
                }
                let now = Instant::now();
                if now >= deadline {
                    return Err(timed_out(what));
                }
                states[0].sync_current_state();
                wait = deadline - now;
            }
        }
    }
}
