//! The host's own settings: is the config valid, are there usable trust anchors, and does a
//! system install have IT's config file.

use super::super::install::rooted;
use super::super::locations::{self, Os, Scope};
use super::{Check, Inputs};
use crate::config::{Config, ConfigSource};
use std::path::{Path, PathBuf};

/// Loads the config as the host does; on failure the checks below use the defaults.
pub fn check_config() -> (Check, Config) {
    match Config::load() {
        Ok((config, ConfigSource::File(path))) => {
            (Check::ok("config", format!("valid: {}", path.display())), config)
        }
        Ok((config, ConfigSource::Defaults)) => {
            let detail =
                format!("no file at {}: built-in defaults", crate::config::system_config_path().display());
            (Check::ok("config", detail), config)
        }
        Err(error) => {
            let message =
                format!("{} The checks below use the defaults", error.message.trim_end_matches('.'));
            // The settings loader may have said how to fix it already.
            let check = match error.message.split_once(" Fix: ") {
                Some((problem, fix)) => {
                    Check::fail("config", &format!("{problem} The checks below use the defaults"), fix)
                }
                None => {
                    let fix = named_files(&config_path())
                        .iter()
                        .find_map(|path| permission_fix(path))
                        .unwrap_or_else(|| {
                            format!(
                                "correct the setting named above in {} (`cis-renew-host config check FILE` \
                                 checks a file before it is deployed)",
                                config_path().display()
                            )
                        });
                    Check::fail("config", &message, &fix)
                }
            };
            (check, Config::default())
        }
    }
}

/// The config file `Config::load` reads.
pub fn config_path() -> PathBuf {
    std::env::var_os(crate::config::CONFIG_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(crate::config::system_config_path)
}

/// The drop-ins beside the system config (only when no `CIS_RENEW_CONFIG` overrides it).
pub fn drop_ins() -> Vec<PathBuf> {
    if std::env::var_os(crate::config::CONFIG_ENV).is_some() {
        return Vec::new();
    }
    let dir = super::super::settings::drop_in_dir(&crate::config::system_config_path());
    super::super::settings::drop_in_files(&dir).unwrap_or_default()
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
pub fn permission_fix(path: &Path) -> Option<String> {
    (path.exists() && crate::fileperm::check_admin_only(path).is_err())
        .then(|| crate::fileperm::how_to_fix(path))
}

/// Renewals need trust anchors that only administrators can change and that are valid now.
pub fn check_trust(config: &Config) -> Check {
    let name = "trust anchors";
    let config_file = config_path();
    if config.trust_anchors.is_empty() {
        return Check::fail(
            name,
            "none configured: every renewal is refused (TRUST_NOT_CONFIGURED)",
            &format!(
                "list the issuing CA's certificate file in \"trustAnchors\" in {} (Windows: the TRUSTANCHORS \
                 MSI property or the TrustAnchors group policy)",
                config_file.display()
            ),
        );
    }
    let mut subjects = Vec::new();
    for path in &config.trust_anchors {
        if let Err(problem) = crate::fileperm::check_admin_only(path) {
            return Check::fail(
                name,
                &format!("{} {problem}, so the host will not use it", path.display()),
                &crate::fileperm::how_to_fix(path),
            );
        }
        let replace = format!(
            "put the issuing CA's current certificate (PEM or DER) at {} or name another file in \"trustAnchors\"",
            path.display()
        );
        let anchors = match crate::certs::chain::load_anchors(std::slice::from_ref(path)) {
            Ok(anchors) => anchors,
            Err(problem) => return Check::fail(name, &problem, &replace),
        };
        for anchor in &anchors {
            if let Some(problem) =
                crate::certs::chain::anchor_problem(anchor, time::OffsetDateTime::now_utc())
            {
                return Check::fail(name, &format!("{}: {problem}", path.display()), &replace);
            }
            subjects.push(crate::certs::chain::subject_of(anchor));
        }
    }
    Check::ok(name, format!("{} anchor(s): {}", subjects.len(), subjects.join("; ")))
}

/// On a system install (a manifest in a system place), the host must run on IT's config, not
/// on built-in defaults: a missing system file is a FAIL. `CIS_RENEW_CONFIG` set means another
/// file is in use (the config check above covers it), so there is nothing to say.
pub fn check_system_config(inputs: &Inputs) -> Option<Check> {
    if std::env::var_os(crate::config::CONFIG_ENV).is_some() || inputs.os == Os::Windows {
        // On Windows the MSI installs host.json with the program; the registrations check
        // covers a broken install.
        return None;
    }
    let system_manifest = inputs.browsers.iter().any(|&browser| {
        locations::lookup_order(inputs.os, browser, None).iter().any(|lookup| match &lookup.place {
            locations::Place::File(file) if lookup.scope == Scope::System => {
                rooted(inputs.root.as_deref(), file).is_file()
            }
            _ => false,
        })
    });
    if !system_manifest {
        return None;
    }
    let path = crate::config::system_config_path();
    let shown = path.display().to_string();
    if rooted(inputs.root.as_deref(), &path).is_file() {
        return Some(Check::ok("system config", format!("{shown} is present")));
    }
    Some(Check::fail(
        "system config",
        &format!("no {shown} on a system install: the host runs on built-in defaults"),
        &format!("sudo install -o root -g root -m 0644 host.json {shown}"),
    ))
}
