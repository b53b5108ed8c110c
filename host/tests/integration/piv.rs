//! PIV cards through the real binary: the test bed's PIV card (Nitrokey's piv-authenticator on
//! a vpcd reader), provisioned with a CHUID and two P-384 pairs from the test CA, and the test
//! playing the renewal service's part (it holds the card-management key, decrypts the witness,
//! checks the card's response, issues the certificates). After a renewal, Debian's
//! yubico-piv-tool and OpenSC's PIV driver must agree that the card works (issue 12).

use crate::util::*;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use cis_renew_testbed::piv::{piv_check, provision, MgmtAlg, PivSpec, ProvisionedPiv};
use cis_renew_testbed::{IssueRequest, Pcscd, Role, TestCa};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use time::{Duration, OffsetDateTime};
use x509_cert::der::{Decode, Encode};
use x509_cert::request::CertReq;

const PIN: &str = "123456";

/// Minutes added to each issued certificate's validity.
static LATER: AtomicI64 = AtomicI64::new(0);

/// A private pcscd with the PIV card in the managed reader, a test CA and the host's config.
struct PivBed {
    pcscd: Pcscd,
    ca: TestCa,
    card: ProvisionedPiv,
    _card_dir: PathBuf,
    mgmt: (MgmtAlg, Vec<u8>),
    env: HostEnv,
    _dirs: tempfile::TempDir,
}

impl PivBed {
    fn start(spec: PivSpec) -> PivBed {
        let dirs = tempfile::tempdir().expect("temp dir");
        let ca = TestCa::create(&dirs.path().join("ca"), "cis-renew Test CA").expect("test CA");
        let card_dir = dirs.path().join("card");
        std::fs::create_dir_all(&card_dir).expect("card dir");
        let card = provision(&card_dir, &ca, &spec).expect("provision the PIV card");
        let mut pcscd = Pcscd::start().expect("pcscd with vpcd readers");
        pcscd.insert_piv_card(1, &card_dir).expect("PIV card in the managed reader");
        let mut env = HostEnv::with_defaults();
        env.set("PCSCLITE_CSOCK_NAME", pcscd.socket().to_string_lossy().as_ref());
        let bed = PivBed {
            pcscd,
            ca,
            card,
            _card_dir: card_dir,
            mgmt: (spec.mgmt_alg, spec.mgmt_key),
            env,
            _dirs: dirs,
        };
        bed.config(json!({}));
        bed
    }

    fn due() -> PivBed {
        PivBed::start(PivSpec::new(45, 60))
    }

    /// Writes the host config: log, trust anchor, plus `extra`.
    fn config(&self, extra: Value) {
        let mut config = json!({
            "logFile": self.env.log_path(),
            "logLevel": "debug",
            "trustAnchors": [self.ca.cert_pem_path()],
        });
        for (key, value) in extra.as_object().expect("object") {
            config[key] = value.clone();
        }
        self.env.write_config(&config);
    }

    fn host(&self) -> Host {
        let mut host = self.env.spawn_ours();
        host.expect_hello();
        host
    }

    /// A host with one more environment variable (a test hook); same config, log and HOME
    /// (where the PIV journal lives) as the others.
    fn host_with(&mut self, key: &str, value: &str) -> Host {
        self.env.set(key, value);
        let mut host = self.env.spawn_ours();
        self.env.vars.retain(|(k, _)| k != key);
        host.expect_hello();
        host
    }
}

fn b64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

fn unb64(value: &Value) -> Vec<u8> {
    BASE64.decode(value.as_str().expect("base64 string")).expect("base64")
}

fn status(host: &mut Host, id: i64) -> Value {
    let reply = host.request(json!(id), "status", json!({}));
    assert_eq!(reply["ok"], true, "{reply}");
    reply["result"]["card"].clone()
}

/// The service's half of the mutual authentication: the decrypted witness and a challenge.
fn answer_witness(bed: &PivBed, begin: &Value, key: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let admin = &begin["result"]["cardAdmin"];
    assert_eq!(admin["algorithm"], bed.mgmt.0.name(), "{begin}");
    let witness = bed.mgmt.0.decrypt_block(key, &unb64(&admin["witness"])).expect("decrypt witness");
    let challenge: Vec<u8> = (0..witness.len()).map(|i| (i as u8).wrapping_mul(37) ^ 0x5A).collect();
    (witness, challenge)
}

fn renew_admin(
    host: &mut Host,
    id: i64,
    begin: &Value,
    witness: &[u8],
    challenge: &[u8],
    pin: &str,
) -> Value {
    host.request(
        json!(id),
        "renewAdmin",
        json!({"renewalId": begin["result"]["renewalId"], "witness": b64(witness), "challenge": b64(challenge), "pin": pin}),
    )
}

/// The CA's answer to each request, as the service would issue it.
fn issue(bed: &PivBed, admin: &Value) -> Vec<String> {
    admin["result"]["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|request| {
            let csr = CertReq::from_der(&unb64(&request["csr"])).expect("a DER CSR");
            let now = OffsetDateTime::now_utc();
            let der = bed
                .ca
                .issue(&IssueRequest {
                    subject_der: csr.info.subject.to_der().expect("subject"),
                    // The SubjectPublicKeyInfo: the test CA takes any algorithm that way.
                    public_key_sec1: csr.info.public_key.to_der().expect("spki"),
                    role: if request["role"] == "signing" { Role::Signing } else { Role::Authentication },
                    not_before: now - Duration::minutes(1),
                    // Later each time: a renewed certificate must outlive the one it replaces,
                    // and the sweeps renew the same card many times a second.
                    not_after: now
                        + Duration::days(300)
                        + Duration::minutes(LATER.fetch_add(1, Ordering::Relaxed)),
                    serial: None,
                })
                .expect("issue");
            b64(&der)
        })
        .collect()
}

/// A request whose host may stop on purpose (a test hook): `HOST_GONE` when no reply comes.
fn try_request(host: &mut Host, id: i64, command: &str, params: Value) -> Value {
    host.send(&json!({"id": id, "command": command, "params": params}));
    loop {
        let Some(frame) = host.recv_within(FRAME_TIMEOUT) else {
            return json!({"ok": false, "error": {"code": "HOST_GONE"}});
        };
        if frame.get("event").is_some() {
            host.events.push(frame);
            continue;
        }
        return frame;
    }
}

/// One whole renewal as extension + service drive it; returns the last reply.
fn renew(bed: &PivBed, host: &mut Host, first_id: i64) -> Value {
    let card = try_request(host, first_id, "status", json!({}));
    if card["ok"] != true {
        return card;
    }
    let serial = card["result"]["card"]["token"]["serial"].clone();
    let begin = try_request(host, first_id + 1, "renewBegin", json!({"cardSerial": serial}));
    if begin["ok"] != true {
        return failed_at(begin, "renewBegin");
    }
    let (witness, challenge) = answer_witness(bed, &begin, &bed.mgmt.1);
    let admin = try_request(
        host,
        first_id + 2,
        "renewAdmin",
        json!({"renewalId": begin["result"]["renewalId"], "witness": b64(&witness), "challenge": b64(&challenge), "pin": PIN}),
    );
    if admin["ok"] != true {
        return failed_at(admin, "renewAdmin");
    }
    let expected = bed.mgmt.0.encrypt_block(&bed.mgmt.1, &challenge).expect("encrypt");
    assert_eq!(unb64(&admin["result"]["response"]), expected, "the card's response must prove its key");
    let certificates = issue(bed, &admin);
    let done = try_request(
        host,
        first_id + 3,
        "renewComplete",
        json!({"renewalId": begin["result"]["renewalId"], "certificates": certificates}),
    );
    if done["ok"] != true {
        return failed_at(done, "renewComplete");
    }
    done
}

/// A failed reply, marked with the command that failed.
fn failed_at(mut reply: Value, command: &str) -> Value {
    reply["at"] = json!(command);
    reply
}

/// yubico-piv-tool and OpenSC's PIV driver both sign with each slot's key, verified against
/// the slot's certificate (the test bed's independent check), and the certificates they read
/// are the ones `status` shows.
fn assert_card_works(bed: &PivBed, card: &Value) {
    let report = piv_check(&bed.pcscd, 1, PIN).expect("independent PIV check");
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.card_id.as_deref(), Some(bed.card.card_id.as_str()));
    let shown = serials(card);
    for (slot, serial) in report.slots.iter().zip(shown) {
        let info = cis_renew_testbed::cert_info(&slot.cert_der).expect("certificate");
        assert_eq!(info.serial.to_ascii_lowercase(), serial, "{:?}", slot.slot);
    }
}

/// Another PC/SC program's PUT DATA (of a retired-key certificate object, never one the host
/// uses) without management-key authentication: its status word, which must be 6982.
fn put_data_unauthenticated(bed: &PivBed) -> String {
    let output = std::process::Command::new("opensc-tool")
        .env("PCSCLITE_CSOCK_NAME", bed.pcscd.socket())
        .args(["-r", "Virtual PCD 00 01", "-s", "00 A4 04 00 09 A0 00 00 03 08 00 00 10 00"])
        .args(["-s", "00 DB 3F FF 09 5C 03 5F C1 0D 53 02 FE 00"])
        .output()
        .expect("opensc-tool");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().rfind(|l| l.contains("SW1=")).unwrap_or("").to_owned();
    let hex =
        |name: &str| line.split(&format!("{name}=0x")).nth(1).map(|v| v[..2].to_string()).unwrap_or_default();
    format!("{}{}", hex("SW1"), hex("SW2"))
}

fn serials(card: &Value) -> Vec<String> {
    card["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .map(|c| c["serial"].as_str().unwrap_or("").to_ascii_lowercase())
        .collect()
}

#[test]
fn piv_status_reports_card_admin_guid_certificates_and_tries() {
    let bed = PivBed::due();
    let mut host = bed.host();
    let card = status(&mut host, 1);
    assert_eq!(card["cardAdmin"], true, "{card}");
    assert_eq!(card["token"]["serial"], bed.card.card_id.as_str());
    assert_eq!(card["pin"], "ok");
    assert_eq!(card["pinTriesLeft"], 3);
    assert_eq!(card["pinLength"], json!({"min": 6, "max": 8}));
    let roles: Vec<&str> = card["certificates"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["role"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(roles, ["authentication", "signing"]);
    let expected: Vec<String> = bed.card.certs.iter().map(|c| c.info.serial.to_ascii_lowercase()).collect();
    assert_eq!(serials(&card), expected);
    assert_eq!(card["renewable"], true);
    assert!(card.get("interrupted").is_none());
    // A PIV card's slots are read without the passcode: nothing is left to confirm.
    assert!(card.get("unconfirmed").is_none(), "{card}");
}

#[test]
fn piv_renewal_replaces_both_pairs_and_independent_tools_agree() {
    let bed = PivBed::due();
    let before = status(&mut bed.host(), 1);
    let mut host = bed.host();
    let done = renew(&bed, &mut host, 10);
    assert_eq!(done["ok"], true, "{done}");
    let after = &done["result"]["card"];
    assert_eq!(after["renewable"], false, "{after}");
    assert_eq!(after["reason"], "NOT_DUE");
    for (old, new) in serials(&before).iter().zip(serials(after)) {
        assert_ne!(*old, new, "each certificate is new");
    }
    assert!(after["certificates"]
        .as_array()
        .expect("list")
        .iter()
        .all(|c| c["daysLeft"].as_i64() >= Some(299)));
    let log = bed.env.log_text();
    assert!(!log.contains(PIN), "the passcode must not reach the log");
    drop(host);
    assert_eq!(put_data_unauthenticated(&bed), "6982", "the renewal's admin rights end with it");
    assert_card_works(&bed, after);
}

#[test]
fn piv_wrong_management_key_is_card_auth_failed_and_the_card_is_unchanged() {
    let bed = PivBed::due();
    let mut host = bed.host();
    let before = status(&mut host, 1);
    let begin = host.request(json!(2), "renewBegin", json!({"cardSerial": before["token"]["serial"]}));
    assert_eq!(begin["ok"], true, "{begin}");
    let wrong_key = vec![0x11; bed.mgmt.1.len()];
    let (witness, challenge) = answer_witness(&bed, &begin, &wrong_key);
    let admin = renew_admin(&mut host, 3, &begin, &witness, &challenge, PIN);
    assert_eq!(admin["error"]["code"], "CARD_AUTH_FAILED", "{admin}");
    // The renewal is over, the card as it was, no passcode try spent.
    let again = renew_admin(&mut host, 4, &begin, &witness, &challenge, PIN);
    assert_eq!(again["error"]["code"], "UNKNOWN_RENEWAL", "{again}");
    let after = status(&mut host, 5);
    assert_eq!(serials(&after), serials(&before));
    assert_eq!(after["pinTriesLeft"], 3);
    assert!(after.get("interrupted").is_none(), "{after}");
    drop(host);
    assert_card_works(&bed, &after);
}

#[test]
fn piv_passcode_states_come_from_the_card() {
    let bed = PivBed::due();
    let mut host = bed.host();
    let card = status(&mut host, 1);
    let begin = host.request(json!(2), "renewBegin", json!({"cardSerial": card["token"]["serial"]}));
    assert_eq!(begin["ok"], true, "{begin}");
    let (witness, challenge) = answer_witness(&bed, &begin, &bed.mgmt.1);
    let first = renew_admin(&mut host, 3, &begin, &witness, &challenge, "654321");
    assert_eq!(
        (first["error"]["code"].as_str(), first["error"]["triesLeft"].as_u64()),
        (Some("PIN_INCORRECT"), Some(2)),
        "{first}"
    );
    let second = renew_admin(&mut host, 4, &begin, &witness, &challenge, "654322");
    assert_eq!(second["error"]["triesLeft"], 1, "{second}");
    // One try left: refused without asking the card unless the holder confirms.
    let unconfirmed = renew_admin(&mut host, 5, &begin, &witness, &challenge, "654323");
    assert_eq!(unconfirmed["error"]["code"], "PIN_FINAL_TRY", "{unconfirmed}");
    let locked = host.request(
        json!(6),
        "renewAdmin",
        json!({"renewalId": begin["result"]["renewalId"], "witness": b64(&witness), "challenge": b64(&challenge),
               "pin": "654323", "confirmFinalTry": true}),
    );
    assert_eq!(locked["error"]["code"], "PIN_LOCKED", "{locked}");
    let cancelled = host.request(json!(7), "renewCancel", json!({"renewalId": begin["result"]["renewalId"]}));
    assert_eq!(cancelled["result"], json!({"cancelled": true}), "nothing changed: {cancelled}");
    let after = status(&mut host, 8);
    assert_eq!(
        (after["pin"].as_str(), after["reason"].as_str()),
        (Some("locked"), Some("PIN_LOCKED")),
        "{after}"
    );
    assert_eq!(serials(&after), serials(&card));
    let refused = host.request(json!(9), "renewBegin", json!({"cardSerial": card["token"]["serial"]}));
    assert_eq!(refused["error"]["code"], "PIN_LOCKED", "{refused}");
}

#[test]
fn piv_wrong_passcode_then_right_one_goes_on_with_the_same_renewal() {
    let bed = PivBed::due();
    let mut host = bed.host();
    let card = status(&mut host, 1);
    let begin = host.request(json!(2), "renewBegin", json!({"cardSerial": card["token"]["serial"]}));
    let (witness, challenge) = answer_witness(&bed, &begin, &bed.mgmt.1);
    let wrong = renew_admin(&mut host, 3, &begin, &witness, &challenge, "000000");
    assert_eq!(wrong["error"]["code"], "PIN_INCORRECT", "{wrong}");
    let admin = renew_admin(&mut host, 4, &begin, &witness, &challenge, PIN);
    assert_eq!(admin["ok"], true, "{admin}");
    let certificates = issue(&bed, &admin);
    let done = host.request(
        json!(5),
        "renewComplete",
        json!({"renewalId": begin["result"]["renewalId"], "certificates": certificates}),
    );
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(done["result"]["card"]["pinTriesLeft"], 3, "a right passcode resets the count");
}

/// A renewal stopped at every APDU (the card reset instead, as if pulled) is finished by the
/// next one; before the service has authenticated the card nothing changes.
#[test]
fn piv_renewal_interrupted_at_every_apdu_is_finished_by_the_next_renewal() {
    let mut bed = PivBed::due();
    // The renewed certificates last a year: keep them renewable so one card serves the sweep.
    bed.config(json!({"renewalWindowDays": 365}));
    let mut faults_in: std::collections::BTreeMap<String, usize> = Default::default();
    let mut n = 1;
    loop {
        let before = status(&mut bed.host(), 1);
        let mut faulty = bed.host_with(FAULT_ENV, &n.to_string());
        let outcome = renew(&bed, &mut faulty, 10);
        drop(faulty);
        if outcome["ok"] == true {
            break;
        }
        assert_eq!(outcome["error"]["code"], "CARD_REMOVED", "fault at APDU {n}: {outcome} before {before}");
        let at = outcome["at"].as_str().unwrap_or("?").to_owned();
        *faults_in.entry(at.clone()).or_default() += 1;
        let mut host = bed.host();
        let mid = status(&mut host, 20);
        if at == "renewBegin" {
            // Before the service's answer nothing on the card may change.
            assert_eq!(serials(&mid), serials(&before), "fault {n}");
            assert!(mid.get("interrupted").is_none(), "fault {n}: {mid}");
        }
        let finished = renew(&bed, &mut host, 30);
        assert_eq!(finished["ok"], true, "fault {n} in {at}: the next renewal must finish: {finished}");
        assert!(finished["result"]["card"].get("interrupted").is_none(), "fault {n}: {finished}");
        let after = status(&mut host, 40);
        drop(host);
        assert_card_works(&bed, &after);
        n += 1;
    }
    // Every command's card work was cut at each of its APDUs. The test card with a 3DES key
    // and P-384 pairs: renewBegin 4 (SELECT, CHUID, the AES-256 probe refused, the 3DES
    // witness), renewAdmin 7, renewComplete 12 (per slot PUT DATA in 3 parts, read back in 3).
    assert_eq!(faults_in.get("renewBegin"), Some(&4), "{faults_in:?}");
    assert_eq!(faults_in.get("renewAdmin"), Some(&7), "{faults_in:?}");
    assert_eq!(faults_in.get("renewComplete"), Some(&12), "{faults_in:?}");
}

/// The host stopped at every step and between every message (host, extension, service): the
/// next renewal finishes the card.
#[test]
fn piv_renewal_host_gone_at_every_message_is_finished_by_the_next_renewal() {
    let mut bed = PivBed::due();
    bed.config(json!({"renewalWindowDays": 365}));
    // (step where the host stops, roles the card then still needs); nothing changes before the
    // first GENERATE, and the journal knows what each later stop leaves.
    let steps: [(&str, &[&str]); 9] = [
        ("login", &[]),
        ("generateKey:1", &[]),
        ("buildRequest:1", &["authentication"]),
        ("generateKey:2", &["authentication"]),
        ("buildRequest:2", &["authentication", "signing"]),
        ("verify", &["authentication", "signing"]),
        ("install:1", &["authentication", "signing"]),
        ("install:2", &["signing"]),
        ("done", &[]),
    ];
    for (step, remaining) in steps {
        let before = status(&mut bed.host(), 1);
        let mut host = bed.host_with("CIS_RENEW_TEST_ABORT_AT", step);
        let outcome = renew(&bed, &mut host, 1);
        assert_eq!(outcome["error"]["code"], "HOST_GONE", "{step}: the host should have stopped: {outcome}");
        drop(host);
        let mut host = bed.host();
        let mid = status(&mut host, 5);
        let left: Vec<&str> = mid["remaining"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(left, remaining, "{step}: {mid}");
        assert_eq!(mid.get("interrupted").is_some(), !remaining.is_empty(), "{step}: {mid}");
        if step == "login" || step == "generateKey:1" {
            assert_eq!(serials(&mid), serials(&before), "{step}: nothing changed on the card");
        }
        // The service's admin rights died with the host: another program cannot use them.
        assert_eq!(put_data_unauthenticated(&bed), "6982", "{step}: admin rights outlived the host");
        let finished = renew(&bed, &mut host, 10);
        assert_eq!(finished["ok"], true, "{step}: {finished}");
        assert!(finished["result"]["card"].get("interrupted").is_none(), "{step}: {finished}");
        drop(host);
    }
    // Between messages: the browser closes the port after each reply.
    for stop_after in ["renewBegin", "renewAdmin"] {
        let mut host = bed.host();
        let card = status(&mut host, 1);
        let begin = host.request(json!(2), "renewBegin", json!({"cardSerial": card["token"]["serial"]}));
        if stop_after == "renewAdmin" {
            let (witness, challenge) = answer_witness(&bed, &begin, &bed.mgmt.1);
            assert_eq!(renew_admin(&mut host, 3, &begin, &witness, &challenge, PIN)["ok"], true);
        }
        drop(host);
        let mut host = bed.host();
        let mid = status(&mut host, 1);
        assert_eq!(mid.get("interrupted").is_some(), stop_after == "renewAdmin", "{stop_after}: {mid}");
        let finished = renew(&bed, &mut host, 10);
        assert_eq!(finished["ok"], true, "{stop_after}: {finished}");
        let after = status(&mut host, 20);
        drop(host);
        assert_card_works(&bed, &after);
    }
}

#[test]
fn piv_cancel_before_admin_leaves_the_card_as_it_was() {
    let bed = PivBed::due();
    let mut host = bed.host();
    let card = status(&mut host, 1);
    let begin = host.request(json!(2), "renewBegin", json!({"cardSerial": card["token"]["serial"]}));
    let busy = host.request(json!(3), "renewBegin", json!({"cardSerial": card["token"]["serial"]}));
    assert_eq!(busy["error"]["code"], "BUSY", "{busy}");
    let cancelled = host.request(json!(4), "renewCancel", json!({"renewalId": begin["result"]["renewalId"]}));
    assert_eq!(cancelled["result"], json!({"cancelled": true}), "{cancelled}");
    let other = host.request(json!(5), "renewBegin", json!({"cardSerial": "00".repeat(16)}));
    assert_eq!(other["error"]["code"], "CARD_CHANGED", "{other}");
    let after = status(&mut host, 6);
    assert_eq!(serials(&after), serials(&card));
    assert!(after.get("interrupted").is_none());
}

const FAULT_ENV: &str = "CIS_RENEW_TEST_PIV_FAULT_APDU";

/// Cards whose old pairs are RSA-2048 or P-256, one with an AES-256 management key: the
/// renewal finds the key's algorithm by probing, and the new pairs are P-384 (the default).
#[test]
fn piv_renewal_of_rsa_and_p256_cards_with_either_management_key_makes_p384_pairs() {
    use cis_renew_testbed::piv::KeyAlg;
    for (alg, mgmt) in [(KeyAlg::Rsa2048, MgmtAlg::Aes256), (KeyAlg::P256, MgmtAlg::Tdes)] {
        let mut spec = PivSpec::new(45, 60);
        spec.alg = alg;
        spec.mgmt_alg = mgmt;
        spec.mgmt_key = (0..mgmt.key_len()).map(|i| (i as u8).wrapping_mul(11).wrapping_add(3)).collect();
        let bed = PivBed::start(spec);
        let mut host = bed.host();
        let done = renew(&bed, &mut host, 1);
        assert_eq!(done["ok"], true, "{alg:?} {mgmt:?}: {done}");
        let after = done["result"]["card"].clone();
        drop(host);
        let report = piv_check(&bed.pcscd, 1, PIN).expect("independent PIV check");
        assert!(report.ok(), "{report:#?}");
        assert!(report.slots.iter().all(|s| s.algorithm == "ECCP384"), "{alg:?}: {report:#?}");
        assert_card_works(&bed, &after);
    }
}

#[test]
fn piv_new_key_algorithm_from_config_makes_p256_and_rsa2048_pairs_and_refuses_rsa3072() {
    for (new, expected) in [("p256", "ECCP256"), ("rsa2048", "RSA2048")] {
        let bed = PivBed::due();
        bed.config(json!({"newKeyAlgorithm": new}));
        let mut host = bed.host();
        let done = renew(&bed, &mut host, 1);
        assert_eq!(done["ok"], true, "{new}: {done}");
        let after = done["result"]["card"].clone();
        drop(host);
        let report = piv_check(&bed.pcscd, 1, PIN).expect("independent PIV check");
        assert!(report.ok(), "{new}: {report:#?}");
        assert!(report.slots.iter().all(|s| s.algorithm == expected), "{new}: {report:#?}");
        assert_card_works(&bed, &after);
    }
    // The PIV card has no RSA-3072: refused before the card is touched.
    let bed = PivBed::due();
    bed.config(json!({"newKeyAlgorithm": "rsa3072"}));
    let mut host = bed.host();
    let card = status(&mut host, 1);
    let begin = host.request(json!(2), "renewBegin", json!({"cardSerial": card["token"]["serial"]}));
    assert_eq!(begin["error"]["code"], "KEY_ALGORITHM_UNSUPPORTED", "{begin}");
    assert_eq!(serials(&status(&mut host, 3)), serials(&card), "nothing on the card changed");
}

#[test]
fn piv_without_trust_anchors_renew_begin_is_trust_not_configured_before_the_card_is_touched() {
    let bed = PivBed::due();
    bed.env.write_config(&json!({"logFile": bed.env.log_path(), "logLevel": "debug"}));
    let mut host = bed.host();
    let card = status(&mut host, 1);
    let begin = host.request(json!(2), "renewBegin", json!({"cardSerial": card["token"]["serial"]}));
    assert_eq!(begin["error"]["code"], "TRUST_NOT_CONFIGURED", "{begin}");
    assert!(!bed.env.log_text().contains("piv renewBegin"), "no card work was done");
    let after = status(&mut host, 3);
    assert_eq!(serials(&after), serials(&card));
}
