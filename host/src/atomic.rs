//! Replacing a file atomically through a temporary file credbox creates new (the cache's entries,
//! and on Windows a private profile file): readers see the old file or the new one, never a mix,
//! and a failed write leaves no temporary behind.

use std::fs::File;
use std::io::Write;

/// Create a temporary with `create` (tried with attempt 0, 1, ... while the name exists), write
/// `contents` to it and sync it, close it (Windows renames no open file), then `rename` it into
/// place; `remove` it if anything failed.
pub(crate) fn replace_through_new<T>(
    mut create: impl FnMut(u32) -> std::io::Result<(T, File)>,
    contents: &[u8],
    rename: impl FnOnce(&T) -> std::io::Result<()>,
    remove: impl FnOnce(&T),
) -> std::io::Result<()> {
    let (temp, mut file) = (0u32..)
        .find_map(|attempt| match create(attempt) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
            result => Some(result),
        })
        .expect("an unbounded range")?;
    let written = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            rename(&temp)
        });
    if written.is_err() {
        remove(&temp);
    }
    written
}
