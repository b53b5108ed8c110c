//! Small helpers shared by the modules: finding and running the `cis-testbed` binary (the
//! library's parts that need process-global state run there), hex/base64, log tails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::error::{Error, Result};

/// Environment variable naming the `cis-testbed` binary explicitly.
pub const BIN_ENV: &str = "CIS_TESTBED_BIN";

const BIN_NAME: &str = "cis-testbed";

/// Finds the `cis-testbed` binary: `$CIS_TESTBED_BIN`, else next to the running executable
/// (a binary in `target/<profile>/`), else one level up (a test in `target/<profile>/deps/`).
pub fn testbed_bin() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(BIN_ENV) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        return Err(Error::BinaryNotFound(format!(
            "{BIN_ENV}={} is not a file; build it with `cargo build -p cis-renew-testbed`",
            path.display()
        )));
    }
    let exe = std::env::current_exe().map_err(|e| Error::io("finding the current executable", e))?;
    let mut tried = Vec::new();
    if let Some(dir) = exe.parent() {
        for candidate in [dir.join(BIN_NAME), dir.join("..").join(BIN_NAME)] {
            if candidate.is_file() {
                return Ok(candidate);
            }
            tried.push(candidate.display().to_string());
        }
    }
    Err(Error::BinaryNotFound(format!(
        "the `{BIN_NAME}` binary was not found (tried {}); run `cargo build -p cis-renew-testbed` \
         with the same target dir, or set {BIN_ENV}",
        tried.join(", ")
    )))
}

/// Runs a prepared command with optional stdin, returning its output when it exits 0.
pub fn run(cmd: &mut Command, stdin: Option<&[u8]>) -> Result<Output> {
    let shown = show(cmd);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| Error::io(format!("starting `{shown}`"), e))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // The pipe closes when `pipe` drops, giving the child EOF.
        pipe.write_all(input).map_err(|e| Error::io(format!("writing to `{shown}`"), e))?;
    }
    let out = child.wait_with_output().map_err(|e| Error::io(format!("waiting for `{shown}`"), e))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(Error::Process {
            command: shown,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// A command line as text, for error messages.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// The last `lines` lines of a log file ("" if unreadable), for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses hex (either case, no separators).
pub fn unhex(s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return Err(Error::Invalid(format!("odd-length hex: {s:?}")));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Error::Invalid(format!("not hex: {s:?}")))
        })
        .collect()
}

/// Cryptographically random bytes.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| Error::crypto("getting random bytes", e))?;
    Ok(buf)
}

/// Serde adapter: `Vec<u8>` as standard base64 (DER in JSON).
pub mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialize as base64.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// Deserialize from base64.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(s.as_bytes()).map_err(serde::de::Error::custom)
    }

    /// `Option<Vec<u8>>` as base64 or null.
    pub mod opt {
        use super::*;

        /// Serialize as base64 or null.
        pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
            match bytes {
                Some(b) => super::serialize(b, s),
                None => s.serialize_none(),
            }
        }

        /// Deserialize from base64 or null.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| {
                    base64::engine::general_purpose::STANDARD
                        .decode(s.as_bytes())
                        .map_err(serde::de::Error::custom)
                })
                .transpose()
        }
    }
}
