//! Reads a browser's machine policies into one JSON object, whatever they came from: the
//! Linux JSON files (every `*.json` in Chromium's managed folder, Firefox's `policies.json`)
//! or the Windows policy key, whose values and subkeys are turned into the same shape
//! (list policies are subkeys with values `1`, `2`, ...; dictionary policies are JSON strings).

use super::super::install::rooted;
use super::super::locations::{policy_sources, PolicySource, RegistryKey};
use super::super::manifest::Browser;
use super::super::registry::{RegValue, Registry};
use super::Inputs;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// A browser's policies as doctor read them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policies {
    /// Where they came from (files or keys), for the report.
    pub sources: Vec<String>,
    /// The files read (their owner and mode are checked too).
    pub files: Vec<PathBuf>,
    /// Every policy, later sources replacing earlier ones.
    pub merged: Map<String, Value>,
    /// Sources that could not be read or are not valid JSON (the browser ignores them too).
    pub problems: Vec<String>,
}

/// Reads `browser`'s policies on this machine (inside `inputs.root` for files).
pub fn read(inputs: &Inputs, browser: Browser) -> Policies {
    let mut policies = Policies::default();
    for source in policy_sources(inputs.os, browser) {
        match source {
            PolicySource::Folder(dir) => {
                let dir = rooted(inputs.root.as_deref(), &dir);
                let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .map(|entries| entries.flatten().map(|e| e.path()).collect())
                    .unwrap_or_default();
                files.retain(|f| f.extension().is_some_and(|e| e == "json") && f.is_file());
                files.sort();
                for file in files {
                    read_file(&mut policies, file, false);
                }
            }
            PolicySource::FirstFile(candidates) => {
                if let Some(file) =
                    candidates.iter().map(|f| rooted(inputs.root.as_deref(), f)).find(|f| f.is_file())
                {
                    read_file(&mut policies, file, true);
                }
            }
            PolicySource::Registry(key) => match key_to_json(inputs.registry, &key, 0) {
                Ok(Some(Value::Object(map))) => {
                    policies.sources.push(key.to_string());
                    policies.merged.extend(map);
                }
                Ok(_) => {}
                Err(e) => policies.problems.push(format!("{key} cannot be read ({e})")),
            },
        }
    }
    policies
}

/// One policy file. Firefox's `policies.json` holds its policies under `"policies"`.
fn read_file(policies: &mut Policies, file: PathBuf, firefox: bool) {
    let shown = file.display().to_string();
    policies.files.push(file.clone());
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) => return policies.problems.push(format!("{shown} cannot be read ({e})")),
    };
    let value = match serde_json::from_str::<Value>(&text) {
        Ok(value) => value,
        Err(e) => {
            return policies.problems.push(format!("{shown} is not JSON ({e}), so the browser ignores it"))
        }
    };
    let object = if firefox { value.get("policies").cloned().unwrap_or(Value::Null) } else { value };
    match object {
        Value::Object(map) => {
            policies.sources.push(shown);
            policies.merged.extend(map);
        }
        _ => policies.problems.push(format!(
            "{shown} is not a JSON object{}, so the browser ignores it",
            if firefox { " with a \"policies\" object" } else { "" }
        )),
    }
}

/// A registry key as JSON: its values become members, its subkeys nested objects, and a
/// subkey holding only the values `1`, `2`, ... a list. `Ok(None)` when the key is missing.
pub fn key_to_json(
    registry: &dyn Registry,
    key: &RegistryKey,
    depth: usize,
) -> std::io::Result<Option<Value>> {
    // Policy trees are shallow (3rdparty\extensions\ID\policy\NAME is the deepest).
    const MAX_DEPTH: usize = 8;
    let Some(values) = registry.values(key)? else { return Ok(None) };
    let subkeys = if depth < MAX_DEPTH { registry.subkeys(key)? } else { Vec::new() };
    let numbered = !values.is_empty() && values.iter().all(|(name, _)| name.parse::<u32>().is_ok());
    if numbered && subkeys.is_empty() {
        let mut items: Vec<(u32, Value)> =
            values.into_iter().map(|(name, v)| (name.parse().unwrap_or(u32::MAX), value_json(v))).collect();
        items.sort_by_key(|(n, _)| *n);
        return Ok(Some(Value::Array(items.into_iter().map(|(_, v)| v).collect())));
    }
    let mut map = Map::new();
    for (name, value) in values {
        map.insert(name, value_json(value));
    }
    for name in subkeys {
        let child = RegistryKey { path: format!("{}\\{name}", key.path), ..key.clone() };
        if let Some(value) = key_to_json(registry, &child, depth + 1)? {
            map.insert(name, value);
        }
    }
    Ok(Some(Value::Object(map)))
}

/// A value as JSON: strings that hold JSON objects or arrays (dictionary policies such as
/// `ExtensionSettings`) are parsed, a DWORD is a number, a multi-string is its lines joined
/// (Firefox accepts JSON policies as `REG_MULTI_SZ`).
fn value_json(value: RegValue) -> Value {
    let parse = |text: &str| {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            serde_json::from_str(text).ok()
        } else {
            None
        }
    };
    match value {
        RegValue::Dword(n) => Value::from(n),
        RegValue::Str(text) => parse(&text).unwrap_or(Value::String(text)),
        RegValue::MultiStr(lines) => {
            let joined = lines.join("\n");
            parse(&joined).unwrap_or_else(|| Value::Array(lines.into_iter().map(Value::String).collect()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::locations::{policy_key, Hive, View};
    use crate::deploy::registry::MemoryRegistry;
    use serde_json::json;

    fn sub(key: &RegistryKey, path: &str) -> RegistryKey {
        RegistryKey { path: format!("{}\\{path}", key.path), ..key.clone() }
    }

    #[test]
    fn registry_policies_become_the_json_shape_of_the_policy_files() {
        let chrome = policy_key(Browser::Chrome);
        let mut registry = MemoryRegistry::default();
        registry.set_value(&chrome, "NativeMessagingUserLevelHosts", RegValue::Dword(0));
        registry.set_value(&sub(&chrome, "NativeMessagingBlocklist"), "2", RegValue::Str("b".into()));
        registry.set_value(&sub(&chrome, "NativeMessagingBlocklist"), "1", RegValue::Str("*".into()));
        registry.set_value(
            &chrome,
            "ExtensionSettings",
            RegValue::Str(r#"{"abc": {"installation_mode": "force_installed"}}"#.into()),
        );
        registry.set_value(
            &sub(&chrome, "3rdparty\\extensions\\abc\\policy"),
            "managedReader",
            RegValue::Str("*01".into()),
        );
        let value = key_to_json(&registry, &chrome, 0).expect("read").expect("exists");
        assert_eq!(
            value,
            json!({
                "NativeMessagingUserLevelHosts": 0,
                "NativeMessagingBlocklist": ["*", "b"],
                "ExtensionSettings": {"abc": {"installation_mode": "force_installed"}},
                "3rdparty": {"extensions": {"abc": {"policy": {"managedReader": "*01"}}}}
            })
        );
        // Firefox's JSON policies as a multi-string.
        let firefox = policy_key(Browser::Firefox);
        registry.set_value(
            &firefox,
            "ExtensionSettings",
            RegValue::MultiStr(vec!["{\"x@y\": {".into(), "\"installation_mode\": \"blocked\"}}".into()]),
        );
        let value = key_to_json(&registry, &firefox, 0).expect("read").expect("exists");
        assert_eq!(value["ExtensionSettings"]["x@y"]["installation_mode"], "blocked");
        // The 32-bit view of the policy key is another key, which browsers do not read.
        let wow = RegistryKey { hive: Hive::LocalMachine, view: View::Wow32, path: chrome.path.clone() };
        assert_eq!(key_to_json(&registry, &wow, 0).expect("read"), None);
    }

    /// Firefox on Windows: `policies.json` fills in what the user's and then the machine's
    /// policy keys do not set; a key's policy wins over the file's.
    #[test]
    fn firefox_on_windows_merges_policies_json_under_the_user_and_machine_keys() {
        use crate::deploy::install::{rooted, Env};
        use crate::deploy::locations::Os;
        let root = tempfile::tempdir().expect("tmp");
        let PolicySource::FirstFile(files) = &policy_sources(Os::Windows, Browser::Firefox)[0] else {
            panic!("Firefox on Windows reads policies.json first")
        };
        let file = rooted(Some(root.path()), &files[0]);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        let from_file = json!({"policies": {
            "DisableTelemetry": true,
            "ExtensionSettings": {"x@y": {"installation_mode": "blocked"}},
            "3rdparty": {"extensions": {"x@y": {"managedReader": "file"}}}
        }});
        std::fs::write(&file, from_file.to_string()).expect("write");
        let machine = policy_key(Browser::Firefox);
        let user = RegistryKey { hive: Hive::CurrentUser, ..machine.clone() };
        let mut registry = MemoryRegistry::default();
        registry.set_value(
            &user,
            "ExtensionSettings",
            RegValue::Str(r#"{"x@y": {"installation_mode": "allowed"}}"#.into()),
        );
        registry.set_value(&user, "DisableAppUpdate", RegValue::Dword(1));
        registry.set_value(
            &machine,
            "ExtensionSettings",
            RegValue::Str(r#"{"x@y": {"installation_mode": "force_installed"}}"#.into()),
        );
        let inputs = Inputs {
            os: Os::Windows,
            browsers: vec![Browser::Firefox],
            root: Some(root.path().to_path_buf()),
            env: Env { home: None, program_data: None, local_app_data: None },
            exe: PathBuf::from("cis-renew-host.exe"),
            registry: &registry,
        };
        let policies = read(&inputs, Browser::Firefox);
        assert_eq!(policies.files, vec![file.clone()], "{policies:?}");
        assert_eq!(policies.merged["ExtensionSettings"]["x@y"]["installation_mode"], "force_installed");
        assert_eq!(policies.merged["DisableAppUpdate"], 1, "the user's key adds its own");
        assert_eq!(policies.merged["DisableTelemetry"], true, "the file fills in the rest");
        assert_eq!(policies.merged["3rdparty"]["extensions"]["x@y"]["managedReader"], "file");
        assert_eq!(policies.sources.len(), 3, "{:?}", policies.sources);
    }
}
