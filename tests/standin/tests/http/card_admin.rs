//! The card-management API (`/card-admin/v1/`) against the real PIV test card: the card
//! makes the witness and checks the service's answer, and answers the service's challenge
//! (SP 800-73-4 mutual authentication with key 9B), all over the card's own APDUs. Needs
//! `cis-testbed` and `cis-piv-card` built (tests/testbed/README.md). The CSRs come from
//! openssl keys: the service cannot tell where a key lives, and the card side of renewal is
//! the host's (its tests use the card's own keys).

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use cis_renew_testbed::piv::apdu::{self, command, tlv};
use cis_renew_testbed::piv::{session, MgmtAlg, StdioCard};
use serde_json::{json, Value};

use crate::util::{csr_from_cert, ec_key, openssl, pkcs7_certs_pem, Browser, Server, BIN};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

struct PivCard {
    id: String,
    dir: PathBuf,
    auth_pem: PathBuf,
    sign_pem: PathBuf,
}

/// `cis-standin provision --piv-card` for alice, with `extra` options.
fn provision(s: &Server, name: &str, extra: &[&str]) -> PivCard {
    let dir = s.dir.path().join(name);
    let out = Command::new(BIN)
        .args(["provision", "--data", s.ready["data"].as_str().expect("data"), "--piv-card"])
        .arg(&dir)
        .args(["--user", "alice", "--auth-days", "45", "--sign-days", "45"])
        .args(extra)
        .output()
        .expect("run provision");
    assert!(out.status.success(), "provision --piv-card: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let pem = |role: &str| {
        let c = v["certificates"]
            .as_array()
            .expect("certificates")
            .iter()
            .find(|c| c["role"] == role)
            .expect(role);
        let path = s.dir.path().join(format!("{name}-{role}.pem"));
        std::fs::write(&path, c["pem"].as_str().expect("pem")).expect("write pem");
        path
    };
    PivCard {
        id: v["cardId"].as_str().expect("cardId").to_owned(),
        dir,
        auth_pem: pem("authentication"),
        sign_pem: pem("signing"),
    }
}

fn post_json(b: &mut Browser, path: &str, csrf: Option<&str>, body: &Value) -> crate::util::Resp {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(t) = csrf {
        headers.push(("X-CSRF-Token", t));
    }
    b.request("POST", path, &headers, Some(body.to_string().as_bytes()))
}

/// The card's witness: GENERAL AUTHENTICATE `00 87 ALG 9B 04 7C 02 80 00`.
fn witness(card: &mut StdioCard, alg: MgmtAlg) -> Vec<u8> {
    let reply = apdu::expect_ok(card, &command(0x87, alg.id(), 0x9B, &[0x7C, 0x02, 0x80, 0x00]), "witness")
        .expect("witness");
    session::dynamic_auth(&reply, 0x80).expect("7C 80")
}

/// Step two on the card: `7C {80 DECRYPTED, 81 CHALLENGE}` -> (status, `82` response).
fn answer(card: &mut StdioCard, alg: MgmtAlg, decrypted: &[u8], challenge: &[u8]) -> (u16, Option<Vec<u8>>) {
    let data = tlv(0x7C, &[tlv(0x80, decrypted), tlv(0x81, challenge)].concat());
    let (reply, sw) = apdu::exchange(card, &command(0x87, alg.id(), 0x9B, &data)).expect("step 2");
    (sw, session::dynamic_auth(&reply, 0x82).ok())
}

fn unb64(v: &Value) -> Vec<u8> {
    B64.decode(v.as_str().expect("base64 string")).expect("base64")
}

/// Begins a renewal of `piv` with its card's witness; returns (renewal, decrypted, challenge).
fn begin(
    b: &mut Browser,
    csrf: &str,
    piv: &PivCard,
    card: &mut StdioCard,
    alg: MgmtAlg,
) -> (String, Vec<u8>, Vec<u8>) {
    let w = witness(card, alg);
    let r = post_json(
        b,
        "/card-admin/v1/renewals",
        Some(csrf),
        &json!({ "cardId": piv.id, "algorithm": alg.name(), "witness": B64.encode(&w) }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    let (decrypted, challenge) = (unb64(&v["witness"]), unb64(&v["challenge"]));
    assert_eq!(challenge.len(), alg.block_len(), "one block");
    (v["renewal"].as_str().expect("renewal").to_owned(), decrypted, challenge)
}

fn csr_b64(s: &Server, cert_pem: &Path, name: &str) -> String {
    let key = ec_key(s.dir.path(), name, "secp384r1");
    B64.encode(csr_from_cert(s.dir.path(), cert_pem, &key, true))
}

#[test]
fn renewal_with_the_real_card_authenticates_both_ways_issues_and_is_closed_once() {
    let s = Server::start();
    let piv = provision(&s, "card", &[]);
    let mut b = s.signed_in();
    let csrf = b.csrf();
    let mut card = StdioCard::open(&piv.dir).expect("card");
    session::select(&mut card).expect("select");

    let (id, decrypted, challenge) = begin(&mut b, &csrf, &piv, &mut card, MgmtAlg::Aes256);
    let (sw, response) = answer(&mut card, MgmtAlg::Aes256, &decrypted, &challenge);
    assert_eq!(sw, 0x9000, "the card accepts the service's decryption of its witness");
    let response = response.expect("the card answers the challenge");
    // The card now grants management rights: PUT DATA of the CHUID is allowed.
    let put = command(0xDB, 0x3F, 0xFF, &[tlv(0x5C, &[0x5F, 0xC1, 0x02]), tlv(0x53, &[0x34, 0x00])].concat());
    assert_eq!(apdu::exchange(&mut card, &put).expect("PUT DATA").1, 0x9000);
    card.close().expect("close card");

    let body = json!({ "response": B64.encode(&response), "requests": [
        { "role": "authentication", "csr": csr_b64(&s, &piv.auth_pem, "auth") },
        { "role": "signing", "csr": csr_b64(&s, &piv.sign_pem, "sign") },
    ]});
    let issued = post_json(&mut b, &format!("/card-admin/v1/renewals/{id}/certificates"), Some(&csrf), &body);
    assert_eq!(issued.status, 200, "{}", issued.body);
    let p7 = unb64(&issued.json()["certificates"]);
    let pems = pkcs7_certs_pem(s.dir.path(), &p7);
    assert_eq!(pems.matches("BEGIN CERTIFICATE").count(), 2);
    let bundle = s.dir.path().join("issued.pem");
    std::fs::write(&bundle, &pems).expect("write");
    let verified =
        openssl(&["verify", "-CAfile", s.ca_cert.to_str().expect("path"), bundle.to_str().expect("path")]);
    assert!(String::from_utf8_lossy(&verified).contains(": OK"));

    let replay = post_json(&mut b, &format!("/card-admin/v1/renewals/{id}/certificates"), Some(&csrf), &body);
    let pending = b.get(&format!("/card-admin/v1/cards/{}/renewal", piv.id.to_uppercase()));
    let closed =
        post_json(&mut b, &format!("/card-admin/v1/renewals/{id}/installed"), Some(&csrf), &json!({}));
    let closed_again =
        post_json(&mut b, &format!("/card-admin/v1/renewals/{id}/installed"), Some(&csrf), &json!({}));
    let after = b.get(&format!("/card-admin/v1/cards/{}/renewal", piv.id));

    assert_eq!((replay.status, replay.json()["error"].as_str()), (409, Some("renewal_used")));
    assert_eq!(pending.status, 200, "{}", pending.body);
    assert_eq!(pending.json()["state"], "issued");
    assert_eq!(pending.json()["renewal"], id.as_str());
    assert_eq!(unb64(&pending.json()["certificates"]), p7, "the record keeps the certificates");
    assert_eq!((closed.status, closed_again.status), (204, 204));
    assert_eq!((after.status, after.json()["error"].as_str()), (404, Some("no_renewal")));
    let audit = s.admin_get("/admin/api/audit");
    let codes: Vec<&str> =
        audit.as_array().expect("audit").iter().filter_map(|e| e["code"].as_str()).collect();
    assert_eq!(codes.iter().filter(|c| **c == "issued").count(), 2, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == "installed").count(), 1, "{codes:?}");
    assert!(codes.contains(&"renewal_used"), "refusals are audited: {codes:?}");
}

#[test]
fn dashboard_shows_a_provisioned_piv_card_like_any_card() {
    let s = Server::start();
    let piv = provision(&s, "card", &[]);
    let mut b = s.signed_in();

    let page = b.get(&format!("/smartcard?card={}", piv.id));
    let cards = s.admin_get("/admin/api/cards");

    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Alice Example") && page.body.contains(r#"data-status="due""#),
        "{}",
        page.body
    );
    let listed =
        cards.as_array().expect("cards").iter().find(|c| c["serial"] == piv.id.as_str()).expect("listed");
    assert_eq!(listed["label"], "PIV card");
}

#[test]
fn wrong_response_is_card_auth_failed_and_spends_the_renewal() {
    let s = Server::start();
    let piv = provision(&s, "card", &[]);
    let mut b = s.signed_in();
    let csrf = b.csrf();
    let mut card = StdioCard::open(&piv.dir).expect("card");
    session::select(&mut card).expect("select");
    let (id, decrypted, challenge) = begin(&mut b, &csrf, &piv, &mut card, MgmtAlg::Aes256);
    let (_, response) = answer(&mut card, MgmtAlg::Aes256, &decrypted, &challenge);
    card.close().expect("close card");
    let mut wrong = response.expect("response");
    wrong[0] ^= 0x80;
    let body = |r: &[u8]| {
        json!({ "response": B64.encode(r), "requests": [
        { "role": "authentication", "csr": csr_b64(&s, &piv.auth_pem, "auth") } ]})
    };

    let refused =
        post_json(&mut b, &format!("/card-admin/v1/renewals/{id}/certificates"), Some(&csrf), &body(&wrong));
    let retried =
        post_json(&mut b, &format!("/card-admin/v1/renewals/{id}/certificates"), Some(&csrf), &body(&wrong));
    let pending = b.get(&format!("/card-admin/v1/cards/{}/renewal", piv.id));

    assert_eq!((refused.status, refused.json()["error"].as_str()), (403, Some("card_auth_failed")));
    assert_eq!((retried.status, retried.json()["error"].as_str()), (409, Some("renewal_used")));
    assert_eq!(pending.status, 404, "a failed renewal is not one to finish");
    let renewed = s.admin_get("/admin/api/issued");
    assert_eq!(renewed.as_array().map(Vec::len), Some(0), "nothing issued: {renewed}");
}

#[test]
fn tdes_card_renews_one_role_and_a_wrong_service_decryption_is_refused_by_the_card() {
    let s = Server::start();
    let piv = provision(&s, "card3des", &["--mgmt-alg", "3des"]);
    let mut b = s.signed_in();
    let csrf = b.csrf();
    let mut card = StdioCard::open(&piv.dir).expect("card");
    session::select(&mut card).expect("select");

    // A service answering with the wrong key: the card refuses and grants nothing.
    let (_, decrypted, challenge) = begin(&mut b, &csrf, &piv, &mut card, MgmtAlg::Tdes);
    let mut bad = decrypted.clone();
    bad[7] ^= 1;
    let (refused_sw, _) = answer(&mut card, MgmtAlg::Tdes, &bad, &challenge);
    // Then the real exchange.
    let (id, decrypted, challenge) = begin(&mut b, &csrf, &piv, &mut card, MgmtAlg::Tdes);
    let (sw, response) = answer(&mut card, MgmtAlg::Tdes, &decrypted, &challenge);
    card.close().expect("close card");
    let body = json!({ "response": B64.encode(response.expect("response")), "requests": [
        { "role": "signing", "csr": csr_b64(&s, &piv.sign_pem, "sign") } ]});
    let issued = post_json(&mut b, &format!("/card-admin/v1/renewals/{id}/certificates"), Some(&csrf), &body);

    assert_ne!(refused_sw, 0x9000, "the card refuses a wrong decryption");
    assert_eq!(sw, 0x9000);
    assert_eq!(issued.status, 200, "{}", issued.body);
    let pems = pkcs7_certs_pem(s.dir.path(), &unb64(&issued.json()["certificates"]));
    assert_eq!(pems.matches("BEGIN CERTIFICATE").count(), 1);
}

#[test]
fn refusals_name_the_rule() {
    let s = Server::start();
    let piv = provision(&s, "card", &[]);
    let soft = s.add_card("bob", "SOFTHSM1", 45, 45);
    let mut b = s.signed_in();
    let csrf = b.csrf();
    let w = B64.encode([0u8; 16]);
    let begin_with = |b: &mut Browser, csrf: Option<&str>, body: Value| {
        let r = post_json(b, "/card-admin/v1/renewals", csrf, &body);
        (r.status, r.json()["error"].as_str().unwrap_or_default().to_owned())
    };

    let cases = [
        (
            json!({ "cardId": "00".repeat(16), "algorithm": "aes256", "witness": w }),
            Some(&csrf),
            404,
            "unknown_card",
        ),
        (
            json!({ "cardId": soft.serial, "algorithm": "aes256", "witness": w }),
            Some(&csrf),
            404,
            "unknown_card",
        ),
        (
            json!({ "cardId": piv.id, "algorithm": "3des", "witness": B64.encode([0u8; 8]) }),
            Some(&csrf),
            409,
            "wrong_algorithm",
        ),
        (
            json!({ "cardId": piv.id, "algorithm": "aes256", "witness": B64.encode([0u8; 8]) }),
            Some(&csrf),
            400,
            "bad_witness",
        ),
        (json!({ "cardId": piv.id, "algorithm": "aes512", "witness": w }), Some(&csrf), 400, "bad_request"),
        (json!({ "cardId": piv.id, "algorithm": "aes256", "witness": w }), None, 403, "csrf"),
    ];
    for (body, token, status, code) in cases {
        assert_eq!(
            begin_with(&mut b, token.map(String::as_str), body.clone()),
            (status, code.to_owned()),
            "{body}"
        );
    }
    let signed_out = begin_with(&mut s.browser(), Some(&csrf), json!({ "cardId": piv.id }));
    let form = b.request(
        "POST",
        "/card-admin/v1/renewals",
        &[("Content-Type", "text/plain"), ("X-CSRF-Token", &csrf)],
        Some(b"x"),
    );
    let (id, _, _) = {
        let mut card = StdioCard::open(&piv.dir).expect("card");
        session::select(&mut card).expect("select");
        let started = begin(&mut b, &csrf, &piv, &mut card, MgmtAlg::Aes256);
        card.close().expect("close card");
        started
    };
    let early_install =
        post_json(&mut b, &format!("/card-admin/v1/renewals/{id}/installed"), Some(&csrf), &json!({}));
    let pending = b.get(&format!("/card-admin/v1/cards/{}/renewal", piv.id));
    let mut other = s.browser();
    assert_eq!(other.sign_in("sponsor2", "sponsor2-demo").status, 303);
    let other_csrf = other.csrf();
    let not_theirs = post_json(
        &mut other,
        &format!("/card-admin/v1/renewals/{id}/certificates"),
        Some(&other_csrf),
        &json!({ "response": w, "requests": [] }),
    );
    let bob_csr = csr_b64(&s, &soft.auth_pem, "bob");
    let wrong_card = post_json(
        &mut b,
        &format!("/card-admin/v1/renewals/{id}/certificates"),
        Some(&csrf),
        &json!({ "response": w, "requests": [{ "role": "authentication", "csr": bob_csr }] }),
    );
    let unknown = post_json(&mut b, "/card-admin/v1/renewals/nope/certificates", Some(&csrf), &json!({}));

    assert_eq!(signed_out, (401, "not-signed-in".to_owned()));
    assert_eq!((form.status, form.json()["error"].as_str()), (415, Some("unsupported_media_type")));
    assert_eq!(
        (early_install.status, early_install.json()["error"].as_str()),
        (409, Some("renewal_not_issued"))
    );
    assert_eq!(pending.json()["state"], "authenticated", "begun, nothing issued yet");
    assert_eq!((not_theirs.status, not_theirs.json()["error"].as_str()), (403, Some("other_sponsor")));
    assert_eq!((wrong_card.status, wrong_card.json()["error"].as_str()), (422, Some("wrong_card")));
    assert_eq!((unknown.status, unknown.json()["error"].as_str()), (404, Some("unknown_renewal")));
    let still = b.get(&format!("/card-admin/v1/cards/{}/renewal", piv.id));
    assert_eq!(still.json()["state"], "authenticated", "refusals before the response check spend nothing");
}
