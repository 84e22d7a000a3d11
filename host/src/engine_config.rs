// Shared verbatim by the build script (`#[path]`), which precompiles the guest, and by the runtime,
// which loads that artifact: wasmtime only accepts a precompiled component in an engine configured
// exactly like the one that produced it.

/// The wasmtime configuration of every engine credbox creates.
pub fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    // Address space for the largest memory a store may have (the guest's cap grows with its input
    // up to 1 GiB, `component::sandbox::Limits`), so a memory never has to move: past its
    // reservation, each growth copied the whole memory into a new mapping, which made `check` over
    // a 50,000-profile config quadratic in page faults (76,600, x13.6 for 5x the profiles). The
    // reservation is address space only (PROT_NONE): start-up costs the same as a small one.
    config.memory_reservation(1 << 30);
    config.memory_guard_size(64 << 10);
    config.memory_reservation_for_growth(0);
    // A copy-on-write memory image costs a memfd and mappings per process; credbox instantiates
    // once per process, so copying the data segments is cheaper.
    config.memory_init_cow(false);
    // Every call into a component gets an instruction budget, so a guest or plugin that loops is
    // stopped (see `component::sandbox::Limits`).
    config.consume_fuel(true);
    config
}
