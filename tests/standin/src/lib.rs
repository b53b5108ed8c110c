//! cis-renew's stand-in CIS dashboard: the pages a sponsor walks through to
//! assist renewal of certificates (sign-in, Manage Smartcard, Smartcard
//! Details, Select Service), an EST (RFC 7030) `simplereenroll` endpoint
//! backed by a test CA, SQLite records with an audit trail, and an admin JSON
//! API for tests. See `tests/standin/README.md` for the page contract.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod app;
pub mod ca;
pub mod cardadmin;
pub mod certinfo;
pub mod cli;
pub mod clock;
pub mod csr;
pub mod enrol;
pub mod est;
pub mod password;
pub mod pkcs7;
pub mod provision;
pub mod role;
pub mod server;
pub mod store;
pub mod tls;
pub mod web;

use std::ffi::OsString;

use serde_json::json;

use cli::Command;

/// Runs the command line; returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let command = match cli::parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cis-standin: {e}\n\n{}", cli::USAGE);
            return 2;
        }
    };
    let result = match command {
        Command::Help => {
            print!("{}", cli::USAGE);
            Ok(())
        }
        Command::Serve(opts) => {
            match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(rt) => rt.block_on(server::serve(opts)),
                Err(e) => Err(e.to_string()),
            }
        }
        Command::Provision(opts) => provision::run(&opts).map(|v| println!("{v}")),
        Command::ProvisionPiv(opts) => provision::run_piv(&opts).map(|v| println!("{v}")),
        Command::RegisterCard(opts) => register_card(&opts).map(|v| println!("{v}")),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cis-standin: {e}");
            1
        }
    }
}

fn register_card(opts: &cli::RegisterOptions) -> Result<serde_json::Value, String> {
    let (store, ca) = server::open_data(&opts.data)?;
    let user = store
        .user_by_handle_or_uuid(&opts.user)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user {:?}", opts.user))?;
    let spec = enrol::DemoCard {
        serial: opts.serial.clone(),
        label: opts.label.clone().unwrap_or_else(|| format!("{} card", user.name)),
        auth_days: opts.auth_days,
        sign_days: opts.sign_days,
        subject: None,
    };
    let card = enrol::register_demo_card(&store, &ca, &user, &spec).map_err(|e| e.to_string())?;
    let certs = store.current_certs(card.id).map_err(|e| e.to_string())?;
    Ok(json!({
        "tokenSerial": card.serial,
        "tokenLabel": card.label,
        "user": { "handle": user.handle, "uuid": user.uuid, "name": user.name },
        "certificates": certs.iter().map(admin::cert_json).collect::<Vec<_>>(),
    }))
}
