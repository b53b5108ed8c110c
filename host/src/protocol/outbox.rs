//! The one place that writes frames to stdout.
//!
//! Handlers and watchers hand JSON values to an [`Outbox`]; a single writer thread serialises,
//! enforces the outbound limit and flushes each frame, so frames never interleave.

use super::frame::{write_frame, MAX_OUTBOUND};
use super::message::reply_error;
use super::{ErrorCode, HostError, RequestId};
use serde_json::Value;
use std::io::Write;
use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;

enum Item {
    Frame(Value),
    Close,
}

/// A handle for sending frames; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    sender: Sender<Item>,
}

/// Owns the writer thread; [`Writer::close`] flushes what is queued and stops it.
pub struct Writer {
    sender: Sender<Item>,
    thread: JoinHandle<()>,
}

impl Outbox {
    /// Starts the writer thread over `output`.
    pub fn start<W: Write + Send + 'static>(mut output: W) -> (Outbox, Writer) {
        let (sender, receiver) = channel::<Item>();
        let thread = std::thread::spawn(move || {
            while let Ok(Item::Frame(value)) = receiver.recv() {
                let payload = encode_within_limit(&value);
                if let Err(e) = write_frame(&mut output, &payload) {
                    // The browser went away; nothing more can be said to it.
                    log::info!("stdout closed: {e}");
                    break;
                }
            }
        });
        (Outbox { sender: sender.clone() }, Writer { sender, thread })
    }

    /// Queues a frame. A closed writer drops it: the browser is gone.
    pub fn send(&self, value: Value) {
        let _ = self.sender.send(Item::Frame(value));
    }
}

impl Writer {
    /// Writes everything queued so far, then stops the thread.
    pub fn close(self) {
        let _ = self.sender.send(Item::Close);
        let _ = self.thread.join();
    }
}

/// Serialises a frame; a frame over the limit becomes a `RESPONSE_TOO_LARGE` error for its id.
pub fn encode_within_limit(value: &Value) -> Vec<u8> {
    let payload = serde_json::to_vec(value).unwrap_or_default();
    if payload.len() <= MAX_OUTBOUND {
        return payload;
    }
    let id = RequestId::from_json(value.get("id").cloned().unwrap_or(Value::Null));
    log::error!("reply for id {id} was {} bytes, over the outbound limit", payload.len());
    let error =
        HostError::new(ErrorCode::ResponseTooLarge, "The reply was larger than the browser accepts (1 MiB).");
    serde_json::to_vec(&reply_error(&id, &error)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encode_within_limit_replaces_oversize_reply_with_error_for_same_id() {
        let huge = json!({"id": 9, "ok": true, "result": "x".repeat(MAX_OUTBOUND)});
        let encoded: Value = serde_json::from_slice(&encode_within_limit(&huge)).expect("json");
        assert_eq!(encoded["id"], json!(9));
        assert_eq!(encoded["error"]["code"], json!("RESPONSE_TOO_LARGE"));
    }

    #[test]
    fn outbox_writes_frames_in_order_and_close_flushes() {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().map_err(|_| std::io::ErrorKind::Other)?.extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (outbox, writer) = Outbox::start(Shared(buffer.clone()));
        outbox.send(json!({"n": 1}));
        outbox.send(json!({"n": 2}));
        writer.close();
        let bytes = buffer.lock().expect("lock").clone();
        let mut input = &bytes[..];
        let first = super::super::frame::read_frame(&mut input, MAX_OUTBOUND).expect("first");
        let second = super::super::frame::read_frame(&mut input, MAX_OUTBOUND).expect("second");
        assert_eq!(first, br#"{"n":1}"#);
        assert_eq!(second, br#"{"n":2}"#);
    }
}
