//! `cis-standin provision`: a SoftHSM token made through the test bed with
//! certificates from the stand-in's CA, registered, then renewable over EST.
//!
//! Needs the `cis-testbed` binary (`cargo build -p cis-renew-testbed`, or
//! `CIS_TESTBED_BIN`). Not yet covered: a CSR signed by the token's key
//! through the host's own CSR code (the host does not have it yet); the CSR
//! here is made by openssl from a software key.

use std::process::Command;

use crate::util::{b64, csr_from_cert, ec_key, openssl, run, Card, Server, BIN};

#[test]
fn provision_makes_a_registered_token_that_can_be_renewed() {
    let s = Server::start();
    let hsm = s.dir.path().join("softhsm");
    std::fs::create_dir_all(hsm.join("tokens")).expect("dirs");
    let conf = hsm.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            hsm.join("tokens").display()
        ),
    )
    .expect("conf");
    let data = s.ready["data"].as_str().expect("data");
    let out = Command::new(BIN)
        .args(["provision", "--data", data, "--softhsm-conf"])
        .arg(&conf)
        .args(["--label", "Alice card", "--user", "alice", "--auth-days", "45", "--sign-days", "400"])
        .output()
        .expect("run provision");
    assert!(
        out.status.success(),
        "provision failed (is cis-testbed built? cargo build -p cis-renew-testbed): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let serial = json["tokenSerial"].as_str().expect("tokenSerial").to_owned();
    assert_eq!(json["user"]["uuid"], "555000000001");

    // The token exists in SoftHSM under that serial and label.
    let slots =
        String::from_utf8(run(Command::new("softhsm2-util").env("SOFTHSM2_CONF", &conf).arg("--show-slots")))
            .expect("utf-8");
    assert!(slots.contains(&serial) && slots.contains("Alice card"), "{slots}");

    // The running server sees the card (same database) and its certificates chain to its CA.
    let cards = s.admin_get("/admin/api/cards");
    assert_eq!(cards[0]["serial"].as_str(), Some(serial.as_str()));
    let card = Card::from_json(json, s.dir.path());
    for pem in [&card.auth_pem, &card.sign_pem] {
        let v =
            openssl(&["verify", "-CAfile", s.ca_cert.to_str().expect("path"), pem.to_str().expect("path")]);
        assert!(String::from_utf8_lossy(&v).contains(": OK"));
    }
    let mut b = s.signed_in();
    let page = b.get(&format!("/smartcard?card={serial}"));
    assert!(page.body.contains("Alice Example") && page.body.contains(r#"data-status="due""#));

    // Authentication (45 days) renews; signing (400 days) is not due.
    let csrf = b.csrf();
    let key = ec_key(s.dir.path(), "k", "secp384r1");
    let auth = b64(&csr_from_cert(s.dir.path(), &card.auth_pem, &key, true));
    let r = b.est_post("/.well-known/est/simplereenroll", Some(&csrf), &auth);
    assert_eq!(r.status, 200, "{}", r.body);
    let sign = b64(&csr_from_cert(s.dir.path(), &card.sign_pem, &key, true));
    let r = b.est_post("/.well-known/est/simplereenroll", Some(&csrf), &sign);
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"], "not-due");
}

#[test]
fn provision_unknown_user_fails_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["provision", "--data"])
        .arg(dir.path())
        .args(["--softhsm-conf", "/nonexistent.conf", "--label", "x", "--user", "zed"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user \"zed\""));
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(BIN).args(["serve", "--port", "x"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let help = Command::new(BIN).arg("--help").output().expect("run");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("cis-standin provision"));
}
