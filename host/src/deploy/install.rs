//! `install` and `uninstall`: register the host with the browsers, or take it away.
//!
//! A [`Target`] says what (browsers, scope, the executable, store IDs) and the OS; a plan turns
//! it into [`Action`]s (write or remove a manifest file, set or delete a registry key), and
//! [`apply`] carries them out. Plans are plain data, so the Windows plan is tested on Linux.
//!
//! Files are written next to their final name and renamed over it, so a browser never reads a
//! half-written manifest. Running twice changes nothing the second time. A lack of rights is
//! reported as [`DeployError::NeedsRights`] with what to do instead.

use super::locations::{self, manifest_dirs, manifest_file_name, registry_keys, Os, RegistryKey, Scope};
use super::manifest::{Browser, HostManifest, StoreIds};
use super::registry::Registry;
use std::fmt;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

/// The places that depend on who runs the command.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// The home directory (Linux and macOS per-user places).
    pub home: Option<PathBuf>,
    /// `%ProgramData%` (Windows system manifests).
    pub program_data: Option<String>,
    /// `%LOCALAPPDATA%` (Windows per-user manifests).
    pub local_app_data: Option<String>,
}

impl Env {
    /// Reads the environment of this process.
    pub fn from_process() -> Env {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Env {
            home: var("HOME").map(PathBuf::from),
            program_data: var("ProgramData"),
            local_app_data: var("LOCALAPPDATA"),
        }
    }
}

/// What to register.
#[derive(Debug, Clone)]
pub struct Target {
    /// The OS whose places are used.
    pub os: Os,
    /// Whole machine or one person.
    pub scope: Scope,
    /// Which browsers.
    pub browsers: Vec<Browser>,
    /// The host executable the manifests name.
    pub exe: String,
    /// Store IDs to allow besides the fixed one.
    pub ids: StoreIds,
    /// Home and Windows folders.
    pub env: Env,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write a manifest file (atomically).
    WriteFile {
        /// Where.
        path: PathBuf,
        /// The manifest text.
        text: String,
    },
    /// Remove a manifest file, and its folder when that is left empty.
    RemoveFile {
        /// Where.
        path: PathBuf,
    },
    /// Point a registry key's default value at a manifest file.
    SetKey {
        /// Which key.
        key: RegistryKey,
        /// The manifest's path.
        value: String,
    },
    /// Delete a registry key.
    DeleteKey {
        /// Which key.
        key: RegistryKey,
    },
    /// Create a folder if needed and make it administrators-only ([`super::secure_dir`]).
    SecureDir {
        /// Which folder.
        path: PathBuf,
    },
}

/// What one action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Created or replaced.
    Written(String),
    /// Already as wanted.
    Unchanged(String),
    /// Removed.
    Removed(String),
    /// Nothing was there.
    Absent(String),
    /// A folder made administrators-only.
    Secured(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Written(what) => write!(f, "wrote      {what}"),
            Outcome::Unchanged(what) => write!(f, "unchanged  {what}"),
            Outcome::Removed(what) => write!(f, "removed    {what}"),
            Outcome::Absent(what) => write!(f, "not there  {what}"),
            Outcome::Secured(what) => write!(f, "secured    {what}"),
        }
    }
}

/// Why install or uninstall stopped.
#[derive(Debug)]
pub enum DeployError {
    /// The command lacks the rights to change `what`.
    NeedsRights {
        /// The file or key.
        what: String,
    },
    /// Anything else that failed on `what`.
    Io {
        /// The file or key.
        what: String,
        /// The cause.
        error: io::Error,
    },
    /// The command line or environment cannot work.
    Usage(String),
}

impl fmt::Display for DeployError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeployError::NeedsRights { what } => write!(
                f,
                "Changing {what} needs administrator rights. Run this as root (sudo) or as an \
                 administrator, or use --user to register the host for yourself only."
            ),
            DeployError::Io { what, error } => write!(f, "Could not change {what}: {error}."),
            DeployError::Usage(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for DeployError {}

fn io_error(what: &Path, error: io::Error) -> DeployError {
    let what = what.display().to_string();
    match error.kind() {
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            DeployError::NeedsRights { what }
        }
        _ => DeployError::Io { what, error },
    }
}

fn registry_error(key: &RegistryKey, error: io::Error) -> DeployError {
    let what = key.to_string();
    match error.kind() {
        io::ErrorKind::PermissionDenied => DeployError::NeedsRights { what },
        _ => DeployError::Io { what, error },
    }
}

/// The manifest file for each browser (Linux and macOS: every directory the browser reads).
fn manifest_files(target: &Target, browser: Browser) -> Result<Vec<PathBuf>, DeployError> {
    match target.os {
        Os::Windows => {
            let (base, name) = match target.scope {
                Scope::System => (&target.env.program_data, "ProgramData"),
                Scope::User => (&target.env.local_app_data, "LOCALAPPDATA"),
            };
            let base = base.as_deref().ok_or_else(|| DeployError::Usage(format!("%{name}% is not set")))?;
            Ok(vec![PathBuf::from(locations::windows_manifest_file(base, browser))])
        }
        os => {
            let home = match (target.scope, &target.env.home) {
                (Scope::User, None) => {
                    return Err(DeployError::Usage("HOME is not set; it is needed for --user".into()))
                }
                (_, home) => home.clone().unwrap_or_default(),
            };
            Ok(manifest_dirs(os, target.scope, browser, &home)
                .into_iter()
                .map(|dir| dir.join(manifest_file_name()))
                .collect())
        }
    }
}

/// The steps that register the host: files first, then the keys that point at them.
pub fn install_plan(target: &Target) -> Result<Vec<Action>, DeployError> {
    target.ids.validate().map_err(DeployError::Usage)?;
    let mut files = Vec::new();
    let mut keys = Vec::new();
    // A system install first claims the config folder (so no user can plant it, or a host.json
    // in it, before IT's file arrives) and every manifest folder, then writes into them.
    let mut dirs = Vec::new();
    if target.scope == Scope::System {
        dirs.extend(system_config_dir(target));
        // The store IDs are kept, so a package upgrade (postinst runs `install --system` again)
        // and the host's allowedOrigins use them too.
        if let (false, Some(path)) = (target.ids.is_empty(), store_ids_path(target)) {
            files.push(Action::WriteFile {
                path,
                text: super::settings::installer::store_ids_text(&target.ids),
            });
        }
    }
    for &browser in &target.browsers {
        let text = HostManifest::for_browser(browser, &target.exe, &target.ids).to_text();
        for path in manifest_files(target, browser)? {
            if target.scope == Scope::System {
                if let Some(dir) = parent_dir(target.os, &path) {
                    if !dirs.contains(&dir) {
                        dirs.push(dir);
                    }
                }
            }
            if target.os == Os::Windows {
                for key in registry_keys(target.scope, browser) {
                    keys.push(Action::SetKey { key, value: path.display().to_string() });
                }
            }
            files.push(Action::WriteFile { path, text: text.clone() });
        }
    }
    files.extend(keys);
    let mut plan: Vec<Action> = dirs.into_iter().map(|path| Action::SecureDir { path }).collect();
    plan.extend(files);
    Ok(plan)
}

/// The folder of `path` on `os` (a Windows path is split at `\\` on any OS, so plans for
/// Windows are tested on Linux).
fn parent_dir(os: Os, path: &Path) -> Option<PathBuf> {
    if os == Os::Windows {
        let text = path.to_string_lossy();
        text.rfind('\\').map(|i| PathBuf::from(&text[..i]))
    } else {
        path.parent().map(Path::to_path_buf)
    }
}

/// The folder of the system config file on the target's OS (docs/configuration.md).
pub fn system_config_dir(target: &Target) -> Option<PathBuf> {
    match target.os {
        Os::Linux => Some(PathBuf::from("/etc/cis-renew")),
        Os::MacOs => Some(PathBuf::from("/Library/Application Support/cis-renew")),
        Os::Windows => target.env.program_data.as_ref().map(|pd| PathBuf::from(format!("{pd}\\cis-renew"))),
    }
}

/// Where a system install keeps the store IDs it was given (`store-ids.json` beside host.json).
pub fn store_ids_path(target: &Target) -> Option<PathBuf> {
    let dir = system_config_dir(target)?;
    Some(match target.os {
        Os::Windows => PathBuf::from(format!("{}\\store-ids.json", dir.display())),
        _ => dir.join("store-ids.json"),
    })
}

/// The store IDs an earlier `install --system` saved (inside `root` when staging), for an
/// install that names none; `None` when none were saved.
pub fn saved_store_ids(target: &Target, root: Option<&Path>) -> Result<Option<StoreIds>, DeployError> {
    let Some(path) = store_ids_path(target) else { return Ok(None) };
    super::settings::installer::read_store_ids(&rooted(root, &path), root.is_some())
        .map_err(|error| DeployError::Usage(error.message))
}

/// The steps that unregister the host: keys first, so no key ever points at a missing file.
pub fn uninstall_plan(target: &Target) -> Result<Vec<Action>, DeployError> {
    let mut keys = Vec::new();
    let mut files = Vec::new();
    if target.scope == Scope::System {
        files.extend(store_ids_path(target).map(|path| Action::RemoveFile { path }));
    }
    for &browser in &target.browsers {
        if target.os == Os::Windows {
            keys.extend(
                registry_keys(target.scope, browser).into_iter().map(|key| Action::DeleteKey { key }),
            );
        }
        files.extend(manifest_files(target, browser)?.into_iter().map(|path| Action::RemoveFile { path }));
    }
    keys.extend(files);
    Ok(keys)
}

/// `path` inside `root` (tests and package staging): `/etc/x` becomes `ROOT/etc/x`.
pub fn rooted(root: Option<&Path>, path: &Path) -> PathBuf {
    match root {
        None => path.to_path_buf(),
        Some(root) => {
            let mut out = root.to_path_buf();
            for part in path.components() {
                if let Component::Normal(part) = part {
                    out.push(part);
                }
            }
            out
        }
    }
}

/// Carries out a plan, stopping at the first failure (each step is whole, so running the
/// command again after fixing the cause finishes the job).
pub fn apply(
    actions: &[Action],
    root: Option<&Path>,
    registry: &mut dyn Registry,
) -> Result<Vec<Outcome>, DeployError> {
    let mut outcomes = Vec::new();
    for action in actions {
        let outcome = match action {
            Action::WriteFile { path, text } => {
                let path = rooted(root, path);
                let shown = path.display().to_string();
                if write_atomic(&path, text).map_err(|e| io_error(&path, e))? {
                    Outcome::Written(shown)
                } else {
                    Outcome::Unchanged(shown)
                }
            }
            Action::RemoveFile { path } => {
                let path = rooted(root, path);
                let shown = path.display().to_string();
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        // Leave the folder only if something else lives there; the error when it
                        // is not empty is the signal, so it is ignored.
                        if let Some(dir) = path.parent() {
                            let _ = std::fs::remove_dir(dir);
                        }
                        Outcome::Removed(shown)
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Outcome::Absent(shown),
                    Err(e) => return Err(io_error(&path, e)),
                }
            }
            Action::SetKey { key, value } => {
                let current = registry.get(key).map_err(|e| registry_error(key, e))?;
                if current.as_deref() == Some(value.as_str()) {
                    Outcome::Unchanged(format!("{key} = {value}"))
                } else {
                    registry.set(key, value).map_err(|e| registry_error(key, e))?;
                    Outcome::Written(format!("{key} = {value}"))
                }
            }
            Action::SecureDir { path } => {
                let path = rooted(root, path);
                super::secure_dir::secure(&path, root.is_some()).map_err(|e| io_error(&path, e))?;
                Outcome::Secured(path.display().to_string())
            }
            Action::DeleteKey { key } => {
                if registry.delete(key).map_err(|e| registry_error(key, e))? {
                    Outcome::Removed(key.to_string())
                } else {
                    Outcome::Absent(key.to_string())
                }
            }
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Writes `text` to `path` through a temporary file in the same folder and a rename; `false`
/// when the file already held exactly `text`.
pub fn write_atomic(path: &Path, text: &str) -> io::Result<bool> {
    // A link is never "unchanged": it is replaced by a file below, not written through.
    let is_file = std::fs::symlink_metadata(path).map(|m| m.file_type().is_file()).unwrap_or(false);
    if is_file && std::fs::read(path).map(|current| current == text.as_bytes()).unwrap_or(false) {
        return Ok(false);
    }
    let dir = path.parent().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent folder"))?;
    create_dirs(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (temp, mut file) = create_temp(dir, &name)?;
    let written = (|| {
        file.write_all(text.as_bytes())?;
        // Browsers run as the signed-in person: the manifest must be readable by all whatever
        // the installer's umask.
        set_mode(&temp, 0o644)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.map(|()| true)
}

/// Creates a new temporary file beside `name` in `dir`: a random name, opened as new (never an
/// existing file or a link someone planted, which `File::create` would follow and truncate).
pub fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, std::fs::File)> {
    let mut last = None;
    for _ in 0..8 {
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| io::Error::other(e.to_string()))?;
        let hex: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let temp = dir.join(format!(".{name}.{hex}.tmp"));
        match open_new(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

/// Opens `path` only if nothing, not even a dangling link, is there (O_CREAT|O_EXCL, CREATE_NEW).
pub fn open_new(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(unix)]
fn create_dirs(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o755).create(dir)
}

#[cfg(not(unix))]
fn create_dirs(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::locations::{Hive, View};
    use crate::deploy::registry::MemoryRegistry;

    fn windows_target(scope: Scope) -> Target {
        Target {
            os: Os::Windows,
            scope,
            browsers: Browser::ALL.to_vec(),
            exe: "C:\\Program Files\\cis-renew\\cis-renew-host.exe".into(),
            ids: StoreIds::default(),
            env: Env {
                home: None,
                program_data: Some("C:\\ProgramData".into()),
                local_app_data: Some("C:\\Users\\a\\AppData\\Local".into()),
            },
        }
    }

    #[test]
    fn install_plan_windows_system_points_every_key_at_its_file() {
        let plan = install_plan(&windows_target(Scope::System)).expect("plan");
        let keys: Vec<(String, String)> = plan
            .iter()
            .filter_map(|a| match a {
                Action::SetKey { key, value } => Some((key.to_string(), value.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(keys.len(), 5, "{keys:?}");
        assert!(keys.contains(&(
            "HKLM\\Software\\WOW6432Node\\Mozilla\\NativeMessagingHosts\\uk.nhs.cis_renew".into(),
            "C:\\ProgramData\\cis-renew\\manifests\\firefox.json".into()
        )));
        // The folders are claimed first (the config folder, then the manifests' folder), then
        // every file is written before the first key that points at it.
        let dirs: Vec<_> = plan
            .iter()
            .take_while(|a| matches!(a, Action::SecureDir { .. }))
            .map(|a| match a {
                Action::SecureDir { path } => path.display().to_string(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(dirs, ["C:\\ProgramData\\cis-renew", "C:\\ProgramData\\cis-renew\\manifests"]);
        let first_key = plan.iter().position(|a| matches!(a, Action::SetKey { .. })).expect("keys");
        assert!(plan[2..first_key].iter().all(|a| matches!(a, Action::WriteFile { .. })));
        assert_eq!(first_key, 6);
    }

    #[test]
    fn system_plans_keep_the_store_ids_beside_host_json_and_uninstall_forgets_them() {
        let target = Target {
            ids: StoreIds { chrome_web_store: Some("a".repeat(32)), ..StoreIds::default() },
            ..windows_target(Scope::System)
        };
        let path = PathBuf::from("C:\\ProgramData\\cis-renew\\store-ids.json");
        let plan = install_plan(&target).expect("plan");
        let saved = plan.iter().position(|a| matches!(a, Action::WriteFile { path: p, .. } if *p == path));
        let saved = saved.expect("store-ids.json is written");
        assert!(matches!(&plan[saved], Action::WriteFile { text, .. } if text.contains(&"a".repeat(32))));
        assert!(plan[..saved].iter().all(|a| matches!(a, Action::SecureDir { .. })), "after the folders");
        assert!(uninstall_plan(&target).expect("plan").contains(&Action::RemoveFile { path }));
        let user = Target { scope: Scope::User, ..target };
        assert!(!install_plan(&user)
            .expect("plan")
            .iter()
            .any(|a| matches!(a, Action::WriteFile { path, .. } if path.to_string_lossy().ends_with("store-ids.json"))));
    }

    #[test]
    fn install_plan_secures_folders_for_system_installs_only() {
        let linux = |scope| Target {
            os: Os::Linux,
            scope,
            browsers: vec![Browser::Chrome, Browser::Firefox],
            exe: "/usr/lib/cis-renew/cis-renew-host".into(),
            ids: StoreIds::default(),
            env: Env { home: Some("/home/a".into()), ..Env::default() },
        };
        let secured = |plan: Vec<Action>| -> Vec<String> {
            plan.into_iter()
                .filter_map(|a| match a {
                    Action::SecureDir { path } => Some(path.display().to_string()),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            secured(install_plan(&linux(Scope::System)).expect("plan")),
            [
                "/etc/cis-renew",
                "/etc/opt/chrome/native-messaging-hosts",
                "/usr/lib/mozilla/native-messaging-hosts",
                "/usr/lib64/mozilla/native-messaging-hosts"
            ]
        );
        assert!(secured(install_plan(&linux(Scope::User)).expect("plan")).is_empty());
    }

    #[test]
    fn apply_windows_user_plan_sets_then_deletes_hkcu_keys() {
        let target = windows_target(Scope::User);
        let mut registry = MemoryRegistry::default();
        let dir = tempfile::tempdir().expect("tmp");
        apply(&install_plan(&target).expect("plan"), Some(dir.path()), &mut registry).expect("install");
        assert_eq!(registry.keys.len(), 4);
        assert!(registry.keys.keys().all(|k| k.hive == Hive::CurrentUser && k.view == View::Native));
        let again =
            apply(&install_plan(&target).expect("plan"), Some(dir.path()), &mut registry).expect("again");
        assert!(again.iter().all(|o| matches!(o, Outcome::Unchanged(_))), "{again:?}");
        apply(&uninstall_plan(&target).expect("plan"), Some(dir.path()), &mut registry).expect("uninstall");
        assert!(registry.keys.is_empty());
    }

    #[test]
    fn uninstall_plan_deletes_keys_before_files() {
        let plan = uninstall_plan(&windows_target(Scope::System)).expect("plan");
        let last_key = plan.iter().rposition(|a| matches!(a, Action::DeleteKey { .. })).expect("keys");
        let first_file = plan.iter().position(|a| matches!(a, Action::RemoveFile { .. })).expect("files");
        assert!(last_key < first_file);
    }

    #[test]
    fn install_plan_user_without_home_is_a_usage_error() {
        let target =
            Target { os: Os::Linux, scope: Scope::User, env: Env::default(), ..windows_target(Scope::User) };
        assert!(matches!(install_plan(&target), Err(DeployError::Usage(_))));
    }

    #[test]
    fn rooted_moves_absolute_paths_inside_root() {
        assert_eq!(
            rooted(Some(Path::new("/tmp/r")), Path::new("/etc/x/y.json")),
            PathBuf::from("/tmp/r/etc/x/y.json")
        );
        assert_eq!(rooted(None, Path::new("/etc/x")), PathBuf::from("/etc/x"));
    }

    #[test]
    fn write_atomic_leaves_no_temp_file_and_reports_unchanged() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("a/b/m.json");
        assert!(write_atomic(&path, "one").expect("write"));
        assert!(!write_atomic(&path, "one").expect("same"));
        assert!(write_atomic(&path, "two").expect("replace"));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("a/b")).expect("ls").collect();
        assert_eq!(names.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn open_new_refuses_a_planted_link_and_leaves_its_target_alone() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("victim");
        std::fs::write(&target, "precious").expect("write");
        let link = dir.path().join("planted");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let err = open_new(&link).expect_err("a link is not followed");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("dangling")).expect("symlink");
        assert!(open_new(&dir.path().join("dangling")).is_err(), "a dangling link is not followed either");
        assert!(!dir.path().join("nowhere").exists());
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "precious");
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_replaces_a_link_at_the_manifest_path_without_writing_through_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("victim");
        std::fs::write(&target, "precious").expect("write");
        let path = dir.path().join("m.json");
        std::os::unix::fs::symlink(&target, &path).expect("symlink");
        assert!(write_atomic(&path, "manifest").expect("write"));
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "precious");
        assert!(!std::fs::symlink_metadata(&path).expect("stat").file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "manifest");
    }
}
