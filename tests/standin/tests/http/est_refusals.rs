//! Every EST refusal: a clear 4xx, a stable code, and an audit entry.

use std::process::Command;

use crate::util::{b64, csr_from_cert, ec_key, openssl, run, Browser, Card, Server};

/// A server, a due card of Alice's, a signed-in browser and its CSRF token.
fn setup(auth_days: i64) -> (Server, Card, Browser, String) {
    let s = Server::start();
    let card = s.add_card("alice", "REF1", auth_days, 45);
    let mut b = s.signed_in();
    let csrf = b.csrf();
    (s, card, b, csrf)
}

/// Posts a body; asserts status and error code; returns the message.
fn refused(b: &mut Browser, csrf: Option<&str>, body: &[u8], status: u16, code: &str) -> String {
    refused_at(b, "/.well-known/est/simplereenroll", csrf, body, status, code)
}

fn refused_at(
    b: &mut Browser,
    path: &str,
    csrf: Option<&str>,
    body: &[u8],
    status: u16,
    code: &str,
) -> String {
    let r = b.est_post(path, csrf, body);
    assert_eq!(r.status, status, "{code}: {}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let json = r.json();
    assert_eq!(json["error"], code, "{}", r.body);
    json["message"].as_str().expect("message").to_owned()
}

/// The last audit entry, which must be a refusal with `code`.
fn assert_audited(s: &Server, code: &str, status: u16) -> serde_json::Value {
    let audit = s.admin_get("/admin/api/audit");
    let last = audit.as_array().and_then(|a| a.last()).cloned().expect("an audit entry");
    assert_eq!(last["outcome"], "refused");
    assert_eq!(last["code"], code);
    assert_eq!(last["status"], status);
    assert!(s.admin_get("/admin/api/issued").as_array().is_some_and(Vec::is_empty), "nothing issued");
    last
}

fn good_csr(s: &Server, card: &Card) -> Vec<u8> {
    let key = ec_key(s.dir.path(), "good", "secp384r1");
    b64(&csr_from_cert(s.dir.path(), &card.auth_pem, &key, true))
}

#[test]
fn no_session_is_401() {
    let (s, card, _, _) = setup(45);
    let mut anon = s.browser();
    let msg = refused(&mut anon, Some("anything"), &good_csr(&s, &card), 401, "not-signed-in");
    assert!(msg.contains("Sign in"));
    let entry = assert_audited(&s, "not-signed-in", 401);
    assert!(entry["sponsor"].is_null());
}

#[test]
fn missing_or_wrong_csrf_header_is_403() {
    let (s, card, mut b, _) = setup(45);
    let csr = good_csr(&s, &card);
    refused(&mut b, None, &csr, 403, "csrf");
    let msg = refused(&mut b, Some("not-the-token"), &csr, 403, "csrf");
    assert!(msg.contains("X-CSRF-Token"));
    let entry = assert_audited(&s, "csrf", 403);
    assert_eq!(entry["sponsor"], "sponsor1");
}

#[test]
fn wrong_content_type_is_415() {
    let (s, card, mut b, csrf) = setup(45);
    let r = b.request(
        "POST",
        "/.well-known/est/simplereenroll",
        &[("Content-Type", "text/plain"), ("X-CSRF-Token", &csrf)],
        Some(&good_csr(&s, &card)),
    );
    assert_eq!(r.status, 415);
    assert_eq!(r.json()["error"], "unsupported-media-type");
}

#[test]
fn garbage_bodies_are_400() {
    let (s, _, mut b, csrf) = setup(45);
    let msg = refused(&mut b, Some(&csrf), b"this is not base64!!", 400, "bad-request-body");
    assert!(msg.contains("not base64"), "{msg}");
    let msg = refused(&mut b, Some(&csrf), &b64(b"\x30\x03\x02\x01"), 400, "bad-request-body");
    assert!(msg.contains("PKCS#10"), "{msg}");
    let msg = refused(&mut b, Some(&csrf), b"", 400, "bad-request-body");
    assert!(msg.contains("empty"), "{msg}");
    assert_audited(&s, "bad-request-body", 400);
}

#[test]
fn bad_signature_is_400() {
    let (s, card, mut b, csrf) = setup(45);
    let key = ec_key(s.dir.path(), "k", "secp384r1");
    let mut der = csr_from_cert(s.dir.path(), &card.auth_pem, &key, true);
    // The last byte is the end of the signature's s integer: changing it keeps valid DER.
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let msg = refused(&mut b, Some(&csrf), &b64(&der), 400, "bad-signature");
    assert!(msg.contains("does not verify"), "{msg}");
    assert_audited(&s, "bad-signature", 400);
}

#[test]
fn p521_key_is_400() {
    // P-256 and P-384 keys are what the host makes; P-521 is not.
    let (s, card, mut b, csrf) = setup(45);
    let key = ec_key(s.dir.path(), "p521", "secp521r1");
    let csr = csr_from_cert(s.dir.path(), &card.auth_pem, &key, true);
    let msg = refused(&mut b, Some(&csrf), &b64(&csr), 400, "key-algorithm-not-allowed");
    assert!(msg.contains("P-521"), "{msg}");
    assert_audited(&s, "key-algorithm-not-allowed", 400);
}

#[test]
fn rsa_1024_key_is_400() {
    let (s, card, mut b, csrf) = setup(45);
    let key = s.dir.path().join("rsa.key");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:1024",
        "-out",
        key.to_str().expect("path"),
    ]);
    let csr = csr_from_cert(s.dir.path(), &card.auth_pem, &key, true);
    let msg = refused(&mut b, Some(&csrf), &b64(&csr), 400, "key-algorithm-not-allowed");
    assert!(msg.contains("RSA-1024"), "{msg}");
}

#[test]
fn sha256_signature_is_400() {
    let (s, card, mut b, csrf) = setup(45);
    let key = ec_key(s.dir.path(), "k", "secp384r1");
    let pem = s.dir.path().join("sha256.pem");
    openssl(&[
        "x509",
        "-x509toreq",
        "-in",
        card.auth_pem.to_str().expect("path"),
        "-key",
        key.to_str().expect("path"),
        "-sha256",
        "-copy_extensions",
        "copy",
        "-out",
        pem.to_str().expect("path"),
    ]);
    let der = openssl(&["req", "-in", pem.to_str().expect("path"), "-outform", "DER"]);
    let msg = refused(&mut b, Some(&csrf), &b64(&der), 400, "signature-algorithm");
    assert!(msg.contains("ecdsa-with-SHA384"), "{msg}");
}

#[test]
fn unknown_subject_is_422() {
    let (s, _, mut b, csrf) = setup(45);
    let key = ec_key(s.dir.path(), "k", "secp384r1");
    let der = run(Command::new("openssl").args([
        "req",
        "-new",
        "-key",
        key.to_str().expect("path"),
        "-subj",
        "/C=GB/O=NHS/CN=Nobody Known",
        "-addext",
        "keyUsage=critical,digitalSignature",
        "-sha384",
        "-outform",
        "DER",
    ]));
    let msg = refused(&mut b, Some(&csrf), &b64(&der), 422, "unknown-subject");
    assert!(msg.contains("Nobody Known"), "{msg}");
    assert_audited(&s, "unknown-subject", 422);
}

#[test]
fn not_due_is_422_with_dates() {
    let (s, card, mut b, csrf) = setup(200);
    let msg = refused(&mut b, Some(&csrf), &good_csr(&s, &card), 422, "not-due");
    assert!(msg.contains("not due for renewal until") && msg.contains("90 days"), "{msg}");
    let entry = assert_audited(&s, "not-due", 422);
    assert_eq!(entry["cardSerial"], "REF1");
    assert_eq!(entry["role"], "authentication");
}

#[test]
fn window_is_configurable() {
    let s = Server::start_with(&["--window-days", "250"]);
    let card = s.add_card("alice", "WIN1", 200, 45);
    let mut b = s.signed_in();
    let csrf = b.csrf();
    let r = b.est_post("/.well-known/est/simplereenroll", Some(&csrf), &good_csr(&s, &card));
    assert_eq!(r.status, 200, "200 days left is inside a 250-day window: {}", r.body);
}

#[test]
fn expired_is_422() {
    let (s, card, mut b, csrf) = setup(-1);
    let msg = refused(&mut b, Some(&csrf), &good_csr(&s, &card), 422, "expired");
    assert!(msg.contains("expired on"), "{msg}");
    assert_audited(&s, "expired", 422);
}

#[test]
fn second_request_for_a_role_with_another_key_is_409() {
    let (s, card, mut b, csrf) = setup(45);
    let first = b.est_post("/.well-known/est/simplereenroll", Some(&csrf), &good_csr(&s, &card));
    assert_eq!(first.status, 200, "{}", first.body);
    let other = ec_key(s.dir.path(), "other", "secp384r1");
    let csr = b64(&csr_from_cert(s.dir.path(), &card.auth_pem, &other, true));
    let msg = refused(&mut b, Some(&csrf), &csr, 409, "already-renewed");
    assert!(msg.contains("one request per role"), "{msg}");
    assert_eq!(s.admin_get("/admin/api/issued").as_array().map(Vec::len), Some(1));
    // The other role is still renewable.
    let sign_csr = b64(&csr_from_cert(s.dir.path(), &card.sign_pem, &other, true));
    assert_eq!(b.est_post("/.well-known/est/simplereenroll", Some(&csrf), &sign_csr).status, 200);
}

#[test]
fn role_missing_and_mismatch_are_400() {
    let (s, card, mut b, csrf) = setup(45);
    let key = ec_key(s.dir.path(), "k", "secp384r1");
    let bare = b64(&csr_from_cert(s.dir.path(), &card.auth_pem, &key, false));
    let msg = refused(&mut b, Some(&csrf), &bare, 400, "role-missing");
    assert!(msg.contains("/.well-known/est/authentication/simplereenroll"), "{msg}");
    let auth = good_csr(&s, &card);
    refused_at(&mut b, "/.well-known/est/signing/simplereenroll", Some(&csrf), &auth, 400, "role-mismatch");
    refused_at(&mut b, "/.well-known/est/admin/simplereenroll", Some(&csrf), &auth, 404, "unknown-label");
}

#[test]
fn both_key_usages_are_ambiguous() {
    let (s, _, mut b, csrf) = setup(45);
    let key = ec_key(s.dir.path(), "k", "secp384r1");
    let der = run(Command::new("openssl").args([
        "req",
        "-new",
        "-key",
        key.to_str().expect("path"),
        "-subj",
        "/CN=x",
        "-addext",
        "keyUsage=critical,digitalSignature,nonRepudiation",
        "-sha384",
        "-outform",
        "DER",
    ]));
    refused(&mut b, Some(&csrf), &b64(&der), 400, "role-ambiguous");
}

#[test]
fn oversized_body_is_413() {
    let (_s, _, mut b, csrf) = setup(45);
    let big = vec![b'A'; 70 * 1024];
    assert_eq!(b.est_post("/.well-known/est/simplereenroll", Some(&csrf), &big).status, 413);
}
