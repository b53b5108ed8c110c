//! The PIV test card's binary (`cis-piv-card`, built apart: tests/testbed/piv-card/) and a
//! card process talked to over stdin/stdout, for provisioning without a reader.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use super::apdu::Transport;
use crate::error::{Error, Result};
use crate::util::{hex, log_tail, show, unhex};

/// Environment variable naming the `cis-piv-card` binary explicitly.
pub const CARD_BIN_ENV: &str = "CIS_PIV_CARD_BIN";

/// How to build the card (it is not part of the workspace).
pub const BUILD_HINT: &str =
    "cargo build --manifest-path tests/testbed/piv-card/Cargo.toml --target-dir target/piv-card";

/// Finds `cis-piv-card`: `$CIS_PIV_CARD_BIN`, else `piv-card/{debug,release}/cis-piv-card` in
/// a folder above the running executable (so `target/piv-card/...` for anything built in
/// `target/`).
pub fn card_bin() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(CARD_BIN_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::BinaryNotFound(format!(
                "{CARD_BIN_ENV}={} is not a file; build it: {BUILD_HINT}",
                path.display()
            )))
        };
    }
    let exe = std::env::current_exe().map_err(|e| Error::io("finding the current executable", e))?;
    for dir in exe.ancestors().skip(1).take(4) {
        for profile in ["debug", "release"] {
            let candidate = dir.join("piv-card").join(profile).join("cis-piv-card");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(Error::BinaryNotFound(format!(
        "the PIV test card `cis-piv-card` was not found in target/piv-card above {}; build it: \
         {BUILD_HINT} (or set {CARD_BIN_ENV})",
        exe.display()
    )))
}

/// A card process on a state directory, driven line by line (`cis-piv-card --stdio`).
pub struct StdioCard {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    log: PathBuf,
}

impl StdioCard {
    /// Starts the card on `dir` (created if missing); its stderr goes to `dir/stdio.log`.
    pub fn open(dir: &Path) -> Result<StdioCard> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let log = dir.join("stdio.log");
        let err =
            std::fs::File::create(&log).map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
        let mut cmd = Command::new(card_bin()?);
        cmd.arg("--state").arg(dir).arg("--stdio").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(err);
        let mut child = cmd.spawn().map_err(|e| Error::io(format!("starting `{}`", show(&cmd)), e))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Invalid("the card process has no stdin/stdout".into()));
        };
        Ok(StdioCard { child, stdin: Some(stdin), stdout: BufReader::new(stdout), log })
    }

    /// Power-cycles the card: PIN and management-key logins end.
    pub fn reset(&mut self) -> Result<()> {
        match self.line("reset")?.as_str() {
            "ok" => Ok(()),
            other => Err(Error::Invalid(format!("the card answered {other:?} to a reset"))),
        }
    }

    /// Stops the card, waiting for it to write its state and exit.
    pub fn close(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        // EOF on stdin ends the card cleanly.
        drop(self.stdin.take());
        let status = self.child.wait().map_err(|e| Error::io("waiting for the card process", e))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Invalid(format!("the card process failed ({status}): {}", log_tail(&self.log, 5))))
        }
    }

    fn line(&mut self, request: &str) -> Result<String> {
        let dead = |e: std::io::Error, log: &Path| {
            Error::Invalid(format!("the card process stopped ({e}): {}", log_tail(log, 5)))
        };
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(Error::Invalid("the card process was closed".into()));
        };
        writeln!(stdin, "{request}").and_then(|()| stdin.flush()).map_err(|e| dead(e, &self.log))?;
        let mut answer = String::new();
        let n = self.stdout.read_line(&mut answer).map_err(|e| dead(e, &self.log))?;
        if n == 0 {
            return Err(Error::Invalid(format!("the card process stopped: {}", log_tail(&self.log, 5))));
        }
        Ok(answer.trim().to_string())
    }
}

impl Transport for StdioCard {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let answer = self.line(&hex(apdu))?;
        unhex(&answer)
    }
}

impl Drop for StdioCard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
