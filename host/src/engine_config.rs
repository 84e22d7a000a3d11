// Shared verbatim by the build script (`#[path]`), which precompiles the guest, and by the runtime,
// which loads that artifact: wasmtime only accepts a precompiled component in an engine configured
// exactly like the one that produced it.

/// The wasmtime configuration of every engine credbox creates.
pub fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    // The guest is small and short-lived: a modest reservation keeps start-up mmap work small.
    config.memory_reservation(64 << 20);
    config.memory_guard_size(64 << 10);
    config.memory_reservation_for_growth(1 << 20);
    // A copy-on-write memory image costs a memfd and mappings per process; credbox instantiates
    // once per process, so copying the data segments is cheaper.
    config.memory_init_cow(false);
    // Every call into a component gets an instruction budget, so a guest or plugin that loops is
    // stopped (see `component::sandbox::Limits`).
    config.consume_fuel(true);
    config
}
