//! Where each browser looks for host manifests: the one table, per OS, per browser, for the
//! whole machine (system) and for one person (user).
//!
//! Linux and macOS browsers read `<dir>/uk.nhs.cis_renew.json`. Windows browsers read the default
//! value of a registry key, which holds the path of the manifest file. docs/deployment.md shows
//! this table as [`markdown_table`] renders it, and a test keeps the two equal.
//!
//! Lookup order, which `doctor` follows ([`lookup_order`]): the per-user place first, then the
//! system one; the first registration found wins, the others are never read. A policy
//! `NativeMessagingUserLevelHosts=false` makes Chrome, Chromium and Edge skip the user places.

use super::manifest::{Browser, HOST_NAME};
use std::fmt;
use std::path::{Path, PathBuf};

/// An operating system the host ships for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Linux (Debian, Ubuntu, RHEL...).
    Linux,
    /// macOS.
    MacOs,
    /// Windows.
    Windows,
}

impl Os {
    /// Every OS, in table order.
    pub const ALL: [Os; 3] = [Os::Linux, Os::MacOs, Os::Windows];

    /// The OS this binary was built for.
    pub fn current() -> Os {
        if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        }
    }

    /// The name used on the command line and in `manifests/`.
    pub fn as_str(self) -> &'static str {
        match self {
            Os::Linux => "linux",
            Os::MacOs => "macos",
            Os::Windows => "windows",
        }
    }

    /// Parses a command-line OS name.
    pub fn parse(name: &str) -> Option<Os> {
        Os::ALL.into_iter().find(|os| os.as_str() == name)
    }

    /// Where the packages put the host, which the committed manifests name. On Windows the path
    /// is relative to the manifest's folder (both Chrome and Firefox allow that), so the MSI's
    /// INSTALLDIR may be changed by IT.
    pub fn packaged_executable(self) -> &'static str {
        match self {
            Os::Linux => "/usr/lib/cis-renew/cis-renew-host",
            Os::MacOs => "/Library/Application Support/cis-renew/cis-renew-host",
            Os::Windows => "cis-renew-host.exe",
        }
    }
}

/// Whole machine or one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// For everyone on the machine (needs root or administrator rights).
    System,
    /// For the person running the command.
    User,
}

impl Scope {
    /// `system` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::System => "system",
            Scope::User => "user",
        }
    }
}

/// A registry root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hive {
    /// HKEY_LOCAL_MACHINE.
    LocalMachine,
    /// HKEY_CURRENT_USER.
    CurrentUser,
}

/// A registry view. HKLM\Software is split for 32-bit programs; HKCU\Software is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum View {
    /// The 64-bit view (what 64-bit programs see).
    Native,
    /// The 32-bit view (`WOW6432Node`), which 32-bit Firefox reads.
    Wow32,
}

/// A registry key whose default value is the manifest's path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RegistryKey {
    /// The root.
    pub hive: Hive,
    /// The view.
    pub view: View,
    /// The path below the root, e.g. `Software\Google\Chrome\NativeMessagingHosts\uk.nhs.cis_renew`.
    pub path: String,
}

impl fmt::Display for RegistryKey {
    /// The path as regedit shows it: `HKLM\Software\WOW6432Node\...` for the 32-bit view.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hive = match self.hive {
            Hive::LocalMachine => "HKLM",
            Hive::CurrentUser => "HKCU",
        };
        match (self.view, self.path.strip_prefix("Software\\")) {
            (View::Wow32, Some(rest)) => write!(f, "{hive}\\Software\\WOW6432Node\\{rest}"),
            _ => write!(f, "{hive}\\{}", self.path),
        }
    }
}

/// The file name browsers look for on Linux and macOS.
pub fn manifest_file_name() -> String {
    format!("{HOST_NAME}.json")
}

/// System directories (absolute) and user directories (relative to the home directory).
fn dir_table(os: Os, browser: Browser) -> (&'static [&'static str], &'static [&'static str]) {
    match (os, browser) {
        (Os::Linux, Browser::Chrome) => {
            (&["/etc/opt/chrome/native-messaging-hosts"], &[".config/google-chrome/NativeMessagingHosts"])
        }
        (Os::Linux, Browser::Chromium) => {
            (&["/etc/chromium/native-messaging-hosts"], &[".config/chromium/NativeMessagingHosts"])
        }
        (Os::Linux, Browser::Edge) => {
            (&["/etc/opt/edge/native-messaging-hosts"], &[".config/microsoft-edge/NativeMessagingHosts"])
        }
        // Firefox looks in both lib dirs whatever the distribution; RPM-based ones use lib64.
        (Os::Linux, Browser::Firefox) => (
            &["/usr/lib/mozilla/native-messaging-hosts", "/usr/lib64/mozilla/native-messaging-hosts"],
            &[".mozilla/native-messaging-hosts"],
        ),
        (Os::MacOs, Browser::Chrome) => (
            &["/Library/Google/Chrome/NativeMessagingHosts"],
            &["Library/Application Support/Google/Chrome/NativeMessagingHosts"],
        ),
        (Os::MacOs, Browser::Chromium) => (
            &["/Library/Application Support/Chromium/NativeMessagingHosts"],
            &["Library/Application Support/Chromium/NativeMessagingHosts"],
        ),
        (Os::MacOs, Browser::Edge) => (
            &["/Library/Microsoft/Edge/NativeMessagingHosts"],
            &["Library/Application Support/Microsoft Edge/NativeMessagingHosts"],
        ),
        (Os::MacOs, Browser::Firefox) => (
            &["/Library/Application Support/Mozilla/NativeMessagingHosts"],
            &["Library/Application Support/Mozilla/NativeMessagingHosts"],
        ),
        (Os::Windows, _) => (&[], &[]),
    }
}

/// The directories `browser` reads manifests from on `os` (Linux and macOS; empty on Windows).
pub fn manifest_dirs(os: Os, scope: Scope, browser: Browser, home: &Path) -> Vec<PathBuf> {
    let (system, user) = dir_table(os, browser);
    match scope {
        Scope::System => system.iter().map(PathBuf::from).collect(),
        Scope::User => user.iter().map(|dir| home.join(dir)).collect(),
    }
}

/// The vendor folder below `Software\` of `browser`'s registry keys (host and policy keys).
fn vendor(browser: Browser) -> &'static str {
    match browser {
        Browser::Chrome => "Google\\Chrome",
        Browser::Chromium => "Chromium",
        Browser::Edge => "Microsoft\\Edge",
        Browser::Firefox => "Mozilla",
    }
}

fn host_key_path(vendor: &str) -> String {
    format!("Software\\{vendor}\\NativeMessagingHosts\\{HOST_NAME}")
}

/// The registry key path of `browser` below HKLM or HKCU (the same in both, and in both views).
pub fn registry_path(browser: Browser) -> String {
    host_key_path(vendor(browser))
}

/// A place a browser reads a host registration from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A manifest file (Linux, macOS).
    File(PathBuf),
    /// A registry key whose default value is the manifest's path (Windows).
    Key(RegistryKey),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::File(path) => write!(f, "{}", path.display()),
            Place::Key(key) => write!(f, "{key}"),
        }
    }
}

/// One entry of a browser's lookup order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// Where.
    pub place: Place,
    /// Per user or whole machine (`NativeMessagingUserLevelHosts=false` skips the user ones).
    pub scope: Scope,
}

/// The places `browser` reads our registration from on `os`, in the order it reads them; the
/// first one that exists is used and the rest are not read. `home` is `None` when there is no
/// home directory (then there are no per-user places on Linux and macOS).
///
/// - Linux, macOS: the user folder, then the system folder(s) (Chrome's `FindManifest` in
///   `native_process_launcher_posix.cc`; Firefox's `NativeManifests.sys.mjs`: user, then system).
/// - Windows: HKCU, then HKLM's 32-bit view (`WOW6432Node`), then HKLM's 64-bit view. Chrome's
///   `native_process_launcher_win.cc` ("First check 32-bit registry and then try 64-bit"),
///   Firefox's `_winLookup` (HKCU, HKLM `WOW64_32`, HKLM `WOW64_64`), Edge's documented search
///   order. HKCU\Software is not split by view, so it is one place. Within each view Chromium
///   reads its own key then Chrome's, and Edge reads its own, then Chromium's, then Chrome's.
pub fn lookup_order(os: Os, browser: Browser, home: Option<&Path>) -> Vec<Lookup> {
    match os {
        Os::Windows => {
            let vendors: &[&str] = match browser {
                Browser::Chrome => &["Google\\Chrome"],
                Browser::Chromium => &["Chromium", "Google\\Chrome"],
                Browser::Edge => &["Microsoft\\Edge", "Chromium", "Google\\Chrome"],
                Browser::Firefox => &["Mozilla"],
            };
            let roots = [
                (Hive::CurrentUser, View::Native, Scope::User),
                (Hive::LocalMachine, View::Wow32, Scope::System),
                (Hive::LocalMachine, View::Native, Scope::System),
            ];
            roots
                .iter()
                .flat_map(|&(hive, view, scope)| {
                    vendors.iter().map(move |v| Lookup {
                        place: Place::Key(RegistryKey { hive, view, path: host_key_path(v) }),
                        scope,
                    })
                })
                .collect()
        }
        _ => {
            let file = manifest_file_name();
            let user = home
                .map(|home| manifest_dirs(os, Scope::User, browser, home))
                .unwrap_or_default()
                .into_iter()
                .map(|dir| Lookup { place: Place::File(dir.join(&file)), scope: Scope::User });
            let system = manifest_dirs(os, Scope::System, browser, Path::new("/"))
                .into_iter()
                .map(|dir| Lookup { place: Place::File(dir.join(&file)), scope: Scope::System });
            user.chain(system).collect()
        }
    }
}

/// The registry key of `browser`'s machine policies (`HKLM\Software\Policies\...`, 64-bit view).
pub fn policy_key(browser: Browser) -> RegistryKey {
    let path = match browser {
        Browser::Firefox => "Software\\Policies\\Mozilla\\Firefox".to_string(),
        other => format!("Software\\Policies\\{}", vendor(other)),
    };
    RegistryKey { hive: Hive::LocalMachine, view: View::Native, path }
}

/// The policy files `browser` reads on Linux, in the order they apply (a later file's policy
/// replaces an earlier one's; Chromium-family browsers read every `*.json` in the folder).
/// Firefox reads one `policies.json`: the system one (`/etc/firefox/policies`) when it exists,
/// else the one in the installation's `distribution` folder.
pub fn policy_sources(os: Os, browser: Browser) -> Vec<PolicySource> {
    match (os, browser) {
        (Os::Linux, Browser::Chrome) => vec![PolicySource::Folder("/etc/opt/chrome/policies/managed".into())],
        (Os::Linux, Browser::Chromium) => vec![PolicySource::Folder("/etc/chromium/policies/managed".into())],
        (Os::Linux, Browser::Edge) => vec![PolicySource::Folder("/etc/opt/edge/policies/managed".into())],
        (Os::Linux, Browser::Firefox) => vec![PolicySource::FirstFile(vec![
            "/etc/firefox/policies/policies.json".into(),
            // Firefox ESR's own system folder (`/etc/<app name>`, Debian's firefox-esr).
            "/etc/firefox-esr/policies/policies.json".into(),
            "/usr/lib/firefox-esr/distribution/policies.json".into(),
            "/usr/lib/firefox/distribution/policies.json".into(),
        ])],
        // Firefox on Windows merges three sources, later ones winning policy by policy (its
        // CombinedProvider and WindowsGPOPoliciesProvider): `policies.json` in the installation's
        // `distribution` folder, then the user's policy key, then the machine's.
        (Os::Windows, Browser::Firefox) => {
            let machine = policy_key(Browser::Firefox);
            let user = RegistryKey { hive: Hive::CurrentUser, ..machine.clone() };
            vec![
                PolicySource::FirstFile(vec![
                    "C:\\Program Files\\Mozilla Firefox\\distribution\\policies.json".into(),
                    "C:\\Program Files (x86)\\Mozilla Firefox\\distribution\\policies.json".into(),
                ]),
                PolicySource::Registry(user),
                PolicySource::Registry(machine),
            ]
        }
        (Os::Windows, browser) => vec![PolicySource::Registry(policy_key(browser))],
        // macOS policies are configuration profiles (plists), which doctor does not read.
        (Os::MacOs, _) => Vec::new(),
    }
}

/// Where a browser's policies come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// Every `*.json` in the folder, in name order.
    Folder(PathBuf),
    /// The first of these files that exists.
    FirstFile(Vec<PathBuf>),
    /// A registry key tree.
    Registry(RegistryKey),
}

/// The registry keys to write for `browser` on Windows. Every browser reads both HKLM views
/// ([`lookup_order`]), so the native one is enough; Firefox gets both anyway, as older installs
/// did (both name the same manifest, so whichever Firefox reads first is right). HKCU\Software
/// is not split, so one key.
pub fn registry_keys(scope: Scope, browser: Browser) -> Vec<RegistryKey> {
    let path = registry_path(browser);
    match scope {
        Scope::User => vec![RegistryKey { hive: Hive::CurrentUser, view: View::Native, path }],
        Scope::System if browser.is_firefox() => vec![
            RegistryKey { hive: Hive::LocalMachine, view: View::Native, path: path.clone() },
            RegistryKey { hive: Hive::LocalMachine, view: View::Wow32, path },
        ],
        Scope::System => vec![RegistryKey { hive: Hive::LocalMachine, view: View::Native, path }],
    }
}

/// Where `install` writes the Windows manifest files: `%ProgramData%\cis-renew\manifests` or
/// `%LOCALAPPDATA%\cis-renew\manifests`. (The MSI puts them next to the .exe instead.)
pub fn windows_manifest_file(base: &str, browser: Browser) -> String {
    format!("{}\\cis-renew\\manifests\\{browser}.json", base.trim_end_matches('\\'))
}

/// The table in docs/deployment.md.
pub fn markdown_table() -> String {
    let mut out =
        String::from("| OS | Browser | System (all users) | Per user |\n| --- | --- | --- | --- |\n");
    for os in Os::ALL {
        for browser in Browser::ALL {
            let (system, user) = match os {
                Os::Windows => {
                    let join = |keys: Vec<RegistryKey>| {
                        keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join("<br>")
                    };
                    (join(registry_keys(Scope::System, browser)), join(registry_keys(Scope::User, browser)))
                }
                _ => {
                    let (system, user) = dir_table(os, browser);
                    let file = manifest_file_name();
                    (
                        system.iter().map(|d| format!("`{d}/{file}`")).collect::<Vec<_>>().join("<br>"),
                        user.iter().map(|d| format!("`~/{d}/{file}`")).collect::<Vec<_>>().join("<br>"),
                    )
                }
            };
            out.push_str(&format!("| {} | {browser} | {system} | {user} |\n", os.as_str()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_dirs_linux_firefox_system_has_both_lib_dirs() {
        let dirs = manifest_dirs(Os::Linux, Scope::System, Browser::Firefox, Path::new("/home/a"));
        assert_eq!(
            dirs,
            vec![
                PathBuf::from("/usr/lib/mozilla/native-messaging-hosts"),
                PathBuf::from("/usr/lib64/mozilla/native-messaging-hosts")
            ]
        );
    }

    #[test]
    fn manifest_dirs_user_are_under_home() {
        for os in [Os::Linux, Os::MacOs] {
            for browser in Browser::ALL {
                let dirs = manifest_dirs(os, Scope::User, browser, Path::new("/home/a"));
                assert_eq!(dirs.len(), 1);
                assert!(dirs[0].starts_with("/home/a"), "{dirs:?}");
                let system = manifest_dirs(os, Scope::System, browser, Path::new("/home/a"));
                assert!(!system.is_empty() && system.iter().all(|d| d.is_absolute()), "{system:?}");
            }
        }
    }

    #[test]
    fn manifest_dirs_windows_is_empty() {
        assert!(manifest_dirs(Os::Windows, Scope::System, Browser::Chrome, Path::new("/h")).is_empty());
    }

    #[test]
    fn registry_keys_firefox_system_writes_both_views() {
        let keys: Vec<String> =
            registry_keys(Scope::System, Browser::Firefox).iter().map(ToString::to_string).collect();
        assert_eq!(
            keys,
            vec![
                "HKLM\\Software\\Mozilla\\NativeMessagingHosts\\uk.nhs.cis_renew",
                "HKLM\\Software\\WOW6432Node\\Mozilla\\NativeMessagingHosts\\uk.nhs.cis_renew"
            ]
        );
    }

    #[test]
    fn registry_keys_chrome_and_edge_use_their_vendor_paths() {
        let chrome = registry_keys(Scope::User, Browser::Chrome);
        assert_eq!(
            chrome[0].to_string(),
            "HKCU\\Software\\Google\\Chrome\\NativeMessagingHosts\\uk.nhs.cis_renew"
        );
        let edge = registry_keys(Scope::System, Browser::Edge);
        assert_eq!(edge.len(), 1);
        assert_eq!(
            edge[0].to_string(),
            "HKLM\\Software\\Microsoft\\Edge\\NativeMessagingHosts\\uk.nhs.cis_renew"
        );
    }

    #[test]
    fn windows_manifest_file_joins_with_backslashes() {
        assert_eq!(
            windows_manifest_file("C:\\ProgramData\\", Browser::Edge),
            "C:\\ProgramData\\cis-renew\\manifests\\edge.json"
        );
    }

    fn order(os: Os, browser: Browser) -> Vec<String> {
        lookup_order(os, browser, Some(Path::new("/home/a")))
            .iter()
            .map(|l| format!("{} {}", l.scope.as_str(), l.place))
            .collect()
    }

    #[test]
    fn lookup_order_windows_is_hkcu_then_hklm_32_then_64_with_vendor_fallbacks() {
        let host = "NativeMessagingHosts\\uk.nhs.cis_renew";
        assert_eq!(
            order(Os::Windows, Browser::Chrome),
            vec![
                format!("user HKCU\\Software\\Google\\Chrome\\{host}"),
                format!("system HKLM\\Software\\WOW6432Node\\Google\\Chrome\\{host}"),
                format!("system HKLM\\Software\\Google\\Chrome\\{host}"),
            ]
        );
        assert_eq!(
            order(Os::Windows, Browser::Firefox),
            vec![
                format!("user HKCU\\Software\\Mozilla\\{host}"),
                format!("system HKLM\\Software\\WOW6432Node\\Mozilla\\{host}"),
                format!("system HKLM\\Software\\Mozilla\\{host}"),
            ]
        );
        let edge = order(Os::Windows, Browser::Edge);
        assert_eq!(edge.len(), 9);
        assert_eq!(
            edge[..3],
            [
                format!("user HKCU\\Software\\Microsoft\\Edge\\{host}"),
                format!("user HKCU\\Software\\Chromium\\{host}"),
                format!("user HKCU\\Software\\Google\\Chrome\\{host}"),
            ]
        );
        assert_eq!(edge[3], format!("system HKLM\\Software\\WOW6432Node\\Microsoft\\Edge\\{host}"));
        assert_eq!(edge[8], format!("system HKLM\\Software\\Google\\Chrome\\{host}"));
        let chromium = order(Os::Windows, Browser::Chromium);
        assert_eq!(chromium[1], format!("user HKCU\\Software\\Google\\Chrome\\{host}"));
        assert_eq!(chromium.len(), 6);
    }

    #[test]
    fn lookup_order_linux_is_user_then_system() {
        assert_eq!(
            order(Os::Linux, Browser::Firefox),
            vec![
                "user /home/a/.mozilla/native-messaging-hosts/uk.nhs.cis_renew.json",
                "system /usr/lib/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json",
                "system /usr/lib64/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json",
            ]
        );
        assert_eq!(
            order(Os::Linux, Browser::Edge),
            vec![
                "user /home/a/.config/microsoft-edge/NativeMessagingHosts/uk.nhs.cis_renew.json",
                "system /etc/opt/edge/native-messaging-hosts/uk.nhs.cis_renew.json",
            ]
        );
        // No home: no user places.
        let no_home = lookup_order(Os::Linux, Browser::Chrome, None);
        assert!(no_home.iter().all(|l| l.scope == Scope::System), "{no_home:?}");
    }

    #[test]
    fn policy_keys_and_files_per_browser() {
        assert_eq!(policy_key(Browser::Edge).to_string(), "HKLM\\Software\\Policies\\Microsoft\\Edge");
        assert_eq!(policy_key(Browser::Firefox).to_string(), "HKLM\\Software\\Policies\\Mozilla\\Firefox");
        assert_eq!(
            policy_sources(Os::Linux, Browser::Chromium),
            vec![PolicySource::Folder("/etc/chromium/policies/managed".into())]
        );
        match &policy_sources(Os::Linux, Browser::Firefox)[0] {
            PolicySource::FirstFile(files) => {
                assert_eq!(files[0], PathBuf::from("/etc/firefox/policies/policies.json"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn markdown_table_has_a_row_per_os_and_browser() {
        let table = markdown_table();
        assert_eq!(table.lines().count(), 2 + 12);
        assert!(table.contains("| linux | firefox | `/usr/lib/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json`<br>`/usr/lib64/"));
    }
}
