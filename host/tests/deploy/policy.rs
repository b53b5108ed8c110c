//! Group policy: the ADMX/ADML templates and the example policy files must name exactly the
//! extension's managed settings (extension/schema.json) with matching types, and our fixed IDs.

use crate::util::{read_json, repo_root};
use serde_json::Value;
use std::collections::BTreeMap;

/// Setting name -> JSON Schema type (`array` of strings, `string`, `integer`, `object` of strings).
/// An object (`siteAdapter`) is one policy whose members are values under its own subkey.
type Settings = BTreeMap<String, String>;

const EXTENSION_ID: &str = cis_renew_host::deploy::identity::CHROMIUM_ID;
const FIREFOX_ID: &str = cis_renew_host::deploy::identity::FIREFOX_ID;
const HOST_NAME: &str = "uk.nhs.cis_renew";

/// The managed settings from extension/schema.json (the manifest's `storage.managed_schema`).
fn schema_settings() -> Settings {
    let schema = read_json(&repo_root().join("extension/schema.json"));
    let properties = schema["properties"].as_object().expect("schema has properties");
    properties
        .iter()
        .map(|(name, spec)| {
            let kind = spec["type"].as_str().expect("every setting has a type").to_string();
            if kind == "array" {
                assert_eq!(spec["items"]["type"], "string", "{name}: only arrays of strings are supported");
            }
            if kind == "object" {
                let members = spec["properties"].as_object().expect("an object setting lists its members");
                assert!(
                    members.values().all(|m| m["type"] == "string"),
                    "{name}: only string members are supported"
                );
            }
            (name.clone(), kind)
        })
        .collect()
}

/// The members of an object setting, sorted.
fn object_members(setting: &str) -> Vec<String> {
    let schema = read_json(&repo_root().join("extension/schema.json"));
    let members = schema["properties"][setting]["properties"].as_object().expect("object members");
    let mut names: Vec<String> = members.keys().cloned().collect();
    names.sort();
    names
}

#[test]
fn ids_in_these_tests_match_docs_ids() {
    let ids = std::fs::read_to_string(repo_root().join("docs/ids.md")).expect("docs/ids.md");
    for id in [EXTENSION_ID, FIREFOX_ID, HOST_NAME] {
        assert!(ids.contains(&format!("`{id}`")), "docs/ids.md names {id}");
    }
    // The extension these policies configure is the one with that key (the .deb smoke test
    // loads a stand-in with the key from docs/ids.md) and that managed schema.
    let manifest = read_json(&repo_root().join("extension/manifest.json"));
    let key = manifest["key"].as_str().expect("extension manifest key");
    assert!(ids.contains(key), "extension/manifest.json's key is the one in docs/ids.md");
    assert_eq!(manifest["browser_specific_settings"]["gecko"]["id"], FIREFOX_ID);
    assert_eq!(manifest["storage"]["managed_schema"], "schema.json");
}

#[test]
fn admx_names_exactly_the_schema_settings_for_chrome_and_edge() {
    let path = repo_root().join("policy/windows/cis-renew.admx");
    let text = std::fs::read_to_string(&path).expect("admx");
    let doc = roxmltree::Document::parse(&text).expect("ADMX is well-formed XML");
    let schema = schema_settings();
    for (browser, base) in
        [("Chrome", "Software\\Policies\\Google\\Chrome"), ("Edge", "Software\\Policies\\Microsoft\\Edge")]
    {
        let policy_key = format!("{base}\\3rdparty\\extensions\\{EXTENSION_ID}\\policy");
        let mut found = Settings::new();
        for policy in doc.descendants().filter(|n| n.has_tag_name("policy")) {
            let name = policy.attribute("name").expect("policy name");
            let Some(setting) = name.strip_prefix(&format!("{browser}_")) else { continue };
            assert_eq!(policy.attribute("class"), Some("Machine"), "{name}");
            let elements: Vec<_> = policy
                .descendants()
                .filter(|n| n.is_element() && n.parent().is_some_and(|p| p.has_tag_name("elements")))
                .collect();
            if schema.get(setting).map(String::as_str) == Some("object") {
                // Chrome reads a dictionary policy from a subkey named after it, one value a member.
                assert_eq!(
                    policy.attribute("key"),
                    Some(format!("{policy_key}\\{setting}").as_str()),
                    "{name}"
                );
                let mut members: Vec<_> = elements.iter().filter_map(|e| e.attribute("valueName")).collect();
                members.sort_unstable();
                assert_eq!(members, object_members(setting), "{name}: one element per member");
                found.insert(setting.to_string(), "object".to_string());
                continue;
            }
            assert_eq!(policy.attribute("key"), Some(policy_key.as_str()), "{name}");
            assert_eq!(elements.len(), 1, "{name}: one element");
            let element = elements[0];
            assert_eq!(element.attribute("id"), Some(setting), "{name}");
            let kind = match element.tag_name().name() {
                "list" => {
                    // Chrome reads a list policy as a subkey named after it with values 1, 2...
                    assert_eq!(element.attribute("key"), Some(format!("{policy_key}\\{setting}").as_str()));
                    assert_eq!(element.attribute("valuePrefix"), Some(""), "{name}");
                    "array"
                }
                "text" => {
                    assert_eq!(element.attribute("valueName"), Some(setting), "{name}");
                    "string"
                }
                "decimal" => {
                    assert_eq!(element.attribute("valueName"), Some(setting), "{name}");
                    "integer"
                }
                other => panic!("{name}: unexpected element {other}"),
            };
            found.insert(setting.to_string(), kind.to_string());
        }
        let mut wanted = schema.clone();
        for setting in HOST_DECIDES {
            wanted.remove(setting);
        }
        assert_eq!(
            found, wanted,
            "{browser}: ADMX settings and types equal the schema's that the extension acts on"
        );
    }
    // No namespace is declared that nothing uses.
    for using in doc.descendants().filter(|n| n.has_tag_name("using")) {
        let prefix = format!("{}:", using.attribute("prefix").expect("prefix"));
        assert!(text.matches(&prefix).count() > 1, "unused namespace {prefix}");
    }
}

/// Settings in the extension's schema that only the host acts on (the extension reads them for
/// display): the ADMX offers them as host settings, where they do something.
const HOST_DECIDES: [&str; 2] = ["managedReader", "renewalWindowDays"];

#[test]
fn admx_host_settings_are_host_config_keys_under_the_policy_key() {
    let text = std::fs::read_to_string(repo_root().join("policy/windows/cis-renew.admx")).expect("admx");
    let doc = roxmltree::Document::parse(&text).expect("ADMX is well-formed XML");
    let key = "Software\\Policies\\cis-renew";
    let mut found = Settings::new();
    for policy in doc.descendants().filter(|n| n.has_tag_name("policy")) {
        let name = policy.attribute("name").expect("policy name");
        let Some(setting) = name.strip_prefix("Host_") else { continue };
        assert_eq!(policy.attribute("key"), Some(key), "{name}");
        assert_eq!(policy.attribute("class"), Some("Machine"), "{name}");
        let element = policy
            .descendants()
            .find(|n| n.is_element() && n.parent().is_some_and(|p| p.has_tag_name("elements")))
            .expect("one element");
        assert_eq!(element.attribute("id"), Some(setting), "{name}");
        let (kind, sample) = match element.tag_name().name() {
            "list" => {
                // host/src/deploy/settings.rs reads a list as a subkey of numbered values.
                assert_eq!(element.attribute("key"), Some(format!("{key}\\{setting}").as_str()), "{name}");
                ("array", serde_json::json!([]))
            }
            "text" => ("string", serde_json::json!("*01")),
            "decimal" => ("integer", serde_json::json!(30)),
            "enum" => {
                let items: Vec<_> = element
                    .descendants()
                    .filter(|n| n.has_tag_name("string"))
                    .filter_map(|n| n.text())
                    .collect();
                assert_eq!(items, ["off", "error", "warn", "info", "debug"], "{name}");
                ("enum", serde_json::json!("debug"))
            }
            other => panic!("{name}: unexpected element {other}"),
        };
        if element.tag_name().name() != "list" {
            assert_eq!(element.attribute("valueName"), Some(setting), "{name}");
        }
        // The host knows the key and accepts a value of that type (its config is strict).
        let config = serde_json::json!({ setting: sample }).to_string();
        cis_renew_host::config::Config::parse(&config, std::path::Path::new("policy"))
            .unwrap_or_else(|e| panic!("{name}: the host refuses {config}: {}", e.message));
        found.insert(setting.to_string(), kind.to_string());
    }
    let names: Vec<_> = found.keys().cloned().collect();
    assert_eq!(
        names,
        ["allowedOrigins", "logLevel", "managedReader", "pkcs11Module", "renewalWindowDays", "trustAnchors"]
    );
}

#[test]
fn adml_defines_every_string_and_presentation_the_admx_uses() {
    let admx = std::fs::read_to_string(repo_root().join("policy/windows/cis-renew.admx")).expect("admx");
    let adml =
        std::fs::read_to_string(repo_root().join("policy/windows/en-US/cis-renew.adml")).expect("adml");
    let admx_doc = roxmltree::Document::parse(&admx).expect("admx xml");
    let adml_doc = roxmltree::Document::parse(&adml).expect("ADML is well-formed XML");
    let ids = |tag: &str| -> Vec<String> {
        adml_doc
            .descendants()
            .filter(|n| n.has_tag_name(tag))
            .filter_map(|n| n.attribute("id").map(str::to_string))
            .collect()
    };
    let strings = ids("string");
    let presentations = ids("presentation");
    let mut used = 0;
    for node in admx_doc.descendants().filter(|n| n.is_element()) {
        for attr in node.attributes() {
            let value = attr.value();
            if let Some(id) = value.strip_prefix("$(string.").and_then(|v| v.strip_suffix(')')) {
                assert!(strings.iter().any(|s| s == id), "ADML lacks string {id}");
                used += 1;
            }
            if let Some(id) = value.strip_prefix("$(presentation.").and_then(|v| v.strip_suffix(')')) {
                let presentation = adml_doc
                    .descendants()
                    .find(|n| n.has_tag_name("presentation") && n.attribute("id") == Some(id))
                    .unwrap_or_else(|| panic!("ADML lacks presentation {id}"));
                // Each presentation control refers to an element of the policy, in order.
                let refs: Vec<&str> =
                    presentation.descendants().filter_map(|n| n.attribute("refId")).collect();
                let element_ids: Vec<&str> = node
                    .descendants()
                    .filter(|n| n.is_element() && n.parent().is_some_and(|p| p.has_tag_name("elements")))
                    .filter_map(|n| n.attribute("id"))
                    .collect();
                assert_eq!(refs, element_ids, "presentation {id}");
                used += 1;
            }
        }
    }
    let policies = admx_doc.descendants().filter(|n| n.has_tag_name("policy")).count();
    assert_eq!(policies, 12, "3 extension settings x 2 browsers, 6 host settings");
    assert!(used >= policies * 3, "every policy uses a name, an explanation and a presentation ({used})");
    // One presentation per setting: the extension's that it acts on, and the host's six.
    assert_eq!(presentations.len(), schema_settings().len() - HOST_DECIDES.len() + 6);
}

/// The 3rdparty settings in a JSON policy file, with their JSON types.
fn json_settings(settings: &Value) -> Settings {
    settings
        .as_object()
        .expect("settings object")
        .iter()
        .map(|(name, value)| {
            let kind = match value {
                Value::Array(items) => {
                    assert!(items.iter().all(Value::is_string), "{name}: strings only");
                    "array"
                }
                Value::String(_) => "string",
                Value::Number(n) if n.is_i64() => "integer",
                Value::Object(members) => {
                    assert!(members.values().all(Value::is_string), "{name}: string members only");
                    assert!(
                        members.keys().all(|k| object_members(name).contains(k)),
                        "{name}: known members"
                    );
                    "object"
                }
                other => panic!("{name}: unexpected {other}"),
            };
            (name.clone(), kind.to_string())
        })
        .collect()
}

#[test]
fn linux_managed_policy_examples_force_install_restrict_hosts_and_set_every_setting() {
    for file in ["chrome-managed.json", "edge-managed.json"] {
        let policy = read_json(&repo_root().join("policy/examples/linux").join(file));
        let install = &policy["ExtensionSettings"][EXTENSION_ID];
        assert_eq!(install["installation_mode"], "force_installed", "{file}");
        assert!(install["update_url"].as_str().is_some_and(|u| u.starts_with("https://")), "{file}");
        assert_eq!(policy["NativeMessagingAllowlist"], serde_json::json!([HOST_NAME]), "{file}");
        assert_eq!(policy["NativeMessagingUserLevelHosts"], false, "{file}");
        let settings = &policy["3rdparty"]["extensions"][EXTENSION_ID];
        assert_eq!(json_settings(settings), schema_settings(), "{file}");
    }
}

#[test]
fn firefox_policies_example_force_installs_and_sets_every_setting() {
    let policies = &read_json(&repo_root().join("policy/examples/firefox/policies.json"))["policies"];
    let install = &policies["ExtensionSettings"][FIREFOX_ID];
    assert_eq!(install["installation_mode"], "force_installed");
    assert!(install["install_url"].as_str().is_some_and(|u| u.ends_with(".xpi")));
    // Firefox spells the extensions member with a capital E.
    assert_eq!(json_settings(&policies["3rdparty"]["Extensions"][FIREFOX_ID]), schema_settings());
}

/// A .reg file as key -> (value name -> `string` | `dword`, value).
fn parse_reg(text: &str) -> BTreeMap<String, BTreeMap<String, (String, String)>> {
    let mut keys: BTreeMap<String, BTreeMap<String, (String, String)>> = BTreeMap::new();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("Windows Registry Editor Version 5.00"), "regedit header");
    let mut current: Option<String> = None;
    for line in lines.map(str::trim).filter(|l| !l.is_empty() && !l.starts_with(';')) {
        if let Some(key) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            keys.entry(key.to_string()).or_default();
            current = Some(key.to_string());
            continue;
        }
        let key = current.clone().unwrap_or_else(|| panic!("value outside a key: {line}"));
        let (name, value) = line.split_once('=').unwrap_or_else(|| panic!("not a value line: {line}"));
        let name = name.trim_matches('"').to_string();
        let value = if let Some(hex) = value.strip_prefix("dword:") {
            let n = u32::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("{line}: {e}"));
            ("dword".to_string(), n.to_string())
        } else {
            let s = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).expect("quoted string");
            ("string".to_string(), s.to_string())
        };
        keys.entry(key).or_default().insert(name, value);
    }
    keys
}

#[test]
fn windows_reg_examples_match_the_admx_keys_and_the_schema() {
    for (file, base) in [
        ("cis-renew-chrome.reg", "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome"),
        ("cis-renew-edge.reg", "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Edge"),
    ] {
        let text =
            std::fs::read_to_string(repo_root().join("policy/examples/windows").join(file)).expect("reg");
        let keys = parse_reg(&text);
        let forcelist = &keys[&format!("{base}\\ExtensionInstallForcelist")]["1"];
        assert!(forcelist.1.starts_with(&format!("{EXTENSION_ID};https://")), "{file}: {forcelist:?}");
        assert_eq!(keys[&format!("{base}\\NativeMessagingAllowlist")]["1"].1, HOST_NAME, "{file}");
        assert_eq!(keys[base]["NativeMessagingUserLevelHosts"], ("dword".into(), "0".into()), "{file}");
        let policy_key = format!("{base}\\3rdparty\\extensions\\{EXTENSION_ID}\\policy");
        let mut found = Settings::new();
        for (name, (kind, _)) in &keys[&policy_key] {
            found.insert(name.clone(), if kind == "dword" { "integer" } else { "string" }.to_string());
        }
        for (key, values) in &keys {
            if let Some(sub) = key.strip_prefix(&format!("{policy_key}\\")) {
                assert!(values.values().all(|v| v.0 == "string"), "{key}");
                if schema_settings().get(sub).map(String::as_str) == Some("object") {
                    assert!(values.keys().all(|k| object_members(sub).contains(k)), "{key}");
                    found.insert(sub.to_string(), "object".to_string());
                } else {
                    assert!(values.contains_key("1"), "{key}");
                    found.insert(sub.to_string(), "array".to_string());
                }
            }
        }
        assert_eq!(found, schema_settings(), "{file}");
        // The ADMX writes the same keys (its paths have no hive: HKLM is class="Machine").
        let admx = std::fs::read_to_string(repo_root().join("policy/windows/cis-renew.admx")).expect("admx");
        let relative = policy_key.replace("HKEY_LOCAL_MACHINE\\SOFTWARE", "Software");
        assert!(admx.contains(&format!("key=\"{relative}\"")), "{file}: ADMX uses {relative}");
    }
}
