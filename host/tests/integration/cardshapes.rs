//! Card shapes through the real binary (issue 10): old pairs of each algorithm renewed to each
//! `newKeyAlgorithm`, a CA certificate on the card, a due pair beside a pair that is not due,
//! and `status` agreeing with `renewBegin` for every shape.

use crate::bed::{managed, Bed};
use crate::renewal::{complete_der, issue_all, Issue, PIN};
use crate::util::*;
use cis_renew_testbed::{inspect, CardSpec, PairAlgorithm, ProvisionedCard, Role};
use serde_json::{json, Value};

/// RSA-3072 key generation takes SoftHSM seconds per key on a busy machine.
const KEYGEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

fn spec(label: &str, auth_days: i64, sign_days: i64, algorithm: PairAlgorithm) -> CardSpec {
    CardSpec::new(label, auth_days, sign_days).with_algorithm(algorithm)
}

/// A bed with one card per shape provisioned (not yet bound to the reader).
fn bed_with(specs: &[CardSpec]) -> Bed {
    let mut bed = Bed::start();
    for spec in specs {
        cis_renew_testbed::provision(&bed.hsm, &bed.ca, spec).expect("provision");
    }
    bed.insert(managed());
    bed
}

fn status_of(host: &mut Host, id: i64) -> Value {
    expect_ok(&host.request(json!(id), "status", json!({})))
}

/// The SubjectPublicKeyInfo algorithm of each certificate on `label` whose role is `role`.
fn key_kinds(bed: &Bed, label: &str) -> Vec<(Role, bool, usize)> {
    let contents = inspect(&bed.hsm.conf(), label, PIN).expect("inspect");
    contents
        .certificates()
        .filter_map(|c| {
            let role = c.cert.as_ref().and_then(|i| i.role)?;
            let der = c.cert_der.as_ref()?;
            let cert = <x509_cert::Certificate as x509_cert::der::Decode>::from_der(der).expect("cert");
            let spki = cert.tbs_certificate().subject_public_key_info();
            let ec = spki.algorithm.oid.to_string() == "1.2.840.10045.2.1";
            Some((role, ec, spki.subject_public_key.raw_bytes().len()))
        })
        .collect()
}

/// One renewal of the card `label` (already bound) with the host's `newKeyAlgorithm` set to
/// `configured` and the service asking for `asked`; checks the new pairs' algorithm.
fn renew(
    bed: &mut Bed,
    old: &ProvisionedCard,
    configured: &str,
    asked: Option<&str>,
    expect_ec: bool,
    spki_len: usize,
) {
    bed.config("newKeyAlgorithm", json!(configured));
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let status = status_of(&mut host, 1);
    assert_eq!(status["card"]["renewable"], true, "{status}");
    let mut params = json!({"pin": PIN, "cardSerial": status["card"]["token"]["serial"]});
    if let Some(asked) = asked {
        params["keyAlgorithm"] = json!(asked);
    }
    let begin = expect_ok(&host.request_slow(json!(2), "renewBegin", params, KEYGEN_TIMEOUT));
    assert_eq!(begin["keyAlgorithm"], json!(asked.unwrap_or(configured)), "{begin}");
    let certificates = issue_all(bed, &begin, Issue::default());
    let after = expect_ok(&complete_der(&mut host, 3, &begin, &certificates));
    assert_eq!(after["card"]["reason"], "NOT_DUE", "{after}");
    let contents = inspect(&bed.hsm.conf(), &old.token_label, PIN).expect("inspect");
    assert!(contents.all_pairs_verify(), "{:#?}", contents.pairs);
    assert_eq!(contents.private_keys().count(), 2);
    for object in &contents.objects {
        assert!(!object.label.starts_with("cis-renew pending"), "pending object left: {object:?}");
        assert!(old.certs.iter().all(|c| c.id != object.id), "old object left: {object:?}");
    }
    for key in contents.private_keys() {
        assert_eq!((key.ec, key.never_extractable), (Some(expect_ec), Some(true)), "{key:?}");
    }
    let kinds = key_kinds(bed, &old.token_label);
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    for (_, ec, length) in kinds {
        assert_eq!((ec, length), (expect_ec, spki_len), "{configured} {asked:?}");
    }
}

/// (name, ec, length of the SubjectPublicKey bits): P-384 and P-256 points; the RSAPublicKey
/// DER of a 2048- and a 3072-bit modulus.
const TARGETS: [(&str, bool, usize); 4] =
    [("p384", true, 97), ("p256", true, 65), ("rsa2048", false, 270), ("rsa3072", false, 398)];

#[test]
fn cardshapes_rsa2048_and_p256_old_pairs_renew_to_each_new_key_algorithm() {
    let mut specs = Vec::new();
    for (old, old_name) in [(PairAlgorithm::Rsa2048, "rsa2048"), (PairAlgorithm::P256, "p256")] {
        for (target, _, _) in TARGETS {
            specs.push(spec(&format!("{old_name} to {target}"), 30, 30, old));
        }
    }
    let mut bed = Bed::start();
    let cards: Vec<ProvisionedCard> = specs
        .iter()
        .map(|s| cis_renew_testbed::provision(&bed.hsm, &bed.ca, s).expect("provision"))
        .collect();
    bed.insert(managed());
    for (i, card) in cards.iter().enumerate() {
        let (target, ec, length) = TARGETS[i % TARGETS.len()];
        bed.bind(managed(), &card.token_label);
        // Half through the config's default, half as the renewal service's /csrattrs asks.
        let asked = if i % 2 == 0 { None } else { Some(target) };
        let configured = if asked.is_some() { "p384" } else { target };
        renew(&mut bed, card, configured, asked, ec, length);
    }
}

#[test]
fn cardshapes_a_ca_certificate_on_the_card_is_shown_kept_and_never_counted() {
    let mut bed = Bed::start();
    let spec = CardSpec::new("with CA", 45, 45).with_algorithm(PairAlgorithm::Rsa2048).with_ca_certificate();
    let old = bed.card_spec(managed(), &spec);
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let status = status_of(&mut host, 1);
    let certificates = status["card"]["certificates"].as_array().expect("certificates").clone();
    let roles: Vec<&str> = certificates.iter().filter_map(|c| c["role"].as_str()).collect();
    assert_eq!(roles, ["authentication", "signing", "other"], "{status}");
    assert_eq!(certificates[2]["renewable"], false);
    assert_eq!(status["card"]["renewable"], true);
    let begin = expect_ok(&host.begin_confirmed(json!(2), json!({"pin": PIN})));
    assert_eq!(begin["requests"].as_array().map(Vec::len), Some(2), "only the user's pairs: {begin}");
    let issued = issue_all(&bed, &begin, Issue::default());
    expect_ok(&complete_der(&mut host, 3, &begin, &issued));
    let contents = inspect(&bed.hsm.conf(), &old.token_label, PIN).expect("inspect");
    let ca = bed.ca.cert_der();
    assert_eq!(contents.certificates().filter(|c| c.cert_der.as_ref() == Some(&ca)).count(), 1, "CA kept");
    assert_eq!(contents.certificates().count(), 3);
}

/// What `status` says about the card and what `renewBegin` does with it must agree.
#[test]
fn cardshapes_status_and_renew_begin_agree_for_every_shape() {
    let with_ca = |s: CardSpec| s.with_ca_certificate();
    // A signing pair that is due beside an authentication pair that is not.
    let one_due = CardSpec::new("signing due only", 400, 45);
    let shapes: Vec<(CardSpec, Option<&str>)> = vec![
        (spec("p384 due", 45, 45, PairAlgorithm::P384), None),
        (spec("rsa2048 due", 30, 30, PairAlgorithm::Rsa2048), None),
        (spec("rsa3072 due", 30, 30, PairAlgorithm::Rsa3072), None),
        (spec("p256 due", 30, 30, PairAlgorithm::P256), None),
        (spec("rsa2048 not due", 400, 400, PairAlgorithm::Rsa2048), Some("NOT_DUE")),
        (spec("p256 expired", 45, -1, PairAlgorithm::P256), Some("EXPIRED")),
        (with_ca(spec("ca not due", 400, 400, PairAlgorithm::P384)), Some("NOT_DUE")),
        (with_ca(spec("ca due", 45, 45, PairAlgorithm::P256)), None),
        (one_due, None),
    ];
    let specs: Vec<CardSpec> = shapes.iter().map(|(s, _)| s.clone()).collect();
    let mut bed = bed_with(&specs);
    for (spec, reason) in &shapes {
        bed.bind(managed(), &spec.token_label);
        let mut host = bed.env.spawn_ours();
        host.expect_hello();
        let status = status_of(&mut host, 1);
        let card = &status["card"];
        assert_eq!(card["renewable"], json!(reason.is_none()), "{}: {status}", spec.token_label);
        assert_eq!(card["reason"], json!(reason), "{}: {status}", spec.token_label);
        // SoftHSM hides private keys before sign-in: status says the answer assumes them.
        let assumed = json!([
            {"role": "authentication", "fact": "privateKey"},
            {"role": "signing", "fact": "privateKey"},
        ]);
        assert_eq!(card["unconfirmed"], assumed, "{}: {status}", spec.token_label);
        let params = json!({"pin": PIN, "cardSerial": card["token"]["serial"]});
        let reply = host.request_slow(json!(2), "renewBegin", params, KEYGEN_TIMEOUT);
        match reason {
            None => {
                let begin = expect_ok(&reply);
                assert_eq!(begin["requests"].as_array().map(Vec::len), Some(2), "{}", spec.token_label);
                expect_ok(&host.request(json!(3), "renewCancel", json!({"renewalId": begin["renewalId"]})));
            }
            Some(reason) => {
                let error = expect_error(&reply, "NOT_RENEWABLE");
                assert_eq!(error["reason"], json!(reason), "{}: {error}", spec.token_label);
            }
        }
    }
}

#[test]
fn cardshapes_a_different_card_is_card_changed_before_the_passcode_is_tried() {
    let (bed, _) = crate::renewal::due_card();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let reply = host.request(json!(1), "renewBegin", json!({"pin": "999999", "cardSerial": "not-this-card"}));
    expect_error(&reply, "CARD_CHANGED");
    // The wrong passcode was never tried: the token does not count a miss.
    let status = status_of(&mut host, 2);
    assert_eq!(status["card"]["pin"], "ok", "{status}");
    assert!(host.events.iter().all(|e| e["event"] != "progress"), "no sign-in step: {:?}", host.events);
}

#[test]
fn cardshapes_key_algorithms_outside_the_allowed_list_are_refused_before_sign_in() {
    let (mut bed, _) = crate::renewal::due_card();
    bed.config("allowedKeyAlgorithms", json!(["p384", "p256"]));
    let before = crate::renewal::contents(&bed).objects;
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    // rsa2048 is what a renewal service's csrattrs may ask for; IT's list wins.
    for asked in ["rsa2048", "dsa1024"] {
        let reply = host.begin_confirmed(json!(1), json!({"pin": "999999", "keyAlgorithm": asked}));
        let error = expect_error(&reply, "KEY_ALGORITHM_NOT_ALLOWED");
        assert!(error["message"].as_str().is_some_and(|m| !m.contains("999999")), "{error}");
    }
    let status = status_of(&mut host, 2);
    assert_eq!(status["card"]["pin"], "ok", "the passcode was not tried: {status}");
    drop(host);
    assert_eq!(crate::renewal::contents(&bed).objects, before, "nothing on the card changed");
}
