//! "Private" on Windows: a file or directory owned by this user whose access-control list lets in
//! nobody but this user and the identities that can take any file anyway (SYSTEM, the
//! Administrators, TrustedInstaller; and OWNER RIGHTS, which is the owner), as mode 0600/0700 and
//! the owner's uid do on Unix. No crate reads and writes file ACLs for this, so the
//! few Win32 calls are made here.

use std::ffi::c_void;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::AsRawHandle;
use std::path::Path;

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, GetNamedSecurityInfoW,
    GetSecurityInfo, SE_FILE_OBJECT, SetSecurityInfo,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, ACL_SIZE_INFORMATION, AclSizeInformation, DACL_SECURITY_INFORMATION,
    EqualSid, GetAce, GetAclInformation, GetSecurityDescriptorDacl, GetTokenInformation, INHERIT_ONLY_ACE,
    IsWellKnownSid, OWNER_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR,
    PSID, TOKEN_QUERY, TOKEN_USER, TokenUser, WinBuiltinAdministratorsSid, WinCreatorOwnerRightsSid,
    WinLocalSystemSid,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

pub use super::Exposure;

/// `ACCESS_ALLOWED_ACE_TYPE`: the one allowing entry whose layout is read here.
const ALLOW: u8 = 0;
/// The denying entry types (plain, object, callback, callback object): they only take away.
const DENY: [u8; 4] = [1, 6, 10, 12];
/// The access rights that let someone change a file or its ACL (generic and specific).
const WRITE_RIGHTS: u32 = 0x4000_0000 // GENERIC_WRITE
    | 0x1000_0000 // GENERIC_ALL
    | 0x0001_0000 // DELETE
    | 0x0004_0000 // WRITE_DAC
    | 0x0008_0000 // WRITE_OWNER
    | 0x0002 // FILE_WRITE_DATA, FILE_ADD_SUBDIRECTORY
    | 0x0004 // FILE_APPEND_DATA, FILE_ADD_FILE
    | 0x0040 // FILE_DELETE_CHILD
    | 0x0100; // FILE_WRITE_ATTRIBUTES

/// The security descriptor a call returned, freed when dropped.
struct Descriptor(PSECURITY_DESCRIPTOR);

impl Drop for Descriptor {
    fn drop(&mut self) {
        // SAFETY: allocated by the system with LocalAlloc, freed once.
        unsafe { LocalFree(self.0 as _) };
    }
}

fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain(Some(0)).collect()
}

fn check(status: u32) -> std::io::Result<()> {
    match status {
        0 => Ok(()),
        code => Err(std::io::Error::from_raw_os_error(code as i32)),
    }
}

/// Which entries of an ACL count.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Those that apply to the object itself.
    Object,
    /// Those too that only its future children inherit (for a directory files will be made in).
    WithInherited,
}

/// Who may use the file (or directory) open as `file`.
pub fn exposure_of_file(file: &std::fs::File, scope: Scope) -> std::io::Result<Exposure> {
    // SAFETY: a handle we hold for the call.
    exposure_from(scope, |owner, dacl, sd| unsafe {
        GetSecurityInfo(
            file.as_raw_handle() as HANDLE,
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            owner,
            std::ptr::null_mut(),
            dacl,
            std::ptr::null_mut(),
            sd,
        )
    })
}

/// Who may use the file or directory at `path`. (By name: a link in its place is followed; the
/// cache judges its files through handles opened without following links.)
pub fn exposure_of_path(path: &Path) -> std::io::Result<Exposure> {
    let name = wide(path);
    // SAFETY: `name` is NUL-terminated and outlives the call.
    exposure_from(Scope::Object, |owner, dacl, sd| unsafe {
        GetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            owner,
            std::ptr::null_mut(),
            dacl,
            std::ptr::null_mut(),
            sd,
        )
    })
}

/// The exposure of what `query` (GetSecurityInfo or GetNamedSecurityInfoW) describes: it fills
/// the owner, the ACL and the descriptor they point into, which is freed after they are read.
fn exposure_from(
    scope: Scope,
    query: impl FnOnce(&mut PSID, &mut *mut ACL, &mut PSECURITY_DESCRIPTOR) -> u32,
) -> std::io::Result<Exposure> {
    let (mut owner, mut dacl, mut sd): (PSID, *mut ACL, PSECURITY_DESCRIPTOR) =
        (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
    check(query(&mut owner, &mut dacl, &mut sd))?;
    let sd = Descriptor(sd);
    exposure(owner, dacl, &sd, scope)
}

fn exposure(owner: PSID, dacl: *mut ACL, _alive: &Descriptor, scope: Scope) -> std::io::Result<Exposure> {
    let me = CurrentUser::cached()?;
    // SAFETY: `owner` and `dacl` point into the descriptor `_alive` holds; ACE pointers come from
    // GetAce on that ACL and are read as the header says.
    unsafe {
        let foreign_owner = !trusted(owner, me);
        if dacl.is_null() {
            // No ACL: everyone may do everything.
            return Ok(Exposure {
                foreign_owner,
                others_read: true,
                others_write: true,
            });
        }
        let mut size: ACL_SIZE_INFORMATION = std::mem::zeroed();
        if GetAclInformation(
            dacl,
            (&mut size as *mut ACL_SIZE_INFORMATION).cast(),
            std::mem::size_of::<ACL_SIZE_INFORMATION>() as u32,
            AclSizeInformation,
        ) == 0
        {
            return Err(std::io::Error::last_os_error());
        }
        let (mut others_read, mut others_write) = (false, false);
        for index in 0..size.AceCount {
            let mut ace: *mut c_void = std::ptr::null_mut();
            if GetAce(dacl, index, &mut ace) == 0 {
                return Err(std::io::Error::last_os_error());
            }
            let header = &*(ace as *const ACE_HEADER);
            // Deny entries only take away; entries for children only, unless they count.
            let inherit_only = u32::from(header.AceFlags) & INHERIT_ONLY_ACE != 0;
            if DENY.contains(&header.AceType) || (inherit_only && scope == Scope::Object) {
                continue;
            }
            if header.AceType != ALLOW {
                // An allowing entry of another kind (object, callback, compound): whom it lets
                // in is not read here, so it is taken to let anyone do anything.
                others_read = true;
                others_write = true;
                continue;
            }
            let allowed = &*(ace as *const ACCESS_ALLOWED_ACE);
            let sid: PSID = (&allowed.SidStart as *const u32).cast_mut().cast();
            if !trusted(sid, me) && allowed.Mask != 0 {
                others_read = true;
                others_write |= allowed.Mask & WRITE_RIGHTS != 0;
            }
        }
        Ok(Exposure {
            foreign_owner,
            others_read,
            others_write,
        })
    }
}

/// The SID of the TrustedInstaller service, which owns the files Windows installs.
const TRUSTED_INSTALLER: &str = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464";

/// This user, or one of the identities that can take any file anyway (the root of Unix): SYSTEM,
/// the Administrators, TrustedInstaller; or OWNER RIGHTS (whoever owns it, checked apart).
///
/// # Safety
/// `sid` must point to a valid SID.
unsafe fn trusted(sid: PSID, me: &CurrentUser) -> bool {
    // SAFETY: per the contract, and `me` holds a valid SID.
    unsafe {
        EqualSid(sid, me.sid()) != 0
            || IsWellKnownSid(sid, WinLocalSystemSid) != 0
            || IsWellKnownSid(sid, WinBuiltinAdministratorsSid) != 0
            || IsWellKnownSid(sid, WinCreatorOwnerRightsSid) != 0
            || sid_string(sid).is_ok_and(|s| s == TRUSTED_INSTALLER)
    }
}

/// A SID as text (`S-1-5-21-…`).
///
/// # Safety
/// `sid` must point to a valid SID.
unsafe fn sid_string(sid: PSID) -> std::io::Result<String> {
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: the system allocates `text` (NUL-terminated), freed below.
    unsafe {
        if ConvertSidToStringSidW(sid, &mut text) == 0 {
            return Err(std::io::Error::last_os_error());
        }
        let len = (0..).take_while(|&i| *text.add(i) != 0).count();
        let string = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
        LocalFree(text as _);
        Ok(string)
    }
}

/// This process's user (the token's SID).
struct CurrentUser(Vec<u64>);

impl CurrentUser {
    /// Read once per process: every file the cache judges asks.
    fn cached() -> std::io::Result<&'static CurrentUser> {
        static USER: std::sync::OnceLock<CurrentUser> = std::sync::OnceLock::new();
        if let Some(user) = USER.get() {
            return Ok(user);
        }
        let user = CurrentUser::get()?;
        Ok(USER.get_or_init(|| user))
    }

    fn get() -> std::io::Result<CurrentUser> {
        // SAFETY: a token handle opened and closed here; the buffer is u64-aligned and sized as
        // the first call says, and holds a TOKEN_USER after the second.
        unsafe {
            let mut token: HANDLE = std::ptr::null_mut();
            if OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) == 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut needed = 0u32;
            GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &mut needed);
            let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
            let ok = GetTokenInformation(token, TokenUser, buffer.as_mut_ptr().cast(), needed, &mut needed);
            let error = std::io::Error::last_os_error();
            CloseHandle(token);
            if ok == 0 {
                return Err(error);
            }
            Ok(CurrentUser(buffer))
        }
    }

    fn sid(&self) -> PSID {
        // SAFETY: the buffer holds a TOKEN_USER (see `get`).
        unsafe { (*(self.0.as_ptr() as *const TOKEN_USER)).User.Sid }
    }

    /// The SID as text (`S-1-5-21-…`).
    fn sid_string(&self) -> std::io::Result<String> {
        // SAFETY: the buffer holds a valid SID.
        unsafe { sid_string(self.sid()) }
    }
}

/// A security descriptor whose protected ACL (nothing inherited) gives full control to this user,
/// SYSTEM and the Administrators, and, on a directory, the same to everything created in it.
pub struct PrivateDescriptor(Descriptor);

impl PrivateDescriptor {
    pub fn new() -> std::io::Result<PrivateDescriptor> {
        let user = CurrentUser::cached()?.sid_string()?;
        let sddl: Vec<u16> = format!("D:P(A;OICI;FA;;;{user})(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)")
            .encode_utf16()
            .chain(Some(0))
            .collect();
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: a NUL-terminated SDDL string; the system allocates `sd` (freed by Descriptor).
        if unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                1,
                &mut sd,
                std::ptr::null_mut(),
            )
        } == 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(PrivateDescriptor(Descriptor(sd)))
    }

    /// For `CreateDirectoryW`.
    pub fn as_ptr(&self) -> *mut c_void {
        self.0.0
    }

    fn dacl(&self) -> std::io::Result<*mut ACL> {
        let (mut present, mut defaulted, mut dacl) = (0, 0, std::ptr::null_mut());
        // SAFETY: reads the ACL pointer out of our own descriptor.
        if unsafe { GetSecurityDescriptorDacl(self.0.0, &mut present, &mut dacl, &mut defaulted) } == 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(dacl)
    }

    /// Create the new file `path` with this descriptor from its first instant (no window in
    /// which an inherited ACL lets someone open it), not following a link in its place:
    /// `CREATE_NEW`, opened for reading, writing and its ACL.
    pub fn create_new(&self, path: &Path) -> std::io::Result<std::fs::File> {
        use std::os::windows::io::FromRawHandle;
        use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
        use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
        use windows_sys::Win32::Storage::FileSystem::{
            CREATE_NEW, CreateFileW, FILE_ATTRIBUTE_NORMAL, FILE_FLAG_OPEN_REPARSE_POINT, FILE_SHARE_DELETE,
            FILE_SHARE_READ, FILE_SHARE_WRITE,
        };
        const ACCESS: u32 = 0x8000_0000 | 0x4000_0000 | 0x0004_0000; // GENERIC_READ | GENERIC_WRITE | WRITE_DAC
        let attributes = SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: self.as_ptr(),
            bInheritHandle: 0,
        };
        let name = wide(path);
        // SAFETY: a NUL-terminated path and a descriptor alive for the call; the handle returned
        // is owned by the File.
        let handle = unsafe {
            CreateFileW(
                name.as_ptr(),
                ACCESS,
                // Deletion shared too, so that `cache clear` removes a lock file another credbox
                // holds, as unlink does on Unix (only the ACL's users may open it at all).
                FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                &attributes,
                CREATE_NEW,
                FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT,
                std::ptr::null_mut(),
            )
        };
        if handle == INVALID_HANDLE_VALUE {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a fresh handle nobody else owns.
        Ok(unsafe { std::fs::File::from_raw_handle(handle as _) })
    }

    /// Replace the ACL of the open `file` (opened with WRITE_DAC) with this one.
    pub fn apply_to_file(&self, file: &std::fs::File) -> std::io::Result<()> {
        // SAFETY: a handle we hold and an ACL inside our descriptor.
        check(unsafe {
            SetSecurityInfo(
                file.as_raw_handle() as HANDLE,
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                self.dacl()?,
                std::ptr::null(),
            )
        })
    }
}

#[cfg(test)]
mod tests;
