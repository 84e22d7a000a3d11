//! Served records: the credentials the guest returned, the instant it said they may be served
//! until, the command that produced them, and what the profile files said when it decided.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::command::SpawnCommand;
use crate::text::hex;

/// Credentials the guest returned and the instant it said they may be served until: the host may
/// hand them out without entering the guest until then (for the same [`super::ServeKey`]).
#[derive(Clone, Serialize, Deserialize)]
pub struct Served {
    /// Until when (seconds since the epoch) the guest said these may be served.
    pub serve_until: i64,
    /// The credentials (this record is written 0600 and never logged).
    #[serde(flatten)]
    pub credentials: crate::Credentials,
    /// The command that produced them: a record is only served while the policy admits it. None
    /// for a role chain whose base runs nothing (static keys, the environment).
    #[serde(default)]
    pub command: Option<SpawnCommand>,
    /// The profile files the guest decided from, as they were; none for a command.
    pub files: Vec<FileSeen>,
}

/// A profile file as the guest saw it when it decided.
#[derive(Clone, Serialize, Deserialize)]
pub struct FileSeen {
    /// Its path.
    pub path: String,
    /// The SHA-256 (hex) of its text (of "" for a missing file).
    pub sha256: String,
    /// Its stamp when it was read (`None`: missing, not settled, or not on a local filesystem).
    pub stamp: Option<crate::files::Stamp>,
}

impl FileSeen {
    /// What `file` (read with `stamp`) says.
    pub fn new(file: &crate::bindings::wit_profiles::File, stamp: Option<crate::files::Stamp>) -> Self {
        FileSeen {
            path: file.path.clone(),
            sha256: text_sha256(&file.text),
            stamp,
        }
    }

    /// Whether the file still says what it said: its settled stamp unchanged (the file is not
    /// read), else the same text.
    pub fn check(&self) -> Unchanged {
        if self.stamp.is_some() && crate::files::stamp(&self.path) == self.stamp {
            return Unchanged::ByStamp;
        }
        match crate::files::read_file_stamped(&self.path) {
            Ok((file, stamp)) if text_sha256(&file.text) == self.sha256 => Unchanged::ByText(stamp),
            _ => Unchanged::No,
        }
    }
}

fn text_sha256(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// What [`FileSeen::check`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unchanged {
    /// The stamp matched and had settled: the file was not read.
    ByStamp,
    /// The text is the same; the file's stamp as it was read (touched, or rewritten identically).
    ByText(Option<crate::files::Stamp>),
    /// The file changed.
    No,
}

impl Served {
    /// Check every file the record was decided from. When all are unchanged and some only by
    /// their text but now with a settled stamp (touched, or rewritten identically, a while ago),
    /// the record takes the new stamps, so the next call need not read them again: the answer
    /// says whether the record should be written back.
    pub fn files_unchanged(&mut self) -> Option<bool> {
        let mut refreshed = false;
        for file in &mut self.files {
            match file.check() {
                Unchanged::ByStamp => {}
                Unchanged::ByText(stamp) => {
                    if stamp.is_some() && stamp != file.stamp {
                        file.stamp = stamp;
                        refreshed = true;
                    }
                }
                Unchanged::No => return None,
            }
        }
        Some(refreshed)
    }
}
