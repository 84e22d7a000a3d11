//! The sandbox audit (SPEC §8): the guest component imports only the spawn capability, its types,
//! and the WASI interfaces Rust's std needs; the host links nothing more.

use credbox::runtime::{GRANTED_WASI, GUEST_WASM, Runtime, component_imports};
use wasmtime::component::Component;

/// The interface part of an import name, without its version (`wasi:cli/exit@0.2.6` → `wasi:cli/exit`).
fn unversioned(name: &str) -> &str {
    name.split('@').next().unwrap()
}

#[test]
fn the_guest_imports_nothing_beyond_spawn_and_empty_wasi() {
    let runtime = Runtime::new().unwrap();
    let engine = runtime.engine().unwrap();
    let component = Component::new(engine, GUEST_WASM).unwrap();
    let imports = component_imports(engine, &component);
    eprintln!("guest imports: {imports:?}");
    let allowed = |name: &str| {
        let name = unversioned(name);
        name == "credbox:provider/spawn" || name == "credbox:provider/types" || GRANTED_WASI.contains(&name)
    };
    let forbidden: Vec<&String> = imports.iter().filter(|name| !allowed(name)).collect();
    assert!(
        forbidden.is_empty(),
        "forbidden imports: {forbidden:?} (all: {imports:?})"
    );
    assert!(
        imports.iter().any(|i| unversioned(i) == "credbox:provider/spawn"),
        "{imports:?}"
    );
    for never in ["wasi:filesystem", "wasi:sockets", "wasi:http", "wasi:random"] {
        assert!(
            !imports.iter().any(|i| i.starts_with(never)),
            "{never} in {imports:?}"
        );
    }
}

#[test]
fn a_component_importing_the_filesystem_is_refused_at_instantiation() {
    let runtime = Runtime::new().unwrap();
    let wasm = wat::parse_str(
        r#"(component
            (import "wasi:filesystem/preopens@0.2.6" (instance
                (export "get-directories" (func (result (list u32))))))
        )"#,
    )
    .unwrap();
    let engine = runtime.engine().unwrap();
    let component = Component::new(engine, wasm).unwrap();
    let error = Runtime::from_component(engine.clone(), &component).err().unwrap();
    let message = format!("{error:#}");
    assert!(message.contains("wasi:filesystem/preopens"), "{message}");
    assert!(
        message.contains("imports something credbox does not grant"),
        "{message}"
    );
}
