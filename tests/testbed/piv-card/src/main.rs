//! `cis-piv-card`: Nitrokey's PIV card (piv-authenticator) as a virtual card for the test bed.
//!
//! ```text
//! cis-piv-card --state DIR [--host 127.0.0.1] [--port 35963]   # a card in a vpcd reader
//! cis-piv-card --state DIR --stdio                             # APDUs as hex lines on stdin
//! ```
//! `--state DIR` keeps the card (two 64 KiB littlefs images, `ifs.bin` and `efs.bin`) in DIR,
//! locked while the card runs (`DIR/lock`); without it the card lives in RAM. With `--stdio`
//! each stdin line is a command APDU in hex, answered by one line with the response in hex
//! (`reset` power-cycles the card and answers `ok`): how `cis-testbed piv provision` works
//! without a reader. Test equipment, never shipped.
#![forbid(unsafe_code)]

mod card;
mod dispatch;
mod platform;
mod shared;
mod vpcd;

use std::fs::File;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use piv_authenticator::Options;
use trussed::pipe::TrussedChannel;
use trussed::virt::{StorageConfig, StoreConfig};

struct Args {
    state: Option<PathBuf>,
    host: String,
    port: u16,
    stdio: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { state: None, host: "127.0.0.1".into(), port: vpcd::DEFAULT_PORT, stdio: false };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--state" => args.state = Some(PathBuf::from(value("--state")?)),
            "--host" => args.host = value("--host")?,
            "--port" => {
                let v = value("--port")?;
                args.port = v.parse().map_err(|_| format!("--port: not a port number: {v:?}"))?;
            }
            "--stdio" => args.stdio = true,
            "-h" | "--help" => {
                return Err("usage: cis-piv-card [--state DIR] [--host H] [--port N] [--stdio]".into())
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    // Quiet unless RUST_LOG asks: the crate logs routine reads at error level, and its info
    // level shows PINs.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("off")).init();
    match parse_args().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cis-piv-card: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    // Held for the life of the process: two cards over one state would corrupt it.
    let _lock = match &args.state {
        Some(dir) => Some(lock(dir)?),
        None => None,
    };
    let mut store = match &args.state {
        Some(dir) => StoreConfig {
            internal: StorageConfig::filesystem(dir.join("ifs.bin")),
            external: StorageConfig::filesystem(dir.join("efs.bin")),
            volatile: StorageConfig::ram(),
        },
        None => StoreConfig::ram(),
    };
    store.with_store(|store| {
        let channel = TrussedChannel::new();
        let client = platform::client(
            platform::Platform::new(store),
            dispatch::Dispatch::default(),
            &channel,
            "piv",
            dispatch::BACKENDS,
        );
        let client = shared::Shared(std::rc::Rc::new(std::cell::RefCell::new(client)));
        let mut card = card::Card::new(client, Options::default());
        if args.stdio {
            stdio(&mut card)
        } else {
            vpcd::serve(&format!("{}:{}", args.host, args.port), &mut card)
        }
    })
}

fn lock(dir: &std::path::Path) -> Result<File, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let path = dir.join("lock");
    let file = File::create(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    file.try_lock().map_err(|_| format!("{} is in use by another card process", dir.display()))?;
    Ok(file)
}

fn stdio<T: piv_authenticator::Client + Clone>(card: &mut card::Card<T>) -> Result<(), String> {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        let line = line.trim();
        let answer = if line.is_empty() {
            continue;
        } else if line == "reset" {
            card.power_cycle();
            "ok".to_string()
        } else {
            match unhex(line) {
                Some(apdu) => hex(&card.execute(&apdu)),
                None => return Err(format!("not a hex APDU: {line:?}")),
            }
        };
        writeln!(out, "{answer}").and_then(|()| out.flush()).map_err(|e| format!("writing stdout: {e}"))?;
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}
