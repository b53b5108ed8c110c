//! The card worker: a thread that owns the renewal's card session and the open renewal, and
//! does the card work (`renewBegin`, `renewComplete`, `renewCancel` of an open renewal). The
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
//! releases the card lock) and sends the `renewalExpired` event under the `renewBegin`
//! request's id: `{"id": 7, "event": "renewalExpired", "renewalId": "..."}`.

use crate::handlers;
use crate::handlers::renew_begin::BeginParams;
use crate::handlers::renew_complete::CompleteParams;
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
    renewal: Requested,
    begun_by: RequestId,
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
        let requested = handlers::renew_begin::begin(&self.services, params, &mut progress, &stopped)?;
        // A cancel that came after the last check still wins.
        if !self.observer.shift(Phase::Beginning, Phase::Open) || self.closing.load(Ordering::SeqCst) {
            requested.cancel()?;
            return Err(crate::renewal::cancelled());
        }
        let result = handlers::renew_begin::result(&requested);
        self.open = Some(Open { renewal: requested, begun_by: id.clone() });
        Ok(result)
    }

    fn complete(&mut self, id: &RequestId, params: CompleteParams) -> Result<Value, HostError> {
        self.observer.set(Phase::Completing);
        let mut progress = progress_sink(&self.outbox, id);
        let begun_by = self.open.as_ref().map(|o| o.begun_by.clone());
        let mut renewal = self.open.take().map(|o| o.renewal);
        let outcome = handlers::renew_complete::complete(&self.services, &mut renewal, params, &mut progress);
        // A renewal still open (a failed check, or a failed write to retry) keeps its origin.
        self.open = renewal.map(|renewal| Open { renewal, begun_by: begun_by.unwrap_or_else(|| id.clone()) });
        outcome
    }

    fn cancel(&mut self, params: &Map<String, Value>) -> Result<Value, HostError> {
        let begun_by = self.open.as_ref().map(|o| o.begun_by.clone());
        let mut open = self.open.take().map(|o| o.renewal);
        let outcome = handlers::renew_cancel::handle(&mut open, params);
        if let (Some(renewal), Some(begun_by)) = (open, begun_by) {
            self.open = Some(Open { renewal, begun_by });
        }
        outcome
    }

    /// The idle deadline passed: cancel the renewal and say so.
    fn expire(&mut self) {
        let Some(open) = self.open.take() else { return };
        let renewal_id = open.renewal.id().as_str().to_owned();
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
