//! `cis-renew-host doctor`: the self-check support staff run when Renew Certificate does not
//! appear or fails to start.
//!
//! It answers, in order: is the config valid; for each browser, is a manifest registered, does
//! it point at this program and allow our extension; does the PKCS#11 module load; is the smart
//! card service reachable; which readers and cards are there, and which is the managed reader.
//! Each answer is `ok`, `warn` (works, but worth knowing) or `FAIL` (the extension cannot work);
//! any `FAIL` makes the exit code 1.

use super::install::{rooted, Env};
use super::locations::{self, manifest_dirs, manifest_file_name, Hive, Os, RegistryKey, Scope, View};
use super::manifest::{Browser, HostManifest, HOST_NAME};
use super::registry::Registry;
use crate::caller::Caller;
use crate::config::{Config, ConfigSource};
use crate::readers::{ReaderRule, Readers};
use crate::token::TokenModule;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but support staff should know.
    Warn,
    /// The extension cannot work until this is fixed.
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked, e.g. `manifest chrome`.
    pub check: String,
    /// The result.
    pub status: Status,
    /// What was found, in a sentence.
    pub detail: String,
}

/// A reader as the doctor saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReaderLine {
    /// Reader name.
    pub name: String,
    /// A card is in it.
    pub card_present: bool,
    /// It is the managed reader.
    pub managed: bool,
}

/// The whole report (`--json` prints it as is).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// No check failed.
    pub ok: bool,
    /// This host's version.
    pub version: &'static str,
    /// This program's path.
    pub executable: String,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// The readers, when PC/SC answered.
    pub readers: Vec<ReaderLine>,
    /// The managed reader's name.
    pub managed_reader: Option<String>,
}

/// What the doctor looks at.
pub struct Inputs<'a> {
    /// The OS whose places are checked.
    pub os: Os,
    /// The browsers to check.
    pub browsers: Vec<Browser>,
    /// Look for manifest files inside this folder instead of `/` (tests).
    pub root: Option<PathBuf>,
    /// Home and Windows folders.
    pub env: Env,
    /// This program, which the manifests should name.
    pub exe: PathBuf,
    /// The registry (Windows).
    pub registry: &'a dyn Registry,
}

/// Runs every check.
pub fn diagnose(inputs: &Inputs) -> Report {
    let mut checks = Vec::new();
    let config = match Config::load() {
        Ok((config, ConfigSource::File(path))) => {
            checks.push(check("config", Status::Ok, format!("valid: {}", path.display())));
            config
        }
        Ok((config, ConfigSource::Defaults)) => {
            let detail =
                format!("no file at {}: built-in defaults", crate::config::system_config_path().display());
            checks.push(check("config", Status::Ok, detail));
            config
        }
        Err(error) => {
            // The settings loader may have said how to fix it already.
            let fix = named_files(&config_path())
                .iter()
                .find_map(|path| permission_fix(path))
                .filter(|_| !error.message.contains("Fix: "))
                .map(|fix| format!(" Fix: {fix}."))
                .unwrap_or_default();
            checks.push(check(
                "config",
                Status::Fail,
                format!("{}{fix} The checks below use the defaults.", error.message),
            ));
            Config::default()
        }
    };
    checks.push(check_trust(&config));
    for &browser in &inputs.browsers {
        checks.push(check_browser(inputs, browser, &config));
    }
    checks.extend(check_system_config(inputs));
    let (module_check, module) = check_module(&config);
    checks.push(module_check);
    let (readers, managed_reader) = check_readers(&config, &mut checks);
    if let (Some(module), Some(reader)) = (&module, &managed_reader) {
        if readers.iter().any(|r| &r.name == reader && r.card_present) {
            checks.push(check_managed_slot(&config, module, reader));
        }
    }
    Report {
        ok: checks.iter().all(|c| c.status != Status::Fail),
        version: env!("CARGO_PKG_VERSION"),
        executable: inputs.exe.display().to_string(),
        checks,
        readers,
        managed_reader,
    }
}

fn check(name: &str, status: Status, detail: String) -> Check {
    Check { check: name.to_string(), status, detail }
}

/// A place a browser may find our manifest, in the browser's lookup order.
enum Found {
    File(PathBuf),
    Key(RegistryKey, String),
}

fn registrations(inputs: &Inputs, browser: Browser) -> (Vec<Found>, Vec<String>) {
    let mut found = Vec::new();
    let mut looked = Vec::new();
    match inputs.os {
        Os::Windows => {
            // Doctor reads every place a browser reads, including the WOW6432Node view that
            // Chrome and Edge also consult, so a key written there by other tools is seen.
            let path = locations::registry_path(browser);
            let keys = [
                RegistryKey { hive: Hive::CurrentUser, view: View::Native, path: path.clone() },
                RegistryKey { hive: Hive::LocalMachine, view: View::Native, path: path.clone() },
                RegistryKey { hive: Hive::LocalMachine, view: View::Wow32, path },
            ];
            for key in keys {
                looked.push(key.to_string());
                if let Ok(Some(value)) = inputs.registry.get(&key) {
                    found.push(Found::Key(key, value));
                }
            }
        }
        os => {
            let home = inputs.env.home.clone().unwrap_or_default();
            for scope in [Scope::User, Scope::System] {
                if scope == Scope::User && inputs.env.home.is_none() {
                    continue;
                }
                for dir in manifest_dirs(os, scope, browser, &home) {
                    let file = rooted(inputs.root.as_deref(), &dir.join(manifest_file_name()));
                    looked.push(file.display().to_string());
                    if file.is_file() {
                        found.push(Found::File(file));
                    }
                }
            }
        }
    }
    (found, looked)
}

fn check_browser(inputs: &Inputs, browser: Browser, config: &Config) -> Check {
    let name = format!("manifest {browser}");
    let (found, looked) = registrations(inputs, browser);
    if found.is_empty() {
        let detail =
            format!("not registered: {browser} cannot start the host (looked in {})", looked.join(", "));
        return check(&name, Status::Fail, detail);
    }
    let mut results: Vec<(String, Result<(), String>)> = Vec::new();
    for place in &found {
        let (shown, file) = match place {
            Found::File(file) => (file.display().to_string(), file.clone()),
            Found::Key(key, value) => (format!("{key} -> {value}"), PathBuf::from(value)),
        };
        results.push((shown, check_manifest_file(inputs, browser, &file, config)));
    }
    let (shown, effective) = &results[0];
    let shadowed: Vec<String> = results[1..]
        .iter()
        .filter_map(|(place, r)| {
            r.as_ref().err().map(|e| format!("{place} (not used while the first exists): {e}"))
        })
        .collect();
    match effective {
        Err(problem) => check(&name, Status::Fail, format!("{shown}: {problem}")),
        Ok(()) if shadowed.is_empty() => check(&name, Status::Ok, shown.clone()),
        Ok(()) => check(&name, Status::Warn, format!("{shown}; also {}", shadowed.join("; "))),
    }
}

/// Reads one manifest and checks its name, type, path and allowed callers.
fn check_manifest_file(
    inputs: &Inputs,
    browser: Browser,
    file: &Path,
    config: &Config,
) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot be read ({e})"))?;
    let manifest = HostManifest::parse(&text)?;
    if manifest.name != HOST_NAME {
        return Err(format!("names the host '{}', not '{HOST_NAME}'", manifest.name));
    }
    if manifest.kind != "stdio" {
        return Err(format!("has type '{}', not 'stdio'", manifest.kind));
    }
    let named = Path::new(&manifest.path);
    let target = if inputs.os == Os::Windows && !is_windows_absolute(&manifest.path) {
        // Chrome and Firefox resolve a relative path against the manifest's folder on Windows.
        file.parent().map(|dir| dir.join(named)).unwrap_or_else(|| named.to_path_buf())
    } else if !named.is_absolute() {
        return Err(format!("path '{}' is not absolute; browsers on this OS refuse that", manifest.path));
    } else {
        named.to_path_buf()
    };
    let same = match (target.canonicalize(), inputs.exe.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        (Err(_), _) => return Err(format!("points at {}, which does not exist", target.display())),
        (Ok(_), Err(_)) => false,
    };
    if !same {
        return Err(format!(
            "points at {}, not at this program ({})",
            target.display(),
            inputs.exe.display()
        ));
    }
    let listed = if browser.is_firefox() {
        manifest.allowed_extensions.unwrap_or_default()
    } else {
        manifest.allowed_origins.unwrap_or_default()
    };
    let member = if browser.is_firefox() { "allowed_extensions" } else { "allowed_origins" };
    let accepted = listed.iter().filter(|entry| callers_allowed(browser, entry, config)).count();
    if accepted == 0 {
        return Err(format!(
            "{member} lists [{}], none of which this host accepts (allowedOrigins: [{}])",
            listed.join(", "),
            config.allowed_origins.join(", ")
        ));
    }
    Ok(())
}

fn callers_allowed(browser: Browser, entry: &str, config: &Config) -> bool {
    let caller = if browser.is_firefox() {
        Caller::FirefoxAddon(entry.to_string())
    } else {
        Caller::ChromeOrigin(entry.to_string())
    };
    caller.is_allowed(&config.allowed_origins)
}

fn is_windows_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with("\\\\")
        || (bytes.len() >= 3 && bytes[1] == b':' && (bytes[2] == b'\\' || bytes[2] == b'/'))
}

/// The config file `Config::load` reads.
fn config_path() -> PathBuf {
    std::env::var_os(crate::config::CONFIG_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(crate::config::system_config_path)
}

/// The config file and the files it names that must be administrators' only, read loosely
/// (the config may be invalid): itself, `trustAnchors`, `pkcs11Module`.
fn named_files(config: &Path) -> Vec<PathBuf> {
    let mut files = vec![config.to_path_buf()];
    let text = std::fs::read_to_string(config).unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let anchors = value["trustAnchors"].as_array().cloned().unwrap_or_default();
    let named = anchors.iter().chain(std::iter::once(&value["pkcs11Module"]));
    files.extend(named.filter_map(|v| v.as_str()).map(PathBuf::from));
    files
}

/// How to fix `path` when only its permissions are wrong.
fn permission_fix(path: &Path) -> Option<String> {
    (path.exists() && crate::fileperm::check_admin_only(path).is_err())
        .then(|| crate::fileperm::how_to_fix(path))
}

/// Renewals need trust anchors that only administrators can change and that are valid now.
fn check_trust(config: &Config) -> Check {
    if config.trust_anchors.is_empty() {
        let detail = format!(
            "none configured: every renewal is refused (TRUST_NOT_CONFIGURED). List the issuing CA's \
             certificate file in 'trustAnchors' in {}",
            config_path().display()
        );
        return check("trust anchors", Status::Fail, detail);
    }
    let mut subjects = Vec::new();
    for path in &config.trust_anchors {
        if let Err(problem) = crate::fileperm::check_admin_only(path) {
            let detail = format!("{} {problem}. Fix: {}", path.display(), crate::fileperm::how_to_fix(path));
            return check("trust anchors", Status::Fail, detail);
        }
        let anchors = match crate::certs::chain::load_anchors(std::slice::from_ref(path)) {
            Ok(anchors) => anchors,
            Err(problem) => return check("trust anchors", Status::Fail, problem),
        };
        for anchor in &anchors {
            if let Some(problem) =
                crate::certs::chain::anchor_problem(anchor, time::OffsetDateTime::now_utc())
            {
                return check("trust anchors", Status::Fail, format!("{}: {problem}", path.display()));
            }
            subjects.push(crate::certs::chain::subject_of(anchor));
        }
    }
    check("trust anchors", Status::Ok, format!("{} anchor(s): {}", subjects.len(), subjects.join("; ")))
}

/// On a system install (a manifest in a system folder), the host must run on IT's config, not
/// on built-in defaults: a missing system file is a FAIL. `CIS_RENEW_CONFIG` set means another
/// file is in use (the config check above covers it), so there is nothing to say.
fn check_system_config(inputs: &Inputs) -> Option<Check> {
    if std::env::var_os(crate::config::CONFIG_ENV).is_some() {
        return None;
    }
    let system_manifest = inputs.browsers.iter().any(|&browser| {
        let dirs = super::locations::manifest_dirs(
            inputs.os,
            super::locations::Scope::System,
            browser,
            Path::new("/"),
        );
        dirs.iter().any(|d| {
            super::install::rooted(inputs.root.as_deref(), &d.join(super::locations::manifest_file_name()))
                .is_file()
        })
    });
    if !system_manifest {
        return None;
    }
    let path = crate::config::system_config_path();
    let shown = path.display().to_string();
    if super::install::rooted(inputs.root.as_deref(), &path).is_file() {
        return Some(check("system config", Status::Ok, format!("{shown} is present")));
    }
    let fix = if inputs.os == Os::Windows {
        format!("deploy host.json to {shown} (MSI properties or group policy, docs/deployment.md)")
    } else {
        format!("sudo install -o root -g root -m 0644 host.json {shown}")
    };
    Some(check(
        "system config",
        Status::Fail,
        format!("no {shown} on a system install: the host runs on built-in defaults. Fix: {fix}."),
    ))
}

fn check_module(config: &Config) -> (Check, Option<TokenModule>) {
    if let Some(fix) = permission_fix(&config.pkcs11_module) {
        let problem = crate::fileperm::check_admin_only(&config.pkcs11_module).err().unwrap_or_default();
        let detail =
            format!("{} {problem}, so the host will not load it. Fix: {fix}", config.pkcs11_module.display());
        return (check("pkcs11 module", Status::Fail, detail), None);
    }
    match TokenModule::load(&config.pkcs11_module) {
        Ok(module) => {
            let tokens = module.pkcs11().get_slots_with_token().map(|s| s.len()).unwrap_or(0);
            // Which middleware it is (e.g. "OpenSC Project, OpenSC smartcard framework 0.23").
            let library = module
                .pkcs11()
                .get_library_info()
                .map(|i| {
                    let v = i.library_version();
                    format!(
                        "{}, {} {}.{}",
                        i.manufacturer_id().trim(),
                        i.library_description().trim(),
                        v.major(),
                        v.minor()
                    )
                })
                .unwrap_or_default();
            let detail =
                format!("{} loads ({library}); {tokens} token(s) present", config.pkcs11_module.display());
            (check("pkcs11 module", Status::Ok, detail), Some(module))
        }
        Err(error) => {
            (check("pkcs11 module", Status::Fail, format!("{} ({})", error.message, error.code)), None)
        }
    }
}

/// The managed reader's slot as the module sees it (found as `status` finds it: the slot
/// map, else the slot named after the reader) and what the module made of the card: on
/// OpenSC the token's manufacturer and model name the card driver ("www.CardContact.de",
/// "PKCS#15 emulated" for a SmartCard-HSM).
fn check_managed_slot(config: &Config, module: &TokenModule, reader: &str) -> Check {
    let name = "managed card";
    match module.slot_for_reader(reader, config.slot_map.get(reader)) {
        Ok(Some(slot)) => match module.pkcs11().get_token_info(slot) {
            Ok(token) => check(
                name,
                Status::Ok,
                format!(
                    "slot {} ({reader}): token '{}', {} {}",
                    slot.id(),
                    token.label().trim(),
                    token.manufacturer_id().trim(),
                    token.model().trim()
                ),
            ),
            Err(error) => {
                check(name, Status::Fail, format!("slot {}: C_GetTokenInfo failed ({error})", slot.id()))
            }
        },
        Ok(None) => check(
            name,
            Status::Warn,
            format!("a card is in {reader}, but the module shows no token for it (unknown card, or slotMap)"),
        ),
        Err(error) => check(name, Status::Fail, format!("{} ({})", error.message, error.code)),
    }
}

fn check_readers(config: &Config, checks: &mut Vec<Check>) -> (Vec<ReaderLine>, Option<String>) {
    let readers = match Readers::connect().and_then(|r| r.list()) {
        Ok(readers) => readers,
        Err(error) => {
            checks.push(check(
                "smart card service",
                Status::Fail,
                format!("{} ({})", error.message, error.code),
            ));
            return (Vec::new(), None);
        }
    };
    checks.push(check("smart card service", Status::Ok, format!("reachable; {} reader(s)", readers.len())));
    let names: Vec<&str> = readers.iter().map(|r| r.name.as_str()).collect();
    let rule = ReaderRule::from_config(config.managed_reader.as_deref());
    let managed = rule.pick(&names);
    let lines: Vec<ReaderLine> = readers
        .iter()
        .enumerate()
        .map(|(i, r)| ReaderLine {
            name: r.name.clone(),
            card_present: r.card_present,
            managed: Some(i) == managed,
        })
        .collect();
    for line in &lines {
        let detail = format!(
            "{}: {}{}",
            line.name,
            if line.card_present { "card present" } else { "empty" },
            if line.managed { " (managed reader: the user's card)" } else { "" }
        );
        checks.push(check("reader", Status::Ok, detail));
    }
    let rule_text = match &rule {
        ReaderRule::Second => "the second reader".to_string(),
        ReaderRule::Pattern(p) => format!("the first reader matching '{p}'"),
    };
    match managed {
        Some(i) => checks.push(check("managed reader", Status::Ok, format!("{} ({rule_text})", names[i]))),
        None if readers.is_empty() => {
            checks.push(check("managed reader", Status::Warn, "no card readers are connected".into()))
        }
        None => checks.push(check("managed reader", Status::Warn, format!("none: no reader is {rule_text}"))),
    }
    (lines, managed.map(|i| names[i].to_string()))
}

/// The report as a table for people.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "cis-renew-host {} at {}\n", report.version, report.executable);
    let _ = writeln!(out, "{:<20} {:<6} DETAIL", "CHECK", "RESULT");
    for c in &report.checks {
        let _ = writeln!(out, "{:<20} {:<6} {}", c.check, c.status.label(), c.detail);
    }
    let failed = report.checks.iter().filter(|c| c.status == Status::Fail).count();
    let _ = if failed == 0 {
        writeln!(out, "\nAll checks passed.")
    } else {
        writeln!(out, "\n{failed} check(s) failed.")
    };
    out
}
