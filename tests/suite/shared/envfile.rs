use mooring::envfile::EnvFile;
use rig::systemd::UserManager;
use std::collections::BTreeMap;

/// Hostile tag values, written by EnvFile and read back by systemd's own
/// EnvironmentFile= parser: each arrives byte for byte, and none of them
/// turns into a second variable.
#[test]
fn hostile_values_round_trip_through_systemd() {
    let values: Vec<(&str, &str)> = vec![
        ("PLAIN", "etcd-prod"),
        ("QUOTES", r#"say "hi" and 'bye'"#),
        ("NEWLINE_INJECTION", "x\nINJECTED=1"),
        ("DOLLAR", "$HOME ${PATH} $$"),
        ("BACKSLASH", r"C:\path\ and trailing \"),
        ("BACKTICK", "`id` $(id)"),
        ("SPACES", "  leading and trailing  "),
        ("HASH", "#not a comment ; nor this"),
        ("EMPTY", ""),
        ("UNICODE", "zoë ☃ 東京"),
        ("TAB", "a\tb"),
    ];
    let mut env = EnvFile::new();
    for (k, v) in &values {
        env.set(k, *v).unwrap();
    }
    let manager = UserManager::start();
    let env_path = manager.path("node.env");
    let out_path = manager.path("seen.env");
    env.write(&env_path, 0o644, "test").unwrap();
    manager.install(
        "envcheck.service",
        &format!(
            "[Service]\nType=oneshot\nEnvironmentFile={}\nExecStart=/usr/bin/env -0\nStandardOutput=file:{}\n",
            env_path.display(),
            out_path.display()
        ),
    );
    let out = manager.systemctl(&["start", "envcheck.service"]);
    assert!(
        out.status.success(),
        "unit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: BTreeMap<String, String> = std::fs::read_to_string(&out_path)
        .unwrap()
        .split('\0')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in &values {
        assert_eq!(
            seen.get(*k).map(String::as_str),
            Some(*v),
            "{k} did not round-trip"
        );
    }
    assert!(
        !seen.contains_key("INJECTED"),
        "a value injected a variable"
    );
}
