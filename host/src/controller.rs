//! The controller: reads frames, turns them into requests, hands each to its handler and sends
//! the answer. It only coordinates; handlers do the work and the outbox writes.

use crate::handlers;
use crate::protocol::frame::{read_frame, FrameError, MAX_INBOUND};
use crate::protocol::message::event;
use crate::protocol::message::{parse_request, reply_error, reply_ok};
use crate::protocol::{ErrorCode, HostError, Outbox, Request, RequestId};
use crate::readers::watch::Watcher;
use crate::renewal::steps::Progress;
use crate::renewal::Requested;
use crate::services::Services;
use serde_json::{json, Map, Value};
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;
use zeroize::Zeroize;

/// Commands this host answers; anything else is `UNKNOWN_COMMAND`.
pub const COMMANDS: [&str; 6] = ["status", "watch", "unwatch", "renewBegin", "renewComplete", "renewCancel"];

/// Serves one browser connection.
pub struct Controller {
    services: Arc<Services>,
    outbox: Outbox,
    watcher: Option<Watcher>,
    /// The open renewal (between `renewBegin` and `renewComplete`/`renewCancel`): one at a time.
    renewal: Option<Requested>,
}

impl Controller {
    /// A controller that answers through `outbox`.
    pub fn new(services: Arc<Services>, outbox: Outbox) -> Controller {
        Controller { services, outbox, watcher: None, renewal: None }
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
        // The browser went away mid-renewal: nobody will complete it, so remove its keys now
        // rather than at the next sign-in.
        if let Some(renewal) = self.renewal.take() {
            match renewal.cancel() {
                Ok(()) => log::info!("open renewal cancelled at exit"),
                Err(e) => log::warn!("could not cancel the open renewal at exit ({}); recovery will", e.code),
            }
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
        self.services.set_renewal_open(self.renewal.is_some());
        let command =
            if COMMANDS.contains(&request.command.as_str()) { request.command.as_str() } else { "(unknown)" };
        match outcome {
            Ok(result) => {
                log::info!("{command} id={} ok in {:?}", request.id, started.elapsed());
                self.outbox.send(reply_ok(&request.id, result));
            }
            Err(error) => {
                log::info!("{command} id={} {} in {:?}", request.id, error.code, started.elapsed());
                self.outbox.send(reply_error(&request.id, &error));
            }
        }
    }

    fn dispatch(&mut self, request: &mut Request) -> Result<Value, HostError> {
        match request.command.as_str() {
            "renewBegin" => {
                let params = handlers::renew_begin::take_params(&mut request.params)?;
                if self.renewal.is_some() {
                    return Err(HostError::new(
                        ErrorCode::Busy,
                        "A renewal is already in progress. Finish or cancel it first.",
                    ));
                }
                let mut progress = self.progress(&request.id);
                let requested = handlers::renew_begin::begin(&self.services, params, &mut progress)?;
                let result = handlers::renew_begin::result(&requested);
                self.renewal = Some(requested);
                self.services.set_renewal_open(true);
                Ok(result)
            }
            "renewComplete" => {
                let params = handlers::renew_complete::parse(&request.params)?;
                let mut progress = self.progress(&request.id);
                // The result is the status: by then the renewal is over (or still open after a
                // failed check, and the flag is set again below).
                self.services.set_renewal_open(false);
                handlers::renew_complete::complete(&self.services, &mut self.renewal, params, &mut progress)
            }
            "renewCancel" => handlers::renew_cancel::handle(&mut self.renewal, &request.params),
            "status" => handlers::status::handle(&self.services, &request.params),
            "watch" => {
                if let Some(previous) = self.watcher.take() {
                    previous.stop();
                }
                let watcher = handlers::watch::start(
                    self.services.clone(),
                    request.id.clone(),
                    self.outbox.clone(),
                    &request.params,
                )?;
                self.watcher = Some(watcher);
                Ok(json!({"watching": true}))
            }
            "unwatch" => {
                handlers::params::only(&request.params, &[])?;
                let was_watching = self.watcher.is_some();
                if let Some(watcher) = self.watcher.take() {
                    watcher.stop();
                }
                Ok(json!({"watching": false, "wasWatching": was_watching}))
            }
            other => Err(HostError::new(
                ErrorCode::UnknownCommand,
                format!("Unknown command '{}'.", crate::protocol::message::truncate(other)),
            )),
        }
    }

    /// A sink that turns renewal progress into `progress` events for request `id`.
    fn progress(&self, id: &RequestId) -> impl FnMut(Progress) {
        let outbox = self.outbox.clone();
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
}
