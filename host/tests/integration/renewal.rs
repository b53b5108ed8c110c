//! `renewBegin`, `renewComplete` and `renewCancel` through the real binary, against the test
//! bed's readers and SoftHSM tokens, with the test CA standing in for the dashboard's CA
//! (issue 3).

use crate::bed::{managed, Bed};
use crate::util::*;
use base64::Engine;
use cis_renew_testbed::{inspect, IssueRequest, ProvisionedCard, Role, TokenContents};
use serde_json::{json, Value};
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};
use x509_cert::der::{Decode, Encode};
use x509_cert::request::CertReq;

pub const PIN: &str = "123456";
pub const LABEL: &str = "User card";

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(value: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(value.as_str().expect("base64 string")).expect("base64")
}

/// A bed with the user's card (both certificates due) in the managed reader.
pub fn due_card() -> (Bed, ProvisionedCard) {
    let mut bed = Bed::start();
    let card = bed.card(managed(), LABEL, 45, 60);
    (bed, card)
}

/// How the CA should answer a request.
#[derive(Clone, Copy)]
pub struct Issue {
    pub not_before: Duration,
    pub not_after: Duration,
    pub other_subject: bool,
}

impl Default for Issue {
    fn default() -> Self {
        Issue { not_before: -Duration::minutes(1), not_after: Duration::days(700), other_subject: false }
    }
}

/// Issues a certificate for each request of a `renewBegin` result.
pub fn issue_all(bed: &Bed, begin: &Value, how: Issue) -> Vec<Vec<u8>> {
    let requests = begin["requests"].as_array().expect("requests");
    requests
        .iter()
        .map(|request| {
            let csr = CertReq::from_der(&unb64(&request["csr"])).expect("a DER CSR");
            let subject = if how.other_subject {
                cis_renew_testbed::subject_der("CN=Somebody Else,O=NHS Test,C=GB").expect("subject")
            } else {
                csr.info.subject.to_der().expect("subject")
            };
            let now = OffsetDateTime::now_utc();
            bed.ca
                .issue(&IssueRequest {
                    subject_der: subject,
                    // Any algorithm: the test CA takes the SubjectPublicKeyInfo.
                    public_key_sec1: csr.info.public_key.to_der().expect("spki"),
                    role: if request["role"] == "signing" { Role::Signing } else { Role::Authentication },
                    not_before: now + how.not_before,
                    not_after: now + how.not_after,
                    serial: None,
                })
                .expect("issue")
        })
        .collect()
}

/// A certs-only PKCS#7, as an EST server answers.
pub fn pkcs7(certificates: &[Vec<u8>]) -> Vec<u8> {
    let path: Vec<x509_cert::Certificate> =
        certificates.iter().map(|der| x509_cert::Certificate::from_der(der).expect("certificate")).collect();
    cms::content_info::ContentInfo::try_from(path).expect("content info").to_der().expect("der")
}

pub fn begin(host: &mut Host, id: i64) -> Value {
    host.begin_confirmed(json!(id), json!({"pin": PIN}))
}

pub fn complete_der(host: &mut Host, id: i64, renewal: &Value, certificates: &[Vec<u8>]) -> Value {
    let list: Vec<String> = certificates.iter().map(|c| b64(c)).collect();
    host.request(json!(id), "renewComplete", json!({"renewalId": renewal["renewalId"], "certificates": list}))
}

pub fn contents(bed: &Bed) -> TokenContents {
    inspect(&bed.hsm.conf(), LABEL, PIN).expect("inspect token")
}

/// The steps of the progress events for request `id`, as `step` or `step n/of`.
fn steps(host: &Host, id: i64) -> Vec<String> {
    host.events
        .iter()
        .filter(|e| e["id"] == json!(id) && e["event"] == "progress")
        .map(|e| match (e["n"].as_u64(), e["of"].as_u64()) {
            (Some(n), Some(of)) => format!("{} {n}/{of}", e["step"].as_str().unwrap_or("?")),
            _ => e["step"].as_str().unwrap_or("?").to_string(),
        })
        .collect()
}

/// The card holds exactly two pairs, both new, keys on the card and never extractable, each
/// key signing and its certificate verifying; nothing old or pending is left.
pub fn assert_renewed(bed: &Bed, old: &ProvisionedCard) {
    let contents = contents(bed);
    assert_eq!(contents.certificates().count(), 2, "{contents:#?}");
    assert_eq!(contents.private_keys().count(), 2, "{contents:#?}");
    assert_eq!(contents.objects.iter().filter(|o| o.class == "publicKey").count(), 2);
    assert!(contents.all_pairs_verify(), "{:#?}", contents.pairs);
    for key in contents.private_keys() {
        assert_eq!(key.sensitive, Some(true));
        assert_eq!(key.extractable, Some(false));
        assert_eq!(key.never_extractable, Some(true), "generated on the card");
        assert_eq!(key.ec, Some(true));
    }
    for object in &contents.objects {
        assert!(!object.label.starts_with("cis-renew pending"), "pending object left: {object:?}");
        assert!(old.certs.iter().all(|c| c.id != object.id), "old object left: {object:?}");
    }
    for old_cert in &old.certs {
        let new = contents.certificate(old_cert.role).expect("one certificate per role");
        assert_eq!(new.label, old_cert.cert_label, "the new certificate keeps the old label");
        let info = new.cert.as_ref().expect("parsed");
        assert_eq!(info.subject, old_cert.info.subject);
        assert!(info.not_after > old_cert.info.not_after + Duration::days(300));
    }
}

#[test]
fn renewal_full_with_der_list_installs_new_pairs_and_returns_status() {
    let (bed, old) = due_card();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let result = expect_ok(&begin(&mut host, 1));
    assert_eq!(
        steps(&host, 1),
        ["login", "generateKey 1/2", "generateKey 2/2", "buildRequest 1/2", "buildRequest 2/2"]
    );
    let requests = result["requests"].as_array().expect("requests");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["role"], "authentication");
    assert_eq!(requests[1]["role"], "signing");
    assert!(result["renewalId"].as_str().is_some_and(|id| id.len() >= 32));
    let during = contents(&bed);
    assert_eq!(during.objects.iter().filter(|o| o.label.starts_with("cis-renew pending")).count(), 4);
    // The open renewal's own pending keys are work in progress, not an interruption.
    let status = expect_ok(&host.request(json!(9), "status", json!({})));
    assert!(status["card"].get("interrupted").is_none(), "{status}");
    assert_eq!(status["card"]["renewable"], true);

    let certificates = issue_all(&bed, &result, Issue::default());
    let status = expect_ok(&complete_der(&mut host, 2, &result, &certificates));
    assert_eq!(steps(&host, 2), ["verify", "install 1/2", "install 2/2", "retireOld", "done"]);
    let card = &status["card"];
    assert_eq!(card["certificates"].as_array().map(Vec::len), Some(2), "{status}");
    assert_eq!(card["renewable"], false);
    assert_eq!(card["reason"], "NOT_DUE");
    assert!(card.get("interrupted").is_none());
    assert!(card["certificates"][0]["daysLeft"].as_i64().is_some_and(|d| d >= 698));
    assert_renewed(&bed, &old);
    let log = bed.env.log_text();
    assert!(!log.contains(PIN), "the PIN must never be logged");
}

#[test]
fn renewal_full_with_pkcs7_answers_installs_new_pairs() {
    let (bed, old) = due_card();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let result = expect_ok(&begin(&mut host, 1));
    let certificates = issue_all(&bed, &result, Issue::default());
    // One EST answer per request, as the extension collects them.
    let answers: Vec<String> = certificates.iter().map(|c| b64(&pkcs7(std::slice::from_ref(c)))).collect();
    let reply =
        host.request(json!(2), "renewComplete", json!({"renewalId": result["renewalId"], "pkcs7": answers}));
    expect_ok(&reply);
    assert_renewed(&bed, &old);
}

#[test]
fn renewal_with_one_pkcs7_holding_chain_and_both_certificates() {
    let (bed, old) = due_card();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let result = expect_ok(&begin(&mut host, 1));
    let mut certificates = issue_all(&bed, &result, Issue::default());
    certificates.push(bed.ca.cert_der());
    let reply = host.request(
        json!(2),
        "renewComplete",
        json!({"renewalId": result["renewalId"], "pkcs7": b64(&pkcs7(&certificates))}),
    );
    expect_ok(&reply);
    assert_renewed(&bed, &old);
}

#[test]
fn renew_begin_wrong_pin_is_pin_incorrect_and_leaves_card_alone() {
    let (bed, old) = due_card();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let error = expect_error(&host.begin_confirmed(json!(1), json!({"pin": "999999"})), "PIN_INCORRECT");
    // SoftHSM has no tries counter: the state comes from the flags.
    assert_eq!(error["pin"], "countLow");
    assert!(error.get("triesLeft").is_none());
    assert!(!error.to_string().contains("999999"));
    let contents = contents(&bed);
    assert_eq!(contents.objects.len(), 6);
    assert!(old.certs.iter().all(|c| contents.objects.iter().any(|o| o.id == c.id)));
}

#[test]
fn renew_begin_pin_of_wrong_length_is_pin_invalid() {
    let (bed, _) = due_card();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let error = expect_error(&host.begin_confirmed(json!(1), json!({"pin": "12"})), "PIN_INVALID");
    assert_eq!(error["min"], 4);
    expect_error(&host.begin_confirmed(json!(2), json!({"pin": 123456})), "BAD_REQUEST");
}

#[test]
fn renew_cancel_removes_pending_keys_and_ends_the_renewal() {
    let (bed, old) = due_card();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let result = expect_ok(&begin(&mut host, 1));
    let reply = host.request(json!(2), "renewCancel", json!({"renewalId": result["renewalId"]}));
    assert_eq!(expect_ok(&reply), json!({"cancelled": true}));
    let contents = contents(&bed);
    assert_eq!(contents.objects.len(), 6, "{contents:#?}");
    assert!(contents.all_pairs_verify());
    assert!(old.certs.iter().all(|c| contents.objects.iter().any(|o| o.id == c.id)));
    let certificates = issue_all(&bed, &result, Issue::default());
    expect_error(&complete_der(&mut host, 3, &result, &certificates), "UNKNOWN_RENEWAL");
    // A new renewal may start.
    expect_ok(&begin(&mut host, 4));
}

#[test]
fn renew_complete_rejects_wrong_certificates_and_keeps_renewal_open() {
    let (bed, old) = due_card();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let result = expect_ok(&begin(&mut host, 1));
    let good = issue_all(&bed, &result, Issue::default());

    // A certificate for a key this renewal did not make: the old certificate.
    let mut other_key = good.clone();
    other_key[1] = old.certs[1].cert_der.clone();
    expect_error(&complete_der(&mut host, 2, &result, &other_key), "CERTIFICATE_MISMATCH");

    let other_subject = issue_all(&bed, &result, Issue { other_subject: true, ..Issue::default() });
    expect_error(&complete_der(&mut host, 3, &result, &other_subject), "CERTIFICATE_MISMATCH");

    let expired = issue_all(
        &bed,
        &result,
        Issue { not_before: -Duration::days(10), not_after: -Duration::days(1), ..Issue::default() },
    );
    let error = expect_error(&complete_der(&mut host, 4, &result, &expired), "CERTIFICATE_INVALID");
    assert!(error["message"].as_str().unwrap_or_default().contains("expired"));

    expect_error(&complete_der(&mut host, 5, &result, &good[..1]), "CERTIFICATE_MISMATCH");

    let garbage = host.request(
        json!(6),
        "renewComplete",
        json!({"renewalId": result["renewalId"], "pkcs7": b64(b"this is not a PKCS#7 message")}),
    );
    expect_error(&garbage, "CERTIFICATE_INVALID");
    let not_base64 =
        host.request(json!(7), "renewComplete", json!({"renewalId": result["renewalId"], "pkcs7": "%%%"}));
    expect_error(&not_base64, "CERTIFICATE_INVALID");

    // Nothing was written: the card still has the old pairs plus the pending keys.
    let during = contents(&bed);
    assert_eq!(during.certificates().count(), 2);
    assert!(old.certs.iter().all(|c| during.certificates().any(|o| o.id == c.id)));

    // The renewal is still open and completes with the right certificates.
    expect_ok(&complete_der(&mut host, 8, &result, &good));
    assert_renewed(&bed, &old);
}

#[test]
fn renew_complete_unknown_renewal_id_is_unknown_renewal() {
    let (bed, _) = due_card();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let reply =
        host.request(json!(1), "renewComplete", json!({"renewalId": "nope", "certificates": ["AA=="]}));
    expect_error(&reply, "UNKNOWN_RENEWAL");
    let result = expect_ok(&begin(&mut host, 2));
    let certificates = issue_all(&bed, &result, Issue::default());
    let list: Vec<String> = certificates.iter().map(|c| b64(c)).collect();
    let reply =
        host.request(json!(3), "renewComplete", json!({"renewalId": "0123abcd", "certificates": list}));
    expect_error(&reply, "UNKNOWN_RENEWAL");
    expect_error(&host.request(json!(4), "renewCancel", json!({"renewalId": "0123abcd"})), "UNKNOWN_RENEWAL");
    // The open renewal was not disturbed.
    expect_ok(&complete_der(&mut host, 5, &result, &certificates));
}

#[test]
fn renew_begin_while_a_renewal_is_open_is_busy() {
    let (bed, _) = due_card();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    expect_ok(&begin(&mut host, 1));
    let error = expect_error(&begin(&mut host, 2), "BUSY");
    assert!(error["message"].as_str().unwrap_or_default().contains("already"));
    let contents = contents(&bed);
    assert_eq!(contents.objects.len(), 10, "only one renewal's keys: {contents:#?}");
}

#[test]
fn renew_begin_card_not_due_is_not_renewable_without_login() {
    let mut bed = Bed::start();
    bed.card(managed(), LABEL, 400, 400);
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let error = expect_error(&begin(&mut host, 1), "NOT_RENEWABLE");
    assert_eq!(error["reason"], "NOT_DUE");
    assert!(host.events.is_empty(), "no login step: {:?}", host.events);
}

#[test]
fn renew_begin_without_card_is_no_card() {
    let bed = Bed::start();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    // The sponsor confirmed a card that is gone by now.
    let reply = host.request(json!(1), "renewBegin", json!({"pin": PIN, "cardSerial": "GONE0001"}));
    let error = expect_error(&reply, "NO_CARD");
    assert_eq!(error["reason"], "NO_CARD");
}

#[test]
fn renewal_card_removed_mid_renewal_is_card_removed_then_next_renewal_recovers() {
    let (mut bed, old) = due_card();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let result = expect_ok(&begin(&mut host, 1));
    let certificates = issue_all(&bed, &result, Issue::default());
    bed.remove(managed());
    expect_error(&complete_der(&mut host, 2, &result, &certificates), "CARD_REMOVED");
    bed.insert(managed());
    // The card kept its old pairs; the pending keys mark it as interrupted.
    let status = expect_ok(&host.request(json!(3), "status", json!({})));
    assert_eq!(status["card"]["interrupted"], true, "{status}");
    assert_eq!(status["card"]["certificates"].as_array().map(Vec::len), Some(2));
    let during = contents(&bed);
    assert!(during.all_pairs_verify());
    assert!(old.certs.iter().all(|c| during.certificates().any(|o| o.id == c.id)));
    // The renewal is over; a new one recovers first, then runs to the end.
    expect_error(&complete_der(&mut host, 4, &result, &certificates), "UNKNOWN_RENEWAL");
    let again = expect_ok(&begin(&mut host, 5));
    let certificates = issue_all(&bed, &again, Issue::default());
    expect_ok(&complete_der(&mut host, 6, &again, &certificates));
    assert_renewed(&bed, &old);
}

#[test]
fn renewal_browser_gone_mid_renewal_removes_pending_keys_at_exit() {
    let (bed, old) = due_card();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    expect_ok(&begin(&mut host, 1));
    host.close_stdin();
    assert!(host.wait_exit(StdDuration::from_secs(10)).is_some_and(|s| s.success()));
    let contents = contents(&bed);
    assert_eq!(contents.objects.len(), 6, "{contents:#?}");
    assert!(old.certs.iter().all(|c| contents.objects.iter().any(|o| o.id == c.id)));
}

#[test]
fn renew_complete_with_trust_anchors_requires_the_chain() {
    let (mut bed, old) = due_card();
    let other_dir = tempfile::tempdir().expect("dir");
    let other = cis_renew_testbed::TestCa::create(other_dir.path(), "Some Other CA").expect("ca");
    bed.config("trustAnchors", json!([other.cert_pem_path()]));
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let result = expect_ok(&begin(&mut host, 1));
    let certificates = issue_all(&bed, &result, Issue::default());
    let error = expect_error(&complete_der(&mut host, 2, &result, &certificates), "CERTIFICATE_UNTRUSTED");
    assert!(error["message"].as_str().unwrap_or_default().contains("not trusted"), "{error}");
    drop(host);

    bed.config("trustAnchors", json!([other.cert_pem_path(), bed.ca.cert_pem_path()]));
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let result = expect_ok(&begin(&mut host, 1));
    let certificates = issue_all(&bed, &result, Issue::default());
    expect_ok(&complete_der(&mut host, 2, &result, &certificates));
    assert_renewed(&bed, &old);
}
