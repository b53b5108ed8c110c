//! The Unix rule: owner root, no group or other write bit (sticky folders excepted).

/// What is being judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The file itself.
    File,
    /// A folder above it.
    Folder,
}

const GROUP_WRITE: u32 = 0o020;
const OTHER_WRITE: u32 = 0o002;
const STICKY: u32 = 0o1000;

/// Judges one file or folder by its owner's uid and its mode bits.
pub fn verdict(kind: Kind, uid: u32, mode: u32) -> Result<(), String> {
    if uid != 0 {
        return Err(format!("is owned by uid {uid}, not root"));
    }
    if kind == Kind::Folder && mode & STICKY != 0 {
        return Ok(());
    }
    let writers = match (mode & GROUP_WRITE != 0, mode & OTHER_WRITE != 0) {
        (false, false) => return Ok(()),
        (true, false) => "its group",
        (false, true) => "all users",
        (true, true) => "its group and all users",
    };
    Err(format!("is writable by {writers} (mode {:o})", mode & 0o7777))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_accepts_root_and_refuses_other_owners_and_write_bits() {
        let cases = [
            (Kind::File, 0, 0o644, None),
            (Kind::File, 0, 0o600, None),
            (Kind::File, 0, 0o755, None),
            (Kind::File, 1000, 0o644, Some("owned by uid 1000")),
            (Kind::File, 0, 0o664, Some("writable by its group")),
            (Kind::File, 0, 0o646, Some("writable by all users")),
            (Kind::File, 0, 0o666, Some("its group and all users")),
            // The sticky bit means nothing on a file.
            (Kind::File, 0, 0o1666, Some("writable")),
            (Kind::Folder, 0, 0o755, None),
            (Kind::Folder, 0, 0o1777, None),
            (Kind::Folder, 0, 0o777, Some("writable by its group and all users")),
            (Kind::Folder, 0, 0o775, Some("writable by its group")),
            (Kind::Folder, 1000, 0o1777, Some("owned by uid 1000")),
        ];
        for (kind, uid, mode, expected) in cases {
            let outcome = verdict(kind, uid, mode);
            match expected {
                None => assert!(outcome.is_ok(), "{kind:?} {uid} {mode:o}: {outcome:?}"),
                Some(text) => {
                    let problem = outcome.expect_err("refused");
                    assert!(problem.contains(text), "{kind:?} {uid} {mode:o}: {problem}");
                }
            }
        }
    }
}
