//! Sending PIV commands over PC/SC: one connection per use, every multi-APDU step inside one
//! PC/SC transaction (so no other program's APDUs come between, say, the service's
//! authentication and the key generation), command chaining out, GET RESPONSE in.
//!
//! Counting: every APDU and the time the card took are added to process-wide counters, so a
//! handler can log how many APDUs a command needed and how much of its time was the card's.
//!
//! Fault seam (debug builds only, for the interruption tests): with
//! `CIS_RENEW_TEST_PIV_FAULT_APDU=N`, a renewal's connection resets the card instead of sending
//! its N-th APDU, as if the card had been pulled just then; it fails with
//! [`PivError::Injected`] and the card loses its volatile state (PIN and admin rights).

use super::apdu::{get_response, Command, Status};
use super::PivError;
use pcsc::{Context, Disposition, Protocols, Scope, ShareMode};
use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use zeroize::Zeroize;

/// Environment variable of the fault seam (debug builds only).
pub const FAULT_ENV: &str = "CIS_RENEW_TEST_PIV_FAULT_APDU";

static APDUS: AtomicU64 = AtomicU64::new(0);
static CARD_NANOS: AtomicU64 = AtomicU64::new(0);

/// APDUs sent and card time spent by this process so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// APDUs sent (each chained part and each GET RESPONSE counts).
    pub apdus: u64,
    /// Time spent waiting for the card's answers.
    pub card_time: Duration,
}

impl Counters {
    /// The counters now.
    pub fn now() -> Counters {
        Counters {
            apdus: APDUS.load(Ordering::Relaxed),
            card_time: Duration::from_nanos(CARD_NANOS.load(Ordering::Relaxed)),
        }
    }

    /// What happened since `self`.
    pub fn since(self) -> Counters {
        let now = Counters::now();
        Counters { apdus: now.apdus - self.apdus, card_time: now.card_time.saturating_sub(self.card_time) }
    }
}

/// A card's answer: its data (all GET RESPONSE parts joined) and the final status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The data.
    pub data: Vec<u8>,
    /// The final status word.
    pub status: Status,
}

/// A PC/SC connection to the card in one reader.
pub struct Connection {
    card: pcsc::Card,
    /// APDUs this connection has sent (the fault seam counts these).
    sent: usize,
    fault_at: Option<usize>,
}

fn pcsc_error(error: pcsc::Error) -> PivError {
    match error {
        pcsc::Error::RemovedCard
        | pcsc::Error::ResetCard
        | pcsc::Error::NoSmartcard
        | pcsc::Error::UnpoweredCard
        | pcsc::Error::UnresponsiveCard => PivError::Removed,
        other => PivError::Pcsc(other),
    }
}

impl Connection {
    /// Connects to the card in `reader`. `exclusive` keeps every other program off the card
    /// until [`Connection::release`] (a renewal holds the card's admin rights meanwhile).
    pub fn open(reader: &str, exclusive: bool) -> Result<Connection, PivError> {
        let context = Context::establish(Scope::User).map_err(pcsc_error)?;
        let name = CString::new(reader).map_err(|_| PivError::Malformed("reader name contains NUL"))?;
        let mode = if exclusive { ShareMode::Exclusive } else { ShareMode::Shared };
        let card = context.connect(&name, mode, Protocols::ANY).map_err(pcsc_error)?;
        Ok(Connection { card, sent: 0, fault_at: None })
    }

    /// Arms the fault seam from the environment (debug builds; release builds never read it).
    pub fn with_fault_from_env(mut self) -> Connection {
        if cfg!(debug_assertions) {
            self.fault_at = std::env::var(FAULT_ENV).ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0);
        }
        self
    }

    /// Runs `work` inside one PC/SC transaction.
    pub fn step<T>(
        &mut self,
        work: impl FnOnce(&mut Exchange<'_>) -> Result<T, PivError>,
    ) -> Result<T, PivError> {
        let fault_at = self.fault_at;
        let Connection { card, sent, .. } = self;
        let transaction = card.transaction().map_err(pcsc_error)?;
        let mut exchange = Exchange { transaction: Some(transaction), sent, fault_at };
        let outcome = work(&mut exchange);
        if let Some(transaction) = exchange.transaction.take() {
            if let Err((_, e)) = transaction.end(Disposition::LeaveCard) {
                log::debug!("ending the PC/SC transaction failed: {e}");
            }
        }
        outcome
    }

    /// Disconnects; `reset` power-cycles the card so no PIN or admin rights outlive the work.
    pub fn release(self, reset: bool) {
        let disposition = if reset { Disposition::ResetCard } else { Disposition::LeaveCard };
        if let Err((_, e)) = self.card.disconnect(disposition) {
            log::debug!("disconnecting from the card failed: {e}");
        }
    }
}

/// The card inside one transaction.
pub struct Exchange<'c> {
    transaction: Option<pcsc::Transaction<'c>>,
    sent: &'c mut usize,
    fault_at: Option<usize>,
}

impl Exchange<'_> {
    /// Sends `command` (chained if long) and collects the whole answer.
    pub fn send(&mut self, command: &Command) -> Result<Response, PivError> {
        let mut parts = command.encode();
        let last = parts.len() - 1;
        let mut outcome = Err(PivError::Malformed("no APDU"));
        for (i, part) in parts.iter().enumerate() {
            let (data, status) = self.transmit(part)?;
            if i < last && status != Status::Ok {
                outcome = Ok(Response { data, status });
                break;
            }
            outcome = Ok(Response { data, status });
        }
        // The parts may carry a PIN.
        parts.iter_mut().for_each(|p| p.zeroize());
        let mut response = outcome?;
        while let Status::MoreData(available) = response.status {
            let (more, status) = self.transmit(&get_response(available))?;
            response.data.extend_from_slice(&more);
            response.status = status;
        }
        Ok(response)
    }

    fn transmit(&mut self, apdu: &[u8]) -> Result<(Vec<u8>, Status), PivError> {
        *self.sent += 1;
        let number = *self.sent;
        if self.fault_at == Some(number) {
            if let Some(transaction) = self.transaction.take() {
                // Power-cycle, as a pulled card would: its volatile state is gone.
                if let Err((_, e)) = transaction.end(Disposition::ResetCard) {
                    log::debug!("fault seam: reset failed: {e}");
                }
            }
            log::info!("fault seam: card reset instead of APDU {number}");
            return Err(PivError::Injected(number));
        }
        let transaction = self.transaction.as_ref().ok_or(PivError::Removed)?;
        let mut buffer = [0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let started = Instant::now();
        let result = transaction.transmit(apdu, &mut buffer);
        let elapsed = started.elapsed();
        APDUS.fetch_add(1, Ordering::Relaxed);
        CARD_NANOS.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        let answer = result.map_err(pcsc_error)?;
        let outcome = match answer.len() {
            // No bytes at all: the reader lost the card mid-command (vpcd answers a card that
            // left with an empty buffer); a card always sends a status word.
            0 => Err(PivError::Removed),
            1 => Err(PivError::Malformed("answer without a status word")),
            n => Ok((answer[..n - 2].to_vec(), Status::from_sw(answer[n - 2], answer[n - 1]))),
        };
        buffer.zeroize();
        outcome
    }
}
