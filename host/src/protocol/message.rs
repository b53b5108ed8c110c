//! Requests in, replies and events out.
//!
//! A request is `{"id": <number|string>, "command": "<name>", "params": {...}}`; `params` is
//! optional. Parsing keeps the id whenever it can, so even a bad request is answered under the
//! id the caller will be waiting on.

use super::error::HostError;
use serde_json::{json, Map, Value};
use std::fmt;
use zeroize::Zeroize;

/// Longest id accepted: ids are correlation tokens, not payloads.
const MAX_ID_LENGTH: usize = 128;
/// Longest command name accepted.
const MAX_COMMAND_LENGTH: usize = 64;

/// A request id: a JSON number or string, echoed verbatim.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestId(Value);

impl RequestId {
    /// The id for frames that answer no request (hello, errors before a request is known).
    pub fn null() -> Self {
        RequestId(Value::Null)
    }

    /// Wraps an id already known to be a number, string or null.
    pub(crate) fn from_json(value: Value) -> Self {
        RequestId(value)
    }

    /// The id as JSON.
    pub fn as_json(&self) -> &Value {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Value::String(s) => write!(f, "{s:?}"),
            other => write!(f, "{other}"),
        }
    }
}

/// A request whose envelope is valid; its params are checked by the command's handler.
#[derive(Debug, Clone)]
pub struct Request {
    /// The caller's correlation id.
    pub id: RequestId,
    /// The command name.
    pub command: String,
    /// The params object (empty when absent).
    pub params: Map<String, Value>,
}

/// A request that could not be parsed, with the id to answer under (null when unknown).
#[derive(Debug)]
pub struct Rejected {
    /// The id to reply to.
    pub id: RequestId,
    /// Why.
    pub error: HostError,
}

/// Overwrites every string in `map` (keys too) before it is dropped: a request may carry the
/// passcode, also one that is refused before its handler takes the passcode out.
pub fn wipe(map: &mut Map<String, Value>) {
    fn wipe_value(value: &mut Value) {
        match value {
            Value::String(text) => text.zeroize(),
            Value::Array(items) => items.iter_mut().for_each(wipe_value),
            Value::Object(map) => wipe(map),
            _ => {}
        }
    }
    for (_, value) in map.iter_mut() {
        wipe_value(value);
    }
    // Keys cannot be changed in place; they name members, never secrets, and go with the map.
    map.clear();
}

/// Parses a frame's payload into a request envelope. Whatever is not handed on in the
/// [`Request`] is wiped ([`wipe`]) before it is dropped.
pub fn parse_request(payload: &[u8]) -> Result<Request, Rejected> {
    let text = std::str::from_utf8(payload).map_err(|_| Rejected {
        id: RequestId::null(),
        error: HostError::bad_request("The message is not valid UTF-8."),
    })?;
    let value: Value = serde_json::from_str(text).map_err(|e| Rejected {
        id: RequestId::null(),
        error: HostError::bad_request(format!("The message is not valid JSON ({e}).")),
    })?;
    let Value::Object(mut object) = value else {
        let mut holder = Map::new();
        holder.insert(String::new(), value);
        wipe(&mut holder);
        return Err(Rejected {
            id: RequestId::null(),
            error: HostError::bad_request("The message must be a JSON object."),
        });
    };
    let parsed = parse_envelope(&mut object);
    wipe(&mut object);
    if let Err(rejected) = &parsed {
        log::debug!("request rejected before dispatch: {}", rejected.error.code);
    }
    parsed
}

fn parse_envelope(object: &mut Map<String, Value>) -> Result<Request, Rejected> {
    let reject = |id: RequestId, message: &str| Rejected { id, error: HostError::bad_request(message) };
    let id = match object.remove("id") {
        Some(Value::Number(n)) => RequestId(Value::Number(n)),
        Some(Value::String(s)) if s.len() <= MAX_ID_LENGTH => RequestId(Value::String(s)),
        Some(Value::String(_)) => {
            return Err(reject(RequestId::null(), "The request id is longer than 128 characters."))
        }
        Some(_) => return Err(reject(RequestId::null(), "The request id must be a number or a string.")),
        None => return Err(reject(RequestId::null(), "The request has no id.")),
    };
    let command = match object.remove("command") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_COMMAND_LENGTH => s,
        Some(Value::String(_)) => return Err(reject(id, "The command name is empty or too long.")),
        Some(_) => return Err(reject(id, "The command must be a string.")),
        None => return Err(reject(id, "The request has no command.")),
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(params)) => params,
        Some(other) => {
            // Put back, so the caller wipes it with the rest.
            object.insert("params".into(), other);
            return Err(reject(id, "The params must be an object."));
        }
    };
    if !object.is_empty() {
        // The params go back too, so they are wiped with the rest.
        object.insert("params".into(), Value::Object(params));
        let key = object.keys().find(|k| *k != "params").cloned().unwrap_or_default();
        let message = format!("The request has an unknown member '{}'.", truncate(&key));
        return Err(reject(id, &message));
    }
    Ok(Request { id, command, params })
}

/// Cuts a caller-supplied name for an error message, so errors stay small.
pub fn truncate(text: &str) -> String {
    const KEEP: usize = 40;
    match text.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The first frame: who we are and which protocol we speak.
pub fn hello() -> Value {
    json!({"type": "hello", "version": env!("CARGO_PKG_VERSION"), "protocol": super::PROTOCOL_VERSION})
}

/// A successful reply.
pub fn reply_ok(id: &RequestId, result: Value) -> Value {
    json!({"id": id.as_json(), "ok": true, "result": result})
}

/// A failed reply.
pub fn reply_error(id: &RequestId, error: &HostError) -> Value {
    json!({"id": id.as_json(), "ok": false, "error": error.to_json()})
}

/// An event tied to a request; `fields` are merged next to `id` and `event`.
pub fn event(id: &RequestId, name: &str, fields: Map<String, Value>) -> Value {
    let mut object = fields;
    object.insert("id".into(), id.as_json().clone());
    object.insert("event".into(), Value::from(name));
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_request_accepts_number_and_string_ids() {
        for (payload, id) in [
            (r#"{"id":7,"command":"status"}"#, json!(7)),
            (r#"{"id":"a-1","command":"status","params":{}}"#, json!("a-1")),
            (r#"{"id":1.5,"command":"status","params":null}"#, json!(1.5)),
        ] {
            let request = parse_request(payload.as_bytes()).expect(payload);
            assert_eq!(request.id.as_json(), &id);
            assert_eq!(request.command, "status");
            assert!(request.params.is_empty());
        }
    }

    #[test]
    fn parse_request_rejects_bad_envelopes_keeping_id_when_known() {
        let cases: &[(&[u8], Value, &str)] = &[
            (b"\xff\xfe", Value::Null, "UTF-8"),
            (b"", Value::Null, "JSON"),
            (b"{", Value::Null, "JSON"),
            (b"[1]", Value::Null, "object"),
            (b"\"status\"", Value::Null, "object"),
            (br#"{"command":"status"}"#, Value::Null, "no id"),
            (br#"{"id":true,"command":"status"}"#, Value::Null, "number or a string"),
            (br#"{"id":null,"command":"status"}"#, Value::Null, "number or a string"),
            (br#"{"id":{},"command":"status"}"#, Value::Null, "number or a string"),
            (br#"{"id":3}"#, json!(3), "no command"),
            (br#"{"id":3,"command":5}"#, json!(3), "must be a string"),
            (br#"{"id":3,"command":""}"#, json!(3), "empty"),
            (br#"{"id":3,"command":"status","params":[]}"#, json!(3), "params"),
            (br#"{"id":3,"command":"status","extra":1}"#, json!(3), "unknown member"),
        ];
        for (payload, id, needle) in cases {
            let rejected = parse_request(payload).expect_err(&String::from_utf8_lossy(payload));
            assert_eq!(rejected.id.as_json(), id, "{payload:?}");
            assert_eq!(rejected.error.code, super::super::ErrorCode::BadRequest);
            assert!(rejected.error.message.contains(needle), "{}: {}", needle, rejected.error.message);
        }
    }

    #[test]
    fn parse_request_rejects_overlong_id() {
        let payload = format!(r#"{{"id":"{}","command":"status"}}"#, "x".repeat(129));
        assert!(parse_request(payload.as_bytes()).is_err());
    }

    #[test]
    fn event_merges_fields_with_id_and_name() {
        let mut fields = Map::new();
        fields.insert("step".into(), json!("login"));
        let value = event(&RequestId(json!(4)), "progress", fields);
        assert_eq!(value, json!({"id": 4, "event": "progress", "step": "login"}));
    }

    #[test]
    fn truncate_cuts_long_names_on_char_boundaries() {
        assert_eq!(truncate("short"), "short");
        let long = "é".repeat(50);
        assert_eq!(truncate(&long).chars().count(), 43);
    }
}
