//! One renewal per card across host processes. Each browser (and each profile) starts its own
//! host, so the in-process `BUSY` check cannot see a renewal another host has open on the same
//! card; without this, that host's recovery would take the other's new keys for leftovers and
//! remove them. The lock is an advisory OS file lock, held for the life of the renewal's card
//! session. The OS drops it when the process ends, even when it is killed, so a crash never
//! leaves a card locked (and recovery then cleans up as usual).
//!
//! The lock files live in a directory only this user (or root) can write: `$XDG_RUNTIME_DIR`
//! when set, else `<temp>/cis-renew-locks-<user>`, made with mode 0700 and refused when it is a
//! symlink, is writable by others, or belongs to someone else. A lock file that is a symlink is
//! refused too. A lock that cannot be taken is `BUSY` with a sentence, never "go ahead
//! unlocked". Cards are named by token serial, or by reader and ATR when the serial is empty.

use crate::protocol::{ErrorCode, HostError};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// Held while a renewal has the card.
#[derive(Debug)]
pub struct CardLock {
    _file: File,
}

/// Which card a lock is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardKey(String);

impl CardKey {
    /// The token serial, or, when the token has none, the reader and the ATR.
    pub fn new(serial: &str, reader: &str, atr: &[u8]) -> CardKey {
        let serial = serial.trim();
        let raw = if serial.is_empty() {
            let atr: String = atr.iter().map(|b| format!("{b:02X}")).collect();
            format!("reader-{reader}-atr-{atr}")
        } else {
            format!("serial-{serial}")
        };
        CardKey(raw.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(160).collect())
    }

    fn file_name(&self) -> String {
        format!("cis-renew-card-{}.lock", self.0)
    }
}

fn busy(detail: impl std::fmt::Display) -> HostError {
    HostError::new(
        ErrorCode::Busy,
        "The card could not be reserved for this renewal, so nothing was changed. Close other browser windows that renew cards, then try again.",
    )
    .with("lock", detail.to_string())
}

impl CardLock {
    /// Takes the lock for the card `key`, or fails with `BUSY`: when another host process
    /// holds it, or when no safe lock file can be made.
    pub fn acquire(key: &CardKey) -> Result<CardLock, HostError> {
        let file = open_lock_file(key)?;
        match file.try_lock() {
            Ok(()) => Ok(CardLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(HostError::new(
                ErrorCode::Busy,
                "This card is being renewed in another browser window. Finish or cancel that renewal first.",
            )
            .with("reason", "RENEWAL_ELSEWHERE")),
            Err(TryLockError::Error(e)) => Err(busy(e)),
        }
    }

    /// Whether another process holds the lock for `key` now (for the status). `false` when
    /// that cannot be told.
    pub fn held_elsewhere(key: &CardKey) -> bool {
        let Ok(file) = open_lock_file(key) else { return false };
        matches!(file.try_lock(), Err(TryLockError::WouldBlock))
    }
}

fn open_lock_file(key: &CardKey) -> Result<File, HostError> {
    let dir = lock_dir().map_err(busy)?;
    let path = dir.join(key.file_name());
    if let Ok(meta) = std::fs::symlink_metadata(&path) {
        if !meta.file_type().is_file() {
            return Err(busy(format!("{} is not a plain file", path.display())));
        }
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| busy(format!("{}: {e}", path.display())))?;
    // Opened what was checked: the same file, not something swapped in meanwhile.
    let opened = file.metadata().map_err(busy)?;
    let now = std::fs::symlink_metadata(&path).map_err(busy)?;
    if !same_file(&opened, &now) {
        return Err(busy(format!("{} changed while it was opened", path.display())));
    }
    Ok(file)
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    b.file_type().is_file() && a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    b.file_type().is_file()
}

/// The directory for lock files (see the module docs).
fn lock_dir() -> Result<PathBuf, String> {
    if cfg!(windows) {
        // The per-user local application data folder is the user's alone by default.
        let base = std::env::var_os("LOCALAPPDATA").map(PathBuf::from).ok_or("LOCALAPPDATA is not set")?;
        let dir = base.join("cis-renew").join("locks");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        return Ok(dir);
    }
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(runtime);
        if check_private(&dir).is_ok() {
            return Ok(dir);
        }
    }
    let user: String = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let dir = std::env::temp_dir().join(format!("cis-renew-locks-{user}"));
    make_private_dir(&dir)?;
    check_private(&dir)?;
    Ok(dir)
}

#[cfg(unix)]
fn make_private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

#[cfg(not(unix))]
fn make_private_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

/// A real directory (not a symlink), writable by its owner only, owned by this user or root.
#[cfg(unix)]
fn check_private(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.file_type().is_dir() {
        return Err(format!("{} is not a directory (or is a symlink)", dir.display()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!("{} is writable by others", dir.display()));
    }
    // Our uid is the owner of what we create; a probe in the directory tells it without libc.
    let owner = meta.uid();
    if owner != 0 && owner != own_uid(dir)? {
        return Err(format!("{} belongs to another user", dir.display()));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(unix)]
fn own_uid(dir: &Path) -> Result<u32, String> {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = std::fs::metadata("/proc/self") {
        return Ok(meta.uid());
    }
    let probe = dir.join(format!(".cis-renew-probe-{}", std::process::id()));
    let file = OpenOptions::new().write(true).create_new(true).open(&probe).map_err(|e| e.to_string())?;
    let uid = file.metadata().map_err(|e| e.to_string())?.uid();
    let _ = std::fs::remove_file(&probe);
    Ok(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_key_keeps_only_safe_characters_and_falls_back_to_reader_and_atr() {
        let key = CardKey::new("../../etc/passwd 12:AB", "R", &[]);
        assert_eq!(key.file_name(), "cis-renew-card-serial-etcpasswd12AB.lock");
        let a = CardKey::new("", "Virtual PCD 00 01", &[0x3B, 0x95]);
        let b = CardKey::new(" ", "Virtual PCD 00 00", &[0x3B, 0x95]);
        assert_eq!(a.file_name(), "cis-renew-card-reader-VirtualPCD0001-atr-3B95.lock");
        assert_ne!(a, b, "cards without a serial in two readers are two locks");
    }

    #[test]
    fn acquire_is_exclusive_until_dropped() {
        let key = CardKey::new(&format!("unit{}", std::process::id()), "", &[]);
        let first = CardLock::acquire(&key).expect("first");
        // A second open file description conflicts even within one process, as another host would.
        let error = CardLock::acquire(&key).expect_err("busy");
        assert_eq!(error.code, ErrorCode::Busy);
        assert!(CardLock::held_elsewhere(&key));
        drop(first);
        assert!(!CardLock::held_elsewhere(&key));
        assert!(CardLock::acquire(&key).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_can_write_or_a_symlink_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir().join(format!("cis-renew-lock-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir(&base).expect("dir");
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        assert!(check_private(&base).is_err(), "world-writable");
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        assert!(check_private(&base).is_ok());
        let link = base.with_extension("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&base, &link).expect("symlink");
        assert!(check_private(&link).is_err(), "a symlink is not followed");
        let _ = std::fs::remove_file(&link);
        let _ = std::fs::remove_dir_all(&base);
    }
}
