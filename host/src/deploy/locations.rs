//! Where each browser looks for host manifests: the one table, per OS, per browser, for the
//! whole machine (system) and for one person (user).
//!
//! Linux and macOS browsers read `<dir>/uk.nhs.cis_renew.json`. Windows browsers read the default
//! value of a registry key, which holds the path of the manifest file. docs/deployment.md shows
//! this table as [`markdown_table`] renders it, and a test keeps the two equal.
//!
//! Lookup order, which `doctor` follows: the per-user place first, then the system one (Chrome's
//! `FindManifest`, Firefox's `NativeManifests.sys.mjs`); a policy
//! `NativeMessagingUserLevelHosts=false` makes Chrome and Edge skip the user place.

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

/// The registry key path of `browser` below HKLM or HKCU (the same in both, and in both views).
pub fn registry_path(browser: Browser) -> String {
    let vendor = match browser {
        Browser::Chrome => "Google\\Chrome",
        Browser::Chromium => "Chromium",
        Browser::Edge => "Microsoft\\Edge",
        Browser::Firefox => "Mozilla",
    };
    format!("Software\\{vendor}\\NativeMessagingHosts\\{HOST_NAME}")
}

/// The registry keys to write for `browser` on Windows. Chrome, Chromium and Edge read both HKLM
/// views, so the native one is enough; 32-bit Firefox reads only the 32-bit view, so HKLM gets
/// both for Firefox. HKCU\Software is not split, so one key.
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

    #[test]
    fn markdown_table_has_a_row_per_os_and_browser() {
        let table = markdown_table();
        assert_eq!(table.lines().count(), 2 + 12);
        assert!(table.contains("| linux | firefox | `/usr/lib/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json`<br>`/usr/lib64/"));
    }
}
