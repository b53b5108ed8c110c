//! The PIV test card: provisioning over its own APDUs, insertion into a reader, and the
//! independent checks (yubico-piv-tool, OpenSC's PIV driver, openssl) agreeing it works.
//! Needs `cis-piv-card` built: cargo build --manifest-path tests/testbed/piv-card/Cargo.toml
//! --target-dir target/piv-card.

use std::path::Path;
use std::process::Command;

use cis_renew_testbed::piv::apdu::{self, command, Transport};
use cis_renew_testbed::piv::{self, session, MgmtAlg, PivSpec, ProvisionedPiv, StdioCard};
use cis_renew_testbed::{cert_info, Pcscd, Role, TestCa};

const AES_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn ca(dir: &Path) -> TestCa {
    TestCa::create(&dir.join("ca"), "PIV Test CA").expect("CA")
}

fn aes_spec() -> PivSpec {
    let mut spec = PivSpec::new(45, 400);
    spec.mgmt_alg = MgmtAlg::Aes256;
    spec.mgmt_key = cis_renew_testbed::util::unhex(AES_KEY).expect("hex");
    spec.pin = "24681357".into();
    spec
}

#[test]
fn provisioned_card_passes_yubico_piv_tool_and_opensc_checks() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let ca = ca(tmp.path());
    let card_dir = tmp.path().join("card");

    let made = piv::provision(&card_dir, &ca, &aes_spec()).expect("provision");
    let mut bed = Pcscd::start().expect("pcscd");
    bed.insert_piv_card(1, &card_dir).expect("insert");
    let report = piv::piv_check(&bed, 1, "24681357").expect("check");

    assert!(report.ok(), "independent checks failed: {:?}", report.problems);
    assert_eq!(report.card_id.as_deref(), Some(made.card_id.as_str()), "CHUID GUID = cardId");
    for c in &made.certs {
        let seen = report.slot(c.slot).expect("slot in the report");
        assert_eq!(seen.cert_der, c.cert_der, "slot {} holds what was provisioned", c.slot);
        assert_eq!(seen.algorithm, "ECCP384");
    }
    let auth = cert_info(&made.certs[0].cert_der).expect("9A certificate");
    let sign = cert_info(&made.certs[1].cert_der).expect("9C certificate");
    assert_eq!((auth.role, sign.role), (Some(Role::Authentication), Some(Role::Signing)));
    assert_eq!(auth.extended_key_usage, vec!["1.3.6.1.5.5.7.3.2"]);
    assert_eq!(sign.key_usage, vec!["nonRepudiation"]);
    let days = (auth.not_after - time::OffsetDateTime::now_utc()).whole_days();
    assert!((44..=45).contains(&days), "--auth-days 45 gives {days}");
    assert_eq!(ProvisionedPiv::load(&card_dir).expect("marker"), made);
}

#[test]
fn wrong_pin_fails_the_check_at_the_cost_of_one_try() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let ca = ca(tmp.path());
    let card_dir = tmp.path().join("card");
    piv::provision(&card_dir, &ca, &PivSpec::new(400, 400)).expect("provision");
    let mut bed = Pcscd::start().expect("pcscd");
    bed.insert_piv_card(1, &card_dir).expect("insert");

    let report = piv::piv_check(&bed, 1, "654321").expect("check");

    assert!(!report.ok());
    assert!(report.problems[0].contains("refused the PIN"), "{:?}", report.problems);
    assert_eq!(report.pin_tries_left, Some(2));
}

#[test]
fn management_key_authenticates_only_with_the_provisioned_key_and_not_after_a_reset() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let ca = ca(tmp.path());
    let card_dir = tmp.path().join("card");
    let spec = aes_spec();
    piv::provision(&card_dir, &ca, &spec).expect("provision");
    let mut card = StdioCard::open(&card_dir).expect("card");
    session::select(&mut card).expect("select");

    let factory = session::mutual_auth(&mut card, MgmtAlg::Tdes, &piv::DEFAULT_MGMT_KEY);
    let mut wrong = spec.mgmt_key.clone();
    wrong[0] ^= 1;
    let wrong = session::mutual_auth(&mut card, MgmtAlg::Aes256, &wrong);
    session::mutual_auth(&mut card, MgmtAlg::Aes256, &spec.mgmt_key).expect("the provisioned key");
    let chuid = [apdu::tlv(0x5C, &[0x5F, 0xC1, 0x02]), apdu::tlv(0x53, &[0x34, 0x00])].concat();
    let put = command(0xDB, 0x3F, 0xFF, &chuid);
    let authorised = apdu::exchange(&mut card, &put).expect("PUT DATA").1;
    card.reset().expect("reset");
    session::select(&mut card).expect("select");
    let after_reset = apdu::exchange(&mut card, &put).expect("PUT DATA").1;
    card.close().expect("close");

    assert!(factory.is_err(), "the factory 3DES key was replaced");
    assert!(wrong.is_err(), "a wrong AES key is refused");
    assert_eq!(authorised, 0x9000);
    assert_eq!(after_reset, 0x6982, "a power cycle ends the management login");
}

#[test]
fn mutual_auth_by_hand_follows_sp_800_73_4() {
    // The exchange the renewal service relays, spelled out byte by byte against the card.
    let tmp = tempfile::tempdir().expect("temp dir");
    let ca = ca(tmp.path());
    let card_dir = tmp.path().join("card");
    let spec = aes_spec();
    piv::provision(&card_dir, &ca, &spec).expect("provision");
    let mut card = StdioCard::open(&card_dir).expect("card");
    session::select(&mut card).expect("select");

    let step1 = card.transmit(&[0x00, 0x87, 0x0C, 0x9B, 0x04, 0x7C, 0x02, 0x80, 0x00, 0x00]).expect("step 1");
    let (witness_tlv, sw1) = step1.split_at(step1.len() - 2);
    let witness = session::dynamic_auth(witness_tlv, 0x80).expect("witness");
    let decrypted = MgmtAlg::Aes256.decrypt_block(&spec.mgmt_key, &witness).expect("decrypt");
    let challenge = [0x5Au8; 16];
    let mut step2 = vec![0x00, 0x87, 0x0C, 0x9B, 0x26, 0x7C, 0x24, 0x80, 0x10];
    step2.extend_from_slice(&decrypted);
    step2.extend_from_slice(&[0x81, 0x10]);
    step2.extend_from_slice(&challenge);
    step2.push(0x00);
    let reply = card.transmit(&step2).expect("step 2");
    card.close().expect("close");

    assert_eq!(sw1, [0x90, 0x00]);
    assert_eq!(&witness_tlv[..4], &[0x7C, 0x12, 0x80, 0x10], "7C len 80 len WITNESS");
    assert_eq!(&reply[..4], &[0x7C, 0x12, 0x82, 0x10], "7C len 82 len RESPONSE");
    assert_eq!(&reply[20..], &[0x90, 0x00]);
    let expected = MgmtAlg::Aes256.encrypt_block(&spec.mgmt_key, &challenge).expect("encrypt");
    assert_eq!(&reply[4..20], &expected[..]);
}

#[test]
fn provision_refuses_unsupported_keys_and_used_directories() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let ca = ca(tmp.path());
    let mut aes128 = PivSpec::new(400, 400);
    aes128.mgmt_alg = MgmtAlg::Aes128;
    aes128.mgmt_key = vec![7; 16];
    let mut short = PivSpec::new(400, 400);
    short.mgmt_alg = MgmtAlg::Aes256;
    short.mgmt_key = vec![7; 24];

    let aes128 = piv::provision(&tmp.path().join("a"), &ca, &aes128).map(|_| ()).expect_err("aes128");
    let short = piv::provision(&tmp.path().join("b"), &ca, &short).map(|_| ()).expect_err("short key");
    piv::provision(&tmp.path().join("c"), &ca, &PivSpec::new(400, 400)).expect("provision");
    let again =
        piv::provision(&tmp.path().join("c"), &ca, &PivSpec::new(400, 400)).map(|_| ()).expect_err("reuse");

    assert!(aes128.to_string().contains("supports 3des and aes256"), "{aes128}");
    assert!(short.to_string().contains("32 bytes"), "{short}");
    assert!(again.to_string().contains("already holds a card"), "{again}");
}

#[test]
fn cli_provision_then_serve_inserts_the_card_directory() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let bin = env!("CARGO_BIN_EXE_cis-testbed");
    ca(tmp.path());
    let card_dir = tmp.path().join("card");
    let out = Command::new(bin)
        .args(["piv", "provision", "--card"])
        .arg(&card_dir)
        .arg("--ca")
        .arg(tmp.path().join("ca"))
        .args(["--mgmt-alg", "aes256", "--mgmt-key", AES_KEY, "--pin", "11223344", "--puk", "87654321"])
        .args(["--subject", "CN=Sam Jones,O=NHS Test,C=GB", "--auth-days", "30", "--sign-days", "60"])
        .args(["--guid", "00112233445566778899aabbccddeeff", "--json"])
        .output()
        .expect("run provision");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(made["cardId"], "00112233445566778899aabbccddeeff");
    assert_eq!(made["mgmtAlg"], "aes256");
    assert_eq!(made["certs"][1]["slot"], "9c");
    assert_eq!(made["certs"][0]["info"]["subject"], "CN=Sam Jones,O=NHS Test,C=GB");

    let state = tmp.path().join("bed");
    let mut serve = Command::new(bin)
        .args(["serve", "--state"])
        .arg(&state)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("serve");
    let mut stdin = serve.stdin.take().expect("stdin");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(serve.stdout.take().expect("stdout")));
    let ready = lines.next().expect("ready line").expect("read");
    assert!(ready.contains("\"ready\":true"), "{ready}");
    let mut ask = |line: &str| -> serde_json::Value {
        use std::io::Write;
        writeln!(stdin, "{line}").expect("write");
        stdin.flush().expect("flush");
        let answer = lines.next().expect("an answer").expect("read");
        serde_json::from_str(&answer).expect("JSON answer")
    };
    let not_a_card = ask(&format!("insert 0 --card {}", tmp.path().join("ca").display()));
    let inserted = ask(&format!("insert 1 --card {}", card_dir.display()));
    let status = ask("status");
    let socket = state.join("run").join("pcscd.comm");
    let check = Command::new(bin)
        .args(["piv", "check", "--socket"])
        .arg(&socket)
        .args(["--reader", "1", "--pin", "11223344"])
        .output()
        .expect("check");
    let removed = ask("remove 1");
    let _ = ask("quit");
    let _ = serve.wait();

    assert_eq!(not_a_card["ok"], false);
    assert!(not_a_card["error"].as_str().unwrap_or_default().contains("not a PIV card directory"));
    assert_eq!(inserted["ok"], true, "{inserted}");
    assert_eq!(status["readers"][1]["present"], true);
    assert!(check.status.success(), "piv check: {}", String::from_utf8_lossy(&check.stdout));
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).expect("report");
    assert_eq!(report["cardId"], "00112233445566778899aabbccddeeff");
    assert_eq!(removed["ok"], true);
}

#[test]
fn p256_and_rsa2048_cards_pass_the_checks() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let ca = ca(tmp.path());
    let mut bed = Pcscd::start().expect("pcscd");
    for (n, (alg, name)) in
        [(piv::KeyAlg::P256, "ECCP256"), (piv::KeyAlg::Rsa2048, "RSA2048")].into_iter().enumerate()
    {
        let dir = tmp.path().join(name);
        let mut spec = PivSpec::new(45, 45);
        spec.alg = alg;
        piv::provision(&dir, &ca, &spec).expect("provision");
        bed.insert_piv_card(n, &dir).expect("insert");

        let report = piv::piv_check(&bed, n, piv::DEFAULT_PIN).expect("check");

        assert!(report.ok(), "{name}: {:?}", report.problems);
        assert!(report.slots.iter().all(|s| s.algorithm == name), "{name}: {:?}", report.slots);
    }
}
