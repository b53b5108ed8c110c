//! What a browser's policies do to cis-renew: is the extension force-installed (or blocked),
//! is the host blocked from native messaging, are user-level hosts allowed, and what the
//! extension's managed settings (`3rdparty`) say next to the host's own config.

use super::super::manifest::{Browser, HOST_NAME};
use super::policy_sources::Policies;
use super::Check;
use crate::config::Config;
use serde_json::{Map, Value};

/// What the policies mean for the other checks, and the lines they add to the report.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyVerdict {
    /// `NativeMessagingUserLevelHosts` is not `false` (Firefox has no such policy).
    pub user_level_hosts: bool,
    /// The report lines, named `policy <browser>`.
    pub checks: Vec<Check>,
}

/// Judges `browser`'s policies against the host's config.
pub fn judge(browser: Browser, policies: &Policies, config: &Config) -> PolicyVerdict {
    let name = format!("policy {browser}");
    let mut checks: Vec<Check> = policies.problems.iter().map(|p| Check::warn(&name, p.clone())).collect();
    if policies.sources.is_empty() {
        if checks.is_empty() {
            checks.push(Check::ok(&name, "no machine policies for this browser"));
        }
        return PolicyVerdict { user_level_hosts: true, checks };
    }
    let p = &policies.merged;
    let from = policies.sources.join(", ");
    let ids = accepted_ids(browser, config);
    let place = setting_place(browser, policies);
    let mut notes = Vec::new();
    let mut user_level_hosts = true;
    if !browser.is_firefox() {
        if let Some(check) = native_messaging_block(&name, p, &place) {
            checks.push(check);
        }
        if p.get("NativeMessagingUserLevelHosts").and_then(as_bool) == Some(false) {
            user_level_hosts = false;
            notes.push("NativeMessagingUserLevelHosts=false (per-user hosts ignored)".to_string());
        }
    }
    match install_state(browser, p, &ids) {
        Install::Forced(id, how) => notes.push(format!("force-installs {id} ({how})")),
        Install::Blocked(id, how) => checks.push(Check::fail(
            &name,
            &format!("{how} blocks the extension {id}: users cannot install it"),
            &force_install_fix(browser, &id, &place),
        )),
        Install::Others(others) => checks.push(Check::warn(
            &name,
            format!(
                "force-installs [{}] but not cis-renew ({}); users must install it themselves",
                others.join(", "),
                ids.join(", ")
            ),
        )),
        Install::NotManaged => notes.push("does not force-install cis-renew".into()),
    }
    checks.extend(managed_settings(&name, browser, p, &ids, config, &mut notes));
    // What the policies say, first, even beside a FAIL: support staff see the whole picture.
    checks.insert(0, Check::ok(&name, format!("{}; from {from}", notes.join("; "))));
    PolicyVerdict { user_level_hosts, checks }
}

/// The extension IDs the host config accepts for `browser` (Chromium IDs from
/// `chrome-extension://ID/` origins, Firefox add-on IDs as they are).
fn accepted_ids(browser: Browser, config: &Config) -> Vec<String> {
    config
        .allowed_origins
        .iter()
        .filter_map(|entry| {
            let entry = entry.trim();
            match entry.strip_prefix("chrome-extension://") {
                Some(rest) if !browser.is_firefox() => Some(rest.trim_end_matches('/').to_string()),
                None if browser.is_firefox() && !entry.contains("://") => Some(entry.to_string()),
                _ => None,
            }
        })
        .collect()
}

/// Where IT sets a policy for `browser`, for fix lines: the key or file it was read from.
fn setting_place(browser: Browser, policies: &Policies) -> String {
    match (policies.sources.first(), policies.files.first()) {
        (Some(first), _) if first.starts_with("HKLM") => first.clone(),
        (_, Some(file)) => file.display().to_string(),
        _ if browser.is_firefox() => "policies.json".into(),
        _ => "the browser's policies".into(),
    }
}

fn as_bool(value: &Value) -> Option<bool> {
    value.as_bool().or_else(|| value.as_u64().map(|n| n != 0))
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// `NativeMessagingBlocklist` naming us or `*`, without `NativeMessagingAllowlist` naming us.
fn native_messaging_block(name: &str, p: &Map<String, Value>, place: &str) -> Option<Check> {
    let blocked = strings(p.get("NativeMessagingBlocklist"));
    let allowed = strings(p.get("NativeMessagingAllowlist"));
    let hit = blocked.iter().find(|entry| entry.as_str() == "*" || entry.as_str() == HOST_NAME)?;
    if allowed.iter().any(|entry| entry == HOST_NAME) {
        return None;
    }
    Some(Check::fail(
        name,
        &format!(
            "NativeMessagingBlocklist lists \"{hit}\", so the browser will not start the host {HOST_NAME}"
        ),
        &format!("add \"{HOST_NAME}\" to NativeMessagingAllowlist (in {place})"),
    ))
}

enum Install {
    Forced(String, &'static str),
    Blocked(String, String),
    Others(Vec<String>),
    NotManaged,
}

/// Force-installed, blocked, or neither, by `ExtensionInstallForcelist`,
/// `ExtensionInstallBlocklist`/`Allowlist` and `ExtensionSettings` (Chromium), or
/// `ExtensionSettings` (Firefox).
fn install_state(browser: Browser, p: &Map<String, Value>, ids: &[String]) -> Install {
    let settings = p.get("ExtensionSettings").and_then(Value::as_object);
    let mode = |id: &str| {
        settings
            .and_then(|s| s.get(id))
            .and_then(|e| e.get("installation_mode"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let forcelist: Vec<String> = strings(p.get("ExtensionInstallForcelist"))
        .iter()
        .map(|entry| entry.split(';').next().unwrap_or_default().trim().to_string())
        .collect();
    for id in ids {
        if !browser.is_firefox() && forcelist.contains(id) {
            return Install::Forced(id.clone(), "ExtensionInstallForcelist");
        }
        if matches!(mode(id).as_deref(), Some("force_installed") | Some("normal_installed")) {
            return Install::Forced(id.clone(), "ExtensionSettings");
        }
    }
    let Some(id) = ids.first() else { return Install::NotManaged };
    for id in ids {
        if matches!(mode(id).as_deref(), Some("blocked") | Some("removed")) {
            return Install::Blocked(id.clone(), format!("ExtensionSettings[\"{id}\"]"));
        }
    }
    let wildcard_blocked = mode("*").as_deref() == Some("blocked");
    let listed_blocked = if browser.is_firefox() {
        false
    } else {
        let blocklist = strings(p.get("ExtensionInstallBlocklist"));
        let allowlist = strings(p.get("ExtensionInstallAllowlist"));
        let blocked = blocklist.iter().any(|e| e == "*" || ids.contains(e));
        blocked && !ids.iter().any(|id| allowlist.contains(id))
    };
    let allowed_by_settings = ids.iter().any(|id| mode(id).as_deref() == Some("allowed"));
    if listed_blocked {
        return Install::Blocked(id.clone(), "ExtensionInstallBlocklist".into());
    }
    if wildcard_blocked && !allowed_by_settings {
        return Install::Blocked(id.clone(), "ExtensionSettings[\"*\"] (installation_mode blocked)".into());
    }
    let mut others: Vec<String> = forcelist;
    if let Some(settings) = settings {
        others.extend(
            settings
                .iter()
                .filter(|(_, e)| {
                    matches!(e.get("installation_mode").and_then(Value::as_str), Some("force_installed"))
                })
                .map(|(k, _)| k.clone()),
        );
    }
    if others.is_empty() {
        Install::NotManaged
    } else {
        Install::Others(others)
    }
}

fn force_install_fix(browser: Browser, id: &str, place: &str) -> String {
    match browser {
        Browser::Firefox => format!(
            "set ExtensionSettings[\"{id}\"] to {{\"installation_mode\": \"force_installed\", \"install_url\": \
             \"<the signed XPI's URL>\"}} in {place}"
        ),
        _ => format!(
            "add \"{id};<update URL>\" to ExtensionInstallForcelist (or \"{id}\" to ExtensionInstallAllowlist) in \
             {place}"
        ),
    }
}

/// The extension's managed settings (`3rdparty`): listed, and the two the host decides
/// (`managedReader`, `renewalWindowDays`) compared with the host's config.
fn managed_settings(
    name: &str,
    browser: Browser,
    p: &Map<String, Value>,
    ids: &[String],
    config: &Config,
    notes: &mut Vec<String>,
) -> Vec<Check> {
    let group = if browser.is_firefox() { "Extensions" } else { "extensions" };
    let Some(extensions) = p.get("3rdparty").and_then(|t| t.get(group)).and_then(Value::as_object) else {
        return Vec::new();
    };
    let Some((id, settings)) = ids.iter().find_map(|id| extensions.get(id).map(|s| (id, s))) else {
        return Vec::new();
    };
    // The Windows key keeps them one level down, in `policy`.
    let settings = settings.get("policy").unwrap_or(settings);
    let Some(settings) = settings.as_object() else { return Vec::new() };
    let keys: Vec<&str> = settings.keys().map(String::as_str).collect();
    notes.push(format!("managed settings for {id}: {}", keys.join(", ")));
    let mut checks = Vec::new();
    if let Some(reader) = settings.get("managedReader").and_then(Value::as_str) {
        let host = config.managed_reader.clone().unwrap_or_else(|| "the second reader".into());
        if config.managed_reader.as_deref() != Some(reader) {
            checks.push(Check::warn(
                name,
                format!(
                    "3rdparty sets managedReader \"{reader}\" for the extension, but the host uses {host}; the host's \
                     setting decides (set \"managedReader\" in host.json to match)"
                ),
            ));
        }
    }
    if let Some(days) = settings.get("renewalWindowDays").and_then(Value::as_u64) {
        if days != u64::from(config.renewal_window_days) {
            checks.push(Check::warn(
                name,
                format!(
                    "3rdparty sets renewalWindowDays {days} for the extension, but the host uses {}; the host's \
                     setting decides (set \"renewalWindowDays\" in host.json to match)",
                    config.renewal_window_days
                ),
            ));
        }
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::identity::{CHROMIUM_ID, FIREFOX_ID};
    use serde_json::json;

    fn policies(value: Value) -> Policies {
        Policies {
            sources: vec!["/etc/chromium/policies/managed/it.json".into()],
            files: vec!["/etc/chromium/policies/managed/it.json".into()],
            merged: value.as_object().cloned().expect("object"),
            problems: Vec::new(),
        }
    }

    fn statuses(verdict: &PolicyVerdict) -> Vec<(super::super::Status, String)> {
        verdict.checks.iter().map(|c| (c.status, c.detail.clone())).collect()
    }

    #[test]
    fn no_policies_is_ok_and_allows_user_level_hosts() {
        let verdict = judge(Browser::Chrome, &Policies::default(), &Config::default());
        assert!(verdict.user_level_hosts);
        assert_eq!(
            statuses(&verdict),
            [(super::super::Status::Ok, "no machine policies for this browser".into())]
        );
    }

    #[test]
    fn blocklist_star_without_allowlist_fails_with_the_allowlist_fix() {
        let verdict = judge(
            Browser::Chromium,
            &policies(json!({"NativeMessagingBlocklist": ["*"]})),
            &Config::default(),
        );
        let fail = verdict.checks.iter().find(|c| c.status == super::super::Status::Fail).expect("a FAIL");
        assert_eq!(
            fail.detail,
            "NativeMessagingBlocklist lists \"*\", so the browser will not start the host uk.nhs.cis_renew. Fix: add \
             \"uk.nhs.cis_renew\" to NativeMessagingAllowlist (in /etc/chromium/policies/managed/it.json)."
        );
        // Naming the host blocks too; the allowlist lifts either.
        let named = judge(
            Browser::Edge,
            &policies(json!({"NativeMessagingBlocklist": [HOST_NAME]})),
            &Config::default(),
        );
        assert!(named.checks.iter().any(|c| c.status == super::super::Status::Fail));
        let allowed = judge(
            Browser::Chrome,
            &policies(json!({"NativeMessagingBlocklist": ["*"], "NativeMessagingAllowlist": [HOST_NAME]})),
            &Config::default(),
        );
        assert!(allowed.checks.iter().all(|c| c.status == super::super::Status::Ok), "{allowed:?}");
        // Another host blocked: not us.
        let other = judge(
            Browser::Chrome,
            &policies(json!({"NativeMessagingBlocklist": ["com.x"]})),
            &Config::default(),
        );
        assert!(other.checks.iter().all(|c| c.status == super::super::Status::Ok), "{other:?}");
    }

    #[test]
    fn user_level_hosts_false_from_a_file_or_a_dword() {
        for value in [json!(false), json!(0)] {
            let verdict = judge(
                Browser::Chrome,
                &policies(json!({"NativeMessagingUserLevelHosts": value})),
                &Config::default(),
            );
            assert!(!verdict.user_level_hosts);
            assert!(verdict.checks[0].detail.contains("NativeMessagingUserLevelHosts=false"), "{verdict:?}");
        }
        // Firefox has no such policy.
        let firefox = judge(
            Browser::Firefox,
            &policies(json!({"NativeMessagingUserLevelHosts": false})),
            &Config::default(),
        );
        assert!(firefox.user_level_hosts);
    }

    #[test]
    fn force_install_by_forcelist_or_extension_settings_names_the_id() {
        let forcelist =
            json!({"ExtensionInstallForcelist": [format!("{CHROMIUM_ID};https://it.example/updates.xml")]});
        let verdict = judge(Browser::Chrome, &policies(forcelist), &Config::default());
        assert!(
            verdict.checks[0]
                .detail
                .starts_with(&format!("force-installs {CHROMIUM_ID} (ExtensionInstallForcelist)")),
            "{verdict:?}"
        );
        let settings = json!({"ExtensionSettings": {CHROMIUM_ID: {"installation_mode": "force_installed"}}});
        let verdict = judge(Browser::Edge, &policies(settings), &Config::default());
        assert!(verdict.checks[0].detail.contains("(ExtensionSettings)"), "{verdict:?}");
        let firefox = json!({"ExtensionSettings": {FIREFOX_ID: {"installation_mode": "force_installed"}}});
        let verdict = judge(Browser::Firefox, &policies(firefox), &Config::default());
        assert!(verdict.checks[0].detail.contains(&format!("force-installs {FIREFOX_ID}")), "{verdict:?}");
    }

    #[test]
    fn extension_blocked_fails_and_another_forced_extension_warns() {
        let cases = [
            (
                Browser::Chrome,
                json!({"ExtensionInstallBlocklist": ["*"]}),
                "ExtensionInstallBlocklist blocks",
            ),
            (
                Browser::Chromium,
                json!({"ExtensionSettings": {"*": {"installation_mode": "blocked"}}}),
                "ExtensionSettings[\"*\"] (installation_mode blocked) blocks",
            ),
            (
                Browser::Firefox,
                json!({"ExtensionSettings": {FIREFOX_ID: {"installation_mode": "blocked"}}}),
                "ExtensionSettings[\"cis-renew@digital.nhs.uk\"] blocks",
            ),
        ];
        for (browser, policy, needle) in cases {
            let verdict = judge(browser, &policies(policy), &Config::default());
            let fail = verdict.checks.iter().find(|c| c.status == super::super::Status::Fail).expect("FAIL");
            assert!(fail.detail.contains(needle), "{browser}: {}", fail.detail);
            assert!(fail.detail.contains(". Fix: "), "{}", fail.detail);
        }
        // The allowlist lifts a blocklist.
        let allowed = json!({"ExtensionInstallBlocklist": ["*"], "ExtensionInstallAllowlist": [CHROMIUM_ID]});
        let verdict = judge(Browser::Chrome, &policies(allowed), &Config::default());
        assert!(verdict.checks.iter().all(|c| c.status != super::super::Status::Fail), "{verdict:?}");
        let others = json!({"ExtensionInstallForcelist": ["aaaabbbbccccddddeeeeffffgggghhhh"]});
        let verdict = judge(Browser::Chrome, &policies(others), &Config::default());
        assert!(
            verdict
                .checks
                .iter()
                .any(|c| c.status == super::super::Status::Warn && c.detail.contains("but not cis-renew")),
            "{verdict:?}"
        );
    }

    #[test]
    fn managed_settings_are_listed_and_compared_with_the_host_config() {
        let firefox = json!({"3rdparty": {"Extensions": {FIREFOX_ID: {
            "portalOrigins": ["https://cis.example"], "managedReader": "*00", "renewalWindowDays": 30
        }}}});
        let verdict = judge(Browser::Firefox, &policies(firefox), &Config::default());
        assert!(
            verdict.checks[0].detail.contains(&format!(
                "managed settings for {FIREFOX_ID}: managedReader, portalOrigins, renewalWindowDays"
            )),
            "{verdict:?}"
        );
        let warns: Vec<&str> = verdict
            .checks
            .iter()
            .filter(|c| c.status == super::super::Status::Warn)
            .map(|c| c.detail.as_str())
            .collect();
        assert_eq!(warns.len(), 2, "{warns:?}");
        assert!(
            warns[0].contains("managedReader \"*00\"") && warns[0].contains("the second reader"),
            "{warns:?}"
        );
        assert!(warns[1].contains("renewalWindowDays 30") && warns[1].contains("host uses 90"), "{warns:?}");
        // The Windows shape (3rdparty\extensions\ID\policy) agreeing with the host: no warning.
        let config = Config { managed_reader: Some("*00".into()), ..Config::default() };
        let chrome = json!({"3rdparty": {"extensions": {CHROMIUM_ID: {"policy": {"managedReader": "*00"}}}}});
        let verdict = judge(Browser::Chrome, &policies(chrome), &config);
        assert!(verdict.checks.iter().all(|c| c.status == super::super::Status::Ok), "{verdict:?}");
    }

    #[test]
    fn unreadable_policy_files_warn() {
        let mut broken = Policies::default();
        broken
            .problems
            .push("/etc/chromium/policies/managed/x.json is not JSON (..), so the browser ignores it".into());
        let verdict = judge(Browser::Chromium, &broken, &Config::default());
        assert_eq!(verdict.checks.len(), 1);
        assert_eq!(verdict.checks[0].status, super::super::Status::Warn);
    }
}
