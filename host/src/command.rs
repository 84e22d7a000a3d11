//! What a helper runs, as the host keys the cache by it, checks it against its policy and runs
//! it: the WIT `spawn.command`, with the serde a served record stores it with. A leaf.

use crate::bindings::wit_spawn;

/// What to run (the WIT `spawn.command`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SpawnCommand {
    /// A program and its arguments, run without a shell.
    Argv(Vec<String>),
    /// Text for `/bin/sh -c` (Windows: `cmd.exe /d /s /c`), only with shell mode.
    Shell(String),
}

impl From<wit_spawn::Command> for SpawnCommand {
    fn from(command: wit_spawn::Command) -> Self {
        match command {
            wit_spawn::Command::Argv(argv) => SpawnCommand::Argv(argv),
            wit_spawn::Command::Shell(text) => SpawnCommand::Shell(text),
        }
    }
}
