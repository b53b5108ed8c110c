//! The card worker: a thread that owns the renewal's card session and the open renewal, of a
//! PKCS#11 card or of a PIV card, and does the card work (`renewBegin`, `renewAdmin`,
//! `renewComplete`, `renewCancel` of an open renewal). The
//! controller's stdin reader hands it jobs and goes on answering `status`, `watch`, `unwatch`,
//! `renewCancel` and end-of-input while a key generation or a PIN-pad entry runs.
//!
//! Nothing about the renewal is mirrored elsewhere: the worker answers for it. Other threads
//! see only a [`RenewalObserver`] (is a renewal beginning or open?) and can ask a beginning
//! renewal to stop ([`Worker::cancel_begin`]), which takes effect when the token returns from
//! its current call, leaving the old pairs working.
//!
//! An open renewal has an idle deadline (`renewalTimeoutSeconds`): when no job arrives in
//! time the worker cancels it (the pending keys go, the session closes, which signs out and
//! releases the card lock; a PIV card is reset and its journal finishes it next time) and sends the `renewalExpired` event under the `renewBegin`
//! request's id: `{"id": 7, "event": "renewalExpired", "renewalId": "..."}`.

use crate::handlers;
use crate::handlers::renew_begin::BeginParams;
use crate::handlers::renew_complete::CompleteParams;
use crate::piv::renewal::{AdminParams, PivRenewal};
use crate::protocol::message::{event, reply_error, reply_ok};
use crate::protocol::{ErrorCode, HostError, Outbox, RequestId};
use crate::renewal::steps::Progress;
use crate::renewal::Requested;
use crate::services::Services;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the worker is doing with the renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No renewal.
    Idle = 0,
    /// `renewBegin` is running (sign-in, key generation, requests).
    Beginning = 1,
    /// A renewal is open, waiting for `renewComplete` or `renewCancel`.
    Open = 2,
    /// `renewComplete` is running.
    Completing = 3,
    /// `renewBegin` is running and was asked to stop.
    Stopping = 4,
}

/// A read-only view of the worker's phase, for the status and the watcher.
#[derive(Debug, Clone, Default)]
pub struct RenewalObserver(Arc<AtomicU8>);

impl RenewalObserver {
    /// The phase now.
    pub fn phase(&self) -> Phase {
        match self.0.load(Ordering::SeqCst) {
            1 => Phase::Beginning,
            2 => Phase::Open,
            3 => Phase::Completing,
            4 => Phase::Stopping,
            _ => Phase::Idle,
        }
    }

    /// This host has a renewal under way on the card: its pending objects are work in
    /// progress, not an interrupted renewal.
    pub fn renewal_under_way(&self) -> bool {
        self.phase() != Phase::Idle
    }

    fn set(&self, phase: Phase) {
        self.0.store(phase as u8, Ordering::SeqCst);
    }

    /// Moves from `from` to `to` if the phase is `from`, in one step (so a cancel and the end
    /// of a `renewBegin` cannot cross).
    fn shift(&self, from: Phase, to: Phase) -> bool {
        self.0.compare_exchange(from as u8, to as u8, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }
}

/// Work for the card worker.
pub enum Job {
    /// `renewBegin`.
    Begin {
        /// The request's id.
        id: RequestId,
        /// Its checked params (the passcode inside is wiped when dropped).
        params: BeginParams,
    },
    /// `renewAdmin` (PIV cards).
    Admin {
        /// The request's id.
        id: RequestId,
        /// The renewal it names.
        renewal_id: String,
        /// Its checked params (the passcode inside is wiped when dropped).
        params: AdminParams,
    },
    /// `renewComplete`.
    Complete {
        /// The request's id.
        id: RequestId,
        /// Its checked params.
        params: CompleteParams,
    },
    /// `renewCancel` of an open renewal.
    Cancel {
        /// The request's id.
        id: RequestId,
        /// Its params.
        params: Map<String, Value>,
    },
}

enum Message {
    Job(Job),
    Shutdown,
}

/// The controller's handle on the card worker.
pub struct Worker {
    jobs: Sender<Message>,
    observer: RenewalObserver,
    /// Set at end of input: a beginning renewal stops, whatever its phase says.
    closing: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker; it answers through `outbox`.
    pub fn start(services: Arc<Services>, outbox: Outbox) -> Worker {
        let (jobs, inbox) = channel();
        let observer = RenewalObserver::default();
        let closing = Arc::new(AtomicBool::new(false));
        let state = WorkerState {
            services,
            outbox,
            observer: observer.clone(),
            closing: closing.clone(),
            open: None,
        };
        let thread = std::thread::Builder::new()
            .name("card worker".into())
            .spawn(move || state.run(inbox))
            .map_err(|e| log::error!("could not start the card worker: {e}"))
            .ok();
        Worker { jobs, observer, closing, thread }
    }

    /// The phase, for the status and the watcher.
    pub fn observer(&self) -> RenewalObserver {
        self.observer.clone()
    }

    /// Hands a job over; fails when the worker has gone (it never should).
    pub fn submit(&self, job: Job) -> Result<(), HostError> {
        self.jobs
            .send(Message::Job(job))
            .map_err(|_| HostError::new(ErrorCode::InternalError, "the card worker has stopped"))
    }

    /// Asks a beginning renewal to stop at its next step. Returns whether one was beginning.
    pub fn cancel_begin(&self) -> bool {
        self.observer.shift(Phase::Beginning, Phase::Stopping) || self.observer.phase() == Phase::Stopping
    }

    /// At end of input: stops a beginning renewal, cancels an open one, and waits for the
    /// worker (at most until the token returns from its current call).
    pub fn shutdown(mut self) {
        self.closing.store(true, Ordering::SeqCst);
        let _ = self.jobs.send(Message::Shutdown);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::error!("the card worker panicked");
            }
        }
    }
}

/// An open renewal with the request that began it.
struct Open {
    renewal: Renewal,
    begun_by: RequestId,
}

/// The open renewal, by the card's backend.
enum Renewal {
    /// A PKCS#11 card: pending keys on the card, signed in.
    Pkcs11(Requested),
    /// A PIV card, held exclusively until the renewal ends.
    Piv(PivRenewal),
}

impl Renewal {
    fn id(&self) -> &str {
        match self {
            Renewal::Pkcs11(requested) => requested.id().as_str(),
            Renewal::Piv(piv) => piv.id(),
        }
    }

    /// Ends the renewal with nothing installed.
    fn cancel(self) -> Result<(), HostError> {
        match self {
            Renewal::Pkcs11(requested) => requested.cancel(),
            // Dropping it resets the card; its journal lets the next renewal finish the card.
            Renewal::Piv(piv) => {
                drop(piv);
                Ok(())
            }
        }
    }
}

struct WorkerState {
    services: Arc<Services>,
    outbox: Outbox,
    observer: RenewalObserver,
    closing: Arc<AtomicBool>,
    open: Option<Open>,
}

impl WorkerState {
    fn run(mut self, inbox: Receiver<Message>) {
        let timeout = Duration::from_secs(u64::from(self.services.config.renewal_timeout_seconds));
        let mut deadline: Option<Instant> = None;
        loop {
            let message = match deadline {
                Some(at) => match inbox.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(message) => message,
                    Err(RecvTimeoutError::Timeout) => {
                        self.expire();
                        deadline = None;
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => Message::Shutdown,
                },
                None => inbox.recv().unwrap_or(Message::Shutdown),
            };
            match message {
                Message::Job(job) => self.handle(job),
                Message::Shutdown => break,
            }
            deadline = self.open.as_ref().map(|_| Instant::now() + timeout);
        }
        // The browser went away mid-renewal: nobody will complete it, so remove its keys now
        // rather than at the next sign-in.
        if let Some(open) = self.open.take() {
            match open.renewal.cancel() {
                Ok(()) => log::info!("open renewal cancelled at exit"),
                Err(e) => log::warn!("could not cancel the open renewal at exit ({}); recovery will", e.code),
            }
        }
        self.observer.set(Phase::Idle);
    }

    fn answer(&self, id: &RequestId, command: &str, started: Instant, outcome: Result<Value, HostError>) {
        match outcome {
            Ok(result) => {
                log::info!("{command} id={id} ok in {:?}", started.elapsed());
                self.outbox.send(reply_ok(id, result));
            }
            Err(error) => {
                log::info!("{command} id={id} {} in {:?}", error.code, started.elapsed());
                self.outbox.send(reply_error(id, &error));
            }
        }
    }

    fn handle(&mut self, job: Job) {
        let started = Instant::now();
        let (id, command, outcome) = match job {
            Job::Begin { id, params } => {
                let outcome = self.begin(&id, params);
                (id, "renewBegin", outcome)
            }
            Job::Admin { id, renewal_id, params } => {
                let outcome = self.admin(&id, &renewal_id, params);
                (id, "renewAdmin", outcome)
            }
            Job::Complete { id, params } => {
                let outcome = self.complete(&id, params);
                (id, "renewComplete", outcome)
            }
            Job::Cancel { id, params } => {
                let outcome = self.cancel(&params);
                (id, "renewCancel", outcome)
            }
        };
        // Before the answer: a request that follows it must see the new phase.
        self.observer.set(if self.open.is_some() { Phase::Open } else { Phase::Idle });
        self.answer(&id, command, started, outcome);
    }

    fn begin(&mut self, id: &RequestId, params: BeginParams) -> Result<Value, HostError> {
        if self.open.is_some() {
            return Err(HostError::new(
                ErrorCode::Busy,
                "A renewal is already in progress. Finish or cancel it first.",
            ));
        }
        self.observer.set(Phase::Beginning);
        let mut progress = progress_sink(&self.outbox, id);
        let observer = self.observer.clone();
        let closing = self.closing.clone();
        let stopped = move || observer.phase() == Phase::Stopping || closing.load(Ordering::SeqCst);
        // A card with `cardAdmin` and no passcode in the request: the PIV path.
        let (renewal, result) = match handlers::piv_renewal::try_begin(&self.services, &params)? {
            Some(piv) => {
                let result = piv.begin_result();
                (Renewal::Piv(piv), result)
            }
            None => {
                let requested =
                    handlers::renew_begin::begin(&self.services, params, &mut progress, &stopped)?;
                let result = handlers::renew_begin::result(&requested);
                (Renewal::Pkcs11(requested), result)
            }
        };
        // A cancel that came after the last check still wins.
        if !self.observer.shift(Phase::Beginning, Phase::Open) || self.closing.load(Ordering::SeqCst) {
            renewal.cancel()?;
            return Err(crate::renewal::cancelled());
        }
        self.open = Some(Open { renewal, begun_by: id.clone() });
        Ok(result)
    }

    /// `renewAdmin`: the open PIV renewal's key generation and requests.
    fn admin(&mut self, id: &RequestId, renewal_id: &str, params: AdminParams) -> Result<Value, HostError> {
        let mut progress = progress_sink(&self.outbox, id);
        let (mut piv, begun_by) = match self.open.take() {
            Some(Open { renewal: Renewal::Piv(piv), begun_by }) => (Some(piv), begun_by),
            other => {
                self.open = other;
                return Err(handlers::renew_admin::unknown(renewal_id));
            }
        };
        let outcome = handlers::renew_admin::handle(&mut piv, renewal_id, params, &mut progress);
        self.open = piv.map(|piv| Open { renewal: Renewal::Piv(piv), begun_by });
        outcome
    }

    fn complete(&mut self, id: &RequestId, params: CompleteParams) -> Result<Value, HostError> {
        // A renewal still open afterwards (a failed check, or a failed write to retry) keeps
        // the request that began it, for `renewalExpired`.
        self.observer.set(Phase::Completing);
        let mut progress = progress_sink(&self.outbox, id);
        match self.open.take() {
            Some(Open { renewal: Renewal::Piv(piv), begun_by }) if piv.id() == params.renewal_id => {
                let mut piv = Some(piv);
                let outcome =
                    handlers::piv_renewal::complete(&self.services, &mut piv, params, &mut progress);
                self.open = piv.map(|piv| Open { renewal: Renewal::Piv(piv), begun_by });
                outcome
            }
            Some(Open { renewal: Renewal::Pkcs11(requested), begun_by }) => {
                let mut renewal = Some(requested);
                let outcome =
                    handlers::renew_complete::complete(&self.services, &mut renewal, params, &mut progress);
                self.open = renewal.map(|renewal| Open { renewal: Renewal::Pkcs11(renewal), begun_by });
                outcome
            }
            // No renewal, or a PIV renewal of another id: the PKCS#11 handler names the error.
            other => {
                self.open = other;
                handlers::renew_complete::complete(&self.services, &mut None, params, &mut progress)
            }
        }
    }

    fn cancel(&mut self, params: &Map<String, Value>) -> Result<Value, HostError> {
        match self.open.take() {
            Some(Open { renewal: Renewal::Piv(piv), begun_by }) => {
                let mut piv = Some(piv);
                if handlers::piv_renewal::owns(&piv, params) {
                    return handlers::piv_renewal::cancel(&mut piv, params);
                }
                self.open = piv.map(|piv| Open { renewal: Renewal::Piv(piv), begun_by });
                handlers::renew_cancel::handle(&mut None, params)
            }
            Some(Open { renewal: Renewal::Pkcs11(requested), begun_by }) => {
                let mut open = Some(requested);
                let outcome = handlers::renew_cancel::handle(&mut open, params);
                self.open = open.map(|renewal| Open { renewal: Renewal::Pkcs11(renewal), begun_by });
                outcome
            }
            None => handlers::renew_cancel::handle(&mut None, params),
        }
    }

    /// The idle deadline passed: cancel the renewal and say so.
    fn expire(&mut self) {
        let Some(open) = self.open.take() else { return };
        let renewal_id = open.renewal.id().to_owned();
        log::info!("renewal {renewal_id} idle for too long; cancelling it");
        if let Err(e) = open.renewal.cancel() {
            log::warn!("cancelling the idle renewal failed ({}); recovery removes its keys", e.code);
        }
        let mut fields = Map::new();
        fields.insert("renewalId".into(), json!(renewal_id));
        self.outbox.send(event(&open.begun_by, "renewalExpired", fields));
        self.observer.set(Phase::Idle);
    }
}

/// A sink that turns renewal progress into `progress` events for request `id`.
fn progress_sink(outbox: &Outbox, id: &RequestId) -> impl FnMut(Progress) {
    let outbox = outbox.clone();
    let id = id.clone();
    move |progress: Progress| {
        let mut fields = Map::new();
        fields.insert("step".into(), json!(progress.step.as_str()));
        if let Some((n, of)) = progress.count {
            fields.insert("n".into(), json!(n));
            fields.insert("of".into(), json!(of));
        }
        outbox.send(event(&id, "progress", fields));
    }
}
