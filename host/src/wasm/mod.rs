//! The WebAssembly sandbox every component runs in, the guest and credential plugins alike: the
//! engines (one that runs the embedded guest's code where the binary maps it, a plain one for
//! everything else), the empty WASI, the limits (instructions, memory) and the per-call budget of
//! host calls.

pub(crate) mod in_place;
pub mod sandbox;
