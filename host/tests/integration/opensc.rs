//! The host on real middleware: OpenSC's PKCS#11 module (`opensc-pkcs11.so`) driving the test
//! bed's virtual SmartCard-HSM over APDUs in a vpcd reader. No `slotMap`: the managed reader's
//! slot is found by its description, as in production. The passcode states come from the
//! card's own retry counter, and a pulled card is a card that stops answering.

use crate::renewal::{b64, PIN};
use crate::util::*;
use base64::Engine;
use cis_renew_testbed::schsm::{self, Faults, KeyAlg, SchsmSpec, OPENSC_MODULE};
use cis_renew_testbed::{CardSpec, IssueRequest, Pcscd, ProvisionedCard, Role, TestCa, TokenContents};
use serde_json::{json, Value};
use std::path::PathBuf;
use time::{Duration, OffsetDateTime};
use x509_cert::der::{Decode, Encode};
use x509_cert::request::CertReq;

/// Reader 1, the managed reader.
const MANAGED: usize = 1;

pub struct OpenscBed {
    pub pcscd: Pcscd,
    pub ca: TestCa,
    pub card: PathBuf,
    pub env: HostEnv,
    pub old: ProvisionedCard,
    _dir: tempfile::TempDir,
}

impl OpenscBed {
    /// A SmartCard-HSM with both certificates due, in the managed reader.
    pub fn due(alg: KeyAlg) -> OpenscBed {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = TestCa::create(&dir.path().join("ca"), "cis-renew Test CA").expect("CA");
        let card = dir.path().join("card.json");
        let mut spec = CardSpec::new(schsm::DEFAULT_LABEL, 45, 60);
        spec.so_pin = schsm::DEFAULT_SO_PIN.into();
        let old = schsm::provision(&card, &ca, &SchsmSpec { card: spec, alg }).expect("provision the SC-HSM");
        let pcscd = Pcscd::start().expect("pcscd");
        let mut env = HostEnv::with_defaults();
        env.set("PCSCLITE_CSOCK_NAME", pcscd.socket().to_string_lossy().as_ref());
        env.set("OPENSC_CONF", pcscd.opensc_conf().to_string_lossy().as_ref());
        env.write_config(&json!({
            "pkcs11Module": OPENSC_MODULE,
            "trustAnchors": [ca.cert_pem_path()],
            "logFile": env.log_path(),
            "logLevel": "debug",
        }));
        let mut bed = OpenscBed { pcscd, ca, card, env, old, _dir: dir };
        bed.insert(&Faults::default());
        bed
    }

    pub fn insert(&mut self, faults: &Faults) {
        self.pcscd.insert_schsm(MANAGED, &self.card, faults).expect("insert the SC-HSM");
    }

    pub fn remove(&mut self) {
        self.pcscd.remove_card(MANAGED).expect("remove the SC-HSM");
    }

    /// What OpenSC shows after a user login, each pair signed and verified.
    pub fn contents(&self) -> TokenContents {
        schsm::inspect(&self.pcscd, MANAGED, PIN).expect("inspect through OpenSC")
    }

    /// Issues a certificate for each request of a renewBegin result with the bed's CA, as
    /// base64 DER (the CSR's whole SubjectPublicKeyInfo goes to the CA: any key algorithm).
    pub fn issue(&self, begin: &Value) -> Vec<String> {
        let requests = begin["requests"].as_array().expect("requests");
        requests
            .iter()
            .map(|request| {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(request["csr"].as_str().expect("csr"))
                    .expect("base64");
                let csr = CertReq::from_der(&der).expect("a DER CSR");
                let now = OffsetDateTime::now_utc();
                let cert = self
                    .ca
                    .issue(&IssueRequest {
                        subject_der: csr.info.subject.to_der().expect("subject"),
                        public_key_sec1: csr.info.public_key.to_der().expect("spki"),
                        role: if request["role"] == "signing" { Role::Signing } else { Role::Authentication },
                        not_before: now - Duration::minutes(1),
                        not_after: now + Duration::days(700),
                        serial: None,
                    })
                    .expect("issue");
                b64(&cert)
            })
            .collect()
    }
}

fn status(host: &mut Host, id: i64) -> Value {
    expect_ok(&host.request(json!(id), "status", json!({})))
}

/// Exactly two pairs, one per role, each signing what its certificate verifies; nothing
/// pending.
pub fn assert_two_working_pairs(contents: &TokenContents) {
    assert_eq!(contents.certificates().count(), 2, "{contents:#?}");
    assert_eq!(contents.private_keys().count(), 2, "{contents:#?}");
    assert!(contents.all_pairs_verify(), "{:#?}", contents.pairs);
    assert!(
        contents.certificate(Role::Authentication).is_some() && contents.certificate(Role::Signing).is_some()
    );
    assert!(contents.objects.iter().all(|o| !o.label.starts_with("cis-renew pending")), "{contents:#?}");
}

#[test]
fn status_on_opensc_finds_the_managed_readers_slot_and_the_due_card() {
    let bed = OpenscBed::due(KeyAlg::P384);
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let status = status(&mut host, 1);
    let card = &status["card"];
    assert_eq!(card["renewable"], true, "{status}");
    assert_eq!(card["certificates"].as_array().map(Vec::len), Some(2), "{status}");
    assert_eq!(card["tokenSerial"].as_str().map(str::len).unwrap_or(10), 10, "{status}");
}

#[test]
fn renewal_on_opensc_installs_two_new_working_pairs() {
    let bed = OpenscBed::due(KeyAlg::P384);
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let begin = expect_ok(&host.request(json!(1), "renewBegin", json!({"pin": PIN})));
    let certificates = bed.issue(&begin);
    let done = expect_ok(&host.request(
        json!(2),
        "renewComplete",
        json!({"renewalId": begin["renewalId"], "certificates": certificates}),
    ));
    assert_eq!(done["card"]["renewable"], false, "{done}");
    assert_eq!(done["card"]["reason"], "NOT_DUE", "{done}");
    let contents = bed.contents();
    assert_two_working_pairs(&contents);
    for old in &bed.old.certs {
        assert!(contents.objects.iter().all(|o| o.id != old.id), "the old pair is gone: {contents:#?}");
    }
    assert!(!bed.env.log_text().contains(PIN), "the PIN must never be logged");
}

#[test]
fn wrong_passcodes_count_down_on_the_card_to_final_try_and_locked() {
    let mut bed = OpenscBed::due(KeyAlg::P384);
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let wrong = json!({"pin": "654321"});
    let first = expect_error(&host.request(json!(1), "renewBegin", wrong.clone()), "PIN_INCORRECT");
    assert_eq!(first["pin"], "countLow", "{first}");
    let second = expect_error(&host.request(json!(2), "renewBegin", wrong.clone()), "PIN_INCORRECT");
    assert_eq!(
        (second["pin"].clone(), second["triesLeft"].clone()),
        (json!("finalTry"), json!(1)),
        "{second}"
    );
    let status_now = status(&mut host, 3);
    assert_eq!(status_now["card"]["pin"], "finalTry", "{status_now}");
    drop(host);

    // The count is the card's: another host process, after the card was out and back in,
    // still sees one try left, and the third wrong passcode locks it.
    bed.remove();
    bed.insert(&Faults::default());
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    assert_eq!(status(&mut host, 4)["card"]["pin"], "finalTry");
    let third = expect_error(&host.request(json!(5), "renewBegin", wrong), "PIN_LOCKED");
    assert_eq!(third["pin"], "locked", "{third}");
    let locked = status(&mut host, 6);
    assert_eq!(locked["card"]["renewable"], false, "{locked}");
    assert_eq!(locked["card"]["reason"], "PIN_LOCKED", "{locked}");
    // The right passcode no longer opens it, and the card was not touched.
    expect_error(&host.request(json!(7), "renewBegin", json!({"pin": PIN})), "PIN_LOCKED");
    let state = cis_renew_testbed::schsm::CardState::load(&bed.card).expect("card file");
    assert_eq!(state.pin_tries_left, 0);
    assert_eq!(state.keys.len(), 2, "no key was made");
}
