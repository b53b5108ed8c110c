//! The wire contract: hello, framing, bad input, unknown commands, callers, EOF.

use crate::util::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn start_sends_hello_first() {
    let env = HostEnv::with_defaults();
    let mut host = env.spawn_ours();
    host.expect_hello();
}

#[test]
fn eof_on_stdin_exits_zero_promptly() {
    let env = HostEnv::with_defaults();
    let mut host = env.spawn_ours();
    host.expect_hello();
    let started = Instant::now();
    host.close_stdin();
    let status = host.wait_exit(Duration::from_secs(3)).expect("host exits after EOF");
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[test]
fn bad_requests_are_answered_and_serving_continues() {
    let env = HostEnv::with_defaults();
    let mut host = env.spawn_ours();
    host.expect_hello();
    let cases: &[(&[u8], serde_json::Value)] = &[
        (b"", json!(null)),
        (b"\xff\xfe\xfd", json!(null)),
        (b"\xef\xbb\xbf{\"id\":1,\"command\":\"status\"}", json!(null)),
        (b"{", json!(null)),
        (b"[]", json!(null)),
        (b"42", json!(null)),
        (b"null", json!(null)),
        (br#"{"command":"status"}"#, json!(null)),
        (br#"{"id":[1],"command":"status"}"#, json!(null)),
        (br#"{"id":"x"}"#, json!("x")),
        (br#"{"id":"x","command":null}"#, json!("x")),
        (br#"{"id":5,"command":"status","params":"all"}"#, json!(5)),
        (br#"{"id":6,"command":"status","params":{"verbose":true}}"#, json!(6)),
        (br#"{"id":7,"command":"status","extra":true}"#, json!(7)),
    ];
    for (payload, id) in cases {
        host.send_payload(payload);
        let reply = host.recv();
        expect_error(&reply, "BAD_REQUEST");
        assert_eq!(&reply["id"], id, "payload {:?}", String::from_utf8_lossy(payload));
    }
    // Still serving: a good request after all that gets its own answer.
    let reply = host.request(json!("after"), "status", json!({}));
    expect_error(&reply, "PCSC_UNAVAILABLE");
}

#[test]
fn deep_nesting_is_bad_request_not_a_crash() {
    let env = HostEnv::with_defaults();
    let mut host = env.spawn_ours();
    host.expect_hello();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    host.send_payload(deep.as_bytes());
    expect_error(&host.recv(), "BAD_REQUEST");
    expect_error(&host.request(json!(2), "status", json!(null)), "PCSC_UNAVAILABLE");
}

#[test]
fn unknown_command_is_named_in_the_error() {
    let env = HostEnv::with_defaults();
    let mut host = env.spawn_ours();
    host.expect_hello();
    let error = expect_error(&host.request(json!(1), "formatCard", json!({})), "UNKNOWN_COMMAND");
    assert!(error["message"].as_str().unwrap_or_default().contains("formatCard"));
}

#[test]
fn oversize_frame_is_refused_without_reading_it_and_host_stops() {
    let cases = [1024 * 1024 + 1, u32::MAX as usize, 1 << 31];
    for length in cases {
        let env = HostEnv::with_defaults();
        let mut host = env.spawn_ours();
        host.expect_hello();
        host.send_raw(&(length as u32).to_ne_bytes());
        let reply = host.recv();
        expect_error(&reply, "MESSAGE_TOO_LARGE");
        assert_eq!(reply["id"], json!(null));
        let status = host.wait_exit(Duration::from_secs(3)).expect("host stops reading and exits");
        assert!(status.success());
    }
}

#[test]
fn frame_at_the_limit_is_read_and_answered() {
    let env = HostEnv::with_defaults();
    let mut host = env.spawn_ours();
    host.expect_hello();
    let padding = "x".repeat(1024 * 1024 - 64);
    let payload = format!(r#"{{"id":1,"command":"status","pad":"{padding}"}}"#);
    assert!(payload.len() <= 1024 * 1024);
    host.send_payload(payload.as_bytes());
    let reply = host.recv();
    expect_error(&reply, "BAD_REQUEST");
    assert_eq!(reply["id"], 1);
}

#[test]
fn truncated_frame_then_eof_exits_cleanly() {
    let env = HostEnv::with_defaults();
    let mut host = env.spawn_ours();
    host.expect_hello();
    let mut bytes = 100u32.to_ne_bytes().to_vec();
    bytes.extend_from_slice(b"{\"id\":1");
    host.send_raw(&bytes);
    host.close_stdin();
    let status = host.wait_exit(Duration::from_secs(3)).expect("exit");
    assert!(status.success());
    assert!(host.recv_within(Duration::from_millis(100)).is_none(), "no reply to half a frame");
}

#[test]
fn frame_split_byte_by_byte_is_reassembled() {
    let env = HostEnv::with_defaults();
    let mut host = env.spawn_ours();
    host.expect_hello();
    let payload = br#"{"id":"split","command":"nothing"}"#;
    let mut bytes = (payload.len() as u32).to_ne_bytes().to_vec();
    bytes.extend_from_slice(payload);
    for byte in bytes {
        host.send_raw(&[byte]);
        std::thread::sleep(Duration::from_millis(1));
    }
    let reply = host.recv();
    assert_eq!(reply["id"], "split");
    expect_error(&reply, "UNKNOWN_COMMAND");
}

#[test]
fn callers_not_allowed_get_one_error_frame_and_exit() {
    let cases: &[&[&str]] = &[
        &["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"],
        &["/usr/lib/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json", "evil@example.org"],
        &[],
        &["--parent-window=0"],
    ];
    for args in cases {
        let env = HostEnv::with_defaults();
        let mut host = env.spawn(args);
        let frame = host.recv();
        expect_error(&frame, "ORIGIN_NOT_ALLOWED");
        assert_eq!(frame["id"], json!(null));
        let status = host.wait_exit(Duration::from_secs(3)).expect("exits");
        assert!(!status.success(), "{args:?}");
        assert!(host.recv_within(Duration::from_millis(50)).is_none(), "nothing after the error");
    }
}

#[test]
fn allowed_callers_of_each_browser_get_hello() {
    let cases: &[&[&str]] = &[
        &[OUR_ORIGIN],
        &[OUR_ORIGIN, "--parent-window=1234"],
        &[
            "/usr/lib/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json",
            cis_renew_host::deploy::identity::FIREFOX_ID,
        ],
    ];
    for args in cases {
        let env = HostEnv::with_defaults();
        let mut host = env.spawn(args);
        host.expect_hello();
    }
}

#[test]
fn configured_origins_replace_the_defaults() {
    let env = HostEnv::with_defaults();
    env.write_config(&json!({"allowedOrigins": ["chrome-extension://bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/"]}));
    let mut host = env.spawn(&["chrome-extension://bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/"]);
    host.expect_hello();
    let mut ours = env.spawn_ours();
    expect_error(&ours.recv(), "ORIGIN_NOT_ALLOWED");
}

#[test]
fn log_names_commands_and_ids_but_not_contents() {
    let env = HostEnv::with_defaults();
    let mut host = env.spawn_ours();
    host.expect_hello();
    host.request(json!(41), "status", json!({"secretParam": "hunter2-content"}));
    host.request(json!(42), "hunter2-command", json!({}));
    host.close_stdin();
    host.wait_exit(Duration::from_secs(3)).expect("exit");
    let log = env.log_text();
    assert!(log.contains("status id=41"), "{log}");
    assert!(log.contains("id=42"), "{log}");
    assert!(!log.contains("hunter2"), "log leaked message contents: {log}");
}
