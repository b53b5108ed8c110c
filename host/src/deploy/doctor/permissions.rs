//! Owner and mode of the files the checks relied on that no other check covers: this program,
//! the system manifests the browsers use, the browsers' policy files and the config drop-ins.
//! (The config file, trust anchors and the PKCS#11 module are checked where they are used.)
//! Whoever can change one of these can make the browser start another program, or change what
//! the host does: a file a non-administrator can change is a FAIL, with the `chown`/`chmod`
//! (or `icacls`) that fixes it.

use super::Check;
use std::path::{Path, PathBuf};

/// The files to check, each with what it is; a file is listed once.
#[derive(Debug, Default)]
pub struct Files {
    files: Vec<(String, PathBuf)>,
}

impl Files {
    /// Adds `path` (a file that does not exist is skipped when checked).
    pub fn add(&mut self, what: &str, path: &Path) {
        if !self.files.iter().any(|(_, p)| p == path) {
            self.files.push((what.to_string(), path.to_path_buf()));
        }
    }
}

/// One FAIL per file others can change, or one `ok` line counting the files.
pub fn check(files: &Files) -> Vec<Check> {
    let name = "permissions";
    let mut checked = 0;
    let mut failures = Vec::new();
    for (what, path) in &files.files {
        if !path.exists() {
            continue;
        }
        checked += 1;
        if let Err(problem) = crate::fileperm::check_admin_only(path) {
            let shown = plain(path);
            failures.push(Check::fail(
                name,
                &format!("{what} {} {problem}: a non-administrator could change it", shown.display()),
                &crate::fileperm::how_to_fix(&shown),
            ));
        }
    }
    if failures.is_empty() {
        vec![Check::ok(name, format!("{checked} file(s) only administrators can change"))]
    } else {
        failures
    }
}

/// `path` without Windows' verbatim prefix (`\\?\C:\...` from canonicalising), which
/// `icacls` and people do not expect.
pub fn plain(path: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    match text.strip_prefix("\\\\?\\") {
        Some(rest) if rest.as_bytes().get(1) == Some(&b':') => PathBuf::from(rest),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
#[test]
fn plain_drops_only_the_verbatim_drive_prefix() {
    assert_eq!(plain(Path::new("\\\\?\\C:\\h.exe")), PathBuf::from("C:\\h.exe"));
    assert_eq!(plain(Path::new("\\\\?\\UNC\\srv\\x")), PathBuf::from("\\\\?\\UNC\\srv\\x"));
    assert_eq!(plain(Path::new("/usr/lib/x")), PathBuf::from("/usr/lib/x"));
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_group_writable_file_fails_with_the_chmod_fix() {
        let dir = tempfile::tempdir().expect("tmp");
        let good = dir.path().join("good.json");
        let bad = dir.path().join("bad.json");
        std::fs::write(&good, "{}").expect("write");
        std::fs::write(&bad, "{}").expect("write");
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o664)).expect("chmod");
        let mut files = Files::default();
        files.add("chromium policy", &good);
        files.add("chromium policy", &bad);
        files.add("chromium policy", &bad);
        files.add("host program", &dir.path().join("missing"));
        let running_as_root = crate::fileperm::check_admin_only(&good).is_ok();
        let checks = check(&files);
        if running_as_root {
            assert_eq!(checks.len(), 1, "{checks:?}");
            assert_eq!(
                checks[0].detail,
                format!(
                    "chromium policy {} is writable by its group (mode 664): a non-administrator could change it. Fix: {}.",
                    bad.display(),
                    crate::fileperm::how_to_fix(&bad)
                )
            );
            assert!(checks[0].detail.contains("chmod go-w"), "{}", checks[0].detail);
        } else {
            // Not root: every existing file is owned by someone else than root.
            assert_eq!(checks.len(), 2, "{checks:?}");
        }
    }
}
