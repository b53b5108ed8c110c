//! The deployment subcommands' command lines: `install`, `uninstall`, `manifests`, `doctor`,
//! `config check`.

use super::doctor::{self, Inputs};
use super::install::{apply, install_plan, uninstall_plan, Env, Target};
use super::locations::{Os, Scope};
use super::manifest::{origin, Browser, HostManifest, StoreIds};
use super::registry::system_registry;
use crate::config::Config;
use std::path::PathBuf;

/// Usage lines, shown by `help` after two spaces of indent (a string continuation drops them).
pub const USAGE: &str = "\
cis-renew-host install [--system|--user] [--browser NAME]... [--chrome-web-store-id ID]
                         [--edge-addons-id ID] [--exe PATH] [--root DIR [--os linux|macos]]
                                   Register this host with the browsers (default: --system, all)
  cis-renew-host uninstall [--system|--user] [--browser NAME]... [--root DIR]
                                   Remove the registrations
  cis-renew-host manifests --out DIR [--os linux|macos|windows] [--exe PATH] [store ID flags]
                                   Write the manifests the packages ship
  cis-renew-host doctor [--json] [--browser NAME]... [--root DIR]
                                   Check the installation; exit code 1 when something is wrong
  cis-renew-host config check FILE...
                                   Validate config files (host.json, host.d drop-ins) before
                                   pushing them; FILEs are merged in the order given

  Browsers: chrome, chromium, edge, firefox. --root DIR puts every manifest path inside DIR
  (tests and package staging).";

#[derive(Default)]
struct Args {
    scope: Option<Scope>,
    browsers: Vec<Browser>,
    ids: StoreIds,
    exe: Option<String>,
    root: Option<PathBuf>,
    out: Option<PathBuf>,
    os: Option<Os>,
    json: bool,
}

/// Parses `args`, accepting only the flags in `allowed`.
fn parse(args: &[String], allowed: &[&str]) -> Result<Args, String> {
    let mut parsed = Args::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if !allowed.contains(&flag.as_str()) {
            return Err(format!("unknown argument '{flag}'"));
        }
        let mut value = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--system" | "--user" => {
                let scope = if flag == "--system" { Scope::System } else { Scope::User };
                if parsed.scope.is_some_and(|s| s != scope) {
                    return Err("give either --system or --user".into());
                }
                parsed.scope = Some(scope);
            }
            "--browser" => {
                for name in value()?.split(',') {
                    let browser = Browser::parse(name.trim()).ok_or_else(|| {
                        format!("unknown browser '{name}' (chrome, chromium, edge, firefox)")
                    })?;
                    if !parsed.browsers.contains(&browser) {
                        parsed.browsers.push(browser);
                    }
                }
            }
            "--chrome-web-store-id" => parsed.ids.chrome_web_store = Some(value()?),
            "--edge-addons-id" => parsed.ids.edge_addons = Some(value()?),
            "--exe" => parsed.exe = Some(value()?),
            "--root" => parsed.root = Some(PathBuf::from(value()?)),
            "--out" => parsed.out = Some(PathBuf::from(value()?)),
            "--os" => {
                let name = value()?;
                parsed.os = Some(Os::parse(&name).ok_or_else(|| format!("unknown OS '{name}'"))?);
            }
            "--json" => parsed.json = true,
            _ => return Err(format!("unknown argument '{flag}'")),
        }
    }
    if parsed.browsers.is_empty() {
        parsed.browsers = Browser::ALL.to_vec();
    }
    parsed.ids.validate()?;
    Ok(parsed)
}

fn usage_error(command: &str, message: &str) -> i32 {
    eprintln!("cis-renew-host {command}: {message}\n\nUsage:\n{USAGE}");
    2
}

fn this_program() -> Result<PathBuf, String> {
    std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| format!("cannot tell where this program is ({e}); pass --exe PATH"))
}

/// `install` or `uninstall`.
pub fn run_install(args: &[String], remove: bool) -> i32 {
    let command = if remove { "uninstall" } else { "install" };
    let mut allowed = vec!["--system", "--user", "--browser", "--root"];
    if !remove {
        allowed.extend(["--chrome-web-store-id", "--edge-addons-id", "--exe", "--os"]);
    }
    let args = match parse(args, &allowed) {
        Ok(args) => args,
        Err(message) => return usage_error(command, &message),
    };
    let exe =
        match args.exe.clone().map(Ok).unwrap_or_else(|| this_program().map(|p| p.display().to_string())) {
            Ok(exe) => exe,
            Err(message) => return usage_error(command, &message),
        };
    // Another OS's places can only be staged into a folder (the macOS pkg payload is built here).
    let os = match (args.os, &args.root) {
        (None, _) => Os::current(),
        (Some(os), _) if os == Os::current() => os,
        (Some(Os::Windows), _) => {
            return usage_error(command, "--os windows: registry keys cannot be staged")
        }
        (Some(os), Some(_)) => os,
        (Some(_), None) => return usage_error(command, "--os needs --root (staging another OS's files)"),
    };
    let target = Target {
        os,
        scope: args.scope.unwrap_or(Scope::System),
        browsers: args.browsers.clone(),
        exe,
        ids: args.ids.clone(),
        env: Env::from_process(),
    };
    let plan = if remove { uninstall_plan(&target) } else { install_plan(&target) };
    let mut registry = system_registry();
    let result = plan.and_then(|plan| apply(&plan, args.root.as_deref(), registry.as_mut()));
    match result {
        Ok(outcomes) => {
            for outcome in outcomes {
                println!("{outcome}");
            }
            if !remove {
                warn_store_ids_not_allowed(&args.ids);
            }
            0
        }
        Err(error) => {
            eprintln!("cis-renew-host {command}: {error}");
            1
        }
    }
}

/// A store ID in the manifests is useless unless the host's config also allows it.
fn warn_store_ids_not_allowed(ids: &StoreIds) {
    let Ok((config, _)) = Config::load() else { return };
    for id in [&ids.chrome_web_store, &ids.edge_addons].into_iter().flatten() {
        let wanted = origin(id);
        if !config.allowed_origins.iter().any(|o| o.trim_end_matches('/') == wanted.trim_end_matches('/')) {
            eprintln!(
                "warning: add \"{wanted}\" to allowedOrigins in the host config, or the host will refuse it"
            );
        }
    }
}

/// `manifests`: writes `OUT/<os>/<browser>.json` for each OS (or just `--os`).
pub fn run_manifests(args: &[String]) -> i32 {
    let args = match parse(args, &["--out", "--os", "--exe", "--chrome-web-store-id", "--edge-addons-id"]) {
        Ok(args) => args,
        Err(message) => return usage_error("manifests", &message),
    };
    let Some(out) = args.out.clone() else {
        return usage_error("manifests", "--out DIR is required");
    };
    if args.exe.is_some() && args.os.is_none() {
        return usage_error("manifests", "--exe needs --os (each OS has its own path)");
    }
    let oses = args.os.map(|os| vec![os]).unwrap_or_else(|| Os::ALL.to_vec());
    for os in oses {
        let dir = if args.os.is_some() { out.clone() } else { out.join(os.as_str()) };
        let exe = args.exe.clone().unwrap_or_else(|| os.packaged_executable().to_string());
        for browser in Browser::ALL {
            let path = dir.join(format!("{browser}.json"));
            let text = HostManifest::for_browser(browser, &exe, &args.ids).to_text();
            if let Err(e) = super::install::write_atomic(&path, &text) {
                eprintln!("cis-renew-host manifests: cannot write {}: {e}", path.display());
                return 1;
            }
            println!("{}", path.display());
        }
    }
    0
}

/// `doctor`.
pub fn run_doctor(args: &[String]) -> i32 {
    let args = match parse(args, &["--json", "--browser", "--root"]) {
        Ok(args) => args,
        Err(message) => return usage_error("doctor", &message),
    };
    let exe = this_program().unwrap_or_default();
    let registry = system_registry();
    let inputs = Inputs {
        os: Os::current(),
        browsers: args.browsers,
        root: args.root,
        env: Env::from_process(),
        exe,
        registry: registry.as_ref(),
    };
    let report = doctor::diagnose(&inputs);
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("{e}");
                return 1;
            }
        }
    } else {
        print!("{}", doctor::render(&report));
    }
    if report.ok {
        0
    } else {
        1
    }
}

/// `config check FILE...`: see [`super::config_check`]; exit 0 valid, 1 invalid, 2 usage.
pub fn run_config(args: &[String]) -> i32 {
    let files = match args {
        [check, files @ ..] if check == "check" && !files.is_empty() => files,
        _ => return usage_error("config", "expected: config check FILE..."),
    };
    let outcome = super::config_check::check(files);
    for line in &outcome.out {
        println!("{line}");
    }
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
    for error in &outcome.errors {
        eprintln!("{error}");
    }
    if outcome.errors.is_empty() {
        0
    } else {
        1
    }
}
