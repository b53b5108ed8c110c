//! Command-line parsing and the subcommands. Errors go to stderr with a non-zero exit.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use cis_renew_testbed::probe::{self, WaitFor};
use cis_renew_testbed::readers::TIMEOUT_EXIT;
use cis_renew_testbed::{Error, Pcscd, READERS};
use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "cis-testbed",
    version,
    about = "cis-renew's test bed: virtual readers and cards, SoftHSM tokens, a test CA"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start pcscd with two virtual readers; print one JSON line when ready, then obey
    /// `insert N`, `remove N`, `status`, `quit` on stdin (one JSON line per answer).
    Serve {
        /// Directory for config, socket and logs (kept afterwards).
        #[arg(long)]
        state: PathBuf,
    },
    /// Query a pcscd through the pcsc crate (used by the library; one pcscd per process).
    #[command(hide = true)]
    Pcsc {
        #[command(subcommand)]
        command: PcscCmd,
    },
}

#[derive(Subcommand)]
enum PcscCmd {
    /// Print readers and card presence as JSON.
    Status {
        /// pcscd socket (PCSCLITE_CSOCK_NAME).
        #[arg(long)]
        socket: PathBuf,
    },
    /// Wait for a condition, then print readers as JSON; exit 3 on timeout.
    Wait {
        /// pcscd socket (PCSCLITE_CSOCK_NAME).
        #[arg(long)]
        socket: PathBuf,
        /// Wait until at least this many readers are listed.
        #[arg(long, group = "cond")]
        readers: Option<usize>,
        /// Wait until a card is present in this reader (0-based).
        #[arg(long, group = "cond")]
        present: Option<usize>,
        /// Wait until this reader (0-based) is empty.
        #[arg(long, group = "cond")]
        absent: Option<usize>,
        /// Give up after this many milliseconds.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
    },
}

/// Runs the command line; returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Serve { state } => serve(state),
        Cmd::Pcsc { command } => return pcsc(command),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cis-testbed: {e}");
            1
        }
    }
}

fn pcsc(command: PcscCmd) -> i32 {
    let (socket, result) = match command {
        PcscCmd::Status { socket } => {
            set_socket(&socket);
            (socket, probe::status())
        }
        PcscCmd::Wait {
            socket,
            readers,
            present,
            absent,
            timeout_ms,
        } => {
            set_socket(&socket);
            let what = match (readers, present, absent) {
                (_, Some(i), _) => WaitFor::Present(i),
                (_, _, Some(i)) => WaitFor::Absent(i),
                (n, _, _) => WaitFor::Readers(n.unwrap_or(READERS.len())),
            };
            (socket, probe::wait(what, Duration::from_millis(timeout_ms)))
        }
    };
    match result {
        Ok(readers) => {
            println!("{}", json!({ "readers": readers }));
            0
        }
        Err(e @ Error::Timeout { .. }) => {
            eprintln!("cis-testbed: {e}");
            TIMEOUT_EXIT
        }
        Err(e) => {
            eprintln!("cis-testbed: pcscd at {}: {e}", socket.display());
            1
        }
    }
}

fn set_socket(socket: &std::path::Path) {
    // Set before any PC/SC call and before any thread exists; libpcsclite reads it once.
    std::env::set_var("PCSCLITE_CSOCK_NAME", socket);
}

enum Event {
    Line(String),
    Eof,
    Signal,
}

fn serve(state: PathBuf) -> Result<(), Error> {
    let (tx, rx) = mpsc::channel();
    // Signals become events so that the main loop alone stops (and reaps) the children.
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ])
    .map_err(|e| Error::Invalid(format!("installing signal handlers: {e}")))?;
    let sig_tx = tx.clone();
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let _ = sig_tx.send(Event::Signal);
        }
    });

    let mut pcscd = Pcscd::start_in(&state)?;
    let ready = json!({
        "ready": true,
        "socket": pcscd.socket(),
        "readers": READERS,
        "dir": pcscd.dir(),
        "pid": std::process::id(),
    });
    let _ = std::fs::write(pcscd.dir().join("serve.json"), format!("{ready}\n"));
    say(&ready);

    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            match line {
                Ok(l) => {
                    if tx.send(Event::Line(l)).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = tx.send(Event::Eof);
    });

    for event in rx {
        let line = match event {
            Event::Line(l) => l,
            Event::Eof | Event::Signal => break,
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let reader = |w: Option<&&str>| -> Result<usize, Error> {
            w.and_then(|s| s.parse().ok())
                .ok_or_else(|| Error::Invalid(format!("expected a reader number: {line:?}")))
        };
        let answer = match words.first().copied() {
            None => continue,
            Some("quit") | Some("exit") => {
                say(&json!({ "ok": true }));
                break;
            }
            Some("insert") => reader(words.get(1))
                .and_then(|r| pcscd.insert_card(r))
                .map(|()| json!({ "ok": true })),
            Some("remove") => reader(words.get(1))
                .and_then(|r| pcscd.remove_card(r))
                .map(|()| json!({ "ok": true })),
            Some("status") => pcscd.status().map(|r| json!({ "ok": true, "readers": r })),
            Some(other) => Err(Error::Invalid(format!(
                "unknown command {other:?} (insert N, remove N, status, quit)"
            ))),
        };
        say(&answer.unwrap_or_else(|e| json!({ "ok": false, "error": e.to_string() })));
    }
    pcscd.stop();
    Ok(())
}

fn say(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}
