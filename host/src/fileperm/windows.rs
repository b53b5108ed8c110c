//! Reading owner and DACL on Windows, for [`super::acl`].
//!
//! The crate denies `unsafe`; this module alone allows it, because the security descriptor is
//! only reachable through Win32 calls (GetNamedSecurityInfoW, GetAclInformation, GetAce,
//! ConvertSidToStringSidW). Each block reads memory that the call before it returned, and the
//! descriptor is freed once, by a guard, after every pointer into it is done with.
#![allow(unsafe_code)]

use super::acl::{verdict, Ace, AceKind};
use std::ffi::c_void;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use std::ptr::{addr_of, null_mut};
use windows_sys::Win32::Foundation::{LocalFree, ERROR_SUCCESS};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, GetNamedSecurityInfoW, SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    AclSizeInformation, GetAce, GetAclInformation, ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, ACL_SIZE_INFORMATION,
    DACL_SECURITY_INFORMATION, INHERIT_ONLY_ACE, OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID,
};

/// The file and the folder that holds it.
pub fn check(path: &Path) -> Result<(), String> {
    judge(path)?;
    if let Some(folder) = path.parent() {
        judge(folder).map_err(|problem| format!("is in the folder {}, which {problem}", folder.display()))?;
    }
    Ok(())
}

fn judge(path: &Path) -> Result<(), String> {
    let (owner, dacl) = read(path)?;
    verdict(&owner, dacl.as_deref())
}

/// Frees memory that Windows allocated with LocalAlloc.
struct LocalGuard(*mut c_void);

impl Drop for LocalGuard {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from a Win32 call that hands over LocalAlloc'd memory,
            // and this guard is its only owner.
            unsafe { LocalFree(self.0) };
        }
    }
}

fn sid_string(sid: PSID) -> Result<String, String> {
    let mut text: *mut u16 = null_mut();
    // SAFETY: `sid` points into a live security descriptor; on success `text` is a
    // NUL-terminated string that we free with the guard.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 || text.is_null() {
        return Err("has an owner or access entry whose SID cannot be read".into());
    }
    let _guard = LocalGuard(text.cast());
    let mut length = 0;
    // SAFETY: the string is NUL-terminated, so reading up to the NUL stays inside it.
    while unsafe { *text.add(length) } != 0 {
        length += 1;
    }
    // SAFETY: `length` u16s before the NUL were just read.
    let units = unsafe { std::slice::from_raw_parts(text, length) };
    Ok(String::from_utf16_lossy(units))
}

fn read(path: &Path) -> Result<(String, Option<Vec<Ace>>), String> {
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    let mut owner: PSID = null_mut();
    let mut dacl: *mut ACL = null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
    // SAFETY: `wide` is NUL-terminated; the out-pointers are valid for writes; owner and dacl
    // point into `descriptor`, which the guard frees after they are last used.
    let status = unsafe {
        GetNamedSecurityInfoW(
            wide.as_ptr(),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            &mut owner,
            null_mut(),
            &mut dacl,
            null_mut(),
            &mut descriptor,
        )
    };
    if status != ERROR_SUCCESS {
        return Err(format!("cannot be checked (Windows error {status})"));
    }
    let _guard = LocalGuard(descriptor);
    if owner.is_null() {
        return Err("has no owner".into());
    }
    let owner = sid_string(owner)?;
    if dacl.is_null() {
        return Ok((owner, None));
    }
    let mut size = ACL_SIZE_INFORMATION::default();
    // SAFETY: `dacl` is a valid ACL in the descriptor; `size` is the struct the class asks for.
    let ok = unsafe {
        GetAclInformation(
            dacl,
            (&mut size as *mut ACL_SIZE_INFORMATION).cast(),
            std::mem::size_of::<ACL_SIZE_INFORMATION>() as u32,
            AclSizeInformation,
        )
    };
    if ok == 0 {
        return Err("has an access control list that cannot be read".into());
    }
    let mut entries = Vec::with_capacity(size.AceCount as usize);
    for index in 0..size.AceCount {
        let mut entry: *mut c_void = null_mut();
        // SAFETY: `index` is below the ACL's entry count.
        if unsafe { GetAce(dacl, index, &mut entry) } == 0 || entry.is_null() {
            return Err("has an access entry that cannot be read".into());
        }
        // SAFETY: every ACE starts with an ACE_HEADER.
        let header = unsafe { *(entry as *const ACE_HEADER) };
        let inherit_only = u32::from(header.AceFlags) & INHERIT_ONLY_ACE != 0;
        let kind = match header.AceType {
            0 => AceKind::Allow,
            1 => AceKind::Deny,
            other => AceKind::Other(other),
        };
        let (sid, mask) = match kind {
            AceKind::Allow | AceKind::Deny => {
                // ACCESS_ALLOWED_ACE and ACCESS_DENIED_ACE share this layout: header, mask,
                // then the SID in place of SidStart.
                let allowed = entry as *const ACCESS_ALLOWED_ACE;
                // SAFETY: the ACE's type says it has this layout.
                let mask = unsafe { (*allowed).Mask };
                // SAFETY: as above; the SID lies inside the ACE.
                let sid = unsafe { addr_of!((*allowed).SidStart) } as PSID;
                (sid_string(sid)?, mask)
            }
            AceKind::Other(_) => (String::new(), 0),
        };
        entries.push(Ace { kind, inherit_only, sid, mask });
    }
    Ok((owner, Some(entries)))
}
