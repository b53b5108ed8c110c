//! Fail closed (issue 13): each refusal of a renewed certificate through the real binary, with
//! CAs of every key type (RSA PKCS#1 v1.5 and PSS, P-256, P-384) as anchors and intermediates;
//! the working pair stays on the card after every refusal. And: config, anchor and module
//! files that others than root can change are not used.

use crate::bed::{managed, Bed};
use crate::pki::{Ca, CaSpec, Kind, Leaf};
use crate::renewal::{assert_renewed, begin, complete_der, contents, due_card, issue_all, Issue, LABEL};
use crate::util::*;
use base64::Engine;
use cis_renew_testbed::ProvisionedCard;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn csr(result: &Value, role: &str) -> Vec<u8> {
    let request = result["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|r| r["role"] == role)
        .unwrap_or_else(|| panic!("a {role} request in {result}"));
    base64::engine::general_purpose::STANDARD.decode(request["csr"].as_str().expect("csr")).expect("base64")
}

/// Both roles' certificates from `issuer` (the authentication one shaped by `auth`), then
/// the chain.
fn answer(result: &Value, issuer: &Ca, auth: Leaf, chain: &[&Ca]) -> Vec<Vec<u8>> {
    let mut certificates = vec![
        issuer.issue(&csr(result, "authentication"), &auth),
        issuer.issue(&csr(result, "signing"), &Leaf::new("signing")),
    ];
    certificates.extend(chain.iter().map(|ca| ca.der()));
    certificates
}

/// The card still holds its working pairs, and nothing new has a certificate.
fn assert_working_pair_kept(bed: &Bed, old: &ProvisionedCard, after: &str) {
    let contents = contents(bed);
    assert_eq!(contents.certificates().count(), 2, "{after}: {contents:#?}");
    for cert in &old.certs {
        let kept = contents.objects.iter().any(|o| o.id == cert.id && o.class == "certificate");
        assert!(kept, "{after}: the old {:?} certificate is gone: {contents:#?}", cert.role);
    }
}

fn refused(host: &mut Host, id: i64, result: &Value, certificates: &[Vec<u8>], code: &str, needle: &str) {
    let reply = complete_der(host, id, result, certificates);
    let error = expect_error(&reply, code);
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "expected '{needle}' in: {message}");
}

/// Every chain refusal, then the good chain, for CAs of `kind` (root and intermediate).
fn refusals_then_accepted(root_kind: Kind, intermediate_kind: Kind) {
    let (mut bed, old) = due_card();
    let pki = tempfile::tempdir().expect("pki dir");
    let root =
        Ca::root(pki.path(), "Trust Root", root_kind, CaSpec { path_len: Some(1), ..CaSpec::default() });
    let issuing =
        root.intermediate("Issuing CA", intermediate_kind, CaSpec { path_len: Some(0), ..CaSpec::default() });
    let stranger = Ca::root(pki.path(), "Stranger Root", root_kind, CaSpec::default());
    let no_cert_sign = root.intermediate(
        "No CertSign CA",
        intermediate_kind,
        CaSpec { key_cert_sign: false, ..CaSpec::default() },
    );
    let too_deep = issuing.intermediate("Too Deep CA", intermediate_kind, CaSpec::default());
    let anchor = pki.path().join("anchor.pem");
    std::fs::copy(&root.cert, &anchor).expect("anchor");
    bed.config("trustAnchors", json!([anchor]));
    // The card's certificates came from the bed's CA; this PKI is another issuer.
    bed.config("allowIssuerChange", json!(true));
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let result = expect_ok(&begin(&mut host, 1));
    let auth = || Leaf::new("authentication");

    let cases: Vec<(&str, Vec<Vec<u8>>, &str, &str)> = vec![
        (
            "untrusted issuer",
            answer(&result, &stranger, auth(), &[]),
            "CERTIFICATE_UNTRUSTED",
            "Stranger Root",
        ),
        (
            "intermediate without keyCertSign",
            answer(&result, &no_cert_sign, auth(), &[&no_cert_sign]),
            "CERTIFICATE_UNTRUSTED",
            "no keyCertSign",
        ),
        (
            "path too long",
            answer(&result, &too_deep, auth(), &[&too_deep, &issuing]),
            "CERTIFICATE_UNTRUSTED",
            "path is too long",
        ),
        (
            "leaf with CA=true",
            answer(&result, &issuing, Leaf { ca: true, ..auth() }, &[&issuing]),
            "CERTIFICATE_INVALID",
            "is a CA certificate",
        ),
        (
            "shorter validity",
            answer(&result, &issuing, Leaf { days: 20, ..auth() }, &[&issuing]),
            "CERTIFICATE_INVALID",
            "no later than",
        ),
        (
            "changed EKU",
            answer(&result, &issuing, Leaf { eku: Some("emailProtection"), ..auth() }, &[&issuing]),
            "CERTIFICATE_INVALID",
            "extended key usage",
        ),
        (
            "intermediate missing from the answer",
            answer(&result, &issuing, auth(), &[]),
            "CERTIFICATE_UNTRUSTED",
            "Issuing CA",
        ),
    ];
    for (n, (name, certificates, code, needle)) in cases.iter().enumerate() {
        refused(&mut host, 10 + n as i64, &result, certificates, code, needle);
        assert_working_pair_kept(&bed, &old, name);
    }

    // The anchor file is read at each renewComplete: the same CA with an expired or a
    // not-yet-valid certificate is refused.
    let good = answer(&result, &issuing, auth(), &[&issuing]);
    for (spec, needle) in [
        (CaSpec { from_days: -400, to_days: -1, path_len: Some(1), ..CaSpec::default() }, "has expired"),
        (CaSpec { from_days: 2, to_days: 400, path_len: Some(1), ..CaSpec::default() }, "is not valid yet"),
    ] {
        root.self_sign(spec);
        std::fs::copy(&root.cert, &anchor).expect("anchor");
        refused(&mut host, 30, &result, &good, "CERTIFICATE_UNTRUSTED", needle);
        assert_working_pair_kept(&bed, &old, needle);
    }
    root.self_sign(CaSpec { path_len: Some(1), ..CaSpec::default() });
    std::fs::copy(&root.cert, &anchor).expect("anchor");
    expect_ok(&complete_der(&mut host, 40, &result, &good));
    assert_renewed(&bed, &old);
}

#[test]
fn trust_rsa_pkcs1_root_and_rsa_pss_intermediate() {
    refusals_then_accepted(Kind::Rsa, Kind::RsaPss);
}

#[test]
fn trust_p256_root_and_p256_intermediate() {
    refusals_then_accepted(Kind::P256, Kind::P256);
}

#[test]
fn trust_p384_root_and_rsa_intermediate() {
    refusals_then_accepted(Kind::P384, Kind::Rsa);
}

#[test]
fn trust_rsa_pss_root_and_p384_intermediate() {
    refusals_then_accepted(Kind::RsaPss, Kind::P384);
}

#[test]
fn trust_changed_issuer_is_refused_unless_allowed() {
    let (mut bed, old) = due_card();
    let pki = tempfile::tempdir().expect("pki dir");
    let other = Ca::root(pki.path(), "Other Trusted CA", Kind::P384, CaSpec::default());
    bed.config("trustAnchors", json!([bed.ca.cert_pem_path(), other.cert]));
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let result = expect_ok(&begin(&mut host, 1));
    let moved = answer(&result, &other, Leaf::new("authentication"), &[]);
    refused(&mut host, 2, &result, &moved, "CERTIFICATE_MISMATCH", "allowIssuerChange");
    assert_working_pair_kept(&bed, &old, "changed issuer");
    expect_ok(&complete_der(&mut host, 3, &result, &issue_all(&bed, &result, Issue::default())));
    assert_renewed(&bed, &old);
}

#[test]
fn trust_not_configured_refuses_renew_begin_before_the_card() {
    let (mut bed, old) = due_card();
    bed.config("trustAnchors", json!([]));
    let before = contents(&bed);
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let error = expect_error(&begin(&mut host, 1), "TRUST_NOT_CONFIGURED");
    assert!(error["message"].as_str().unwrap_or_default().contains("trustAnchors"), "{error}");
    assert!(host.events.iter().all(|e| e["step"] != "login"), "no sign-in: {:?}", host.events);
    let after = contents(&bed);
    assert_eq!(after.objects.len(), before.objects.len(), "nothing made on the card: {after:#?}");
    assert_working_pair_kept(&bed, &old, "TRUST_NOT_CONFIGURED");
}

/// Writes `file` with `mode`, owned by `uid`.
fn set_owner_mode(file: &Path, uid: u32, mode: u32) {
    std::os::unix::fs::chown(file, Some(uid), None).expect("chown");
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn first_error(env: &HostEnv, code: &str) -> String {
    let mut host = env.spawn_ours();
    let frame = host.recv();
    let frame = if frame["type"] == "hello" { host.request(json!(1), "status", json!({})) } else { frame };
    expect_error(&frame, code)["message"].as_str().unwrap_or_default().to_string()
}

#[test]
fn trust_config_file_others_can_change_is_config_invalid() {
    let cases = [
        (0, 0o664, "writable by its group"),
        (0, 0o646, "writable by all users"),
        (1000, 0o644, "owned by uid 1000"),
    ];
    for (uid, mode, needle) in cases {
        let env = HostEnv::with_defaults();
        set_owner_mode(&env.config_path(), uid, mode);
        let message = first_error(&env, "CONFIG_INVALID");
        assert!(message.contains(&env.config_path().display().to_string()), "{message}");
        assert!(message.contains(needle), "{uid} {mode:o}: {message}");
    }
    // A folder above it that others can write counts too (not a sticky one like /tmp).
    let env = HostEnv::with_defaults();
    std::fs::set_permissions(env.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod dir");
    let message = first_error(&env, "CONFIG_INVALID");
    assert!(
        message.contains("is in the folder") && message.contains("writable by its group and all users"),
        "{message}"
    );
}

#[test]
fn trust_anchor_file_others_can_change_is_config_invalid() {
    for (uid, mode, needle) in [(0, 0o620, "writable by its group"), (1000, 0o644, "owned by uid 1000")] {
        let env = HostEnv::with_defaults();
        let dir = tempfile::tempdir().expect("dir");
        let ca = Ca::root(dir.path(), "Anchor CA", Kind::P256, CaSpec::default());
        let anchor = env.path().join("anchor.pem");
        std::fs::copy(&ca.cert, &anchor).expect("copy");
        set_owner_mode(&anchor, uid, mode);
        env.write_config(&json!({"trustAnchors": [anchor], "logFile": env.log_path()}));
        let message = first_error(&env, "CONFIG_INVALID");
        assert!(message.contains("trustAnchors") && message.contains("anchor.pem"), "{message}");
        assert!(message.contains(needle), "{message}");
    }
}

#[test]
fn trust_module_others_can_change_is_config_invalid() {
    for (uid, mode, needle) in [(0, 0o775, "writable by its group"), (1000, 0o755, "owned by uid 1000")] {
        let mut bed = Bed::start();
        bed.card(managed(), LABEL, 45, 45);
        let module = bed.env.path().join("libpkcs11.so");
        std::fs::copy(cis_renew_testbed::SOFTHSM_MODULE, &module).expect("copy module");
        set_owner_mode(&module, uid, mode);
        bed.config("pkcs11Module", json!(module));
        let message = first_error(&bed.env, "CONFIG_INVALID");
        assert!(message.contains("PKCS#11 module") && message.contains("libpkcs11.so"), "{message}");
        assert!(message.contains(needle), "{message}");
    }
}
