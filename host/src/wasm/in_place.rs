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
use std::sync::{Arc, OnceLock};

use wasmtime::{CustomCodeMemory, Engine};

use crate::engine_config::engine_config;
use crate::platform;

/// Bytes at an address aligned for any page size Linux uses (4, 16 or 64 KiB): wasmtime aligns
/// the text section within the image to the target's page size (64 KiB on aarch64), so an image
/// that starts on such a boundary has its text on a page boundary, as `mprotect` needs.
///
/// COFF (Windows) aligns sections to at most 8 KiB, and LLVM fails on more; there the artifact
/// is copied, not run in place, so it needs no page alignment at all.
#[cfg_attr(unix, repr(C, align(65536)))]
#[cfg_attr(windows, repr(C, align(4096)))]
pub struct PageAligned<T: ?Sized>(pub T);

impl PageAligned<[u8]> {
    /// Whether these bytes can run in place on this machine: they start on a page boundary.
    /// (Where they cannot, wasmtime would assert, not fail: check first, then copy instead.)
    pub fn fits_in_place(&self) -> bool {
        (self.0.as_ptr() as usize).is_multiple_of(platform::code_page_size())
    }
}

impl PageAligned<[u8]> {
    /// The bytes as the raw memory `Component::deserialize_raw` takes.
    pub fn memory(&'static self) -> NonNull<[u8]> {
        NonNull::from(&self.0)
    }
}

/// The engine the embedded guest runs on in place: code is published by [`ProtectInPlace`]. It
/// loads nothing else, because publishing this way skips what wasmtime does itself for code it
/// has just written (instruction-cache maintenance on aarch64 and riscv64, branch protection):
/// the embedded code was never written at run time and needs none of it.
pub fn in_place_engine() -> wasmtime::Result<Engine> {
    let mut config = engine_config();
    config.with_custom_code_memory(Some(Arc::new(ProtectInPlace)));
    Engine::new(&config)
}

/// The engine for every other component (plugins, the guest when its precompiled code cannot
/// run in place, components a library user compiles): wasmtime publishes their code itself.
/// Created once per process, when first needed, so a run that loads no plugin never pays for it.
pub fn plain_engine() -> wasmtime::Result<&'static Engine> {
    static PLAIN: OnceLock<Engine> = OnceLock::new();
    if let Some(engine) = PLAIN.get() {
        return Ok(engine);
    }
    let engine = Engine::new(&engine_config())?;
    Ok(PLAIN.get_or_init(|| engine))
}

/// Publishes code by changing its pages' protection: read+execute while the embedded guest's
/// code is in use, read-only after (never read+write+execute). Only [`in_place_engine`] uses it.
pub struct ProtectInPlace;

impl ProtectInPlace {
    fn protect(ptr: *const u8, len: usize, executable: bool) -> wasmtime::Result<()> {
        // SAFETY: wasmtime passes the text range of a code image it keeps alive and has aligned
        // to `required_alignment()`; changing its protection touches nothing else.
        unsafe { platform::protect_code(ptr, len, executable) }
            .map_err(|e| wasmtime::Error::msg(format!("publishing the guest's code failed: {e}")))
    }
}

impl CustomCodeMemory for ProtectInPlace {
    fn required_alignment(&self) -> usize {
        platform::code_page_size()
    }

    fn publish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
        Self::protect(ptr, len, true)
    }

    fn unpublish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
        Self::protect(ptr, len, false)
    }
}
