//! The sandbox audit (docs/SECURITY.md): the guest component imports only its four capabilities
//! (spawn, plugins, sts, prompt), their types, and the WASI interfaces Rust's std needs; the host links
//! nothing more.

use credbox::component::{GRANTED_WASI, GUEST_WASM, Runtime, component_imports};
use wasmtime::component::Component;

/// Every import docs/SECURITY.md ("What the guest is granted") lets the guest have, pinned here as
/// data: a host that grants more (a longer `GRANTED_WASI`) or a guest that imports more fails
/// these tests until this list, and the document, say so.
const DOCUMENTED_IMPORTS: &[&str] = &[
    "credbox:provider/types",
    "credbox:provider/spawn",
    "credbox:provider/plugins",
    "credbox:provider/sts",
    "credbox:provider/prompt",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
];

#[test]
fn the_host_grants_exactly_the_documented_wasi() {
    let mut granted: Vec<&str> = GRANTED_WASI.to_vec();
    let mut documented: Vec<&str> = DOCUMENTED_IMPORTS
        .iter()
        .copied()
        .filter(|name| name.starts_with("wasi:"))
        .collect();
    granted.sort_unstable();
    documented.sort_unstable();
    assert_eq!(
        granted, documented,
        "the host's grant list is not the documented one"
    );
}

/// The interface part of an import name, without its version (`wasi:cli/exit@0.2.6` → `wasi:cli/exit`).
fn unversioned(name: &str) -> &str {
    name.split('@').next().unwrap()
}

#[test]
fn the_guest_imports_nothing_beyond_its_four_capabilities_and_empty_wasi() {
    let runtime = Runtime::new().unwrap();
    let engine = runtime.engine().unwrap();
    let component = Component::new(engine, GUEST_WASM).unwrap();
    let imports = component_imports(engine, &component);
    eprintln!("guest imports: {imports:?}");
    let allowed = |name: &str| DOCUMENTED_IMPORTS.contains(&unversioned(name));
    let forbidden: Vec<&String> = imports.iter().filter(|name| !allowed(name)).collect();
    assert!(
        forbidden.is_empty(),
        "forbidden imports: {forbidden:?} (all: {imports:?})"
    );
    for capability in [
        "credbox:provider/spawn",
        "credbox:provider/plugins",
        "credbox:provider/sts",
        "credbox:provider/prompt",
    ] {
        assert!(
            imports.iter().any(|i| unversioned(i) == capability),
            "{capability} not in {imports:?}"
        );
    }
    for never in ["wasi:filesystem", "wasi:sockets", "wasi:http", "wasi:random"] {
        assert!(
            !imports.iter().any(|i| i.starts_with(never)),
            "{never} in {imports:?}"
        );
    }
}

/// A component built by `make plugins` (tests/components).
fn test_component(engine: &wasmtime::Engine, name: &str) -> Component {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/components/wasm32-wasip2/release/examples")
        .join(format!("{name}.wasm"));
    let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run `make plugins`", path.display()));
    Component::new(engine, wasm).unwrap()
}

#[test]
fn a_guest_that_uses_the_filesystem_is_refused_at_instantiation() {
    // Built from Rust calling std::fs: its `wasi:filesystem` imports are exactly typed, so only a
    // linker that does not grant the filesystem refuses it.
    let runtime = Runtime::new().unwrap();
    let engine = runtime.engine().unwrap();
    let component = test_component(engine, "guest_filesystem");
    let imports = component_imports(engine, &component);
    assert!(
        imports.iter().any(|i| i.starts_with("wasi:filesystem/")),
        "{imports:?}"
    );
    let error = Runtime::from_component(engine.clone(), &component).err().unwrap();
    let message = format!("{error:#}");
    assert!(
        message.contains("imports something credbox does not grant"),
        "{message}"
    );
    assert!(message.contains("wasi:filesystem/"), "{message}");
    assert!(
        message.contains("matching implementation was not found"),
        "{message}"
    );
}

#[test]
fn a_component_importing_randomness_is_refused_at_instantiation() {
    // `wasi:random/random` with its real signature (no resources, so WAT states it exactly).
    let runtime = Runtime::new().unwrap();
    let wasm = wat::parse_str(
        r#"(component
            (import "wasi:random/random@0.2.6" (instance
                (export "get-random-bytes" (func (param "len" u64) (result (list u8))))
                (export "get-random-u64" (func (result u64)))))
        )"#,
    )
    .unwrap();
    let engine = runtime.engine().unwrap();
    let component = Component::new(engine, wasm).unwrap();
    let error = Runtime::from_component(engine.clone(), &component).err().unwrap();
    let message = format!("{error:#}");
    assert!(message.contains("wasi:random/random"), "{message}");
    assert!(
        message.contains("matching implementation was not found"),
        "{message}"
    );
}

#[test]
fn the_linker_grants_every_documented_wasi_interface() {
    // The hostile guest's WASI probe imports every interface of GRANTED_WASI; it instantiates,
    // so the linker defines each of them (what they return is tests/hostile_guest.rs's business).
    let runtime = Runtime::new().unwrap();
    let engine = runtime.engine().unwrap();
    let component = test_component(engine, "hostile_guest");
    let imports: Vec<String> = component_imports(engine, &component)
        .iter()
        .map(|i| unversioned(i).to_string())
        .collect();
    for granted in GRANTED_WASI {
        assert!(
            imports.iter().any(|i| i == granted),
            "the probe does not import {granted}: {imports:?}"
        );
    }
    Runtime::from_component(engine.clone(), &component).unwrap();
}
