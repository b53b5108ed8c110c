//! EST happy paths, checked with openssl.

use crate::util::{b64, csr_from_cert, ec_key, openssl, pkcs7_certs_pem, unb64, x509, Server};

#[test]
fn cacerts_returns_the_ca_as_certs_only_pkcs7() {
    let s = Server::start();
    let r = s.browser().get("/.well-known/est/cacerts");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/pkcs7-mime; smime-type=certs-only"));
    assert_eq!(r.header("content-transfer-encoding"), Some("base64"));
    assert!(r.body.lines().all(|l| l.trim_end().len() <= 76), "RFC 2045 line length");
    let pem = pkcs7_certs_pem(s.dir.path(), &unb64(&r.bytes));
    let got = s.dir.path().join("cacerts.pem");
    std::fs::write(&got, &pem).expect("write");
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 1);
    assert_eq!(x509(&got, &["-fingerprint", "-sha256"]), x509(&s.ca_cert, &["-fingerprint", "-sha256"]));
    let labelled = s.browser().get("/.well-known/est/signing/cacerts");
    assert_eq!(labelled.body, r.body);
}

/// Renews `role_pem`'s certificate with a fresh P-384 key; returns the issued PEM path.
fn renew(
    s: &Server,
    b: &mut crate::util::Browser,
    csrf: &str,
    role_pem: &std::path::Path,
    name: &str,
) -> std::path::PathBuf {
    let dir = s.dir.path();
    let key = ec_key(dir, name, "secp384r1");
    let csr = csr_from_cert(dir, role_pem, &key, true);
    let r = b.est_post("/.well-known/est/simplereenroll", Some(csrf), &b64(&csr));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/pkcs7-mime; smime-type=certs-only"));
    let pem = pkcs7_certs_pem(dir, &unb64(&r.bytes));
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 1, "only the issued certificate");
    let issued = dir.join(format!("{name}-issued.pem"));
    std::fs::write(&issued, pem).expect("write");
    // The new certificate certifies the new key.
    let key_pub = openssl(&["pkey", "-in", key.to_str().expect("path"), "-pubout"]);
    assert_eq!(x509(&issued, &["-pubkey"]).as_bytes(), key_pub.as_slice());
    issued
}

#[test]
fn simplereenroll_issues_both_roles_verified_by_openssl() {
    let s = Server::start();
    let card = s.add_card("alice", "HAPPY1", 45, 30);
    let mut b = s.signed_in();
    let csrf = b.csrf();
    let ca = s.ca_cert.to_str().expect("path");
    for (old, name, usage) in
        [(&card.auth_pem, "auth", "Digital Signature"), (&card.sign_pem, "sign", "Non Repudiation")]
    {
        let issued = renew(&s, &mut b, &csrf, old, name);
        let verify = String::from_utf8(openssl(&["verify", "-CAfile", ca, issued.to_str().expect("path")]))
            .expect("utf-8");
        assert!(verify.trim_end().ends_with(": OK"), "{verify}");
        let subject = ["-subject", "-nameopt", "RFC2253"];
        assert_eq!(x509(&issued, &subject), x509(old, &subject), "same subject");
        let ku = x509(&issued, &["-ext", "keyUsage"]);
        assert!(ku.contains("critical") && ku.contains(usage), "{name}: {ku}");
        assert!(
            !ku.contains(if usage == "Non Repudiation" { "Digital Signature" } else { "Non Repudiation" }),
            "{ku}"
        );
        // Valid about 730 days from now.
        let end = x509(&issued, &["-checkend", &(729 * 86_400).to_string()]);
        assert!(end.contains("will not expire"), "{end}");
        let past = std::process::Command::new("openssl")
            .args([
                "x509",
                "-noout",
                "-in",
                issued.to_str().expect("path"),
                "-checkend",
                &(731 * 86_400).to_string(),
            ])
            .output()
            .expect("openssl");
        assert!(!past.status.success(), "expires before 731 days");
    }

    // The records: two renewals issued, the card's current certificates replaced, audit entries.
    let issued = s.admin_get("/admin/api/issued");
    let issued = issued.as_array().expect("array");
    assert_eq!(issued.len(), 2);
    assert!(issued
        .iter()
        .all(|c| c["cardSerial"] == "HAPPY1" && c["source"] == "renewed" && c["isCurrent"] == true));
    let cards = s.admin_get("/admin/api/cards");
    let current: Vec<&str> = cards[0]["certificates"]
        .as_array()
        .expect("certs")
        .iter()
        .map(|c| c["source"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(current, ["renewed", "renewed"]);
    let audit = s.admin_get("/admin/api/audit");
    let audit = audit.as_array().expect("array");
    assert_eq!(audit.len(), 2);
    for entry in audit {
        assert_eq!(entry["outcome"], "issued");
        assert_eq!(entry["sponsor"], "sponsor1");
        assert_eq!(entry["cardSerial"], "HAPPY1");
        assert!(entry["issuedSerial"].is_string());
    }
    assert_eq!(audit[0]["role"], "authentication");
    assert_eq!(audit[1]["role"], "signing");

    // The page shows the new dates as not due any more.
    let page = b.get("/smartcard?card=HAPPY1");
    assert_eq!(page.body.matches(r#"data-status="valid""#).count(), 2, "{}", page.body);
}

#[test]
fn simplereenroll_labelled_path_sets_the_role_when_the_csr_has_none() {
    let s = Server::start();
    let card = s.add_card("bob", "LABEL1", 45, 45);
    let mut b = s.signed_in();
    let csrf = b.csrf();
    let key = ec_key(s.dir.path(), "k", "secp384r1");
    let csr = csr_from_cert(s.dir.path(), &card.sign_pem, &key, false);
    let r = b.est_post("/.well-known/est/signing/simplereenroll", Some(&csrf), &b64(&csr));
    assert_eq!(r.status, 200, "{}", r.body);
    let pem = pkcs7_certs_pem(s.dir.path(), &unb64(&r.bytes));
    let issued = s.dir.path().join("issued.pem");
    std::fs::write(&issued, pem).expect("write");
    assert!(x509(&issued, &["-ext", "keyUsage"]).contains("Non Repudiation"));
}

#[test]
fn simplereenroll_retry_with_the_same_key_returns_the_same_certificate() {
    let s = Server::start();
    let card = s.add_card("alice", "RETRY1", 45, 45);
    let mut b = s.signed_in();
    let csrf = b.csrf();
    let key = ec_key(s.dir.path(), "k", "secp384r1");
    let csr = b64(&csr_from_cert(s.dir.path(), &card.auth_pem, &key, true));
    let first = b.est_post("/.well-known/est/simplereenroll", Some(&csrf), &csr);
    let second = b.est_post("/.well-known/est/simplereenroll", Some(&csrf), &csr);
    assert_eq!((first.status, second.status), (200, 200), "{}", second.body);
    assert_eq!(first.bytes, second.bytes);
    assert_eq!(s.admin_get("/admin/api/issued").as_array().map(Vec::len), Some(1));
    let audit = s.admin_get("/admin/api/audit");
    assert_eq!(audit[1]["code"], "repeated");
}

#[test]
fn simplereenroll_uses_the_selected_card_when_a_person_has_two() {
    let s = Server::start();
    let first = s.add_card("carol", "TWO1", 45, 45);
    s.add_card("carol", "TWO2", 45, 45);
    let mut b = s.signed_in();
    let csrf = b.csrf();
    let key = ec_key(s.dir.path(), "k", "secp384r1");
    let csr = b64(&csr_from_cert(s.dir.path(), &first.auth_pem, &key, true));
    let r = b.est_post("/.well-known/est/simplereenroll", Some(&csrf), &csr);
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["error"], "ambiguous-card");

    let sel = b.post_form("/smartcard/select", &[("csrf_token", &csrf), ("card", "TWO2")]);
    assert_eq!(sel.status, 303);
    let r = b.est_post("/.well-known/est/simplereenroll", Some(&csrf), &csr);
    assert_eq!(r.status, 200, "{}", r.body);
    let issued = s.admin_get("/admin/api/issued");
    assert_eq!(issued[0]["cardSerial"], "TWO2");
}
