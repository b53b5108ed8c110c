//! Who may change the files that decide what the host does: its config file, its trust anchor
//! files and the PKCS#11 module it loads (which sees every passcode). Each is used only if
//! administrators alone can change it; otherwise the caller refuses with `CONFIG_INVALID`.
//!
//! - Unix: the file is owned by root and not writable by group or others, and so is every
//!   folder above it (else whoever can write a folder can swap the file). A folder with the
//!   sticky bit (`/tmp`) may be writable by all: there only an entry's owner (root) can remove
//!   or rename it. The path is checked as named and as resolved, so a link cannot lead around it.
//! - Windows: the file and its folder are owned by Administrators or SYSTEM, and their access
//!   list lets no one else write, append, delete, or change permissions or owner. Folders
//!   further up are not checked: `C:\` and `C:\ProgramData` let users create entries, but not
//!   replace or remove entries that others own, which is what matters here.
//!
//! The rules ([`unix_rule`], [`acl`]) are plain functions of owner and permissions, so both are
//! tested on any OS; only reading those from the file system is per-OS.

pub mod acl;
pub mod unix_rule;

#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

use std::path::{Path, PathBuf};

/// Checks that only administrators can change `path` (see the module documentation).
/// The error is the reason, to follow the path's name in a sentence ("... is owned by ...").
pub fn check_admin_only(path: &Path) -> Result<(), String> {
    let absolute = absolute(path)?;
    #[cfg(unix)]
    {
        unix::check(&absolute)
    }
    #[cfg(windows)]
    {
        windows::check(&absolute)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = absolute;
        Err("cannot be checked on this operating system".into())
    }
}

/// How to make `path` pass [`check_admin_only`], for `doctor`.
pub fn how_to_fix(path: &Path) -> String {
    if cfg!(windows) {
        format!(
            "make Administrators the owner of {0} and its folder and give only Administrators and \
             SYSTEM write access (icacls \"{0}\" /setowner Administrators /inheritance:r /grant:r \
             Administrators:F SYSTEM:F Users:RX)",
            path.display()
        )
    } else {
        format!(
            "make root the owner of {0} and of every folder above it, writable by root only \
             (sudo chown root:root {0} && sudo chmod go-w {0})",
            path.display()
        )
    }
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let here = std::env::current_dir().map_err(|e| format!("cannot be located ({e})"))?;
    Ok(here.join(path))
}
