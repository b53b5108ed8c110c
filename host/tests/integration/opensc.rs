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
    assert_eq!(card["token"]["serial"].as_str().map(str::len), Some(10), "{status}");
    // OpenSC too lists the private keys only after sign-in: status says what it assumed.
    let assumed = json!([
        {"role": "authentication", "fact": "privateKey"},
        {"role": "signing", "fact": "privateKey"},
    ]);
    assert_eq!(card["unconfirmed"], assumed, "{status}");
}

#[test]
fn renewal_on_opensc_installs_two_new_working_pairs() {
    let bed = OpenscBed::due(KeyAlg::P384);
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let begin = expect_ok(&host.begin_confirmed(json!(1), json!({"pin": PIN})));
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
    let first = expect_error(&host.begin_confirmed(json!(1), wrong.clone()), "PIN_INCORRECT");
    assert_eq!(first["pin"], "countLow", "{first}");
    let second = expect_error(&host.begin_confirmed(json!(2), wrong.clone()), "PIN_INCORRECT");
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
    // Issue 14: at the final try the host does not ask the card unless the holder confirmed.
    let unconfirmed = expect_error(&host.begin_confirmed(json!(41), wrong.clone()), "PIN_FINAL_TRY");
    assert_eq!(unconfirmed["triesLeft"], 1, "{unconfirmed}");
    let state = cis_renew_testbed::schsm::CardState::load(&bed.card).expect("card file");
    assert_eq!(state.pin_tries_left, 1, "the last try was not spent");
    let confirmed = json!({"pin": "654321", "confirmFinalTry": true});
    let third = expect_error(&host.begin_confirmed(json!(5), confirmed), "PIN_LOCKED");
    assert_eq!(third["pin"], "locked", "{third}");
    let locked = status(&mut host, 6);
    assert_eq!(locked["card"]["renewable"], false, "{locked}");
    assert_eq!(locked["card"]["reason"], "PIN_LOCKED", "{locked}");
    // The right passcode no longer opens it, and the card was not touched.
    expect_error(&host.begin_confirmed(json!(7), json!({"pin": PIN, "confirmFinalTry": true})), "PIN_LOCKED");
    let state = cis_renew_testbed::schsm::CardState::load(&bed.card).expect("card file");
    assert_eq!(state.pin_tries_left, 0);
    assert_eq!(state.keys.len(), 2, "no key was made");
}

/// One renewal: renewBegin, the CA, renewComplete. The failing reply, if any.
fn renew(host: &mut Host, bed: &OpenscBed, first_id: i64) -> Result<Value, Value> {
    // The serial as provisioned: a status here would shift the APDUs the tear sweep counts.
    let begin =
        host.request(json!(first_id), "renewBegin", json!({"pin": PIN, "cardSerial": bed.old.token_serial}));
    if begin["ok"] != true {
        return Err(begin);
    }
    let certificates = bed.issue(&begin["result"]);
    let done = host.request(
        json!(first_id + 1),
        "renewComplete",
        json!({"renewalId": begin["result"]["renewalId"], "certificates": certificates}),
    );
    if done["ok"] == true {
        Ok(done["result"].clone())
    } else {
        Err(done)
    }
}

/// Signs with each role's key through OpenSC (pkcs11-tool) and verifies the signature with
/// openssl against that role's certificate, read from the card.
fn sign_with_opensc_and_verify_with_openssl(
    bed: &OpenscBed,
    contents: &TokenContents,
    dir: &std::path::Path,
) {
    let run = |program: &str, args: &[&str]| {
        let mut cmd = std::process::Command::new(program);
        if program == "pkcs11-tool" {
            cmd.args(["--module", OPENSC_MODULE, "--slot-index", "1"]);
        }
        cmd.args(args);
        bed.pcscd.configure_opensc(&mut cmd);
        let out = cmd.output().expect(program);
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{program} {args:?}: {text}");
        text
    };
    let data = dir.join("data");
    std::fs::write(&data, b"signed after the tear").expect("data");
    let data = data.to_string_lossy().into_owned();
    for role in Role::ALL {
        let cert = contents.certificate(role).expect("a certificate per role");
        let (der, pem, sig) = (dir.join("cert.der"), dir.join("cert.pub.pem"), dir.join("sig"));
        std::fs::write(&der, cert.cert_der.as_ref().expect("certificate value")).expect("cert");
        let pubkey =
            run("openssl", &["x509", "-inform", "DER", "-in", &der.to_string_lossy(), "-pubkey", "-noout"]);
        std::fs::write(&pem, pubkey).expect("public key");
        let sig = sig.to_string_lossy().into_owned();
        run(
            "pkcs11-tool",
            &[
                "--login",
                "--pin",
                PIN,
                "--sign",
                "--id",
                &cert.id,
                "-m",
                "ECDSA-SHA384",
                "--signature-format",
                "openssl",
                "-i",
                &data,
                "-o",
                &sig,
            ],
        );
        let verified = run(
            "openssl",
            &["dgst", "-sha384", "-verify", &pem.to_string_lossy(), "-signature", &sig, &data],
        );
        assert!(verified.contains("Verified OK"), "{role:?}: {verified}");
    }
}

/// A bed, its pristine card file, and the APDU log of one whole renewal on it (with the
/// number of APDUs the host's start-up took before the renewal began).
struct SweepBed {
    bed: OpenscBed,
    pristine: Vec<u8>,
    reference: Vec<String>,
    before: usize,
}

fn apdu_lines(bed: &OpenscBed) -> Vec<String> {
    std::fs::read_to_string(bed.pcscd.apdu_log(MANAGED))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `CLA INS P1 P2` of a log line (lengths vary with random IDs and serials).
fn header(line: &str) -> String {
    line.split_whitespace().skip(1).take(4).collect::<Vec<_>>().join(" ")
}

fn sweep_bed() -> SweepBed {
    let bed = OpenscBed::due(KeyAlg::P384);
    let pristine = std::fs::read(&bed.card).expect("card file");
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let before = bed.pcscd.apdu_count(MANAGED);
    renew(&mut host, &bed, 1).expect("the reference renewal");
    let reference = apdu_lines(&bed);
    SweepBed { bed, pristine, reference, before }
}

/// Tears the card at APDU `torn_at` of a renewal, puts it back, signs in again and checks
/// that a complete working pair per role is left. Returns the error the torn renewal got.
fn tear_and_recover(sweep: &mut SweepBed, torn_at: usize, scratch: &std::path::Path) -> String {
    let bed = &mut sweep.bed;
    bed.remove();
    std::fs::write(&bed.card, &sweep.pristine).expect("restore the card");
    bed.insert(&Faults { tear_after: Some(torn_at as u64), ..Faults::default() });
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let torn = renew(&mut host, bed, 1);
    let log = apdu_lines(bed);
    let last = log.last().cloned().unwrap_or_default();
    assert!(last.contains("-> torn "), "APDU {torn_at}: the card was torn: {log:#?}");
    // The same command as in the reference run: the sweep really walks the renewal.
    assert_eq!(header(&last), header(&sweep.reference[torn_at - 1]), "APDU {torn_at}");
    // A tear at an APDU whose answer nobody needs (OpenSC's clean-up after the last step)
    // lets the renewal finish; anywhere else it fails.
    let code = match &torn {
        Ok(_) => "ok (torn after the last step)".to_string(),
        Err(error) => error["error"]["code"].as_str().unwrap_or("?").to_string(),
    };
    let error = torn.err().unwrap_or_default();
    // A pulled card is reported as such, whatever OpenSC made of the interrupted step.
    assert!(
        ["CARD_REMOVED", "NO_CARD"].contains(&code.as_str()) || torn_ok(&code),
        "APDU {torn_at} ({}): {error}",
        header(&last)
    );
    bed.pcscd.wait_absent(MANAGED).expect("the card is out");
    if std::env::var_os("CIS_SWEEP_ONLY").is_some() {
        eprintln!("torn renewal: {error}\nAPDUs:\n{}", log.join("\n"));
    }

    // Back in; the same host signs in again and finishes the renewal (or finds it finished).
    bed.insert(&Faults::default());
    match renew(&mut host, bed, 10) {
        Ok(status) => assert_eq!(status["card"]["reason"], "NOT_DUE", "APDU {torn_at}: {status}"),
        Err(reply) => {
            if std::env::var_os("CIS_SWEEP_ONLY").is_some() {
                eprintln!("host log:\n{}\nAPDUs:\n{}", bed.env.log_text(), apdu_lines(bed).join("\n"));
            }
            assert_eq!(reply["error"]["code"], "NOT_RENEWABLE", "APDU {torn_at} (torn: {code}): {reply}");
            assert_eq!(reply["error"]["reason"], "NOT_DUE", "APDU {torn_at}: {reply}");
        }
    }
    let contents = bed.contents();
    assert_two_working_pairs(&contents);
    sign_with_opensc_and_verify_with_openssl(bed, &contents, scratch);
    let status = status(&mut host, 20);
    assert!(status["card"].get("interrupted").is_none(), "APDU {torn_at}: {status}");
    code
}

fn torn_ok(code: &str) -> bool {
    code.starts_with("ok")
}

/// Beds working through the sweep at once (each its own pcscd; the work is mostly waiting).
const SWEEP_WORKERS: usize = 4;

#[test]
fn a_card_pulled_at_every_apdu_of_a_renewal_leaves_a_working_pair_after_reinsertion() {
    let started = std::time::Instant::now();
    let mut beds: Vec<SweepBed> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..SWEEP_WORKERS).map(|_| s.spawn(sweep_bed)).collect();
        handles.into_iter().map(|h| h.join().expect("bed")).collect()
    });
    let (before, total) = (beds[0].before, beds[0].reference.len());
    assert!(total > before + 10, "a renewal takes APDUs: {total}");
    for b in &beds {
        let heads = |r: &[String]| r.iter().map(|l| header(l)).collect::<Vec<_>>();
        assert_eq!(
            (b.before, heads(&b.reference)),
            (before, heads(&beds[0].reference)),
            "renewals are repeatable"
        );
    }
    let outcomes = std::sync::Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    std::thread::scope(|s| {
        for (worker, sweep) in beds.iter_mut().enumerate() {
            let outcomes = &outcomes;
            s.spawn(move || {
                let scratch = tempfile::tempdir().expect("scratch");
                // CIS_SWEEP_ONLY=N tears at APDU N alone (to look into one point).
                let only: Option<usize> = std::env::var("CIS_SWEEP_ONLY").ok().and_then(|v| v.parse().ok());
                let points: Vec<usize> = match only {
                    Some(n) if worker == 0 => vec![n],
                    Some(_) => vec![],
                    None => (before + 1..=total).skip(worker).step_by(SWEEP_WORKERS).collect(),
                };
                for torn_at in points {
                    let code = tear_and_recover(sweep, torn_at, scratch.path());
                    *outcomes.lock().expect("outcomes").entry(code).or_default() += 1;
                }
            });
        }
    });
    eprintln!(
        "tear sweep: {} APDUs after {before} at start-up, torn renewals answered {:?}, in {:?}",
        total - before,
        outcomes.lock().expect("outcomes"),
        started.elapsed()
    );
}

/// OpenSC's PKCS#11 call logger, between the host and OpenSC's module (for counting calls).
const PKCS11_SPY: &str = "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so";

fn spy_calls(log: &std::path::Path) -> usize {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| l.split_once(": C_").is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit())))
        .count()
}

fn card_ms(lines: &[String]) -> f64 {
    lines.iter().filter_map(|l| l.rsplit(' ').next()?.strip_suffix("ms")?.parse::<f64>().ok()).sum()
}

/// The fewest APDUs this card's command set allows: status = SELECT, VERIFY (the empty status
/// query, for the passcode state), ENUMERATE, one READ BINARY per certificate; a renewal of
/// two pairs = SELECT, VERIFY, ENUMERATE, two READ BINARY (the old certificates' subjects), two
/// GENERATE, two SIGN (the CSRs), two UPDATE BINARY (certificates), two UPDATE BINARY (key
/// descriptions with the final labels), and six DELETE FILE (old key, description and
/// certificate per role).
const FEWEST_APDUS: (usize, usize) = (5, 19);
/// The fewest PKCS#11 calls for the same work: status = C_GetSlotList, C_GetSlotInfo,
/// C_GetTokenInfo, C_OpenSession, C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal, one
/// C_GetAttributeValue per certificate, C_CloseSession; a renewal = C_OpenSession, C_Login,
/// the three find calls, one C_GetAttributeValue per object (6), two C_GenerateKeyPair, two
/// C_GetAttributeValue (public keys), two C_SignInit + C_Sign, two C_CreateObject, six
/// C_DestroyObject, C_CloseSession.
const FEWEST_CALLS: (usize, usize) = (10, 30);

/// Counted, not timed: APDUs and PKCS#11 calls per `status` and per whole renewal, beside the
/// fewest the card allows; and with a 2 s key generation, the renewal's wall time minus the
/// time spent in the card. Prints `ROW` lines for bench/run.sh.
#[test]
fn counted_apdus_and_pkcs11_calls_per_status_and_renewal() {
    let mut bed = OpenscBed::due(KeyAlg::P384);
    let spy_log = bed.env.path().join("pkcs11-spy.log");
    bed.env.set("PKCS11SPY", OPENSC_MODULE);
    bed.env.set("PKCS11SPY_OUTPUT", spy_log.to_string_lossy().as_ref());
    bed.env.write_config(&json!({
        "pkcs11Module": PKCS11_SPY,
        "trustAnchors": [bed.ca.cert_pem_path()],
        "logFile": bed.env.log_path(),
        "logLevel": "debug",
    }));
    bed.remove();
    bed.insert(&Faults { keygen_delay_ms: 2000, ..Faults::default() });
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    // The first status after insertion: OpenSC reads the whole card once (its PKCS#15
    // binding); a second status is answered from what OpenSC holds in memory.
    let (a_start, c_start) = (bed.pcscd.apdu_count(MANAGED), spy_calls(&spy_log));
    let serial = status(&mut host, 1)["card"]["token"]["serial"].clone();
    let (a0, c0) = (bed.pcscd.apdu_count(MANAGED), spy_calls(&spy_log));
    status(&mut host, 2);
    let (a1, c1) = (bed.pcscd.apdu_count(MANAGED), spy_calls(&spy_log));
    let (first_apdus, first_calls) = (a0 - a_start, c0 - c_start);

    let started = std::time::Instant::now();
    let begin = expect_ok(&host.request(json!(3), "renewBegin", json!({"pin": PIN, "cardSerial": serial})));
    let begin_wall = started.elapsed();
    let certificates = bed.issue(&begin);
    let started = std::time::Instant::now();
    let done = expect_ok(&host.request(
        json!(4),
        "renewComplete",
        json!({"renewalId": begin["renewalId"], "certificates": certificates}),
    ));
    let wall = begin_wall + started.elapsed();
    assert_eq!(done["card"]["reason"], "NOT_DUE", "{done}");
    let lines = apdu_lines(&bed);
    let (a2, c2) = (lines.len(), spy_calls(&spy_log));
    let renewal_card_ms = card_ms(&lines[a1..]);
    assert!(renewal_card_ms >= 4000.0, "two 2 s key generations: {renewal_card_ms} ms");

    let (status_apdus, renewal_apdus) = (a1 - a0, a2 - a1);
    let (status_calls, renewal_calls) = (c1 - c0, c2 - c1);
    assert!(
        first_apdus >= FEWEST_APDUS.0 && renewal_apdus >= FEWEST_APDUS.1,
        "{first_apdus} {renewal_apdus}"
    );
    assert!(
        first_calls >= FEWEST_CALLS.0 && renewal_calls >= FEWEST_CALLS.1,
        "{first_calls} {renewal_calls}"
    );
    let row = |what: &str, n: usize, fewest: usize| {
        println!("ROW\tOpenSC + SC-HSM {what} (fewest {fewest})\t{n}\t{:.1}x", n as f64 / fewest as f64)
    };
    row("status, first after insertion: APDUs", first_apdus, FEWEST_APDUS.0);
    row("status, first after insertion: PKCS#11 calls", first_calls, FEWEST_CALLS.0);
    row("status again: APDUs", status_apdus, FEWEST_APDUS.0);
    row("status again: PKCS#11 calls", status_calls, FEWEST_CALLS.0);
    row("whole renewal: APDUs", renewal_apdus, FEWEST_APDUS.1);
    row("whole renewal: PKCS#11 calls", renewal_calls, FEWEST_CALLS.1);
    let wall_ms = wall.as_secs_f64() * 1000.0;
    println!(
        "ROW\tOpenSC + SC-HSM whole renewal, 2 s key generation: wall {wall_ms:.0} ms minus card {renewal_card_ms:.0} ms\t{:.0} ms\t",
        wall_ms - renewal_card_ms
    );
}

#[test]
fn doctor_on_this_stack_names_opensc_the_card_and_the_managed_slot() {
    let bed = OpenscBed::due(KeyAlg::P384);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cis-renew-host"));
    cmd.args(["doctor", "--json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", bed.env.path())
        .env("CIS_RENEW_CONFIG", bed.env.config_path());
    for (key, value) in &bed.env.vars {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("doctor");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    let find = |name: &str| {
        report["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["check"] == name).cloned())
            .unwrap_or_else(|| panic!("no {name} check: {report:#}"))
    };
    let module = find("pkcs11 module");
    assert_eq!(module["status"], "ok", "{module}");
    assert!(module["detail"].as_str().is_some_and(|d| d.contains("OpenSC")), "{module}");
    let card = find("managed card");
    assert_eq!(card["status"], "ok", "{card}");
    let detail = card["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("Virtual PCD 00 01") && detail.contains("www.CardContact.de"), "{card}");
    assert!(detail.contains("cis-renew test card"), "{card}");
}

/// Issue 10: the card refuses to store the signing certificate (`6581`, a memory failure,
/// on the fourth certificate file the renewal starts: OpenSC keeps each new key's CV request
/// in that key's certificate file until the certificate replaces it, so the writes are the
/// two CV requests, then the authentication and the signing certificates). The renewal stays
/// open with what was issued, the old pairs stay untouched, and `renewComplete` with the same
/// CA answer finishes it.
#[test]
fn renew_complete_whose_signing_certificate_write_fails_on_the_card_stays_open_and_the_same_answer_finishes_it(
) {
    let mut bed = OpenscBed::due(KeyAlg::P384);
    bed.remove();
    bed.insert(&Faults { fail_write: Some((0xCE, 4, 0x6581)), ..Faults::default() });
    let pristine = schsm::CardState::load(&bed.card).expect("card file");
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let begin = expect_ok(&host.begin_confirmed(json!(1), json!({"pin": PIN})));
    let certificates = bed.issue(&begin);
    let der_of = |role: &str| {
        let i =
            begin["requests"].as_array().and_then(|r| r.iter().position(|r| r["role"] == role)).expect(role);
        base64::engine::general_purpose::STANDARD.decode(&certificates[i]).expect("base64")
    };
    let (auth_der, sign_der) = (der_of("authentication"), der_of("signing"));
    let answer = json!({"renewalId": begin["renewalId"], "certificates": certificates});

    let failed = expect_error(&host.request(json!(2), "renewComplete", answer.clone()), "TOKEN_ERROR");
    assert_eq!(
        (&failed["renewalOpen"], &failed["role"], &failed["step"]),
        (&json!(true), &json!("signing"), &json!("writeCertificate")),
        "{failed}"
    );
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(message.contains("signing certificate") && message.contains("try again"), "{failed}");
    // The card's 6581 reaches the host as OpenSC's CKR_DEVICE_ERROR, named as PKCS#11 names it.
    assert_eq!(failed["pkcs11"], "C_CreateObject: CKR_DEVICE_ERROR", "{failed}");
    // Read from the card file, not through OpenSC: another client would reset the card's
    // sign-in under the open renewal.
    let during = schsm::CardState::load(&bed.card).expect("card file");
    for (fid, bytes) in &pristine.files {
        assert_eq!(during.files.get(fid), Some(bytes), "old file {fid} untouched");
    }
    for (id, key) in &pristine.keys {
        assert_eq!(during.keys.get(id), Some(key), "old key {id} untouched");
    }
    assert_eq!(during.keys.len(), 4, "the old keys and the two new ones");
    assert!(during.files.values().any(|f| f.0 == auth_der), "the issued authentication certificate stays");
    assert!(during.files.values().all(|f| f.0 != sign_der), "the signing certificate was refused");

    let done = expect_ok(&host.request(json!(3), "renewComplete", answer));
    assert_eq!((&done["installed"], &done["card"]["reason"]), (&json!(true), &json!("NOT_DUE")), "{done}");
    drop(host);
    let contents = bed.contents();
    assert_two_working_pairs(&contents);
    for old in &bed.old.certs {
        assert!(contents.objects.iter().all(|o| o.id != old.id), "the old pair is gone: {contents:#?}");
    }
    let installed: Vec<&[u8]> = contents.certificates().filter_map(|c| c.cert_der.as_deref()).collect();
    assert!(installed.contains(&&auth_der[..]) && installed.contains(&&sign_der[..]), "the issued ones");
    let scratch = tempfile::tempdir().expect("scratch");
    sign_with_opensc_and_verify_with_openssl(&bed, &contents, scratch.path());
}

/// Issue 10: under `cardBackend: auto` the PIV probe falls back to PKCS#11 only when the card
/// says it has no PIV application. A card that leaves while the probe's SELECT is on its way
/// is reported as gone, not read through PKCS#11 as whatever OpenSC then makes of the slot.
#[test]
fn status_whose_piv_probe_meets_a_pulled_card_says_card_removed() {
    let mut bed = OpenscBed::due(KeyAlg::P384);
    bed.remove();
    bed.insert(&Faults { tear_before: Some(1), ..Faults::default() });
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let reply = host.request(json!(1), "status", json!({}));
    let first = apdu_lines(&bed).first().cloned().unwrap_or_default();
    assert!(header(&first).starts_with("00 A4 04") && first.contains("torn"), "the probe's SELECT: {first}");
    let error = expect_error(&reply, "CARD_REMOVED");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("removed")), "{error}");
    // Back in, the same host reads the card through OpenSC as before.
    bed.pcscd.wait_absent(MANAGED).expect("the card is out");
    bed.insert(&Faults::default());
    let status = status(&mut host, 2);
    assert_eq!(status["card"]["renewable"], true, "{status}");
}
