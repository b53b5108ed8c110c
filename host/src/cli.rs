//! Subcommands for people (support staff, IT, the demo). They reuse the protocol's handlers and
//! print readable tables, or the protocol's JSON with `--json`.

use crate::config::Config;
use crate::deploy;
use crate::handlers::status::{status, StatusReport};
use crate::logging;
use crate::services::Services;
use std::fmt::Write as _;

/// Subcommand names; a browser never passes a bare word as the first argument.
pub const SUBCOMMANDS: [&str; 10] =
    ["status", "install", "uninstall", "manifests", "doctor", "config", "help", "--help", "-h", "--version"];

const USAGE: &str = "\
cis-renew-host: renews NHS smartcard certificates; browsers start it as a native-messaging host.

Usage:
  cis-renew-host status [--json]   Show the readers, the managed reader and the card in it
  {DEPLOY}
  cis-renew-host help              Show this text
  cis-renew-host --version         Show the version

Configuration: the file in CIS_RENEW_CONFIG, else the system file (see docs/configuration.md).";

/// The help text, with the deployment subcommands spliced in.
fn usage() -> String {
    USAGE.replace("{DEPLOY}", deploy::cli::USAGE)
}

/// Runs a subcommand; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("--version") => {
            println!("cis-renew-host {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Some("status") => run_status(&args[1..]),
        Some("install") => deploy::cli::run_install(&args[1..], false),
        Some("uninstall") => deploy::cli::run_install(&args[1..], true),
        Some("manifests") => deploy::cli::run_manifests(&args[1..]),
        Some("doctor") => deploy::cli::run_doctor(&args[1..]),
        Some("config") => deploy::cli::run_config(&args[1..]),
        Some("help" | "--help" | "-h") => {
            println!("{}", usage());
            0
        }
        _ => {
            eprintln!("{}", usage());
            2
        }
    }
}

fn run_status(args: &[String]) -> i32 {
    let json = match args {
        [] => false,
        [flag] if flag == "--json" => true,
        _ => {
            eprintln!("usage: cis-renew-host status [--json]");
            return 2;
        }
    };
    let config = match Config::load() {
        Ok((config, _)) => config,
        Err(error) => {
            eprintln!("{}", error.message);
            return 1;
        }
    };
    logging::init(&config);
    let services = Services::new(config);
    match status(&services) {
        Ok(report) if json => match serde_json::to_string_pretty(&report) {
            Ok(text) => {
                println!("{text}");
                0
            }
            Err(e) => {
                eprintln!("{e}");
                1
            }
        },
        Ok(report) => {
            print!("{}", render_status(&report));
            0
        }
        Err(error) if json => {
            println!("{}", serde_json::json!({"error": error.to_json()}));
            1
        }
        Err(error) => {
            eprintln!("{} ({})", error.message, error.code);
            1
        }
    }
}

/// The status as a table for people.
pub fn render_status(report: &StatusReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Readers");
    if report.readers.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for reader in &report.readers {
        let _ = writeln!(
            out,
            "  {:<32} {:<8} {}",
            reader.name,
            if reader.card_present { "card" } else { "empty" },
            if reader.managed { "managed (user's card)" } else { "" }
        );
    }
    let Some(card) = &report.card else {
        let reason = match report.reason {
            Some("NO_READERS") => "No card readers are connected.",
            Some("NO_MANAGED_READER") => "There is no second reader for the user's card.",
            Some("NO_CARD") => "No card is in the managed reader.",
            Some("NO_TOKEN") => "The card in the managed reader is not one the card middleware knows.",
            _ => "No card.",
        };
        let _ = writeln!(out, "\n{reason}");
        return out;
    };
    let _ = writeln!(out, "\nCard in {}", card.reader);
    let _ = writeln!(out, "  Token        {} (serial {})", card.token.label, card.token.serial);
    let _ = writeln!(out, "  Made by      {} {}", card.token.manufacturer, card.token.model);
    let _ = writeln!(
        out,
        "  Passcode     {} ({}-{} characters){}",
        card.pin,
        card.pin_length.min,
        card.pin_length.max,
        if card.pin_pad { ", entered on the reader's PIN pad" } else { "" }
    );
    let _ = writeln!(
        out,
        "\n  {:<15} {:<21} {:>9}  {:<9}  SUBJECT",
        "ROLE", "EXPIRES (UTC)", "DAYS LEFT", "RENEWABLE"
    );
    for c in &card.certificates {
        let _ = writeln!(
            out,
            "  {:<15} {:<21} {:>9}  {:<9}  {}",
            c.role,
            c.not_after.replace('T', " ").trim_end_matches('Z'),
            c.days_left,
            if c.renewable { "yes" } else { "no" },
            c.subject
        );
    }
    let verdict = match (card.renewable, card.reason) {
        (true, _) => "yes".to_string(),
        (false, Some("NOT_DUE")) => format!(
            "no: not due until {}",
            card.renewable_from.as_deref().map(|d| &d[..10.min(d.len())]).unwrap_or("later")
        ),
        (false, Some(reason)) => format!("no: {reason}"),
        (false, None) => "no".to_string(),
    };
    let _ = writeln!(out, "\n  Renewable    {verdict}");
    out
}
