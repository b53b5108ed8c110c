//! The test bed's error type: one enum whose variants say which part of the bed failed and
//! carry what a person needs to debug it (command, exit status, log tail).

use std::fmt;
use std::time::Duration;

/// Result alias used throughout the test bed.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while setting up or driving the test bed.
#[derive(Debug)]
pub enum Error {
    /// A file system or process-spawning call failed.
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A condition was not reached in time (readers listed, card present or absent).
    Timeout {
        /// What was awaited.
        what: String,
        /// How long we waited.
        waited: Duration,
        /// The relevant log's tail, to say why.
        log: String,
    },
    /// A helper process exited unsuccessfully.
    Process {
        /// The command line, for reproduction.
        command: String,
        /// Its exit status.
        status: String,
        /// Its standard error.
        stderr: String,
    },
    /// The `cis-testbed` binary, which the library runs as a child process, was not found.
    BinaryNotFound(String),
    /// A PKCS#11 call failed.
    Pkcs11 {
        /// What was being done.
        context: String,
        /// The cryptoki error, naming the C function.
        source: cryptoki::error::Error,
    },
    /// A PC/SC call failed.
    Pcsc {
        /// What was being done.
        context: String,
        /// The pcsc error.
        source: pcsc::Error,
    },
    /// Encoding, decoding, signing or verifying certificates or keys failed.
    Crypto(String),
    /// The caller asked for something that cannot be done (bad argument, missing token...).
    Invalid(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io { context: context.into(), source }
    }

    #[allow(dead_code)] // used by the token module
    pub(crate) fn pkcs11(context: impl Into<String>, source: cryptoki::error::Error) -> Error {
        Error::Pkcs11 { context: context.into(), source }
    }

    pub(crate) fn pcsc(context: impl Into<String>, source: pcsc::Error) -> Error {
        Error::Pcsc { context: context.into(), source }
    }

    pub(crate) fn crypto(context: &str, e: impl fmt::Display) -> Error {
        Error::Crypto(format!("{context}: {e}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Timeout { what, waited, log } => {
                write!(f, "timed out after {waited:?} waiting for {what}")?;
                if !log.is_empty() {
                    write!(f, "; log tail:\n{log}")?;
                }
                Ok(())
            }
            Error::Process { command, status, stderr } => {
                write!(f, "`{command}` failed ({status}): {}", stderr.trim())
            }
            Error::BinaryNotFound(msg) => f.write_str(msg),
            Error::Pkcs11 { context, source } => write!(f, "{context}: {source}"),
            Error::Pcsc { context, source } => write!(f, "{context}: {source}"),
            Error::Crypto(msg) | Error::Invalid(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Pkcs11 { source, .. } => Some(source),
            Error::Pcsc { source, .. } => Some(source),
            _ => None,
        }
    }
}
