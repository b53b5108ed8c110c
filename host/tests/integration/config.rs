//! Configuration errors reach the browser as one clear frame that names the key.

use crate::util::*;
use serde_json::json;
use std::time::Duration;

#[test]
fn invalid_config_gives_config_invalid_naming_the_key() {
    let cases = [
        (r#"{"pkcs11Modle": "/x.so"}"#, "pkcs11Modle"),
        (r#"{"renewalWindowDays": "ninety"}"#, "renewalWindowDays"),
        (r#"{"slotMap": {"Reader": {"tokenLabel": 5}}}"#, "slotMap"),
        (r#"{"allowedOrigins": "chrome-extension://x/"}"#, "allowedOrigins"),
        ("{ not json", "host.json"),
    ];
    for (text, key) in cases {
        let env = HostEnv::with_defaults();
        env.write_config_text(text);
        let mut host = env.spawn_ours();
        let frame = host.recv();
        let error = expect_error(&frame, "CONFIG_INVALID");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(key), "{text}: {message}");
        let status = host.wait_exit(Duration::from_secs(3)).expect("exits");
        assert!(!status.success());
    }
}

#[test]
fn missing_config_named_by_env_is_an_error() {
    let env = HostEnv::with_defaults();
    std::fs::remove_file(env.config_path()).expect("remove");
    let mut host = env.spawn_ours();
    expect_error(&host.recv(), "CONFIG_INVALID");
}

#[test]
fn invalid_config_is_logged_to_the_default_log() {
    let env = HostEnv::with_defaults();
    env.write_config(&json!({"logLevel": "chatty"}));
    let mut host = env.spawn_ours();
    expect_error(&host.recv(), "CONFIG_INVALID");
    host.wait_exit(Duration::from_secs(3)).expect("exits");
    let default_log = env.path().join(".local/state/cis-renew/host.log");
    let log = std::fs::read_to_string(&default_log).unwrap_or_default();
    assert!(log.contains("CONFIG_INVALID") && log.contains("logLevel"), "{log}");
}
