//! Running the embedded, precompiled guest where the binary already has it mapped, instead of
//! copying its 1.3 MB of native code into fresh memory at every start (issue 17).
//!
//! wasmtime can use code memory it does not own (`Component::deserialize_raw`) but then cannot
//! change its protection itself; a [`CustomCodeMemory`] does that part. Making the artifact
//! executable in place means `mprotect` on a page-aligned piece of the binary's read-only data:
//! it becomes read+execute, never writable (W^X holds), and since it is a private mapping of the
//! running executable, which the kernel keeps from being written while it runs (ETXTBSY), it is
//! exactly as trustworthy as the rest of credbox's own code. Only the pages that run are faulted
//! in, and they are shared page cache, not a private copy.

use std::ptr::NonNull;

use wasmtime::CustomCodeMemory;

/// Bytes at a page-aligned address: wasmtime's artifact aligns its text section to a page
/// within the image, so the image must start on a page for the text to be `mprotect`able.
#[repr(C, align(4096))]
pub struct PageAligned<T: ?Sized>(pub T);

impl PageAligned<[u8]> {
    /// The bytes as the raw memory `Component::deserialize_raw` takes.
    pub fn memory(&'static self) -> NonNull<[u8]> {
        NonNull::from(&self.0)
    }
}

/// Publishes code by `mprotect`: read+execute while a component's code is in use, read-only
/// after (never read+write+execute). For memory wasmtime owns (plugins compiled or loaded at
/// run time) this is what wasmtime would do itself; for the embedded guest it is the only way.
pub struct ProtectInPlace;

impl ProtectInPlace {
    fn protect(ptr: *const u8, len: usize, flags: libc::c_int) -> wasmtime::Result<()> {
        if len == 0 {
            return Ok(());
        }
        // SAFETY: wasmtime passes the text range of a code image it keeps alive and has
        // aligned to `required_alignment()`; changing its protection touches nothing else
        // (the kernel rounds the length up to a page, within the same image).
        let rc = unsafe { libc::mprotect(ptr as *mut libc::c_void, len, flags) };
        if rc == 0 {
            Ok(())
        } else {
            Err(wasmtime::Error::msg(format!(
                "mprotect of guest code failed: {}",
                std::io::Error::last_os_error()
            )))
        }
    }
}

impl CustomCodeMemory for ProtectInPlace {
    fn required_alignment(&self) -> usize {
        // SAFETY: sysconf has no preconditions.
        usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
    }

    fn publish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
        Self::protect(ptr, len, libc::PROT_READ | libc::PROT_EXEC)
    }

    fn unpublish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
        Self::protect(ptr, len, libc::PROT_READ)
    }
}
