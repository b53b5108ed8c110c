//! `cis-renew-host doctor`: the self-check support staff run when Renew Certificate does not
//! appear or fails to start.
//!
//! It answers, in order: is the config valid and are there trust anchors; for each browser,
//! which registration the browser uses (in the browser's own lookup order) and whether it
//! points at this program and allows our extension, and what the browser's policies do to us
//! (force-install, native messaging block/allow lists, user-level hosts, the extension's
//! managed settings); can anyone but administrators change the files it relied on; does the
//! PKCS#11 module load; is the smart card service reachable; which readers and cards are
//! there; and does the configured middleware (or the PIV backend) know the managed card.
//! Each answer is `ok`, `warn` (works, but worth knowing) or `FAIL` (the extension cannot
//! work); every `FAIL` ends with `Fix: <command or setting>.`; any `FAIL` makes the exit code 1.
//!
//! One job per file: [`config`] (config, trust anchors, system config), [`registrations`]
//! (host manifests per browser), [`policy_sources`] (reading policies) and [`policies`]
//! (judging them), [`permissions`] (owner and mode), [`card`] (middleware, readers, the
//! managed card), [`render`] (the table).

mod card;
mod config;
mod permissions;
mod policies;
mod policy_sources;
mod registrations;
mod render;

pub use render::render;

use super::install::Env;
use super::locations::Os;
use super::manifest::Browser;
use super::registry::Registry;
use serde::Serialize;
use std::path::PathBuf;

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
    /// What was found, in a sentence; a `FAIL` ends with `Fix: ...`.
    pub detail: String,
}

impl Check {
    /// A passed check.
    pub fn ok(name: &str, detail: impl Into<String>) -> Check {
        Check { check: name.to_string(), status: Status::Ok, detail: detail.into() }
    }

    /// A check that works but is worth knowing about.
    pub fn warn(name: &str, detail: impl Into<String>) -> Check {
        Check { check: name.to_string(), status: Status::Warn, detail: detail.into() }
    }

    /// A failed check: what is wrong, then the command or setting that fixes it. The only way
    /// to make a `FAIL`, so none is without its fix.
    pub fn fail(name: &str, problem: &str, fix: &str) -> Check {
        let problem = problem.trim_end().trim_end_matches('.');
        let fix = fix.trim_end().trim_end_matches('.');
        Check { check: name.to_string(), status: Status::Fail, detail: format!("{problem}. Fix: {fix}.") }
    }
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
    /// Look for manifest and policy files inside this folder instead of `/` (tests).
    pub root: Option<PathBuf>,
    /// Home and Windows folders.
    pub env: Env,
    /// This program, which the manifests should name.
    pub exe: PathBuf,
    /// The registry (Windows): host keys and policy keys.
    pub registry: &'a dyn Registry,
}

/// Runs every check.
pub fn diagnose(inputs: &Inputs) -> Report {
    let mut checks = Vec::new();
    let (config_check, config) = config::check_config();
    checks.push(config_check);
    checks.push(config::check_trust(&config));
    let mut relied_on = permissions::Files::default();
    for &browser in &inputs.browsers {
        let policies = policy_sources::read(inputs, browser);
        let verdict = policies::judge(browser, &policies, &config);
        let registration = registrations::check_browser(inputs, browser, &config, &verdict);
        checks.push(registration.check);
        checks.extend(verdict.checks);
        if let Some(manifest) = registration.system_manifest {
            // A machine-wide registration starts this program for everyone: it must be as
            // safe as the manifest (a per-user install's program is that user's own).
            relied_on.add("host program", &inputs.exe);
            relied_on.add(&format!("{browser} manifest"), &manifest);
        }
        for file in &policies.files {
            relied_on.add(&format!("{browser} policy"), file);
        }
    }
    checks.extend(config::check_system_config(inputs));
    for file in config::drop_ins() {
        relied_on.add("config drop-in", &file);
    }
    checks.extend(permissions::check(&relied_on));
    let (module_check, module) = card::check_module(&config);
    checks.push(module_check);
    let (readers, managed_reader) = card::check_readers(inputs.os, &config, &mut checks);
    if let Some(reader) = &managed_reader {
        if readers.iter().any(|r| &r.name == reader && r.card_present) {
            checks.push(card::check_managed_card(&config, module.as_ref(), reader));
        }
    }
    Report {
        ok: checks.iter().all(|c| c.status != Status::Fail),
        version: env!("CARGO_PKG_VERSION"),
        executable: permissions::plain(&inputs.exe).display().to_string(),
        checks,
        readers,
        managed_reader,
    }
}

/// The command that registers the host for `browser` for the whole machine on `os`.
fn install_command(os: Os, browser: Browser) -> String {
    match os {
        Os::Windows => format!(
            "repair or reinstall the cis-renew MSI, or run `cis-renew-host install --system --browser {browser}` \
             as administrator"
        ),
        _ => format!("sudo cis-renew-host install --system --browser {browser}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_always_ends_with_its_fix() {
        let c = Check::fail("x", "it is broken.", "mend it.");
        assert_eq!(c.detail, "it is broken. Fix: mend it.");
        assert_eq!(c.status, Status::Fail);
        assert_eq!(Check::warn("x", "w").status, Status::Warn);
    }
}
