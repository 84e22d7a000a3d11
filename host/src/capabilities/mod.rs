//! The capabilities the host grants the guest: one folder per import of `wit/credbox.wit`, side
//! by side, each holding the import's glue (`import.rs`: the guest's request in, the answer out)
//! and the policy that bounds it, whatever the guest asks.
//!
//! * [`spawn`]: run one command, bounded (no shell unless allowed, the allow-list and pins, the
//!   timeout that kills everything it started, the output caps, the recursion guard);
//! * [`plugins`]: call a credential plugin component in a sandbox of its own;
//! * [`sts`]: one STS `AssumeRole`, sent only where the person pointed it, signed and bounded;
//! * [`prompt`]: ask the person for an MFA code on the terminal, or not at all.

pub mod plugins;
pub mod prompt;
pub mod spawn;
pub mod sts;
