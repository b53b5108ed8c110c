//! Each browser's registration of the host: found in the browser's own lookup order
//! ([`lookup_order`]), so the one reported is the one the browser uses; the others are
//! shadowed and only warned about.

use super::super::install::rooted;
use super::super::locations::{lookup_order, Os, Place, Scope};
use super::super::manifest::{Browser, HostManifest, HOST_NAME};
use super::policies::PolicyVerdict;
use super::{install_command, Check, Inputs};
use crate::caller::Caller;
use crate::config::Config;
use std::path::{Path, PathBuf};

/// The registration check, and the manifest file the browser uses when it is a system one
/// (whose owner and mode matter).
pub struct Registration {
    /// The report line.
    pub check: Check,
    /// The manifest file the browser uses, when it is registered for the whole machine.
    pub system_manifest: Option<PathBuf>,
}

/// A registration that exists: where, and the manifest file it leads to.
struct Found {
    shown: String,
    scope: Scope,
    file: PathBuf,
}

/// Every registration of `browser` that exists, in lookup order, and every place looked at.
fn registrations(inputs: &Inputs, browser: Browser) -> (Vec<Found>, Vec<String>) {
    let mut found = Vec::new();
    let mut looked = Vec::new();
    for lookup in lookup_order(inputs.os, browser, inputs.env.home.as_deref()) {
        looked.push(lookup.place.to_string());
        match &lookup.place {
            Place::File(file) => {
                let file = rooted(inputs.root.as_deref(), file);
                if file.is_file() {
                    found.push(Found { shown: file.display().to_string(), scope: lookup.scope, file });
                }
            }
            Place::Key(key) => {
                if let Ok(Some(value)) = inputs.registry.get(key) {
                    found.push(Found {
                        shown: format!("{key} -> {value}"),
                        scope: lookup.scope,
                        file: value.into(),
                    });
                }
            }
        }
    }
    (found, looked)
}

/// Finds the registration `browser` uses and checks its manifest.
pub fn check_browser(
    inputs: &Inputs,
    browser: Browser,
    config: &Config,
    policy: &PolicyVerdict,
) -> Registration {
    let name = format!("manifest {browser}");
    let (found, looked) = registrations(inputs, browser);
    // NativeMessagingUserLevelHosts=false: the browser skips the per-user places.
    let (ignored, used): (Vec<Found>, Vec<Found>) =
        found.into_iter().partition(|f| f.scope == Scope::User && !policy.user_level_hosts);
    let Some(winner) = used.first() else {
        let check = match ignored.first() {
            Some(user) => Check::fail(
                &name,
                &format!(
                    "registered only for this user ({}), and the policy NativeMessagingUserLevelHosts=false makes \
                     {browser} ignore per-user hosts",
                    user.shown
                ),
                &format!(
                    "{} (or set NativeMessagingUserLevelHosts to true)",
                    install_command(inputs.os, browser)
                ),
            ),
            None => Check::fail(
                &name,
                &format!("not registered: {browser} cannot start the host (looked in {})", looked.join(", ")),
                &install_command(inputs.os, browser),
            ),
        };
        return Registration { check, system_manifest: None };
    };
    let system_manifest = (winner.scope == Scope::System).then(|| winner.file.clone());
    let check = match check_manifest_file(inputs, browser, &winner.file, config) {
        Err((problem, fix)) => Check::fail(&name, &format!("{}: {problem}", winner.shown), &fix),
        Ok(()) => {
            // A shadowed registration that is also right is harmless (the packages write both
            // of Firefox's lib folders); a broken one would surface when the first goes.
            let mut harmless = Vec::new();
            let mut broken = Vec::new();
            for f in &used[1..] {
                match check_manifest_file(inputs, browser, &f.file, config) {
                    Ok(()) => harmless.push(f.shown.clone()),
                    Err((problem, _)) => {
                        broken.push(format!("{} (not read: the first one wins): {problem}", f.shown))
                    }
                }
            }
            let mut also = String::new();
            if !harmless.is_empty() {
                also.push_str(&format!("; also, not read and also right: {}", harmless.join(", ")));
            }
            if !ignored.is_empty() {
                let shown: Vec<&str> = ignored.iter().map(|f| f.shown.as_str()).collect();
                also.push_str(&format!(
                    "; ignored (NativeMessagingUserLevelHosts=false): {}",
                    shown.join(", ")
                ));
            }
            if broken.is_empty() {
                Check::ok(&name, format!("{} (used by {browser}){also}", winner.shown))
            } else {
                Check::warn(
                    &name,
                    format!("{} (used by {browser}); shadowed: {}{also}", winner.shown, broken.join("; ")),
                )
            }
        }
    };
    Registration { check, system_manifest }
}

/// Reads one manifest and checks its name, type, path and allowed callers; a problem comes
/// with its fix.
fn check_manifest_file(
    inputs: &Inputs,
    browser: Browser,
    file: &Path,
    config: &Config,
) -> Result<(), (String, String)> {
    let reinstall = || install_command(inputs.os, browser);
    let text = std::fs::read_to_string(file).map_err(|e| (format!("cannot be read ({e})"), reinstall()))?;
    let manifest = HostManifest::parse(&text).map_err(|e| (e, reinstall()))?;
    if manifest.name != HOST_NAME {
        return Err((format!("names the host '{}', not '{HOST_NAME}'", manifest.name), reinstall()));
    }
    if manifest.kind != "stdio" {
        return Err((format!("has type '{}', not 'stdio'", manifest.kind), reinstall()));
    }
    let named = Path::new(&manifest.path);
    let target = if inputs.os == Os::Windows && !is_windows_absolute(&manifest.path) {
        // Chrome and Firefox resolve a relative path against the manifest's folder on Windows.
        file.parent().map(|dir| dir.join(named)).unwrap_or_else(|| named.to_path_buf())
    } else if inputs.os != Os::Windows && !named.is_absolute() {
        return Err((
            format!("path '{}' is not absolute; browsers on this OS refuse that", manifest.path),
            reinstall(),
        ));
    } else {
        named.to_path_buf()
    };
    let same = match (target.canonicalize(), inputs.exe.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        (Err(_), _) => {
            return Err((format!("points at {}, which does not exist", target.display()), reinstall()))
        }
        (Ok(_), Err(_)) => false,
    };
    if !same {
        return Err((
            format!("points at {}, not at this program ({})", target.display(), inputs.exe.display()),
            reinstall(),
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
        let problem = format!(
            "{member} lists [{}], none of which this host accepts (allowedOrigins: [{}])",
            listed.join(", "),
            config.allowed_origins.join(", ")
        );
        let fix = match listed.first() {
            Some(entry) => format!(
                "add \"{entry}\" to \"allowedOrigins\" in {} if that is your extension, else {}",
                super::config::config_path().display(),
                reinstall()
            ),
            None => reinstall(),
        };
        return Err((problem, fix));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::install::Env;
    use crate::deploy::locations::{Hive, RegistryKey, View};
    use crate::deploy::manifest::StoreIds;
    use crate::deploy::registry::{MemoryRegistry, Registry};

    fn inputs<'a>(registry: &'a MemoryRegistry, exe: &Path) -> Inputs<'a> {
        Inputs {
            os: Os::Windows,
            browsers: vec![Browser::Chrome],
            root: None,
            env: Env { home: None, program_data: None, local_app_data: None },
            exe: exe.to_path_buf(),
            registry,
        }
    }

    fn key(hive: Hive, view: View, vendor: &str) -> RegistryKey {
        RegistryKey { hive, view, path: format!("Software\\{vendor}\\NativeMessagingHosts\\{HOST_NAME}") }
    }

    fn allow_all() -> PolicyVerdict {
        PolicyVerdict { user_level_hosts: true, checks: Vec::new() }
    }

    /// A good manifest for `browser` naming `exe`, and a broken one, in `dir`.
    fn manifests(dir: &Path, exe: &Path, browser: Browser) -> (String, String) {
        let good = dir.join(format!("{browser}-good.json"));
        let text =
            HostManifest::for_browser(browser, &exe.display().to_string(), &StoreIds::default()).to_text();
        std::fs::write(&good, text).expect("write");
        let bad = dir.join(format!("{browser}-bad.json"));
        let text =
            HostManifest::for_browser(browser, "C:\\nowhere\\host.exe", &StoreIds::default()).to_text();
        std::fs::write(&bad, text).expect("write");
        (good.display().to_string(), bad.display().to_string())
    }

    #[test]
    fn windows_32_bit_view_wins_over_the_64_bit_view_as_in_chrome() {
        let dir = tempfile::tempdir().expect("tmp");
        let exe = dir.path().join("cis-renew-host.exe");
        std::fs::write(&exe, "").expect("exe");
        let (good, bad) = manifests(dir.path(), &exe, Browser::Chrome);
        let mut registry = MemoryRegistry::default();
        // The 64-bit view is right, but Chrome reads WOW6432Node first, where a stale key is.
        registry.set(&key(Hive::LocalMachine, View::Native, "Google\\Chrome"), &good).expect("set");
        registry.set(&key(Hive::LocalMachine, View::Wow32, "Google\\Chrome"), &bad).expect("set");
        let result =
            check_browser(&inputs(&registry, &exe), Browser::Chrome, &Config::default(), &allow_all());
        assert_eq!(result.check.status, super::super::Status::Fail, "{:?}", result.check);
        assert!(
            result.check.detail.starts_with(&format!(
                "HKLM\\Software\\WOW6432Node\\Google\\Chrome\\NativeMessagingHosts\\{HOST_NAME} -> {bad}: points at"
            )),
            "{}",
            result.check.detail
        );
        // With the stale key gone, the 64-bit one is used.
        registry.delete(&key(Hive::LocalMachine, View::Wow32, "Google\\Chrome")).expect("delete");
        let result =
            check_browser(&inputs(&registry, &exe), Browser::Chrome, &Config::default(), &allow_all());
        assert_eq!(result.check.status, super::super::Status::Ok, "{:?}", result.check);
        assert_eq!(result.system_manifest, Some(PathBuf::from(&good)));
    }

    #[test]
    fn hkcu_wins_and_the_shadowed_hklm_key_is_warned_about() {
        let dir = tempfile::tempdir().expect("tmp");
        let exe = dir.path().join("cis-renew-host.exe");
        std::fs::write(&exe, "").expect("exe");
        let (good, bad) = manifests(dir.path(), &exe, Browser::Firefox);
        let mut registry = MemoryRegistry::default();
        registry.set(&key(Hive::CurrentUser, View::Native, "Mozilla"), &good).expect("set");
        registry.set(&key(Hive::LocalMachine, View::Native, "Mozilla"), &bad).expect("set");
        let result =
            check_browser(&inputs(&registry, &exe), Browser::Firefox, &Config::default(), &allow_all());
        assert_eq!(result.check.status, super::super::Status::Warn, "{:?}", result.check);
        assert!(result
            .check
            .detail
            .starts_with(&format!("HKCU\\Software\\Mozilla\\NativeMessagingHosts\\{HOST_NAME}")));
        assert!(
            result.check.detail.contains("(not read: the first one wins): points at C:\\nowhere"),
            "{}",
            result.check.detail
        );
        // A per-user registration is not a system manifest.
        assert_eq!(result.system_manifest, None);
    }

    #[test]
    fn edge_falls_back_to_chromes_key_and_user_level_policy_skips_hkcu() {
        let dir = tempfile::tempdir().expect("tmp");
        let exe = dir.path().join("cis-renew-host.exe");
        std::fs::write(&exe, "").expect("exe");
        let (good, _) = manifests(dir.path(), &exe, Browser::Edge);
        let mut registry = MemoryRegistry::default();
        registry.set(&key(Hive::LocalMachine, View::Native, "Google\\Chrome"), &good).expect("set");
        let result = check_browser(&inputs(&registry, &exe), Browser::Edge, &Config::default(), &allow_all());
        assert_eq!(result.check.status, super::super::Status::Ok, "{:?}", result.check);
        assert!(
            result.check.detail.starts_with("HKLM\\Software\\Google\\Chrome\\"),
            "{}",
            result.check.detail
        );

        // Only a per-user registration, and the policy says no per-user hosts.
        let mut registry = MemoryRegistry::default();
        registry.set(&key(Hive::CurrentUser, View::Native, "Microsoft\\Edge"), &good).expect("set");
        let no_user = PolicyVerdict { user_level_hosts: false, checks: Vec::new() };
        let result = check_browser(&inputs(&registry, &exe), Browser::Edge, &Config::default(), &no_user);
        assert_eq!(result.check.status, super::super::Status::Fail);
        assert!(result.check.detail.contains("NativeMessagingUserLevelHosts=false makes edge ignore"));
        assert!(
            result.check.detail.ends_with(
                "Fix: repair or reinstall the cis-renew MSI, or run `cis-renew-host install --system --browser edge` \
                 as administrator (or set NativeMessagingUserLevelHosts to true)."
            ),
            "{}",
            result.check.detail
        );
    }

    /// The whole Windows path: the policy read from the registry (a DWORD 0) makes Chrome skip
    /// HKCU, so a per-user-only registration is a FAIL; with a system key as well, HKLM is used.
    #[test]
    fn registry_policy_user_level_hosts_off_skips_hkcu() {
        use crate::deploy::locations::policy_key;
        use crate::deploy::registry::RegValue;
        let dir = tempfile::tempdir().expect("tmp");
        let exe = dir.path().join("cis-renew-host.exe");
        std::fs::write(&exe, "").expect("exe");
        let (good, _) = manifests(dir.path(), &exe, Browser::Chrome);
        let mut registry = MemoryRegistry::default();
        registry.set(&key(Hive::CurrentUser, View::Native, "Google\\Chrome"), &good).expect("set");
        registry.set_value(&policy_key(Browser::Chrome), "NativeMessagingUserLevelHosts", RegValue::Dword(0));
        let verdict = |registry: &MemoryRegistry| {
            let policies = super::super::policy_sources::read(&inputs(registry, &exe), Browser::Chrome);
            super::super::policies::judge(Browser::Chrome, &policies, &Config::default())
        };
        let policy = verdict(&registry);
        assert!(!policy.user_level_hosts);
        assert!(
            policy.checks[0].detail.ends_with("; from HKLM\\Software\\Policies\\Google\\Chrome"),
            "{policy:?}"
        );
        let result = check_browser(&inputs(&registry, &exe), Browser::Chrome, &Config::default(), &policy);
        assert_eq!(result.check.status, super::super::Status::Fail, "{:?}", result.check);
        registry.set(&key(Hive::LocalMachine, View::Native, "Google\\Chrome"), &good).expect("set");
        let result =
            check_browser(&inputs(&registry, &exe), Browser::Chrome, &Config::default(), &verdict(&registry));
        assert_eq!(result.check.status, super::super::Status::Ok, "{:?}", result.check);
        assert!(
            result.check.detail.starts_with("HKLM\\Software\\Google\\Chrome\\"),
            "{}",
            result.check.detail
        );
        assert!(
            result.check.detail.contains("; ignored (NativeMessagingUserLevelHosts=false): HKCU"),
            "{}",
            result.check.detail
        );
    }
}
