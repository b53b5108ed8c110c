//! The bad-input catalogue (issue 7): hostile inputs through the real binary, each with the
//! error code it must get, and after each a check that the host still answers (or, where the
//! protocol says so, that it exits cleanly). At the end, the log holds no PIN and no contents.

use crate::bed::{managed, Bed};
use crate::util::*;
use base64::Engine;
use serde_json::{json, Value};
use std::time::Duration;

/// Marks every secret and payload the catalogue sends, so the log can be searched for them.
const MARK: &str = "CATALOGUEMARK";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One input that must be answered, with the code (or a reply id) it must get.
struct Case {
    name: &'static str,
    payload: Vec<u8>,
    code: &'static str,
    id: Value,
}

fn case(name: &'static str, payload: impl Into<Vec<u8>>, code: &'static str, id: Value) -> Case {
    Case { name, payload: payload.into(), code, id }
}

fn request(id: u64, command: &str, params: Value) -> Vec<u8> {
    json!({"id": id, "command": command, "params": params}).to_string().into_bytes()
}

/// DER: a tag and its length, then the content.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let length = content.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes: Vec<u8> = length.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A certs-only PKCS#7 (SignedData) holding `count` copies of `certificate`.
fn pkcs7_with(count: usize, certificate: &[u8]) -> Vec<u8> {
    let oid_signed_data = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    let oid_data = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
    let certificates: Vec<u8> = certificate.repeat(count);
    let signed_data =
        [der(0x02, &[1]), der(0x31, &[]), der(0x30, &oid_data), der(0xa0, &certificates), der(0x31, &[])]
            .concat();
    der(0x30, &[&oid_signed_data[..], &der(0xa0, &der(0x30, &signed_data))].concat())
}

/// `serial`: the managed card's, so the `renewBegin` cases fail for the reason they name.
fn catalogue(serial: &str) -> Vec<Case> {
    let n = |i: u64| json!(i);
    let big_pin = format!("{MARK}{}", "9".repeat(512 * 1024));
    let pkcs7_10k = B64.encode(pkcs7_with(10_000, &der(0x30, &[])));
    let not_der = B64.encode(format!("{MARK} this is not a certificate"));
    vec![
        // Framing and encoding.
        case("length 0", "", "BAD_REQUEST", Value::Null),
        case("length 1", "{", "BAD_REQUEST", Value::Null),
        case("length 2: empty object", "{}", "BAD_REQUEST", Value::Null),
        case(
            "UTF-8 BOM",
            b"\xef\xbb\xbf{\"id\":1,\"command\":\"status\"}".to_vec(),
            "BAD_REQUEST",
            Value::Null,
        ),
        case("invalid UTF-8", b"{\"id\":1,\"command\":\"st\xffus\"}".to_vec(), "BAD_REQUEST", Value::Null),
        case(
            "overlong UTF-8",
            b"{\"id\":1,\"command\":\"\xc0\xafstatus\"}".to_vec(),
            "BAD_REQUEST",
            Value::Null,
        ),
        case(
            "UTF-16 surrogate",
            b"{\"id\":1,\"command\":\"\xed\xa0\x80\"}".to_vec(),
            "BAD_REQUEST",
            Value::Null,
        ),
        case(
            "UTF-16 text",
            "{\"id\":1}".encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>(),
            "BAD_REQUEST",
            Value::Null,
        ),
        case("trailing garbage", r#"{"id":1,"command":"status"} x"#, "BAD_REQUEST", Value::Null),
        case("two objects", r#"{"id":1,"command":"status"}{"id":2}"#, "BAD_REQUEST", Value::Null),
        case("JSON comment", r#"{"id":1,/*x*/"command":"status"}"#, "BAD_REQUEST", Value::Null),
        case("single quotes", "{'id':1,'command':'status'}", "BAD_REQUEST", Value::Null),
        case("NaN id", r#"{"id":NaN,"command":"status"}"#, "BAD_REQUEST", Value::Null),
        case(
            "deep nesting",
            format!("{}{}", "[".repeat(50_000), "]".repeat(50_000)),
            "BAD_REQUEST",
            Value::Null,
        ),
        case(
            "deep nesting in params",
            format!(
                r#"{{"id":9,"command":"status","params":{}1{}}}"#,
                r#"{"a":"#.repeat(2000),
                "}".repeat(2000)
            ),
            "BAD_REQUEST",
            Value::Null,
        ),
        case("huge exponent id", r#"{"id":1e400,"command":"status"}"#, "BAD_REQUEST", Value::Null),
        case("JSON null", "null", "BAD_REQUEST", Value::Null),
        case("JSON array", r#"[{"id":1,"command":"status"}]"#, "BAD_REQUEST", Value::Null),
        // The envelope.
        case("id is an object", r#"{"id":{"a":1},"command":"status"}"#, "BAD_REQUEST", Value::Null),
        case("id is a bool", r#"{"id":false,"command":"status"}"#, "BAD_REQUEST", Value::Null),
        case(
            "id of 10,000 characters",
            format!(r#"{{"id":"{}","command":"status"}}"#, "i".repeat(10_000)),
            "BAD_REQUEST",
            Value::Null,
        ),
        case("command missing", r#"{"id":11}"#, "BAD_REQUEST", n(11)),
        case("command is a number", r#"{"id":12,"command":1}"#, "BAD_REQUEST", n(12)),
        case(
            "command of 100,000 characters",
            format!(r#"{{"id":13,"command":"{}"}}"#, "c".repeat(100_000)),
            "BAD_REQUEST",
            n(13),
        ),
        case("command with NUL", r#"{"id":14,"command":"status\u0000"}"#, "UNKNOWN_COMMAND", n(14)),
        case("command in other case", r#"{"id":15,"command":"STATUS"}"#, "UNKNOWN_COMMAND", n(15)),
        case("command not ours", r#"{"id":16,"command":"signData"}"#, "UNKNOWN_COMMAND", n(16)),
        case("params is a string", r#"{"id":17,"command":"status","params":"x"}"#, "BAD_REQUEST", n(17)),
        case(
            "extra envelope member",
            format!(r#"{{"id":18,"command":"status","{MARK}":1}}"#),
            "BAD_REQUEST",
            n(18),
        ),
        case(
            "duplicate id: the last wins, as in JavaScript",
            r#"{"id":1,"id":19,"command":"nope"}"#,
            "UNKNOWN_COMMAND",
            n(19),
        ),
        // Wrong types in every field of every command.
        case("status with a param", request(20, "status", json!({"verbose": true})), "BAD_REQUEST", n(20)),
        case("watch with a param", request(21, "watch", json!({"reader": 1})), "BAD_REQUEST", n(21)),
        case("unwatch with a param", request(22, "unwatch", json!({"all": true})), "BAD_REQUEST", n(22)),
        case(
            "renewBegin pin is a number",
            request(23, "renewBegin", json!({"pin": 123456, "cardSerial": serial})),
            "BAD_REQUEST",
            n(23),
        ),
        case(
            "renewBegin pin is an array",
            request(24, "renewBegin", json!({"pin": ["1", "2"], "cardSerial": serial})),
            "BAD_REQUEST",
            n(24),
        ),
        case(
            "renewBegin pin is an object",
            request(25, "renewBegin", json!({"pin": {"value": MARK}, "cardSerial": serial})),
            "BAD_REQUEST",
            n(25),
        ),
        case(
            "renewBegin unknown param",
            request(26, "renewBegin", json!({"pin": MARK, "cardSerial": serial, "reader": "x"})),
            "BAD_REQUEST",
            n(26),
        ),
        case(
            "renewBegin PIN of 512 KiB",
            request(27, "renewBegin", json!({"pin": big_pin, "cardSerial": serial})),
            "PIN_INVALID",
            n(27),
        ),
        case(
            "renewBegin PIN too short for the token",
            request(28, "renewBegin", json!({"pin": "12", "cardSerial": serial})),
            "PIN_INVALID",
            n(28),
        ),
        case(
            "renewBegin without cardSerial (issue 10: the sponsor's confirmation is required)",
            request(128, "renewBegin", json!({"pin": MARK})),
            "BAD_REQUEST",
            n(128),
        ),
        case(
            "renewBegin cardSerial is a number",
            request(129, "renewBegin", json!({"pin": MARK, "cardSerial": 5})),
            "BAD_REQUEST",
            n(129),
        ),
        case(
            "renewComplete renewalId is a number",
            request(29, "renewComplete", json!({"renewalId": 5, "certificates": ["AA=="]})),
            "BAD_REQUEST",
            n(29),
        ),
        case(
            "renewComplete renewalId missing",
            request(30, "renewComplete", json!({"pkcs7": "AA=="})),
            "BAD_REQUEST",
            n(30),
        ),
        case(
            "renewComplete pkcs7 is an object",
            request(31, "renewComplete", json!({"renewalId": "r", "pkcs7": {"a": 1}})),
            "BAD_REQUEST",
            n(31),
        ),
        case(
            "renewComplete pkcs7 nested arrays",
            request(32, "renewComplete", json!({"renewalId": "r", "pkcs7": [["AA=="]]})),
            "BAD_REQUEST",
            n(32),
        ),
        case(
            "renewComplete certificates is a string",
            request(33, "renewComplete", json!({"renewalId": "r", "certificates": "AA=="})),
            "BAD_REQUEST",
            n(33),
        ),
        case(
            "renewComplete certificates hold numbers",
            request(34, "renewComplete", json!({"renewalId": "r", "certificates": [1, 2]})),
            "BAD_REQUEST",
            n(34),
        ),
        case(
            "renewComplete both pkcs7 and certificates",
            request(
                35,
                "renewComplete",
                json!({"renewalId": "r", "pkcs7": "AA==", "certificates": ["AA=="]}),
            ),
            "BAD_REQUEST",
            n(35),
        ),
        case(
            "renewComplete certificates not base64",
            request(36, "renewComplete", json!({"renewalId": "r", "certificates": ["%%%"]})),
            "CERTIFICATE_INVALID",
            n(36),
        ),
        case(
            "renewComplete certificates not DER",
            request(37, "renewComplete", json!({"renewalId": "r", "certificates": [not_der]})),
            "UNKNOWN_RENEWAL",
            n(37),
        ),
        case(
            "renewComplete garbage PKCS#7",
            request(38, "renewComplete", json!({"renewalId": "r", "pkcs7": B64.encode(MARK)})),
            "CERTIFICATE_INVALID",
            n(38),
        ),
        case(
            "renewComplete PKCS#7 with 10,000 certificates",
            request(39, "renewComplete", json!({"renewalId": "r", "pkcs7": pkcs7_10k})),
            "CERTIFICATE_INVALID",
            n(39),
        ),
        case(
            "renewComplete unknown renewal",
            request(
                40,
                "renewComplete",
                json!({"renewalId": "nope", "certificates": [B64.encode(der(0x30, &[]))]}),
            ),
            "UNKNOWN_RENEWAL",
            n(40),
        ),
        case(
            "renewCancel renewalId is an array",
            request(41, "renewCancel", json!({"renewalId": ["r"]})),
            "BAD_REQUEST",
            n(41),
        ),
        case(
            "renewCancel unknown renewal",
            request(42, "renewCancel", json!({"renewalId": format!("{MARK}-other")})),
            "UNKNOWN_RENEWAL",
            n(42),
        ),
        case(
            "renewCancel huge renewalId",
            request(43, "renewCancel", json!({"renewalId": "r".repeat(200_000)})),
            "UNKNOWN_RENEWAL",
            n(43),
        ),
    ]
}

#[test]
fn catalogue_every_input_gets_its_code_and_the_host_keeps_serving() {
    let mut bed = Bed::start();
    let card = bed.card(managed(), "Catalogue card", 45, 45);
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let cases = catalogue(&card.token_serial);
    assert!(cases.len() >= 40, "the catalogue has {} inputs", cases.len());
    for (i, case) in cases.iter().enumerate() {
        host.send_payload(&case.payload);
        let reply = host.reply_to(&case.id);
        assert_eq!(reply["error"]["code"], case.code, "{}: {reply}", case.name);
        assert_eq!(reply["id"], case.id, "{}: {reply}", case.name);
        let probe = json!(format!("probe-{i}"));
        let status = host.request(probe, "status", json!({}));
        assert_eq!(expect_ok(&status)["card"]["renewable"], true, "after {}", case.name);
    }
    host.close_stdin();
    assert!(host.wait_exit(Duration::from_secs(3)).expect("exits").success());
    let log = bed.env.log_text();
    assert!(log.lines().count() > cases.len(), "every request is logged: {log}");
    assert!(!log.contains(MARK), "the log holds message contents");
    assert!(!log.contains("999999999"), "the log holds the long PIN");
}

#[test]
fn catalogue_open_renewal_survives_bad_answers_and_foreign_ids() {
    let mut bed = Bed::start();
    bed.card(managed(), "Open renewal", 45, 45);
    let mut first = bed.env.spawn_ours();
    first.expect_hello();
    let begun = expect_ok(&first.begin_confirmed(json!(1), json!({"pin": "123456"})));
    let id = begun["renewalId"].as_str().expect("renewal id").to_owned();

    // Another host process (a second browser port) does not know this renewal.
    let mut second = bed.env.spawn_ours();
    second.expect_hello();
    let foreign = json!({"renewalId": id, "certificates": [B64.encode(der(0x30, &[]))]});
    expect_error(&second.request(json!(2), "renewComplete", foreign), "UNKNOWN_RENEWAL");
    expect_error(&second.request(json!(3), "renewCancel", json!({"renewalId": id})), "UNKNOWN_RENEWAL");

    // Bad answers leave the renewal open: nothing is lost, the right answer can still come.
    let bad = json!({"renewalId": id, "pkcs7": B64.encode(pkcs7_with(10_000, &der(0x30, &[])))});
    expect_error(&first.request(json!(4), "renewComplete", bad), "CERTIFICATE_INVALID");
    let not_der = json!({"renewalId": id, "certificates": [B64.encode("not a certificate"), B64.encode([0x30, 0x03, 0x02, 0x01])]});
    expect_error(&first.request(json!(7), "renewComplete", not_der), "CERTIFICATE_INVALID");
    expect_error(&first.begin_confirmed(json!(5), json!({"pin": "123456"})), "BUSY");
    let cancelled = expect_ok(&first.request(json!(6), "renewCancel", json!({"renewalId": id})));
    assert_eq!(cancelled["cancelled"], true);
    let contents = cis_renew_testbed::inspect(&bed.hsm.conf(), "Open renewal", "123456").expect("inspect");
    assert_eq!(contents.private_keys().count(), 2, "pending keys removed, old keys kept");
    assert!(contents.all_pairs_verify());
}

#[test]
fn catalogue_stream_breakers_end_the_host_cleanly() {
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("length 2^31", (1u32 << 31).to_ne_bytes().to_vec(), Some("MESSAGE_TOO_LARGE")),
        ("length 2^32-1", u32::MAX.to_ne_bytes().to_vec(), Some("MESSAGE_TOO_LARGE")),
        (
            "a 10 MB PIN",
            {
                let pin = request(1, "renewBegin", json!({"pin": "1".repeat(10 * 1024 * 1024)}));
                [&(pin.len() as u32).to_ne_bytes()[..], &pin[..]].concat()
            },
            Some("MESSAGE_TOO_LARGE"),
        ),
        ("truncated length", vec![7, 0], None),
        ("truncated payload", [&20u32.to_ne_bytes()[..], b"{\"id\":1"].concat(), None),
    ];
    for (name, bytes, code) in cases {
        let env = HostEnv::with_defaults();
        let mut host = env.spawn_ours();
        host.expect_hello();
        host.send_raw(&bytes);
        host.close_stdin();
        if let Some(code) = code {
            let reply = host.recv();
            assert_eq!(reply["error"]["code"], code, "{name}: {reply}");
            assert_eq!(reply["id"], Value::Null, "{name}");
        }
        let status =
            host.wait_exit(Duration::from_secs(5)).unwrap_or_else(|| panic!("{name}: host still running"));
        assert!(status.success(), "{name}: {status:?}");
        assert!(host.recv_within(Duration::from_millis(50)).is_none(), "{name}: nothing more is said");
    }
}
