//! Host settings by policy: the sources IT can push, merged in one documented order
//! (docs/configuration.md, "Where settings come from"). Later sources win, key by key:
//!
//! 1. the built-in defaults;
//! 2. the install-time choices ([`installer`]): the MSI's properties, remembered under
//!    `HKLM\Software\cis-renew`, and the store IDs `install --system` saved in
//!    `store-ids.json` beside the system file (they add to the default `allowedOrigins`);
//! 3. the system file (`/etc/cis-renew/host.json`, `%ProgramData%\cis-renew\host.json`): IT's
//!    own edits there win over what was chosen at install time;
//! 4. every `host.d/*.json` beside it, in byte order of their names;
//! 5. Windows: `HKLM\Software\Policies\cis-renew` (group policy, cis-renew-host.admx; a value
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
    parse_object(path)
}

/// A file's JSON object, whoever owns the file.
fn parse_object(path: &Path) -> Result<Map<String, Value>, HostError> {
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

/// The layers above the defaults on this machine: the install-time choices, the system file,
/// the drop-ins, the policy.
pub fn system_layers(system_file: &Path) -> Result<Vec<Layer>, HostError> {
    let mut layers = Vec::new();
    layers.extend(installer::layer(system_file)?);
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

/// `config show [--json]`: the settings this host runs on, each key with the source that set
/// it (keys no source sets are the built-in defaults), then whether they are valid. Exit 0
/// valid, 1 invalid or unreadable, 2 usage.
pub fn show(args: &[String]) -> i32 {
    let json = match args {
        [] => false,
        [flag] if flag == "--json" => true,
        _ => {
            eprintln!("usage: cis-renew-host config show [--json]");
            return 2;
        }
    };
    let layers = match current_layers() {
        Ok(layers) => layers,
        Err(error) => {
            eprintln!("{}", error.message);
            return 1;
        }
    };
    let merged = merge(&layers);
    let shown = if layers.is_empty() {
        "built-in defaults".to_string()
    } else {
        layers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(" + ")
    };
    let problem = Config::parse(&Value::Object(merged.clone()).to_string(), Path::new(&shown)).err();
    let sources = origins(&layers);
    if json {
        let settings: Map<String, Value> = sources
            .iter()
            .map(|(key, source)| {
                let value = merged.get(key).cloned().unwrap_or(Value::Null);
                (key.clone(), serde_json::json!({"value": value, "from": source}))
            })
            .collect();
        let report = serde_json::json!({
            "settings": settings,
            "valid": problem.is_none(),
            "problem": problem.as_ref().map(|e| e.message.clone()),
        });
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        for (key, source) in &sources {
            let value = merged.get(key).map(Value::to_string).unwrap_or_default();
            println!("{key:<22} {value}  (from {source})");
        }
        println!("everything else: built-in defaults (docs/configuration.md)");
        match &problem {
            None => println!("valid: {shown}"),
            Some(error) => println!("invalid: {}", error.message),
        }
    }
    if problem.is_none() {
        0
    } else {
        1
    }
}

/// The layers [`Config::load`] reads: the file `CIS_RENEW_CONFIG` names alone, else the
/// system's.
fn current_layers() -> Result<Vec<Layer>, HostError> {
    match std::env::var_os(CONFIG_ENV) {
        Some(path) => {
            let path = PathBuf::from(path);
            Ok(vec![(path.display().to_string(), read_object(&path)?)])
        }
        None => system_layers(&crate::config::system_config_path()),
    }
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

/// The install-time choices, the layer between the defaults and host.json: the MSI's
/// properties (`PKCS11MODULE`, `MANAGEDREADER`, `TRUSTANCHORS`, `EXTENSIONIDS`), which the MSI
/// writes as values of `HKLM\Software\cis-renew` and reads back on every upgrade, and the store
/// IDs `install --system` saves beside the system file (docs/deployment.md).
pub mod installer {
    use super::{error, read_object, Layer};
    use crate::deploy::manifest::{origin, split_ids, StoreIds};
    use crate::protocol::HostError;
    use serde_json::{Map, Value};
    use std::path::{Path, PathBuf};

    /// The key the MSI writes (64-bit view).
    pub const KEY: &str = "HKLM\\Software\\cis-renew";

    /// Each MSI property, the registry value it is kept in, and the config key it sets.
    pub const VALUES: &[(&str, &str, &str)] = &[
        ("PKCS11MODULE", "Pkcs11Module", "pkcs11Module"),
        ("MANAGEDREADER", "ManagedReader", "managedReader"),
        ("TRUSTANCHORS", "TrustAnchors", "trustAnchors"),
        ("EXTENSIONIDS", "ExtensionIds", "allowedOrigins"),
    ];

    const STORE_KEYS: [&str; 3] = ["chromeWebStoreId", "edgeAddonsId", "extensionIds"];

    /// Where `install --system` keeps the store IDs it was given, so that a package upgrade
    /// (postinst) and the host's `allowedOrigins` use them too.
    pub fn store_ids_file(system_file: &Path) -> PathBuf {
        system_file.with_file_name("store-ids.json")
    }

    /// The saved store IDs' file text.
    pub fn store_ids_text(ids: &StoreIds) -> String {
        let mut map = Map::new();
        if let Some(id) = &ids.chrome_web_store {
            map.insert(STORE_KEYS[0].into(), Value::String(id.clone()));
        }
        if let Some(id) = &ids.edge_addons {
            map.insert(STORE_KEYS[1].into(), Value::String(id.clone()));
        }
        if !ids.extra.is_empty() {
            map.insert(STORE_KEYS[2].into(), ids.extra.iter().cloned().map(Value::String).collect());
        }
        let mut text = serde_json::to_string_pretty(&Value::Object(map)).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The store IDs saved in `path`; `None` when there is no such file. The file counts only
    /// if administrators alone can change it, unless `staged` (a folder `install --root` fills
    /// for a package or a test).
    pub fn read_store_ids(path: &Path, staged: bool) -> Result<Option<StoreIds>, HostError> {
        if !path.exists() {
            return Ok(None);
        }
        let map = if staged { super::parse_object(path)? } else { read_object(path)? };
        if let Some(key) = map.keys().find(|k| !STORE_KEYS.contains(&k.as_str())) {
            return Err(error(path, &format!("has an unknown key '{key}'")));
        }
        let text = |name: &str| -> Result<Option<String>, HostError> {
            match map.get(name) {
                None => Ok(None),
                Some(Value::String(id)) => Ok(Some(id.clone())),
                Some(_) => Err(error(path, &format!("key '{name}': must be a string"))),
            }
        };
        let not_a_list = || error(path, "key 'extensionIds': must be a list of strings");
        let extra = match map.get(STORE_KEYS[2]) {
            None => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(not_a_list)?,
            Some(_) => return Err(not_a_list()),
        };
        let ids =
            StoreIds { chrome_web_store: text(STORE_KEYS[0])?, edge_addons: text(STORE_KEYS[1])?, extra };
        ids.validate().map_err(|problem| error(path, &format!("is invalid: {problem}")))?;
        Ok(Some(ids))
    }

    /// Settings from the MSI's values (`registry value name -> text`); empty values are left
    /// out. `TrustAnchors` is a `;`-separated list of paths; `ExtensionIds` a list of Chromium
    /// IDs (`,`, `;` or spaces) allowed besides the default callers.
    pub fn to_settings(values: &[(String, String)]) -> Result<Map<String, Value>, String> {
        let mut out = Map::new();
        for (_, value_name, key) in VALUES {
            let Some((_, text)) = values.iter().find(|(name, _)| name.eq_ignore_ascii_case(value_name))
            else {
                continue;
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let value = match *key {
                "trustAnchors" => Value::Array(
                    text.split(';')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(|p| Value::String(p.to_string()))
                        .collect(),
                ),
                "allowedOrigins" => {
                    let ids = StoreIds { extra: split_ids(text), ..StoreIds::default() };
                    ids.validate().map_err(|problem| {
                        format!("value {value_name}: {}", problem.replace("--extension-ids: ", ""))
                    })?;
                    with_default_origins(&ids)
                }
                _ => Value::String(text.to_string()),
            };
            out.insert(key.to_string(), value);
        }
        Ok(out)
    }

    /// The default callers, then each ID's origin.
    fn with_default_origins(ids: &StoreIds) -> Value {
        let mut origins: Vec<String> =
            crate::config::DEFAULT_ALLOWED_ORIGINS.iter().map(|s| s.to_string()).collect();
        for id in ids.all() {
            let o = origin(id);
            if !origins.contains(&o) {
                origins.push(o);
            }
        }
        Value::Array(origins.into_iter().map(Value::String).collect())
    }

    /// The install-time layer: the saved store IDs and the MSI's values (as read by
    /// [`read_registry`]), as one layer named after its sources; `None` when there are neither.
    pub fn layer_from(
        system_file: &Path,
        registry: Option<Vec<(String, String)>>,
    ) -> Result<Option<Layer>, HostError> {
        let mut names = Vec::new();
        let mut settings = Map::new();
        let file = store_ids_file(system_file);
        let mut ids = StoreIds::default();
        if let Some(saved) = read_store_ids(&file, false)? {
            names.push(file.display().to_string());
            ids = saved;
        }
        if let Some(values) = registry {
            let mut from_msi = to_settings(&values)
                .map_err(|problem| error(Path::new(KEY), &format!("is invalid: {problem}")))?;
            if !from_msi.is_empty() {
                names.push(KEY.to_string());
            }
            if let Some((_, text)) = values.iter().find(|(name, _)| name.eq_ignore_ascii_case("ExtensionIds"))
            {
                ids.extra.extend(split_ids(text));
            }
            // Both sources' IDs make one list (below).
            from_msi.remove("allowedOrigins");
            settings.extend(from_msi);
        }
        if !ids.is_empty() {
            settings.insert("allowedOrigins".into(), with_default_origins(&ids));
        }
        if names.is_empty() {
            return Ok(None);
        }
        Ok(Some((names.join(" + "), settings)))
    }

    /// The install-time layer on this machine.
    pub fn layer(system_file: &Path) -> Result<Option<Layer>, HostError> {
        layer_from(system_file, read_registry())
    }

    /// The MSI's values under [`KEY`]; `None` when the key is not there.
    #[cfg(windows)]
    pub fn read_registry() -> Option<Vec<(String, String)>> {
        use winreg::enums::HKEY_LOCAL_MACHINE;
        use winreg::RegKey;
        let key = RegKey::predef(HKEY_LOCAL_MACHINE).open_subkey("Software\\cis-renew").ok()?;
        let values = VALUES
            .iter()
            .filter_map(|(_, name, _)| key.get_value::<String, _>(name).ok().map(|v| (name.to_string(), v)))
            .collect();
        Some(values)
    }

    /// No registry here: `None`.
    #[cfg(not(windows))]
    pub fn read_registry() -> Option<Vec<(String, String)>> {
        None
    }
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

    fn values(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn installer_values_become_settings_and_extension_ids_add_to_the_default_callers() {
        let (a, b) = ("a".repeat(32), "b".repeat(32));
        let ids = format!("{a}; {b},");
        let settings = installer::to_settings(&values(&[
            ("Pkcs11Module", "C:\\Mw\\pkcs11.dll"),
            ("ManagedReader", "*Reader 01*"),
            ("TrustAnchors", "C:\\ca\\one.pem; C:\\ca\\two.pem;"),
            ("ExtensionIds", &ids),
        ]))
        .expect("valid");
        let mut origins: Vec<Value> =
            crate::config::DEFAULT_ALLOWED_ORIGINS.iter().map(|o| json!(o)).collect();
        origins.push(json!(format!("chrome-extension://{a}/")));
        origins.push(json!(format!("chrome-extension://{b}/")));
        assert_eq!(
            Value::Object(settings),
            json!({"pkcs11Module": "C:\\Mw\\pkcs11.dll", "managedReader": "*Reader 01*",
                   "trustAnchors": ["C:\\ca\\one.pem", "C:\\ca\\two.pem"], "allowedOrigins": origins})
        );
        // A property given empty sets nothing; a bad ID names the value.
        assert!(installer::to_settings(&values(&[("Pkcs11Module", " "), ("ManagedReader", "")]))
            .expect("empty")
            .is_empty());
        let problem = installer::to_settings(&values(&[("ExtensionIds", "not-an-id")])).expect_err("bad ID");
        assert_eq!(problem, "value ExtensionIds: 'not-an-id' is not an extension ID (32 letters a-p)");
    }

    #[cfg(unix)]
    #[test]
    fn installer_layer_joins_saved_store_ids_and_msi_values_and_host_json_wins_over_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let file = dir.path().join("host.json");
        let (cws, extra) = ("c".repeat(32), "e".repeat(32));
        std::fs::write(installer::store_ids_file(&file), format!(r#"{{"chromeWebStoreId": "{cws}"}}"#))
            .expect("write");
        let msi = values(&[("Pkcs11Module", "/opt/mw.so"), ("ExtensionIds", &extra)]);
        let (name, layer) = installer::layer_from(&file, Some(msi)).expect("layer").expect("some");
        assert_eq!(name, format!("{} + {}", installer::store_ids_file(&file).display(), installer::KEY));
        let origins = layer["allowedOrigins"].as_array().expect("list");
        assert_eq!(origins.len(), crate::config::DEFAULT_ALLOWED_ORIGINS.len() + 2, "{origins:?}");
        assert_eq!(origins[origins.len() - 2], json!(format!("chrome-extension://{cws}/")));
        assert_eq!(layer["pkcs11Module"], json!("/opt/mw.so"));
        assert!(installer::layer_from(&dir.path().join("none/host.json"), Some(vec![]))
            .expect("ok")
            .is_none());

        // The saved IDs are the first layer; host.json, IT's own file, wins over them.
        let firefox = crate::deploy::identity::FIREFOX_ID;
        std::fs::write(&file, json!({"allowedOrigins": [firefox]}).to_string()).expect("write");
        let layers = system_layers(&file).expect("layers");
        assert_eq!(layers.len(), 2);
        assert_eq!(Value::Object(merge(&layers))["allowedOrigins"], json!([firefox]));
        std::fs::remove_file(&file).expect("rm");
        let merged = Value::Object(merge(&system_layers(&file).expect("layers")));
        assert!(merged["allowedOrigins"].to_string().contains(&cws), "{merged}");

        std::fs::write(installer::store_ids_file(&file), r#"{"chromeWebStoreId": "xyz"}"#).expect("write");
        let err = system_layers(&file).expect_err("bad ID");
        assert!(
            err.message.contains("store-ids.json is invalid: --chrome-web-store-id 'xyz'"),
            "{}",
            err.message
        );
        std::fs::write(installer::store_ids_file(&file), r#"{"chromeStoreId": "xyz"}"#).expect("write");
        let err = system_layers(&file).expect_err("unknown key");
        assert!(err.message.contains("unknown key 'chromeStoreId'"), "{}", err.message);
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
