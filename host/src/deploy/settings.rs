//! Host settings by policy: the sources IT can push, merged in one documented order
//! (docs/configuration.md, "Where settings come from"). Later sources win, key by key:
//!
//! 1. the built-in defaults;
//! 2. the system file (`/etc/cis-renew/host.json`, `%ProgramData%\cis-renew\host.json`);
//! 3. Linux and macOS: every `host.d/*.json` beside it, in byte order of their names;
//! 4. Windows: `HKLM\Software\Policies\cis-renew` (group policy, cis-renew-host.admx; a value
//!    per key, a subkey of numbered values per list).
//!
//! A top-level key replaces the earlier value whole (`slotMap` and the lists are not merged
//! entry by entry), so each source says exactly what it means. The merged settings are then
//! checked as one file would be ([`Config::parse`]). `CIS_RENEW_CONFIG` still names one file
//! that is used alone (tests, support staff).

use crate::config::{Config, ConfigSource, CONFIG_ENV};
use crate::protocol::{ErrorCode, HostError};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// One source's settings, named for messages: `(source, object)`.
pub type Layer = (String, Map<String, Value>);

/// The drop-in folder beside the system file.
pub fn drop_in_dir(system_file: &Path) -> PathBuf {
    system_file.with_file_name("host.d")
}

/// The drop-in files in `dir`, in the order they apply (`*.json` only, sorted by name).
pub fn drop_in_files(dir: &Path) -> Result<Vec<PathBuf>, HostError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(error(dir, &format!("cannot be read ({e})"))),
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// One source's settings: a JSON object, or an error naming the source.
pub fn read_object(path: &Path) -> Result<Map<String, Value>, HostError> {
    check_owner(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| error(path, &format!("cannot be read ({e})")))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(error(path, "must be a JSON object")),
        Err(e) => Err(error(path, &format!("is not JSON ({e})"))),
    }
}

/// `layers` merged in order: a later layer's key replaces the earlier value.
pub fn merge(layers: &[Layer]) -> Map<String, Value> {
    let mut merged = Map::new();
    for (_, layer) in layers {
        for (key, value) in layer {
            merged.insert(key.clone(), value.clone());
        }
    }
    merged
}

/// Which source set each key last (for `doctor` and `config check`).
pub fn origins(layers: &[Layer]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, layer) in layers {
        for key in layer.keys() {
            out.retain(|(k, _)| k != key);
            out.push((key.clone(), name.clone()));
        }
    }
    out.sort();
    out
}

/// The layers above the defaults on this machine: the system file, the drop-ins, the policy.
pub fn system_layers(system_file: &Path) -> Result<Vec<Layer>, HostError> {
    let mut layers = Vec::new();
    if system_file.exists() {
        layers.push((system_file.display().to_string(), read_object(system_file)?));
    }
    for file in drop_in_files(&drop_in_dir(system_file))? {
        layers.push((file.display().to_string(), read_object(&file)?));
    }
    if let Some(policy) = policy::read()? {
        layers.push((policy::KEY.to_string(), policy));
    }
    Ok(layers)
}

/// The merged system settings when drop-ins or policy add to the system file; `None` when there
/// is nothing but the system file (or `CIS_RENEW_CONFIG` names a file), which
/// [`Config::load`] reads as it always has.
pub fn load_layered() -> Result<Option<(Config, ConfigSource)>, HostError> {
    if std::env::var_os(CONFIG_ENV).is_some() {
        return Ok(None);
    }
    let system_file = crate::config::system_config_path();
    let layers = system_layers(&system_file)?;
    let only_the_file = layers.iter().all(|(name, _)| *name == system_file.display().to_string());
    if only_the_file {
        return Ok(None);
    }
    let names: Vec<&str> = layers.iter().map(|(name, _)| name.as_str()).collect();
    let shown = PathBuf::from(names.join(" + "));
    let text = Value::Object(merge(&layers)).to_string();
    let config = Config::parse(&text, &shown)?;
    Ok(Some((config, ConfigSource::File(shown))))
}

fn error(path: &Path, detail: &str) -> HostError {
    HostError::new(ErrorCode::ConfigInvalid, format!("The host configuration {} {detail}.", path.display()))
}

/// The system file and each drop-in count only if administrators alone can change them, by
/// the same rule as every other config file (`crate::fileperm`: the whole path on Unix, owner
/// and DACL on Windows).
fn check_owner(path: &Path) -> Result<(), HostError> {
    crate::fileperm::check_admin_only(path).map_err(|problem| {
        let mut error = crate::config::untrusted_file(path, "host configuration", &problem);
        error.message = format!("{} Fix: {}.", error.message, crate::fileperm::how_to_fix(path));
        error
    })
}

/// `HKLM\Software\Policies\cis-renew`, turned into settings.
pub mod policy {
    use serde_json::{Map, Value};

    /// The policy key group policy writes (cis-renew-host.admx).
    pub const KEY: &str = "HKLM\\Software\\Policies\\cis-renew";

    /// A registry value as policy writes it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum RegValue {
        /// REG_SZ or REG_EXPAND_SZ.
        Text(String),
        /// REG_DWORD.
        Number(u32),
    }

    /// Settings from the key's values (`name -> value`) and list subkeys
    /// (`name -> numbered values`). Keys whose config value is a boolean take a DWORD 0 or 1.
    pub fn to_settings(
        values: &[(String, RegValue)],
        lists: &[(String, Vec<(String, String)>)],
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for (name, value) in values {
            let json = match value {
                RegValue::Text(text) => Value::String(text.clone()),
                RegValue::Number(n) if BOOLEAN_KEYS.contains(&name.as_str()) => Value::Bool(*n != 0),
                RegValue::Number(n) => Value::from(*n),
            };
            out.insert(name.clone(), json);
        }
        for (name, entries) in lists {
            // ADMX lists write values named 1, 2, 3...: their order is the list's.
            let mut entries = entries.clone();
            entries.sort_by_key(|(n, _)| n.parse::<u64>().unwrap_or(u64::MAX));
            out.insert(
                name.clone(),
                Value::Array(entries.into_iter().map(|(_, v)| Value::String(v)).collect()),
            );
        }
        out
    }

    /// Config keys whose value is true or false.
    const BOOLEAN_KEYS: &[&str] = &["allowIssuerChange"];

    /// Reads the policy key; `None` when it does not exist (or on an OS without a registry).
    #[cfg(windows)]
    pub fn read() -> Result<Option<Map<String, Value>>, crate::protocol::HostError> {
        use winreg::enums::{RegType, HKEY_LOCAL_MACHINE};
        use winreg::RegKey;
        let Ok(key) = RegKey::predef(HKEY_LOCAL_MACHINE).open_subkey("Software\\Policies\\cis-renew") else {
            return Ok(None);
        };
        let mut values = Vec::new();
        for (name, value) in key.enum_values().flatten() {
            match value.vtype {
                RegType::REG_DWORD => {
                    let n: u32 = key.get_value(&name).unwrap_or_default();
                    values.push((name, RegValue::Number(n)));
                }
                _ => {
                    if let Ok(text) = key.get_value::<String, _>(&name) {
                        values.push((name, RegValue::Text(text)));
                    }
                }
            }
        }
        let mut lists = Vec::new();
        for sub in key.enum_keys().flatten() {
            let Ok(list) = key.open_subkey(&sub) else { continue };
            let entries: Vec<(String, String)> = list
                .enum_values()
                .flatten()
                .filter_map(|(n, _)| list.get_value::<String, _>(&n).ok().map(|v| (n, v)))
                .collect();
            lists.push((sub, entries));
        }
        Ok(Some(to_settings(&values, &lists)))
    }

    /// Reads the policy key; `None` when it does not exist (or on an OS without a registry).
    #[cfg(not(windows))]
    pub fn read() -> Result<Option<Map<String, Value>>, crate::protocol::HostError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::policy::{to_settings, RegValue};
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn merge_later_sources_replace_whole_keys() {
        let layers = vec![
            (
                "host.json".to_string(),
                obj(json!({"logLevel": "info", "slotMap": {"A": {"tokenLabel": "x"}}})),
            ),
            ("host.d/10.json".to_string(), obj(json!({"slotMap": {"B": {"tokenLabel": "y"}}}))),
            ("policy".to_string(), obj(json!({"logLevel": "debug"}))),
        ];
        let merged = merge(&layers);
        assert_eq!(
            Value::Object(merged),
            json!({"logLevel": "debug", "slotMap": {"B": {"tokenLabel": "y"}}})
        );
        assert_eq!(
            origins(&layers),
            [
                ("logLevel".to_string(), "policy".to_string()),
                ("slotMap".to_string(), "host.d/10.json".to_string())
            ]
        );
    }

    #[test]
    fn policy_values_and_numbered_lists_become_settings() {
        let values = vec![
            ("pkcs11Module".to_string(), RegValue::Text("C:\\x.dll".into())),
            ("renewalWindowDays".to_string(), RegValue::Number(30)),
            ("allowIssuerChange".to_string(), RegValue::Number(1)),
        ];
        let lists = vec![(
            "trustAnchors".to_string(),
            vec![
                ("10".into(), "C:\\c.pem".into()),
                ("2".into(), "C:\\b.pem".into()),
                ("1".into(), "C:\\a.pem".into()),
            ],
        )];
        assert_eq!(
            Value::Object(to_settings(&values, &lists)),
            json!({"pkcs11Module": "C:\\x.dll", "renewalWindowDays": 30, "allowIssuerChange": true,
                   "trustAnchors": ["C:\\a.pem", "C:\\b.pem", "C:\\c.pem"]})
        );
    }

    #[cfg(unix)]
    #[test]
    fn system_layers_reads_file_then_drop_ins_in_name_order_and_refuses_others_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let file = dir.path().join("host.json");
        std::fs::write(&file, r#"{"logLevel": "warn", "renewalWindowDays": 60}"#).expect("write");
        let d = drop_in_dir(&file);
        std::fs::create_dir(&d).expect("mkdir");
        std::fs::write(d.join("20-late.json"), r#"{"renewalWindowDays": 30}"#).expect("write");
        std::fs::write(d.join("10-early.json"), r#"{"renewalWindowDays": 45, "logLevel": "error"}"#)
            .expect("write");
        std::fs::write(d.join("README"), "not a drop-in").expect("write");
        let layers = system_layers(&file).expect("layers");
        let names: Vec<_> =
            layers.iter().map(|(n, _)| Path::new(n).file_name().expect("name").to_owned()).collect();
        assert_eq!(names, ["host.json", "10-early.json", "20-late.json"]);
        let merged = Value::Object(merge(&layers));
        assert_eq!(merged, json!({"logLevel": "error", "renewalWindowDays": 30}));

        std::fs::write(d.join("30-bad.json"), "[1]").expect("write");
        let err = system_layers(&file).expect_err("not an object");
        assert!(err.message.contains("30-bad.json must be a JSON object"), "{}", err.message);
        std::fs::remove_file(d.join("30-bad.json")).expect("rm");

        std::fs::set_permissions(d.join("20-late.json"), std::fs::Permissions::from_mode(0o666))
            .expect("chmod");
        let err = system_layers(&file).expect_err("writable by others");
        assert!(
            err.message.contains("20-late.json is not used") && err.message.contains("mode 666"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("Fix: ") && err.message.contains("sudo chown root:root"),
            "{}",
            err.message
        );
    }
}
