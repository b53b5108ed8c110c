//! Reading owner and mode on Unix, for [`super::unix_rule`].

use super::unix_rule::{verdict, Kind};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The file and every folder above it, both along the path as named and as resolved.
pub fn check(path: &Path) -> Result<(), String> {
    let file = std::fs::metadata(path).map_err(|e| format!("cannot be checked ({e})"))?;
    verdict(Kind::File, file.uid(), file.mode())?;
    let resolved = path.canonicalize().map_err(|e| format!("cannot be resolved ({e})"))?;
    for candidate in [path, resolved.as_path()] {
        for folder in candidate.ancestors().skip(1) {
            let meta = std::fs::metadata(folder).map_err(|e| {
                format!("is in the folder {}, which cannot be checked ({e})", folder.display())
            })?;
            verdict(Kind::Folder, meta.uid(), meta.mode())
                .map_err(|problem| format!("is in the folder {}, which {problem}", folder.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::Permissions;
    use std::os::unix::fs::PermissionsExt;

    /// A root-owned 0700 folder in the temp dir (tests run as root) holding `host.json`.
    fn safe_file() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("host.json");
        std::fs::write(&file, "{}").expect("write");
        std::fs::set_permissions(&file, Permissions::from_mode(0o644)).expect("chmod");
        (dir, file)
    }

    #[test]
    fn check_accepts_root_files_and_refuses_other_owners_and_write_bits() {
        let (_dir, file) = safe_file();
        assert_eq!(check(&file), Ok(()));
        std::fs::set_permissions(&file, Permissions::from_mode(0o664)).expect("chmod");
        assert!(check(&file).expect_err("group write").contains("writable by its group"));
        std::fs::set_permissions(&file, Permissions::from_mode(0o644)).expect("chmod");
        std::os::unix::fs::chown(&file, Some(4242), None).expect("chown");
        assert!(check(&file).expect_err("other owner").contains("owned by uid 4242"));
        assert!(check(&file.with_file_name("missing.json"))
            .expect_err("missing")
            .contains("cannot be checked"));
    }

    #[test]
    fn check_refuses_a_writable_folder_above_and_a_link_into_one() {
        let (dir, file) = safe_file();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).expect("mkdir");
        let inside = open.join("ca.pem");
        std::fs::write(&inside, "x").expect("write");
        std::fs::set_permissions(&open, Permissions::from_mode(0o777)).expect("chmod");
        let problem = check(&inside).expect_err("writable folder");
        assert!(problem.contains("is in the folder") && problem.contains("open"), "{problem}");
        // A link that sits in a safe folder but leads into the writable one is judged where it
        // leads.
        let link = dir.path().join("link.pem");
        std::os::unix::fs::symlink(&inside, &link).expect("symlink");
        assert!(check(&link).expect_err("link into open folder").contains("open"));
        // The sticky bit makes a folder writable by all acceptable (only owners remove entries).
        std::fs::set_permissions(&open, Permissions::from_mode(0o1777)).expect("chmod");
        assert_eq!(check(&inside), Ok(()));
        assert_eq!(check(&file), Ok(()));
    }
}
