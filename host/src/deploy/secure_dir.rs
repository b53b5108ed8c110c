//! The folders a system install creates or writes are made administrators-only: what is in
//! them decides which DLL every user's host loads (issue 13). Unix: owned by root, mode 0755.
//! Windows: owned by Administrators, a protected access list (nothing inherited from
//! `C:\ProgramData`, where users may create files): SYSTEM and Administrators full control,
//! Users read and execute, the same as the MSI's LockPermissions rows.

use std::io;
use std::path::Path;

/// The Windows security descriptor, in SDDL: owner Administrators; protected DACL;
/// SYSTEM and Administrators full control, Users read and execute, inherited by what is inside.
pub const WINDOWS_SDDL: &str = "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)";

/// The Unix mode for such a folder.
pub const UNIX_MODE: u32 = 0o755;

/// Creates `dir` if needed and gives it the owner and permissions above. `staging` (a package
/// being built under `--root`, perhaps by an ordinary user): the mode only, as the package tool
/// sets the owner.
pub fn secure(dir: &Path, staging: bool) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.file_type().is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is not a folder (a link or a file is there)",
        ));
    }
    platform::secure(dir, staging)
}

#[cfg(unix)]
mod platform {
    use super::UNIX_MODE;
    use std::io;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::Path;

    pub fn secure(dir: &Path, staging: bool) -> io::Result<()> {
        let meta = std::fs::metadata(dir)?;
        if !staging && (meta.uid() != 0 || meta.gid() != 0) {
            std::os::unix::fs::chown(dir, Some(0), Some(0))?;
        }
        if meta.mode() & 0o7777 != UNIX_MODE {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(UNIX_MODE))?;
        }
        Ok(())
    }
}

// The descriptor is only reachable through Win32 calls; this module alone in deploy allows
// `unsafe`, for two calls whose inputs it owns.
#[cfg(windows)]
#[allow(unsafe_code)]
mod platform {
    use super::WINDOWS_SDDL;
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::path::Path;
    use windows_sys::Win32::Foundation::LocalFree;
    use windows_sys::Win32::Security::Authorization::{
        ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
    };
    use windows_sys::Win32::Security::{
        SetFileSecurityW, DACL_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION,
        PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR,
    };

    fn wide(s: &std::ffi::OsStr) -> Vec<u16> {
        s.encode_wide().chain(std::iter::once(0)).collect()
    }

    pub fn secure(dir: &Path, _staging: bool) -> io::Result<()> {
        let sddl = wide(std::ffi::OsStr::new(WINDOWS_SDDL));
        let path = wide(dir.as_os_str());
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: both strings are NUL-terminated UTF-16 that outlive the calls; `sd` is freed
        // with LocalFree as the API requires.
        unsafe {
            if ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut sd,
                std::ptr::null_mut(),
            ) == 0
            {
                return Err(io::Error::last_os_error());
            }
            let info =
                OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION;
            let ok = SetFileSecurityW(path.as_ptr(), info, sd);
            let err = io::Error::last_os_error();
            LocalFree(sd as _);
            if ok == 0 {
                return Err(err);
            }
        }
        Ok(())
    }
}

#[cfg(not(any(unix, windows)))]
mod platform {
    pub fn secure(_dir: &std::path::Path, _staging: bool) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sddl_grants_system_and_admins_full_users_read_and_protects_the_list() {
        assert!(WINDOWS_SDDL.starts_with("O:BAD:PAI"), "owner Administrators, protected DACL");
        for ace in ["(A;OICI;FA;;;SY)", "(A;OICI;FA;;;BA)", "(A;OICI;0x1200a9;;;BU)"] {
            assert!(WINDOWS_SDDL.contains(ace), "{ace}");
        }
        assert_eq!(WINDOWS_SDDL.matches("(A;").count(), 3, "no one else");
    }

    #[cfg(unix)]
    #[test]
    fn secure_tightens_an_open_folder_and_refuses_a_link() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().expect("tmp");
        let open = dir.path().join("cis-renew");
        std::fs::create_dir(&open).expect("mkdir");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        secure(&open, false).expect("secure");
        let meta = std::fs::metadata(&open).expect("stat");
        assert_eq!(meta.mode() & 0o7777, 0o755);
        assert_eq!((meta.uid(), meta.gid()), (0, 0), "the tests run as root, as a system install does");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&open, &link).expect("symlink");
        let err = secure(&link, false).expect_err("a link is refused");
        assert!(err.to_string().contains("not a folder"), "{err}");
        secure(&dir.path().join("new/deeper"), true).expect("creates");
        assert!(dir.path().join("new/deeper").is_dir());
    }
}
