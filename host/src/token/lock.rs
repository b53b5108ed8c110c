//! One renewal per card across host processes. Each browser (and each profile) starts its own
//! host, so the in-process `BUSY` check cannot see a renewal another host has open on the same
//! card; without this, that host's recovery would take the other's new keys for leftovers and
//! remove them. The lock is an advisory OS file lock named after the token serial, held for the
//! life of the renewal's card session. The OS drops it when the process ends, even when it is
//! killed, so a crash never leaves a card locked (and recovery then cleans up as usual).

use crate::protocol::{ErrorCode, HostError};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

/// Held while a renewal has the card.
#[derive(Debug)]
pub struct CardLock {
    _file: File,
}

impl CardLock {
    /// Takes the lock for the token with `serial`, or fails with `BUSY` when another host
    /// process holds it. When no lock file can be made (an unwritable temp folder), renewal goes
    /// ahead unlocked: the card's journal still keeps a working pair, and a sponsor must not be
    /// blocked by the file system.
    pub fn acquire(serial: &str) -> Result<Option<CardLock>, HostError> {
        let path = lock_path(serial);
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .or_else(|_| OpenOptions::new().read(true).open(&path));
        let file = match opened {
            Ok(file) => file,
            Err(e) => {
                log::warn!("no card lock ({}): {e}", path.display());
                return Ok(None);
            }
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(CardLock { _file: file })),
            Err(TryLockError::WouldBlock) => Err(HostError::new(
                ErrorCode::Busy,
                "This card is being renewed in another browser window. Finish or cancel that renewal first.",
            )),
            Err(TryLockError::Error(e)) => {
                log::warn!("card lock not taken ({}): {e}", path.display());
                Ok(None)
            }
        }
    }
}

/// `<temp>/cis-renew-card-<serial>.lock`, the serial reduced to letters and digits.
fn lock_path(serial: &str) -> PathBuf {
    let name: String = serial.chars().filter(char::is_ascii_alphanumeric).take(64).collect();
    std::env::temp_dir().join(format!("cis-renew-card-{name}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_path_keeps_only_safe_characters() {
        let path = lock_path("../../etc/passwd 12:AB");
        assert_eq!(path.file_name().and_then(|n| n.to_str()), Some("cis-renew-card-etcpasswd12AB.lock"));
    }

    #[test]
    fn acquire_is_exclusive_until_dropped() {
        let serial = format!("unit{}", std::process::id());
        let first = CardLock::acquire(&serial).expect("first").expect("a lock");
        // A second open file description conflicts even within one process, as another host would.
        let error = CardLock::acquire(&serial).expect_err("busy");
        assert_eq!(error.code, ErrorCode::Busy);
        drop(first);
        assert!(CardLock::acquire(&serial).expect("again").is_some());
    }
}
