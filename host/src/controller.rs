//! The controller: reads frames, turns them into requests, hands each to its handler and sends
//! the answer. It only coordinates; handlers do the work and the outbox writes.

use crate::handlers;
use crate::protocol::frame::{read_frame, FrameError, MAX_INBOUND};
use crate::protocol::message::{parse_request, reply_error, reply_ok};
use crate::protocol::{ErrorCode, HostError, Outbox, Request, RequestId};
use crate::readers::watch::Watcher;
use crate::services::Services;
use serde_json::{json, Value};
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

/// Commands this host answers; anything else is `UNKNOWN_COMMAND`.
pub const COMMANDS: [&str; 3] = ["status", "watch", "unwatch"];

/// Serves one browser connection.
pub struct Controller {
    services: Arc<Services>,
    outbox: Outbox,
    watcher: Option<Watcher>,
}

impl Controller {
    /// A controller that answers through `outbox`.
    pub fn new(services: Arc<Services>, outbox: Outbox) -> Controller {
        Controller { services, outbox, watcher: None }
    }

    /// Serves requests until the browser closes stdin (or sends a frame that cannot be skipped).
    pub fn serve<R: Read>(&mut self, input: &mut R) {
        loop {
            match read_frame(input, MAX_INBOUND) {
                Ok(payload) => self.handle_frame(&payload),
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
    }

    /// Answers one frame's payload (public for the fuzz targets).
    pub fn handle_frame(&mut self, payload: &[u8]) {
        let request = match parse_request(payload) {
            Ok(request) => request,
            Err(rejected) => {
                log::info!("request id={} rejected: {}", rejected.id, rejected.error.code);
                self.outbox.send(reply_error(&rejected.id, &rejected.error));
                return;
            }
        };
        let started = Instant::now();
        let outcome = self.dispatch(&request);
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

    fn dispatch(&mut self, request: &Request) -> Result<Value, HostError> {
        match request.command.as_str() {
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
}
