//! The Windows rule: owner Administrators or SYSTEM, and no access entry that lets anyone
//! else change the file or folder. Judged from the owner SID and the DACL's entries, as
//! [`super::windows`] reads them, so the rule is tested on any OS.

/// SYSTEM.
pub const SYSTEM: &str = "S-1-5-18";
/// BUILTIN\Administrators.
pub const ADMINISTRATORS: &str = "S-1-5-32-544";
/// NT SERVICE\TrustedInstaller (owns and writes Windows' own files).
pub const TRUSTED_INSTALLER: &str = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464";

/// Rights that let a holder change content, delete or rename, or change permissions or owner:
/// FILE_WRITE_DATA / FILE_ADD_FILE, FILE_APPEND_DATA / FILE_ADD_SUBDIRECTORY, FILE_WRITE_EA,
/// FILE_DELETE_CHILD, FILE_WRITE_ATTRIBUTES, DELETE, WRITE_DAC, WRITE_OWNER, GENERIC_ALL,
/// GENERIC_WRITE, and MAXIMUM_ALLOWED.
pub const WRITE_RIGHTS: u32 = 0x0002
    | 0x0004
    | 0x0010
    | 0x0040
    | 0x0100
    | 0x0001_0000
    | 0x0004_0000
    | 0x0008_0000
    | 0x1000_0000
    | 0x4000_0000
    | 0x0200_0000;

/// What kind of access entry it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AceKind {
    /// ACCESS_ALLOWED_ACE.
    Allow,
    /// ACCESS_DENIED_ACE (never grants anything).
    Deny,
    /// Any other type (object, callback, ...), by number: not judged, so refused.
    Other(u8),
}

/// One entry of a DACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    /// Its type.
    pub kind: AceKind,
    /// INHERIT_ONLY_ACE: applies to children only, not to this object.
    pub inherit_only: bool,
    /// The trustee, as a string SID; empty when the entry has none that could be read.
    pub sid: String,
    /// The access mask.
    pub mask: u32,
}

fn trusted(sid: &str) -> bool {
    [SYSTEM, ADMINISTRATORS, TRUSTED_INSTALLER].contains(&sid)
}

/// Judges a file or folder by its owner SID and DACL (`None`: a NULL DACL, which grants
/// everyone everything).
pub fn verdict(owner: &str, dacl: Option<&[Ace]>) -> Result<(), String> {
    if owner != SYSTEM && owner != ADMINISTRATORS {
        return Err(format!("is owned by {owner}, not by Administrators or SYSTEM"));
    }
    let Some(entries) = dacl else {
        return Err("has no access control list, so everyone may change it".into());
    };
    for ace in entries.iter().filter(|ace| !ace.inherit_only) {
        match ace.kind {
            AceKind::Deny => {}
            AceKind::Other(kind) => {
                return Err(format!("has an access entry of type {kind} that this host does not judge"))
            }
            AceKind::Allow if trusted(&ace.sid) || ace.mask & WRITE_RIGHTS == 0 => {}
            AceKind::Allow => {
                return Err(format!("lets {} change it (access mask {:#x})", ace.sid, ace.mask))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const USERS: &str = "S-1-5-32-545";
    const AUTHENTICATED_USERS: &str = "S-1-5-11";
    const A_USER: &str = "S-1-5-21-1-2-3-1001";
    /// What icacls calls (RX): read and execute.
    const READ_EXECUTE: u32 = 0x0012_00a9;
    /// (F): full control.
    const FULL: u32 = 0x001f_01ff;
    /// (M): modify.
    const MODIFY: u32 = 0x0013_01bf;

    fn allow(sid: &str, mask: u32) -> Ace {
        Ace { kind: AceKind::Allow, inherit_only: false, sid: sid.into(), mask }
    }

    #[test]
    fn verdict_accepts_the_installers_acl() {
        let acl = [allow(SYSTEM, FULL), allow(ADMINISTRATORS, FULL), allow(USERS, READ_EXECUTE)];
        assert_eq!(verdict(ADMINISTRATORS, Some(&acl)), Ok(()));
        assert_eq!(verdict(SYSTEM, Some(&acl)), Ok(()));
        let mut with_installer = acl.to_vec();
        with_installer.push(allow(TRUSTED_INSTALLER, FULL));
        assert_eq!(verdict(SYSTEM, Some(&with_installer)), Ok(()));
    }

    #[test]
    fn verdict_refuses_other_owners_null_dacls_and_write_grants() {
        let base = vec![allow(SYSTEM, FULL), allow(ADMINISTRATORS, FULL)];
        let problem = verdict(A_USER, Some(&base)).expect_err("user-owned");
        assert!(problem.contains(A_USER) && problem.contains("owned"), "{problem}");
        let problem = verdict(TRUSTED_INSTALLER, Some(&base)).expect_err("only admins or SYSTEM own");
        assert!(problem.contains("owned"), "{problem}");
        assert!(verdict(ADMINISTRATORS, None).expect_err("null DACL").contains("no access control list"));
        // Each single write-like right granted to ordinary users is enough to refuse.
        for right in [0x2, 0x4, 0x10, 0x40, 0x100, 0x1_0000, 0x4_0000, 0x8_0000, 0x1000_0000, 0x4000_0000] {
            let mut acl = base.clone();
            acl.push(allow(AUTHENTICATED_USERS, READ_EXECUTE | right));
            let problem = verdict(ADMINISTRATORS, Some(&acl)).expect_err("write right");
            assert!(problem.contains(AUTHENTICATED_USERS), "{right:#x}: {problem}");
        }
        let mut modify = base.clone();
        modify.push(allow(USERS, MODIFY));
        assert!(verdict(ADMINISTRATORS, Some(&modify)).is_err());
        let mut unknown = base.clone();
        unknown.push(Ace { kind: AceKind::Other(5), inherit_only: false, sid: String::new(), mask: 0x1 });
        assert!(verdict(ADMINISTRATORS, Some(&unknown)).expect_err("object ACE").contains("type 5"));
    }

    #[test]
    fn verdict_ignores_deny_and_inherit_only_entries() {
        let mut acl = vec![allow(SYSTEM, FULL), allow(ADMINISTRATORS, FULL), allow(USERS, READ_EXECUTE)];
        acl.push(Ace { kind: AceKind::Deny, inherit_only: false, sid: USERS.into(), mask: FULL });
        // CREATOR OWNER full control for children, as ProgramData's default ACL carries.
        acl.push(Ace { kind: AceKind::Allow, inherit_only: true, sid: "S-1-3-0".into(), mask: FULL });
        assert_eq!(verdict(ADMINISTRATORS, Some(&acl)), Ok(()));
    }
}
