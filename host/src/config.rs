//! The host's settings: a JSON file that IT deploys, strictly checked.
//!
//! Where it is read from: the path in `CIS_RENEW_CONFIG`, else the per-OS system path from
//! [`system_config_path`]. A missing system file means the built-in defaults; a file that names an
//! unknown key or has a wrong type is an error that names the key.

use crate::protocol::{ErrorCode, HostError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Environment variable that points at a config file (tests, support staff).
pub const CONFIG_ENV: &str = "CIS_RENEW_CONFIG";

/// The extension's own origins and add-on ID (manifests/identity.json, docs/ids.md).
pub const DEFAULT_ALLOWED_ORIGINS: &[&str] = crate::deploy::identity::DEFAULT_ALLOWED_ORIGINS;

/// How a reader is bound to a PKCS#11 token when slot descriptions do not name the reader.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum SlotBinding {
    /// The token with this label.
    TokenLabel(String),
    /// The token with this serial number.
    TokenSerial(String),
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Nothing is logged.
    Off,
    /// Failures only.
    Error,
    /// Failures and oddities.
    Warn,
    /// One line per request (command, id, duration, outcome).
    #[default]
    Info,
    /// Also card and token steps.
    Debug,
}

/// Which card backend drives the card in the managed reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CardBackend {
    /// PIV over PC/SC when the card answers SELECT of the PIV application, else PKCS#11.
    #[default]
    Auto,
    /// Always the PKCS#11 module.
    Pkcs11,
    /// Always PIV over PC/SC (a card without the PIV application is reported as no token).
    Piv,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Config {
    /// Path of the PKCS#11 module that drives the cards.
    pub pkcs11_module: PathBuf,
    /// Reader-name pattern (`*` and `?` wildcards, case-insensitive) of the reader that holds the
    /// user's card. `None`: the second reader, never the first (that is the sponsor's).
    pub managed_reader: Option<String>,
    /// Reader name -> token, for middleware whose slot descriptions do not name the reader.
    pub slot_map: BTreeMap<String, SlotBinding>,
    /// Extension origins (`chrome-extension://ID/`) and Firefox add-on IDs allowed to call.
    pub allowed_origins: Vec<String>,
    /// Days before expiry from which a certificate may be renewed.
    pub renewal_window_days: u32,
    /// CA certificates (PEM or DER files) that renewed certificates must chain to. Empty: no
    /// renewal is possible (`renewBegin` answers `TRUST_NOT_CONFIGURED`).
    pub trust_anchors: Vec<PathBuf>,
    /// A renewed certificate may name another issuer than the certificate it replaces.
    pub allow_issuer_change: bool,
    /// Log file; `None`: the per-user default from [`default_log_path`].
    pub log_file: Option<PathBuf>,
    /// Log verbosity.
    pub log_level: LogLevel,
    /// Card backend: `auto`, `pkcs11` or `piv`.
    pub card_backend: CardBackend,
    /// The algorithm of new keys when the renewal service names none (`newKeyAlgorithm`).
    pub new_key_algorithm: NewKeyAlgorithm,
    /// The algorithms new keys may have, whoever asks (`allowedKeyAlgorithms`).
    pub allowed_key_algorithms: Vec<NewKeyAlgorithm>,
    /// How long an open renewal may wait for `renewComplete` before it is cancelled
    /// (`renewalTimeoutSeconds`).
    pub renewal_timeout_seconds: u32,
}

/// A new key's algorithm by its config and wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NewKeyAlgorithm {
    /// ECDSA P-384 (the default).
    #[default]
    P384,
    /// ECDSA P-256.
    P256,
    /// RSA-2048.
    Rsa2048,
    /// RSA-3072.
    Rsa3072,
}

impl NewKeyAlgorithm {
    /// All four, in the order of `allowedKeyAlgorithms`' default.
    pub const ALL: [NewKeyAlgorithm; 4] =
        [NewKeyAlgorithm::P384, NewKeyAlgorithm::P256, NewKeyAlgorithm::Rsa2048, NewKeyAlgorithm::Rsa3072];

    /// The algorithm.
    pub fn algorithm(self) -> crate::token::KeyAlgorithm {
        use crate::token::KeyAlgorithm;
        match self {
            NewKeyAlgorithm::P384 => KeyAlgorithm::P384,
            NewKeyAlgorithm::P256 => KeyAlgorithm::P256,
            NewKeyAlgorithm::Rsa2048 => KeyAlgorithm::RSA2048,
            NewKeyAlgorithm::Rsa3072 => KeyAlgorithm::RSA3072,
        }
    }

    /// The choice for a config or wire name (`p384`, `p256`, `rsa2048`, `rsa3072`).
    pub fn from_name(name: &str) -> Option<NewKeyAlgorithm> {
        NewKeyAlgorithm::ALL.into_iter().find(|a| a.algorithm().name() == name)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pkcs11_module: default_pkcs11_module(),
            managed_reader: None,
            slot_map: BTreeMap::new(),
            allowed_origins: DEFAULT_ALLOWED_ORIGINS.iter().map(|s| s.to_string()).collect(),
            renewal_window_days: 90,
            trust_anchors: Vec::new(),
            allow_issuer_change: false,
            log_file: None,
            log_level: LogLevel::Info,
            new_key_algorithm: NewKeyAlgorithm::P384,
            allowed_key_algorithms: NewKeyAlgorithm::ALL.to_vec(),
            renewal_timeout_seconds: 300,
            card_backend: CardBackend::Auto,
        }
    }
}

/// Where the configuration came from, for logs and `doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// No file: built-in defaults.
    Defaults,
    /// Read from this file.
    File(PathBuf),
}

impl Config {
    /// Loads the configuration from `CIS_RENEW_CONFIG` or the system path. Either way the file
    /// counts only if administrators alone can change it ([`crate::fileperm`]).
    pub fn load() -> Result<(Config, ConfigSource), HostError> {
        if let Some(layered) = crate::deploy::settings::load_layered()? {
            return Ok(layered);
        }
        match std::env::var_os(CONFIG_ENV) {
            Some(path) => {
                let path = PathBuf::from(path);
                let text = read_trusted(&path)?;
                Ok((Config::parse(&text, &path)?, ConfigSource::File(path)))
            }
            None => {
                let path = system_config_path();
                match std::fs::metadata(&path) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Ok((Config::default(), ConfigSource::Defaults))
                    }
                    _ => {
                        let text = read_trusted(&path)?;
                        Ok((Config::parse(&text, &path)?, ConfigSource::File(path)))
                    }
                }
            }
        }
    }

    /// Parses and validates a config file's text; errors name the offending key.
    pub fn parse(text: &str, path: &Path) -> Result<Config, HostError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let config: Config = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            if key == "." || key.is_empty() {
                config_error(path, &inner.to_string())
            } else {
                config_error(path, &format!("key '{key}': {inner}"))
            }
        })?;
        config.validate().map_err(|message| config_error(path, &message))?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if !(1..=365).contains(&self.renewal_window_days) {
            return Err("key 'renewalWindowDays': must be from 1 to 365".into());
        }
        if self.allowed_origins.iter().any(|o| o.trim().is_empty()) {
            return Err("key 'allowedOrigins': entries must not be empty".into());
        }
        if let Err(problem) = crate::certs::chain::load_anchors(&self.trust_anchors) {
            return Err(format!("key 'trustAnchors': {problem}"));
        }
        if !(1..=3600).contains(&self.renewal_timeout_seconds) {
            return Err("key 'renewalTimeoutSeconds': must be from 1 to 3600".into());
        }
        if self.allowed_key_algorithms.is_empty() {
            return Err("key 'allowedKeyAlgorithms': name at least one algorithm".into());
        }
        if !self.allowed_key_algorithms.contains(&self.new_key_algorithm) {
            return Err("key 'newKeyAlgorithm': must be one of 'allowedKeyAlgorithms'".into());
        }
        if matches!(&self.managed_reader, Some(p) if p.trim().is_empty()) {
            return Err("key 'managedReader': must not be empty (leave it out for the second reader)".into());
        }
        Ok(())
    }

    /// The log file to use.
    pub fn log_path(&self) -> Option<PathBuf> {
        self.log_file.clone().or_else(default_log_path)
    }
}

/// Reads a config file after checking who can change it.
fn read_trusted(path: &Path) -> Result<String, HostError> {
    crate::fileperm::check_admin_only(path)
        .map_err(|problem| untrusted_file(path, "host configuration", &problem))?;
    std::fs::read_to_string(path).map_err(|e| config_error(path, &format!("cannot be read ({e})")))
}

/// `CONFIG_INVALID` for a config, anchor or module file that others than administrators can
/// change (or that cannot be checked): names the file and the reason.
pub fn untrusted_file(path: &Path, what: &str, problem: &str) -> HostError {
    HostError::new(
        ErrorCode::ConfigInvalid,
        format!(
            "The {what} {} is not used: it {problem}. Only administrators may be able to change it.",
            path.display()
        ),
    )
}

fn config_error(path: &Path, detail: &str) -> HostError {
    HostError::new(
        ErrorCode::ConfigInvalid,
        format!("The host configuration {} is invalid: {detail}.", path.display()),
    )
}

/// The system-wide config file for this OS.
pub fn system_config_path() -> PathBuf {
    if cfg!(windows) {
        let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        PathBuf::from(base).join("cis-renew").join("host.json")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/cis-renew/host.json")
    } else {
        PathBuf::from("/etc/cis-renew/host.json")
    }
}

/// The PKCS#11 module used when the config names none.
pub fn default_pkcs11_module() -> PathBuf {
    if cfg!(windows) {
        PathBuf::from("C:\\Windows\\System32\\opensc-pkcs11.dll")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/OpenSC/lib/opensc-pkcs11.so")
    } else {
        PathBuf::from("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")
    }
}

/// The per-user log file: `%LOCALAPPDATA%\cis-renew\host.log`, `~/Library/Logs/cis-renew/host.log`,
/// or `$XDG_STATE_HOME/cis-renew/host.log` (default `~/.local/state`).
pub fn default_log_path() -> Option<PathBuf> {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let dir = if cfg!(windows) {
        env("LOCALAPPDATA")?
    } else if cfg!(target_os = "macos") {
        env("HOME")?.join("Library").join("Logs")
    } else {
        env("XDG_STATE_HOME").or_else(|| env("HOME").map(|h| h.join(".local").join("state")))?
    };
    Some(dir.join("cis-renew").join("host.log"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, HostError> {
        Config::parse(text, Path::new("/etc/cis-renew/host.json"))
    }

    #[test]
    fn parse_empty_object_gives_defaults() {
        assert_eq!(parse("{}").expect("defaults"), Config::default());
    }

    #[test]
    fn parse_full_config_reads_every_key() {
        let config = parse(
            r#"{"pkcs11Module":"/x.so","managedReader":"*01","slotMap":{"R 1":{"tokenLabel":"A"},
            "R 2":{"tokenSerial":"9"}},"allowedOrigins":["chrome-extension://abc/"],
            "renewalWindowDays":30,"logFile":"/tmp/h.log","logLevel":"debug"}"#,
        )
        .expect("valid");
        assert_eq!(config.pkcs11_module, PathBuf::from("/x.so"));
        assert_eq!(config.managed_reader.as_deref(), Some("*01"));
        assert_eq!(config.slot_map["R 1"], SlotBinding::TokenLabel("A".into()));
        assert_eq!(config.slot_map["R 2"], SlotBinding::TokenSerial("9".into()));
        assert_eq!(config.renewal_window_days, 30);
        assert_eq!(config.log_level, LogLevel::Debug);
        let config = parse(r#"{"newKeyAlgorithm":"rsa3072","allowedKeyAlgorithms":["rsa3072","p256"]}"#)
            .expect("algorithms");
        assert_eq!(config.new_key_algorithm, NewKeyAlgorithm::Rsa3072);
        assert_eq!(config.allowed_key_algorithms, vec![NewKeyAlgorithm::Rsa3072, NewKeyAlgorithm::P256]);
        assert_eq!(NewKeyAlgorithm::from_name("p256"), Some(NewKeyAlgorithm::P256));
    }

    #[test]
    fn parse_card_backend_takes_each_name() {
        for (text, expected) in
            [("auto", CardBackend::Auto), ("pkcs11", CardBackend::Pkcs11), ("piv", CardBackend::Piv)]
        {
            let config = parse(&format!(r#"{{"cardBackend":"{text}"}}"#)).expect("valid");
            assert_eq!(config.card_backend, expected, "{text}");
        }
    }

    #[test]
    fn parse_errors_name_the_key() {
        let cases = [
            (r#"{"pkcs11Modul":"/x"}"#, "pkcs11Modul"),
            (r#"{"renewalWindowDays":"90"}"#, "renewalWindowDays"),
            (r#"{"renewalWindowDays":0}"#, "renewalWindowDays"),
            (r#"{"allowedOrigins":"x"}"#, "allowedOrigins"),
            (r#"{"slotMap":{"R":{"tokenLabel":1}}}"#, "slotMap.R"),
            (r#"{"slotMap":{"R":{"label":"x"}}}"#, "slotMap.R"),
            (r#"{"logLevel":"loud"}"#, "logLevel"),
            (r#"{"newKeyAlgorithm":"rsa1024"}"#, "newKeyAlgorithm"),
            (r#"{"allowedKeyAlgorithms":[]}"#, "allowedKeyAlgorithms"),
            (r#"{"renewalTimeoutSeconds":0}"#, "renewalTimeoutSeconds"),
            (r#"{"newKeyAlgorithm":"rsa2048","allowedKeyAlgorithms":["p384"]}"#, "newKeyAlgorithm"),
            (r#"{"cardBackend":"opensc"}"#, "cardBackend"),
            (r#"{"managedReader":""}"#, "managedReader"),
            (r#"{"trustAnchors":["/nonexistent/ca.pem"]}"#, "trustAnchors"),
            (r#"{"trustAnchors":"/ca.pem"}"#, "trustAnchors"),
        ];
        for (text, key) in cases {
            let error = parse(text).expect_err(text);
            assert_eq!(error.code, ErrorCode::ConfigInvalid);
            assert!(error.message.contains(key), "{text} -> {}", error.message);
        }
    }

    #[test]
    fn parse_rejects_non_json_with_path_in_message() {
        let error = parse("not json").expect_err("invalid");
        assert!(error.message.contains("/etc/cis-renew/host.json"), "{}", error.message);
    }
}
