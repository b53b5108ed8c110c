//! The controller: reads frames, turns them into requests, hands each to its handler and sends
//! the answer. It only coordinates; handlers do the work and the outbox writes. Card work of a
//! renewal (PKCS#11 or PIV) goes to the card worker ([`crate::worker`]), which answers those
//! requests itself, so
//! this loop keeps reading stdin (`status`, `renewCancel`, `unwatch`, end of input) meanwhile.

use crate::handlers;
use crate::protocol::frame::{read_frame, FrameError, MAX_INBOUND};
use crate::protocol::message::{parse_request, reply_error, reply_ok};
use crate::protocol::{ErrorCode, HostError, Outbox, Request, RequestId};
use crate::readers::watch::Watcher;
use crate::services::Services;
use crate::worker::{Job, Worker};
use serde_json::{json, Value};
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;
use zeroize::Zeroize;

/// Commands this host answers; anything else is `UNKNOWN_COMMAND`.
pub const COMMANDS: [&str; 7] =
    ["status", "watch", "unwatch", "renewBegin", "renewAdmin", "renewComplete", "renewCancel"];

/// Serves one browser connection.
pub struct Controller {
    services: Arc<Services>,
    outbox: Outbox,
    watcher: Option<Watcher>,
    /// Owns the renewal's card session and the open renewal (PKCS#11 or PIV).
    worker: Option<Worker>,
}

impl Controller {
    /// A controller that answers through `outbox`.
    pub fn new(services: Arc<Services>, outbox: Outbox) -> Controller {
        let worker = Worker::start(services.clone(), outbox.clone());
        Controller { services, outbox, watcher: None, worker: Some(worker) }
    }

    /// Serves requests until the browser closes stdin (or sends a frame that cannot be skipped).
    pub fn serve<R: Read>(&mut self, input: &mut R) {
        loop {
            match read_frame(input, MAX_INBOUND) {
                Ok(mut payload) => {
                    self.handle_frame(&payload);
                    // The frame may have carried the passcode.
                    payload.zeroize();
                }
                Err(FrameError::Eof) => {
                    log::info!("stdin closed; exiting");
                    break;
                }
                Err(FrameError::Truncated) => {
                    log::warn!("stdin closed inside a frame; exiting");
                    break;
                }
                Err(FrameError::TooLarge(length)) => {
                    log::warn!("frame of {length} bytes refused; stop reading");
                    let error = HostError::new(
                        ErrorCode::MessageTooLarge,
                        format!("The message is {length} bytes; the limit is {MAX_INBOUND}."),
                    );
                    self.outbox.send(reply_error(&RequestId::null(), &error));
                    break;
                }
                Err(FrameError::Io(e)) => {
                    log::error!("reading stdin failed: {e}");
                    break;
                }
            }
        }
        // Dropping the watcher only flags it: exit must not wait for a blocked PC/SC call.
        self.watcher.take();
        // The browser went away: the worker stops a beginning renewal when the token returns
        // and removes an open one's keys now rather than at the next sign-in.
        if let Some(worker) = self.worker.take() {
            worker.shutdown();
        }
    }

    /// Answers one frame's payload (public for the fuzz targets).
    pub fn handle_frame(&mut self, payload: &[u8]) {
        let mut request = match parse_request(payload) {
            Ok(request) => request,
            Err(rejected) => {
                log::info!("request id={} rejected: {}", rejected.id, rejected.error.code);
                self.outbox.send(reply_error(&rejected.id, &rejected.error));
                return;
            }
        };
        let started = Instant::now();
        let outcome = self.dispatch(&mut request);
        // Whatever the handler left (a passcode sent to the wrong command, or one refused
        // before it was taken out) is wiped, not just dropped.
        crate::protocol::message::wipe(&mut request.params);
        let command =
            if COMMANDS.contains(&request.command.as_str()) { request.command.as_str() } else { "(unknown)" };
        match outcome {
            Ok(None) => log::debug!("{command} id={} handed to the card worker", request.id),
            Ok(Some(result)) => {
                log::info!("{command} id={} ok in {:?}", request.id, started.elapsed());
                self.outbox.send(reply_ok(&request.id, result));
            }
            Err(error) => {
                log::info!("{command} id={} {} in {:?}", request.id, error.code, started.elapsed());
                self.outbox.send(reply_error(&request.id, &error));
            }
        }
    }

    /// Answers `request` (`Some`), or hands it to the card worker, which answers it (`None`).
    fn dispatch(&mut self, request: &mut Request) -> Result<Option<Value>, HostError> {
        let handed = |job: Job, worker: &Option<Worker>| match worker {
            Some(worker) => worker.submit(job).map(|()| None::<Value>),
            None => Err(HostError::new(ErrorCode::InternalError, "the card worker has stopped")),
        };
        match request.command.as_str() {
            "renewBegin" => {
                let params = handlers::renew_begin::take_params(&mut request.params)?;
                handed(Job::Begin { id: request.id.clone(), params }, &self.worker)
            }
            "renewAdmin" => {
                // Takes the passcode out of the request first.
                let (renewal_id, params) = handlers::renew_admin::parse(&mut request.params)?;
                handed(Job::Admin { id: request.id.clone(), renewal_id, params }, &self.worker)
            }
            "renewComplete" => {
                let params = handlers::renew_complete::parse(&request.params)?;
                handed(Job::Complete { id: request.id.clone(), params }, &self.worker)
            }
            "renewCancel" => {
                handlers::params::only(&request.params, &["renewalId"])?;
                // A renewal still beginning (a key generation, a PIN-pad entry) stops as soon
                // as the token returns; its `renewBegin` then answers `CANCELLED`.
                if self.worker.as_ref().is_some_and(Worker::cancel_begin) {
                    return Ok(Some(json!({"cancelled": true})));
                }
                handed(Job::Cancel { id: request.id.clone(), params: request.params.clone() }, &self.worker)
            }
            "status" => {
                let under_way = self.worker.as_ref().is_some_and(|w| w.observer().renewal_under_way());
                handlers::status::handle(&self.services, &request.params, under_way).map(Some)
            }
            "watch" => {
                if let Some(previous) = self.watcher.take() {
                    previous.stop();
                }
                let observer = self.worker.as_ref().map(Worker::observer).unwrap_or_default();
                let watcher = handlers::watch::start(
                    self.services.clone(),
                    request.id.clone(),
                    self.outbox.clone(),
                    &request.params,
                    observer,
                )?;
                self.watcher = Some(watcher);
                Ok(Some(json!({"watching": true})))
            }
            "unwatch" => {
                handlers::params::only(&request.params, &[])?;
                let was_watching = self.watcher.is_some();
                if let Some(watcher) = self.watcher.take() {
                    watcher.stop();
                }
                Ok(Some(json!({"watching": false, "wasWatching": was_watching})))
            }
            other => Err(HostError::new(
                ErrorCode::UnknownCommand,
                format!("Unknown command '{}'.", crate::protocol::message::truncate(other)),
            )),
        }
    }
}
