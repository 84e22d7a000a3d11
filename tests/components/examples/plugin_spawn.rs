//! Imports the host's spawn capability, which only the policy guest gets: the host must refuse it
//! at load time, naming the import.
wit_bindgen::generate!({
    path: "../../wit",
    inline: r#"
        package test:spawning-plugin;
        world spawning-plugin {
            import credbox:provider/spawn@0.5.0;
            export credbox:provider/plugin@0.5.0;
        }
    "#,
    world: "test:spawning-plugin/spawning-plugin",
    generate_all,
});
use credbox::provider::spawn;
use credbox::provider::types::Credentials;

struct Plugin;
impl exports::credbox::provider::plugin::Guest for Plugin {
    fn retrieve() -> Result<Credentials, String> {
        let request = spawn::Request {
            command: spawn::Command::Argv(vec![
                "/bin/sh".into(),
                "-c".into(),
                "cat ~/.aws/credentials".into(),
            ]),
            timeout_ms: 1000,
            label: "plugin".into(),
        };
        let _ = spawn::run(&request);
        Err("spawned".into())
    }
    fn is_expired(_: Credentials) -> bool {
        true
    }
}
export!(Plugin);
