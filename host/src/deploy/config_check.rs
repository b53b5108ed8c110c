//! `cis-renew-host config check FILE...`: the files merged in order (as host.json then its
//! drop-ins), checked exactly as the host checks its settings, then what the loader leaves to
//! later: the PKCS#11 module's owner and mode (the host checks them when it loads the module)
//! and `allowedOrigins` entries no browser would ever call with.

use super::manifest::is_extension_id;
use crate::config::Config;
use std::path::{Path, PathBuf};

/// What `config check` found: the lines for stdout, warnings, and errors (any error: invalid).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Which file set each key, then `valid: FILES` (only when valid).
    pub out: Vec<String>,
    /// Worth knowing; the config is still valid.
    pub warnings: Vec<String>,
    /// Each reason the config is invalid.
    pub errors: Vec<String>,
}

/// Checks `files`, merged in the order given.
pub fn check(files: &[String]) -> Outcome {
    let mut outcome = Outcome::default();
    let mut layers = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                outcome.errors.push(format!("{file}: cannot be read ({e})"));
                continue;
            }
        };
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(map)) => layers.push((file.clone(), map)),
            Ok(_) => outcome.errors.push(format!("{file}: must be a JSON object")),
            Err(e) => outcome.errors.push(format!("{file}: is not JSON ({e})")),
        }
    }
    if !outcome.errors.is_empty() {
        return outcome;
    }
    let merged = serde_json::Value::Object(super::settings::merge(&layers)).to_string();
    let shown = PathBuf::from(files.join(" + "));
    let config = match Config::parse(&merged, &shown) {
        Ok(config) => config,
        Err(error) => {
            outcome.errors.push(error.message);
            return outcome;
        }
    };
    check_module(&config.pkcs11_module, &mut outcome);
    for entry in &config.allowed_origins {
        if !is_caller_shape(entry) {
            outcome.warnings.push(format!(
                "allowedOrigins: '{entry}' is neither chrome-extension://<32 letters a-p>/ nor a Firefox add-on ID \
                 (name@domain or {{GUID}}); no browser will call the host with it"
            ));
        }
    }
    if outcome.errors.is_empty() {
        for (key, source) in super::settings::origins(&layers) {
            outcome.out.push(format!("{key:<22} from {source}"));
        }
        outcome.out.push(format!("valid: {}", shown.display()));
    }
    outcome
}

/// The module is used only if administrators alone can change it; a module that is not on
/// this machine may be on the ones the config is for.
fn check_module(module: &Path, outcome: &mut Outcome) {
    if !module.exists() {
        outcome.warnings.push(format!(
            "pkcs11Module: {} does not exist on this machine; the host reports it where it is missing",
            module.display()
        ));
        return;
    }
    if let Err(problem) = crate::fileperm::check_admin_only(module) {
        outcome.errors.push(format!(
            "key 'pkcs11Module': {} {problem}, so the host will not load it. Fix: {}",
            module.display(),
            crate::fileperm::how_to_fix(module)
        ));
    }
}

/// `chrome-extension://<ID>/` or a Firefox add-on ID (`name@domain` or `{GUID}`).
fn is_caller_shape(entry: &str) -> bool {
    if let Some(rest) = entry.strip_prefix("chrome-extension://") {
        return is_extension_id(rest.trim_end_matches('/'));
    }
    let guid = entry.starts_with('{') && entry.ends_with('}') && entry.len() == 38;
    let email = entry.split_once('@').is_some_and(|(name, domain)| !name.is_empty() && !domain.is_empty());
    !entry.contains("://") && !entry.contains(char::is_whitespace) && (guid || email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_shapes() {
        assert!(is_caller_shape("chrome-extension://kfambhddimdfpaookgghehjdgahadkji/"));
        assert!(is_caller_shape("chrome-extension://kfambhddimdfpaookgghehjdgahadkji"));
        assert!(is_caller_shape("cis-renew@digital.nhs.uk"));
        assert!(is_caller_shape("{12345678-1234-1234-1234-123456789abc}"));
        assert!(!is_caller_shape("chrome-extension://abc/"));
        assert!(!is_caller_shape("https://cis.example"));
        assert!(!is_caller_shape("kfambhddimdfpaookgghehjdgahadkji"));
    }
}
