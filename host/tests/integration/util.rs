//! Shared helpers: run the real host binary as a browser would, and speak frames to it.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The origin of our own extension, allowed by default.
pub const OUR_ORIGIN: &str = cis_renew_host::deploy::identity::DEFAULT_ALLOWED_ORIGINS[0];
/// The managed (second) reader of the test bed.
pub const MANAGED_READER: &str = "Virtual PCD 00 01";
/// How long a test waits for any single frame before failing.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// A private directory with the host's config, home (for its log) and anything else a test needs.
pub struct HostEnv {
    pub dir: tempfile::TempDir,
    pub vars: Vec<(String, String)>,
}

impl HostEnv {
    /// An environment with the given config JSON and no PC/SC service.
    pub fn new(config: Value) -> HostEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        let env = HostEnv { dir, vars: Vec::new() };
        env.write_config(&config);
        let no_service = env.path().join("no-pcscd.comm");
        let mut env = env;
        env.set("PCSCLITE_CSOCK_NAME", no_service.to_string_lossy().as_ref());
        env
    }

    /// Default config, plus a log file in the temp dir.
    pub fn with_defaults() -> HostEnv {
        let mut env = HostEnv::new(json!({}));
        let log = env.log_path();
        env.write_config(&json!({"logFile": log, "logLevel": "debug"}));
        env.vars.retain(|(k, _)| k != "CIS_RENEW_CONFIG");
        env.set("CIS_RENEW_CONFIG", env.config_path().to_string_lossy().as_ref());
        env
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join("host.json")
    }

    pub fn log_path(&self) -> PathBuf {
        self.path().join("host.log")
    }

    /// Replaces the config file (raw text, so tests can write invalid JSON too).
    pub fn write_config_text(&self, text: &str) {
        std::fs::write(self.config_path(), text).expect("write config");
    }

    pub fn write_config(&self, config: &Value) {
        self.write_config_text(&config.to_string());
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_owned(), value.to_owned()));
    }

    /// Starts the host with `args` (after the program name).
    pub fn spawn(&self, args: &[&str]) -> Host {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cis-renew-host"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("CIS_RENEW_CONFIG", self.config_path())
            .current_dir(self.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in &self.vars {
            command.env(key, value);
        }
        Host::start(command)
    }

    /// Starts the host as Chrome does for our extension.
    pub fn spawn_ours(&self) -> Host {
        self.spawn(&[OUR_ORIGIN])
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

/// A running host.
pub struct Host {
    child: Child,
    stdin: Option<ChildStdin>,
    frames: Receiver<Vec<u8>>,
    /// Events seen while waiting for replies, in order.
    pub events: Vec<Value>,
}

impl Host {
    fn start(mut command: Command) -> Host {
        let mut child = command.spawn().expect("spawn host");
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("stdout");
        let (sender, frames) = channel();
        std::thread::spawn(move || loop {
            let mut length = [0u8; 4];
            if stdout.read_exact(&mut length).is_err() {
                break;
            }
            let mut payload = vec![0u8; u32::from_ne_bytes(length) as usize];
            if stdout.read_exact(&mut payload).is_err() || sender.send(payload).is_err() {
                break;
            }
        });
        Host { child, stdin, frames, events: Vec::new() }
    }

    /// Writes raw bytes to stdin (ignores a closed pipe: the host may have exited on purpose).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin.write_all(bytes);
            let _ = stdin.flush();
        }
    }

    /// Sends one frame holding `payload`.
    pub fn send_payload(&mut self, payload: &[u8]) {
        let mut bytes = (payload.len() as u32).to_ne_bytes().to_vec();
        bytes.extend_from_slice(payload);
        self.send_raw(&bytes);
    }

    pub fn send(&mut self, message: &Value) {
        self.send_payload(message.to_string().as_bytes());
    }

    /// The next frame, parsed; panics after [`FRAME_TIMEOUT`].
    pub fn recv(&mut self) -> Value {
        self.recv_within(FRAME_TIMEOUT).expect("a frame from the host within the timeout")
    }

    pub fn recv_within(&mut self, timeout: Duration) -> Option<Value> {
        match self.frames.recv_timeout(timeout) {
            Ok(payload) => Some(serde_json::from_slice(&payload).expect("host frames are JSON")),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Reads the hello frame and checks it.
    pub fn expect_hello(&mut self) {
        let hello = self.recv();
        assert_eq!(hello["type"], "hello", "{hello}");
        assert_eq!(hello["protocol"], 1);
        assert_eq!(hello["version"], env!("CARGO_PKG_VERSION"));
    }

    /// Sends a request and returns its reply, keeping events for the same id in `events`.
    pub fn request(&mut self, id: Value, command: &str, params: Value) -> Value {
        self.send(&json!({"id": id, "command": command, "params": params}));
        self.reply_to(&id)
    }

    /// Sends a request whose reply may take longer than [`FRAME_TIMEOUT`] (RSA-3072 key
    /// generation on a busy machine), and waits up to `timeout` for it.
    pub fn request_slow(&mut self, id: Value, command: &str, params: Value, timeout: Duration) -> Value {
        self.send(&json!({"id": id, "command": command, "params": params}));
        self.reply_within(&id, timeout)
    }

    /// Waits for the reply to `id`, storing events on the way.
    pub fn reply_to(&mut self, id: &Value) -> Value {
        self.reply_within(id, FRAME_TIMEOUT)
    }

    /// Waits up to `timeout` for the reply to `id`, storing events on the way.
    /// Replies to other requests (the card worker answers renewals while the reader answers
    /// `status`) are kept with the events until asked for.
    pub fn reply_within(&mut self, id: &Value, timeout: Duration) -> Value {
        if let Some(i) = self.events.iter().position(|f| f.get("event").is_none() && &f["id"] == id) {
            return self.events.remove(i);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = self.recv_within(left).unwrap_or_else(|| panic!("no reply to {id}"));
            if frame.get("event").is_some() || &frame["id"] != id {
                self.events.push(frame);
                continue;
            }
            return frame;
        }
    }

    /// The next event named `name`, from those stored or arriving within `timeout`.
    pub fn next_event(&mut self, name: &str, timeout: Duration) -> Option<Value> {
        if let Some(i) = self.events.iter().position(|e| e["event"] == name) {
            return Some(self.events.remove(i));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let frame = self.recv_within(left)?;
            if frame["event"] == name {
                return Some(frame);
            }
            self.events.push(frame);
        }
    }

    /// Closes stdin, as the browser does when the port closes.
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits for the process to exit; `None` if it is still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts that `reply` is an error with `code`, returning the error object.
pub fn expect_error(reply: &Value, code: &str) -> Value {
    assert_eq!(reply["ok"], false, "expected {code}, got {reply}");
    assert_eq!(reply["error"]["code"], code, "{reply}");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.len() > 10, "error message should be a sentence: {reply}");
    reply["error"].clone()
}

/// Asserts success and returns the result.
pub fn expect_ok(reply: &Value) -> Value {
    assert_eq!(reply["ok"], true, "expected success, got {reply}");
    reply["result"].clone()
}

/// The managed card's token serial as `status` shows it: what the sponsor confirms and
/// `renewBegin` must carry as `cardSerial`.
pub fn card_serial(host: &mut Host) -> String {
    let status = expect_ok(&host.request(json!("serial"), "status", json!({})));
    status["card"]["token"]["serial"]
        .as_str()
        .unwrap_or_else(|| panic!("no card serial: {status}"))
        .to_owned()
}

/// `params` with the managed card's `cardSerial` added (read by `status`, as the extension
/// reads it before the sponsor confirms the card).
pub fn with_serial(host: &mut Host, params: Value) -> Value {
    let serial = card_serial(host);
    let mut params = params;
    params["cardSerial"] = json!(serial);
    params
}

impl Host {
    /// `renewBegin` with `params` and the managed card's serial as `cardSerial`.
    pub fn begin_confirmed(&mut self, id: Value, params: Value) -> Value {
        let params = with_serial(self, params);
        self.request(id, "renewBegin", params)
    }
}
