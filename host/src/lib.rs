//! cis-renew-host: the native-messaging host that renews the certificates on an NHS smartcard.
//!
//! Data flows one way: frame -> request -> handler -> readers/token/certs -> reply. See
//! `docs/protocol.md` for the wire contract and `docs/architecture.md` for the layout.
// Denied, not forbidden: host/src/fileperm/windows.rs alone allows it for the Win32 ACL calls.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod caller;
pub mod certs;
pub mod cli;
pub mod config;
pub mod controller;
pub mod deploy;
pub mod fileperm;
pub mod handlers;
pub mod logging;
pub mod piv;
pub mod protocol;
pub mod readers;
pub mod renewal;
pub mod services;
pub mod token;
pub mod worker;

/// Runs the program for `args` (without the program name); returns the exit code.
pub fn run(args: &[String]) -> i32 {
    match args.first() {
        Some(first) if cli::SUBCOMMANDS.contains(&first.as_str()) => cli::run(args),
        _ => app::run_native_host(args),
    }
}
