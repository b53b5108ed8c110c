//! Tokens: SoftHSM provisioning by the test CA, and inspection of what a token holds.

use std::path::Path;
use std::process::Command;

use cis_renew_testbed::{inspect, provision, subject_der, CardSpec, IssueRequest, Role, SoftHsm, TestCa};
use time::OffsetDateTime;
use x509_cert::der::{pem::LineEnding, Decode, Encode, EncodePem};

struct Bed {
    hsm: SoftHsm,
    ca: TestCa,
    _ca_dir: tempfile::TempDir,
}

fn bed() -> Bed {
    let ca_dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::create(ca_dir.path(), "Testbed Test CA").expect("CA");
    Bed { hsm: SoftHsm::new().expect("SoftHSM"), ca, _ca_dir: ca_dir }
}

/// `openssl verify` against the CA: Ok(()) or the tool's output.
fn openssl_verify(ca: &TestCa, cert_der: &[u8], dir: &Path) -> Result<(), String> {
    // openssl 3.0's `verify` reads PEM only.
    let pem = dir.join("leaf.pem");
    let cert = x509_cert::Certificate::from_der(cert_der).expect("decode cert");
    std::fs::write(&pem, cert.to_pem(LineEnding::LF).expect("PEM")).expect("write cert");
    let out = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(ca.cert_pem_path())
        .arg(&pem)
        .output()
        .expect("run openssl");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    }
}

#[test]
fn provision_two_certs_inspect_finds_two_non_extractable_pairs_that_sign() {
    let bed = bed();
    let spec = CardSpec::new("USER", 45, 400);

    let card = provision(&bed.hsm, &bed.ca, &spec).expect("provision");
    let contents = inspect(&bed.hsm.conf(), "USER", &spec.user_pin).expect("inspect");

    assert_eq!(card.certs.len(), 2);
    assert_ne!(card.certs[0].id, card.certs[1].id, "CKA_IDs differ");
    assert_eq!(contents.token_serial, card.token_serial);
    assert_eq!(contents.certificates().count(), 2);
    assert_eq!(contents.private_keys().count(), 2);
    assert_eq!(contents.objects.iter().filter(|o| o.class == "publicKey").count(), 2);
    for key in contents.private_keys() {
        assert_eq!(key.sensitive, Some(true), "{key:?}");
        assert_eq!(key.extractable, Some(false), "{key:?}");
        assert_eq!(key.never_extractable, Some(true), "{key:?}");
        assert_eq!(key.always_sensitive, Some(true), "{key:?}");
        assert_eq!(key.ec, Some(true), "{key:?}");
        assert!(card.certs.iter().any(|c| c.id == key.id && c.key_label == key.label));
    }
    assert_eq!(contents.pairs.len(), 2);
    assert!(contents.all_pairs_verify(), "{:?}", contents.pairs);
    for c in &card.certs {
        let on_token = contents.certificate(c.role).expect("one cert per role");
        assert_eq!(on_token.cert_der.as_deref(), Some(c.cert_der.as_slice()));
        assert_eq!(on_token.id, c.id);
    }
}

#[test]
fn provisioned_certificates_chain_to_the_ca_and_expired_ones_do_not_verify() {
    let bed = bed();
    let card = provision(&bed.hsm, &bed.ca, &CardSpec::new("USER", 45, -1)).expect("provision");
    let tmp = tempfile::tempdir().expect("temp dir");

    let auth = &card.certs[0];
    let sign = &card.certs[1];

    assert_eq!(openssl_verify(&bed.ca, &auth.cert_der, tmp.path()), Ok(()));
    let err = openssl_verify(&bed.ca, &sign.cert_der, tmp.path()).expect_err("expired");
    assert!(err.contains("expired"), "{err}");
}

#[test]
fn roles_have_unambiguous_key_usage() {
    let bed = bed();
    let card = provision(&bed.hsm, &bed.ca, &CardSpec::new("USER", 400, 400)).expect("provision");

    let auth = &card.certs[0].info;
    let sign = &card.certs[1].info;

    assert_eq!(auth.role, Some(Role::Authentication));
    assert_eq!(auth.key_usage, ["digitalSignature"]);
    assert_eq!(auth.extended_key_usage, ["1.3.6.1.5.5.7.3.2"]);
    assert_eq!(sign.role, Some(Role::Signing));
    assert_eq!(sign.key_usage, ["nonRepudiation"]);
    assert!(sign.extended_key_usage.is_empty());
    assert_eq!(card.certs[0].key_label, "Authentication key");
    assert_eq!(card.certs[1].cert_label, "Signing certificate");
}

#[test]
fn expiry_is_as_asked_and_not_before_is_in_the_past() {
    let bed = bed();
    let now = OffsetDateTime::now_utc();

    let card = provision(&bed.hsm, &bed.ca, &CardSpec::new("USER", 45, -1)).expect("provision");

    let days = |i: usize| (card.certs[i].info.not_after - now).as_seconds_f64() / 86_400.0;
    assert!((days(0) - 45.0).abs() < 0.01, "auth: {} days", days(0));
    assert!((days(1) + 1.0).abs() < 0.01, "sign: {} days", days(1));
    for c in &card.certs {
        assert!(c.info.not_before < now, "{:?}", c.info);
        assert_eq!((c.info.not_after - c.info.not_before).whole_days(), 730);
    }
}

#[test]
fn two_tokens_in_one_softhsm_are_found_by_label() {
    let bed = bed();
    let sponsor = provision(&bed.hsm, &bed.ca, &CardSpec::new("SPONSOR", 400, 400)).expect("sponsor");
    let user = provision(&bed.hsm, &bed.ca, &CardSpec::new("USER", 45, 45)).expect("user");

    let seen = inspect(&bed.hsm.conf(), "USER", "123456").expect("inspect user");

    assert_ne!(sponsor.token_serial, user.token_serial);
    assert_eq!(seen.token_serial, user.token_serial);
    assert!(seen.certificates().all(|c| user.certs.iter().any(|u| u.id == c.id)));
}

#[test]
fn inspect_with_wrong_pin_or_label_fails() {
    let bed = bed();
    provision(&bed.hsm, &bed.ca, &CardSpec::new("USER", 45, 45)).expect("provision");

    let wrong_pin = inspect(&bed.hsm.conf(), "USER", "000000").expect_err("wrong PIN");
    let wrong_label = inspect(&bed.hsm.conf(), "NOBODY", "123456").expect_err("no token");

    let msg = wrong_pin.to_string();
    assert!(msg.contains("C_Login") && msg.contains("PIN is incorrect"), "{msg}");
    assert!(wrong_label.to_string().contains("no token labelled"), "{wrong_label}");
}

#[test]
fn ca_load_round_trips_and_issue_copies_the_subject_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let created = TestCa::create(dir.path(), "Round Trip CA").expect("create");
    let loaded = TestCa::load(dir.path()).expect("load");
    let subject = subject_der("CN=Ann Other,O=NHS Test").expect("subject");
    let key = p384::SecretKey::from_slice(&[7u8; 48]).expect("key");
    let now = OffsetDateTime::now_utc();

    let der = loaded
        .issue(&IssueRequest {
            subject_der: subject.clone(),
            public_key_sec1: key.public_key().to_sec1_bytes().to_vec(),
            role: Role::Signing,
            not_before: now - time::Duration::days(1),
            not_after: now + time::Duration::days(10),
            serial: Some(vec![0x01, 0x02]),
        })
        .expect("issue");

    assert_eq!(created.cert_der(), loaded.cert_der());
    let cert = x509_cert::Certificate::from_der(&der).expect("decode");
    let tbs = cert.tbs_certificate();
    assert_eq!(tbs.subject().to_der().expect("encode"), subject);
    assert_eq!(tbs.serial_number().as_bytes(), [0x01, 0x02]);
    assert_eq!(tbs.issuer().to_der().expect("encode"), created.subject_der());
    assert!(openssl_verify(&loaded, &der, dir.path()).is_ok());
}

#[test]
fn ca_refuses_inverted_validity() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::create(dir.path(), "CA").expect("create");
    let key = p384::SecretKey::from_slice(&[7u8; 48]).expect("key");
    let now = OffsetDateTime::now_utc();

    let result = ca.issue(&IssueRequest {
        subject_der: subject_der("CN=X").expect("subject"),
        public_key_sec1: key.public_key().to_sec1_bytes().to_vec(),
        role: Role::Authentication,
        not_before: now,
        not_after: now - time::Duration::days(1),
        serial: None,
    });

    assert!(result.is_err());
}
