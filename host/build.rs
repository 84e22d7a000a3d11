//! Builds the guest component from source and precompiles it, so that the `credbox` binary embeds
//! both the `.wasm` (the fallback when the precompiled artifact does not load on this CPU) and the
//! native code (so that start-up never pays a JIT compile).

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

#[path = "src/engine_config.rs"]
mod engine_config;

fn main() {
    // Packed relative relocations (DT_RELR): the dynamic loader applies the binary's ~27,000
    // relative relocations from a 6.5 KB table instead of a 660 KB one, and dirties fewer pages
    // doing it (docs/PERFORMANCE.md: peak RSS of a warm export 6.4 -> 5.2 MiB, cold 14.7 -> 12.9).
    // ld packs them only when the C library it links against can read them (glibc >= 2.36).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    let host_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = host_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    for watched in [
        "guest/src",
        "guest/Cargo.toml",
        "wit",
        "Cargo.lock",
        "host/src/engine_config.rs",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let wasm = build_guest(&root);
    let wasm_bytes = std::fs::read(&wasm).unwrap_or_else(|e| panic!("reading {}: {e}", wasm.display()));
    std::fs::write(out_dir.join("guest.wasm"), &wasm_bytes).unwrap();
    // Identifies this guest build in host-side cache records (see `cache::ServeKey`).
    let digest: String = sha2::Sha256::digest(&wasm_bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(out_dir.join("guest.sha256"), digest).unwrap();

    let engine = precompiling_engine();
    let native = engine
        .precompile_component(&wasm_bytes)
        .expect("precompiling the guest component");
    std::fs::write(out_dir.join("guest.cwasm"), native).unwrap();
}

/// An engine that compiles for the target being built, not for the machine building it: a
/// cross-built binary whose artifact was made for the build machine would reject it at start-up
/// and compile the guest every time (0.7 s natively, ~1 s under wine, instead of ~1.4 ms). For a
/// native build wasmtime detects this CPU's features, as the runtime does.
fn precompiling_engine() -> wasmtime::Engine {
    let target = std::env::var("TARGET").unwrap();
    let mut config = engine_config::engine_config();
    if target != std::env::var("HOST").unwrap() {
        config
            .target(&target)
            .unwrap_or_else(|e| panic!("wasmtime does not know the target {target}: {e}"));
    }
    wasmtime::Engine::new(&config).unwrap_or_else(|e| {
        // Cranelift has only the build machine's backend unless told otherwise (the runtime
        // needs no other, and every backend costs the binary ~1 MB).
        eprintln!(
            "credbox: cannot precompile the guest for {target} ({e:#}); a build for another \
             CPU architecture needs Cranelift's backend for it: add `--features credbox/cross-arch`"
        );
        std::process::exit(1)
    })
}

/// Stop with one line that says how to fix it when the `wasm32-wasip2` standard library is not
/// installed, instead of the nested build's wall of "can't find crate for `std`" errors.
fn require_wasm_target() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let Some(sysroot) = sysroot else {
        return; // Let the build itself report whatever is wrong with rustc.
    };
    if !sysroot.join("lib/rustlib/wasm32-wasip2").is_dir() {
        eprintln!(
            "credbox: the wasm32-wasip2 target is not installed; run `rustup target add wasm32-wasip2` \
             (or `make install`, which adds it) and build again"
        );
        std::process::exit(1);
    }
}

/// Build the guest crate as a `wasm32-wasip2` component with a nested cargo.
fn build_guest(root: &Path) -> PathBuf {
    require_wasm_target();
    // Its own target directory: the outer cargo holds the lock on ours.
    let target_dir = root.join("target").join("guest-wasm");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args([
            "rustc",
            "-p",
            "credbox-guest",
            "--profile",
            "guest",
            "--target",
            "wasm32-wasip2",
            "--crate-type",
            "cdylib",
        ])
        .env("CARGO_TARGET_DIR", &target_dir);
    // Flags meant for the host build must not leak into the wasm build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .expect("running cargo to build the guest component");
    if !status.success() {
        panic!(
            "building the guest component failed; if the error above says the `wasm32-wasip2` target \
             is missing, run `rustup target add wasm32-wasip2` (the Makefile does this for you)"
        );
    }
    target_dir.join("wasm32-wasip2/guest/credbox_guest.wasm")
}
