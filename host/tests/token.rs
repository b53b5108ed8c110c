//! Token-level tests: the renewal state machine and its recovery, run in this process against
//! SoftHSM through the card seam (`token::card::Card`), with faults injected by
//! `token::fault::FaultyCard`.
//!
//! SoftHSM reads `SOFTHSM2_CONF` once, at `C_Initialize`, and does not see tokens that another
//! process creates afterwards. So this binary has one SoftHSM directory, and every token its
//! tests use is provisioned (by the test bed, in child processes) before the module is loaded.
//! Each test uses its own token.

use cis_renew_host::certs::renewed::TrustPolicy;
use cis_renew_host::certs::Role;
use cis_renew_host::config::SlotBinding;
use cis_renew_host::protocol::{ErrorCode, HostError};
use cis_renew_host::renewal::install::Interrupted;
use cis_renew_host::renewal::steps::Progress;
use cis_renew_host::renewal::{recovery, Opened, Requested, RoleRenewal, Settings};
use cis_renew_host::token::card::{BoxedCard, Card, CryptokiCard, ObjectKind};
use cis_renew_host::token::fault::{FailAt, FaultKind, FaultyCard, OpLog};
use cis_renew_host::token::{Inventory, KeyAlgorithm, PinState, PublicKey, TokenModule, Visibility};
use cis_renew_testbed::{provision, CardSpec, IssueRequest, SoftHsm, TestCa, SOFTHSM_MODULE};
use cryptoki::types::AuthPin;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use time::{Duration, OffsetDateTime};
use x509_cert::der::Decode;
use x509_cert::request::CertReq;

const PIN: &str = "123456";
/// One token per test, all provisioned before the module loads.
const TOKENS: [&str; 14] = [
    "full",
    "sweep-recovery",
    "sweep-error",
    "sweep-removed",
    "pin-wrong",
    "pin-final",
    "pin-locked",
    "pin-length",
    "cancel",
    "not-due",
    "already",
    "retry-write",
    "retry-read",
    "lacks-rsa3072",
];

struct Bed {
    _hsm: SoftHsm,
    _ca_dir: tempfile::TempDir,
    ca: TestCa,
    module: Arc<TokenModule>,
}

fn bed() -> &'static Bed {
    static BED: OnceLock<Bed> = OnceLock::new();
    BED.get_or_init(|| {
        let hsm = SoftHsm::new().expect("softhsm dir");
        let ca_dir = tempfile::tempdir().expect("ca dir");
        let ca = TestCa::create(ca_dir.path(), "token tests CA").expect("ca");
        for label in TOKENS {
            let (auth_days, sign_days) = if label == "not-due" { (400, 400) } else { (45, 45) };
            provision(&hsm, &ca, &CardSpec::new(label, auth_days, sign_days)).expect("provision");
        }
        // Before the first C_Initialize in this process, which reads it once.
        std::env::set_var("SOFTHSM2_CONF", hsm.conf());
        let module = Arc::new(TokenModule::load(Path::new(SOFTHSM_MODULE)).expect("softhsm"));
        Bed { _hsm: hsm, _ca_dir: ca_dir, ca, module }
    })
}

fn pin(text: &str) -> AuthPin {
    AuthPin::new(Box::from(text))
}

fn real_card(label: &str) -> CryptokiCard {
    let module = bed().module.clone();
    let binding = SlotBinding::TokenLabel(label.to_owned());
    let slot = module.slot_for_reader("", Some(&binding)).expect("slots").expect("token");
    CryptokiCard::open(module, slot, None).expect("session")
}

fn faulty(label: &str, fail: Option<FailAt>) -> (FaultyCard<CryptokiCard>, OpLog) {
    let card = FaultyCard::new(real_card(label), fail);
    let log = card.log();
    (card, log)
}

fn no_progress() -> impl FnMut(Progress) {
    |_| {}
}

/// Issues a certificate for one role's request, as the CA behind the dashboard would. Each call
/// ends a second later than the one before: real renewals always end later than the pair they
/// replace, while this test renews the same token many times a second (recovery tells old from
/// new by validity).
fn issue(role: &RoleRenewal, days: i64) -> Vec<u8> {
    static LATER: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
    let later = LATER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let request = CertReq::from_der(&role.csr).expect("csr");
    let subject = x509_cert::der::Encode::to_der(&request.info.subject).expect("subject");
    // The test CA takes any SubjectPublicKeyInfo.
    let point = x509_cert::der::Encode::to_der(&request.info.public_key).expect("spki");
    let now = OffsetDateTime::now_utc();
    bed()
        .ca
        .issue(&IssueRequest {
            subject_der: subject,
            public_key_sec1: point,
            role: match role.new.role {
                Role::Signing => cis_renew_testbed::Role::Signing,
                _ => cis_renew_testbed::Role::Authentication,
            },
            not_before: now - Duration::minutes(1),
            not_after: now + Duration::days(days) + Duration::seconds(later),
            serial: None,
        })
        .expect("issue")
}

/// renewBegin's half of a renewal (sign in with the right passcode, prepare at `now`, make P-384
/// keys, build the requests), as the host does it.
fn begin(card: BoxedCard, now: OffsetDateTime) -> Result<Requested, HostError> {
    let mut sink = no_progress();
    Opened::new(card, Settings { window_days: 90, new_key_algorithm: KeyAlgorithm::P384 })
        .sign_in(Some(&pin(PIN)), &mut sink)?
        .prepare(now)?
        .generate_keys(&mut sink, &|| false)?
        .build_requests(&mut sink)
}

/// A whole renewal through the state machine. The new certificates are due again (45 days),
/// so the same token can be renewed over and over.
fn renew(card: BoxedCard) -> Result<(), HostError> {
    let mut sink = no_progress();
    let now = OffsetDateTime::now_utc();
    let requested = begin(card, now)?;
    let certificates: Vec<Vec<u8>> = requested.roles().iter().map(|r| issue(r, 45)).collect();
    let trust = TrustPolicy::load(&[bed().ca.cert_pem_path()], false)?;
    let proof = requested.verify(&certificates, &trust, now)?;
    match requested.install(proof, &mut sink).and_then(|installed| installed.retire_old(&mut sink)) {
        Ok(_) | Err(Interrupted::FinishedByRecovery(_)) => Ok(()),
        Err(Interrupted::Failed(error)) => Err(error),
        // Dropped here, as a host that exits with the renewal open (its session closes);
        // the sweeps then check what recovery makes of the pending objects.
        Err(Interrupted::StillOpen(_, error)) => Err(error),
    }
}

/// What a card holds, seen after login: the working pair of each role (CKA_IDs), and problems.
#[derive(Debug)]
struct Seen {
    working: Vec<(Role, Vec<u8>)>,
    orphans: Vec<String>,
}

/// Checks "at least one complete pair per role whose key signs and whose certificate verifies
/// the signature" on `label`, and lists objects that belong to no working pair.
fn look(label: &str) -> Seen {
    let mut card = real_card(label);
    card.login(Some(&pin(PIN))).expect("login");
    let objects = card.objects().expect("objects");
    let inventory = Inventory::new(&objects, Visibility::SignedIn);
    let current = inventory.working_pairs();
    let mut working = Vec::new();
    for pair in &current {
        let info = pair.group.info.as_ref().expect("certificate");
        let key = PublicKey::from_spki_der(&info.public_key_der).expect("a known key algorithm");
        let private = pair.group.private.as_ref().expect("private key").handle;
        let signature = card.sign(private, key.algorithm(), b"proof of possession").expect("the key signs");
        key.verify(b"proof of possession", &signature).expect("the certificate verifies the key's signature");
        working.push((pair.role, pair.group.id.clone()));
    }
    let orphans = objects
        .iter()
        .filter(|o| !current.iter().any(|p| p.group.id == o.id))
        .map(|o| format!("{} {:?}", o.kind.as_str(), o.label))
        .collect();
    Seen { working, orphans }
}

fn recover(label: &str) -> recovery::Plan {
    let mut card = real_card(label);
    card.login(Some(&pin(PIN))).expect("login");
    recovery::recover(&mut card).expect("recovery")
}

fn ids(seen: &Seen) -> Vec<Vec<u8>> {
    seen.working.iter().map(|(_, id)| id.clone()).collect()
}

#[test]
fn renewal_full_replaces_both_pairs_with_signing_keys() {
    let before = look("full");
    assert_eq!(before.working.len(), 2);
    let (card, log) = faulty("full", None);
    renew(Box::new(card)).expect("renewal");
    let after = look("full");
    assert_eq!(after.working.len(), 2, "{after:?}");
    assert!(after.orphans.is_empty(), "old or pending objects left: {:?}", after.orphans);
    for id in ids(&before) {
        assert!(!ids(&after).contains(&id), "an old pair survived");
    }
    let names = log.names();
    let count = |name: &str| names.iter().filter(|n| **n == name).count();
    assert_eq!(
        (count("login"), count("generate_key_pair"), count("sign"), count("write_certificate")),
        (1, 2, 2, 2),
        "{names:?}"
    );
    assert!(recover("full").is_empty(), "a finished renewal leaves nothing to recover");
}

/// The heart of "never lose the working pair": make the k-th card operation of a whole renewal
/// fail, for every k, then check the pair invariant before and after recovery, that nothing
/// orphaned is left. A failure between writing the first and the second certificate may leave
/// one role renewed and the other on its old pair: recovery never destroys a new key whose
/// certificate is on the card.
fn sweep(label: &str, kind: FaultKind) {
    let (card, log) = faulty(label, None);
    renew(Box::new(card)).expect("clean renewal");
    let total = log.names().len();
    assert!(total >= 20, "a renewal takes every step: {:?}", log.names());
    let mut outcomes = Vec::new();
    for k in 1..=total {
        let before = ids(&look(label));
        let (card, log) = faulty(label, Some(FailAt { k, kind }));
        let result = renew(Box::new(card));
        let failed_op = log.names().get(k - 1).copied().unwrap_or("-");
        if let Err(error) = &result {
            let expected = match kind {
                FaultKind::Error => ErrorCode::TokenError,
                FaultKind::CardRemoved => ErrorCode::CardRemoved,
            };
            assert_eq!(error.code, expected, "k={k} ({failed_op}): {error}");
        }
        let interrupted = look(label);
        assert_eq!(interrupted.working.len(), 2, "k={k} ({failed_op}): a role lost its working pair");
        recover(label);
        let after = look(label);
        assert_eq!(after.working.len(), 2, "k={k} ({failed_op}): after recovery");
        assert!(after.orphans.is_empty(), "k={k} ({failed_op}): orphans {:?}", after.orphans);
        let kept = ids(&after).iter().filter(|id| before.contains(id)).count();
        if kept == 1 {
            assert!(
                log.names().contains(&"write_certificate"),
                "k={k} ({failed_op}): one role renewed before any certificate was written"
            );
        }
        if result.is_ok() {
            assert_eq!(kept, 0, "k={k}: success must mean new pairs");
        }
        outcomes.push(format!("{k}:{failed_op}:{}", ["new", "mixed", "old"][kept.min(2)]));
    }
    eprintln!("{label}: {}", outcomes.join(" "));
}

#[test]
fn fault_sweep_token_error_at_every_step_keeps_a_working_pair() {
    sweep("sweep-error", FaultKind::Error);
}

#[test]
fn fault_sweep_card_removed_at_every_step_keeps_a_working_pair() {
    sweep("sweep-removed", FaultKind::CardRemoved);
}

/// Recovery interrupted too: leave the card in each state a pulled card can leave mid-install,
/// then interrupt recovery itself after each of its actions in turn, checking the invariant
/// every time, until a recovery runs to the end.
#[test]
fn recovery_interrupted_at_every_action_is_finished_by_the_next_one() {
    let label = "sweep-recovery";
    let (card, log) = faulty(label, None);
    renew(Box::new(card)).expect("clean renewal");
    let total = log.names().len();
    let first_write = log.names().iter().position(|n| *n == "write_certificate").expect("a write") + 1;
    let mut interrupted_recoveries = 0;
    for k in first_write..=total {
        let (card, _) = faulty(label, Some(FailAt { k, kind: FaultKind::CardRemoved }));
        let _ = renew(Box::new(card));
        // Operation 1 is the login, 2 lists the objects, 3 on are recovery's actions.
        for j in 3.. {
            let (mut card, log) = faulty(label, Some(FailAt { k: j, kind: FaultKind::CardRemoved }));
            card.login(Some(&pin(PIN))).expect("login");
            let result = recovery::recover(&mut card);
            let seen = look(label);
            assert_eq!(seen.working.len(), 2, "k={k} j={j}: a role lost its working pair");
            if result.is_ok() {
                assert!(log.names().len() < j, "k={k} j={j}: the fault should have fired");
                assert!(seen.orphans.is_empty(), "k={k} j={j}: {:?}", seen.orphans);
                // Mixed pairs are allowed (a role whose certificate was written is renewed);
                // recovery must still run to the end with every pair working.
                assert!(ids(&seen).iter().all(|id| !id.is_empty()), "k={k} j={j}");
                break;
            }
            interrupted_recoveries += 1;
        }
    }
    assert!(interrupted_recoveries >= 20, "only {interrupted_recoveries} recoveries were interrupted");
}

fn sign_in_error(card: FaultyCard<CryptokiCard>, pin_text: &str) -> HostError {
    let mut sink = no_progress();
    match Opened::new(Box::new(card), Settings { window_days: 90, new_key_algorithm: KeyAlgorithm::P384 })
        .sign_in(Some(&pin(pin_text)), &mut sink)
    {
        Ok(_) => panic!("sign-in should fail"),
        Err(error) => error,
    }
}

#[test]
fn sign_in_checks_the_passcode_when_the_token_is_signed_in_already() {
    // Another session of this process signed in: CKR_USER_ALREADY_LOGGED_IN must not pass
    // for a checked passcode.
    let mut other = real_card("already");
    other.login(Some(&pin(PIN))).expect("login");
    let (card, _) = faulty("already", None);
    let error = sign_in_error(card, "654321");
    assert_eq!(error.code, ErrorCode::PinIncorrect, "{error:?}");
}

#[test]
fn sign_in_wrong_pin_reports_count_low_without_tries() {
    let (card, _) = faulty("pin-wrong", None);
    let error = sign_in_error(card, "654321");
    assert_eq!(error.code, ErrorCode::PinIncorrect);
    // SoftHSM sets COUNT_LOW after a miss and has no tries counter.
    assert_eq!(error.extra.get("pin").and_then(|v| v.as_str()), Some("countLow"));
    assert!(!error.extra.contains_key("triesLeft"));
    assert!(!format!("{error:?}").contains("654321"), "the PIN must not appear in the error");
}

// SoftHSM never locks a PIN and never sets FINAL_TRY or LOCKED, so those states come from the
// seam: the fault injector makes the token report them, as a real card does.
#[test]
fn sign_in_wrong_pin_on_final_try_reports_one_try_left() {
    let (card, _) = faulty("pin-final", None);
    let error = sign_in_error(card.with_pin_after_failed_login(PinState::FinalTry), "654321");
    assert_eq!(error.code, ErrorCode::PinIncorrect);
    assert_eq!(error.extra.get("pin").and_then(|v| v.as_str()), Some("finalTry"));
    assert_eq!(error.extra.get("triesLeft").and_then(|v| v.as_u64()), Some(1));
}

#[test]
fn sign_in_wrong_pin_that_locks_reports_locked() {
    let (card, _) = faulty("pin-final", None);
    let error = sign_in_error(card.with_pin_after_failed_login(PinState::Locked), "654321");
    assert_eq!(error.code, ErrorCode::PinLocked);
}

// Issue 14: at the final try the host does not spend the last try unless the request says the
// holder confirmed (`confirmFinalTry`).
#[test]
fn sign_in_at_final_try_without_confirmation_is_refused_before_login() {
    let (card, log) = faulty("pin-final", None);
    let error = sign_in_error(card.with_pin_state(PinState::FinalTry), "654321");
    assert_eq!(error.code, ErrorCode::PinFinalTry);
    assert_eq!(error.code.as_str(), "PIN_FINAL_TRY");
    assert_eq!(error.extra.get("triesLeft").and_then(|v| v.as_u64()), Some(1));
    assert!(!log.names().contains(&"login"), "the card is not asked: {:?}", log.names());
}

#[test]
fn sign_in_at_final_try_with_confirmation_asks_the_card() {
    let (card, log) = faulty("pin-final", None);
    let mut sink = no_progress();
    let signed_in = Opened::new(
        Box::new(card.with_pin_state(PinState::FinalTry)),
        Settings { window_days: 90, new_key_algorithm: KeyAlgorithm::P384 },
    )
    .final_try_confirmed(true)
    .sign_in(Some(&pin(PIN)), &mut sink);
    assert!(signed_in.is_ok(), "the right passcode signs in at the final try once confirmed");
    assert!(log.names().contains(&"login"), "{:?}", log.names());
}

#[test]
fn sign_in_locked_card_is_refused_before_login() {
    let (card, log) = faulty("pin-locked", None);
    let error = sign_in_error(card.with_pin_state(PinState::Locked), PIN);
    assert_eq!(error.code, ErrorCode::PinLocked);
    assert!(error.message.contains("Unlock"), "{}", error.message);
    assert!(!log.names().contains(&"login"), "a locked card is not asked: {:?}", log.names());
}

#[test]
fn sign_in_pin_outside_token_limits_is_refused_before_login() {
    for bad in ["123", &"1".repeat(300)] {
        let (card, log) = faulty("pin-length", None);
        let error = sign_in_error(card, bad);
        assert_eq!(error.code, ErrorCode::PinInvalid, "{}", bad.len());
        assert!(!log.names().contains(&"login"), "{:?}", log.names());
    }
}

#[test]
fn cancel_removes_pending_keys_and_keeps_old_pairs() {
    let before = look("cancel");
    let requested = begin(Box::new(real_card("cancel")), OffsetDateTime::now_utc()).expect("begin");
    for role in requested.roles() {
        let csr = tempfile::NamedTempFile::new().expect("file");
        std::fs::write(csr.path(), &role.csr).expect("write");
        // A second implementation agrees that the card's signature on the request is good.
        let out = std::process::Command::new("openssl")
            .args(["req", "-inform", "DER", "-verify", "-noout", "-in"])
            .arg(csr.path())
            .output()
            .expect("openssl");
        assert!(out.status.success(), "openssl req -verify: {}", String::from_utf8_lossy(&out.stderr));
    }
    // PKCS#11 sign-in is per application: the renewal's session signed this process in, so
    // a second session sees the private keys without signing in (which would sign out first).
    let during = real_card("cancel").objects().expect("objects");
    assert!(during.iter().any(|o| o.kind == ObjectKind::PrivateKey), "private keys visible");
    let pending = during.iter().filter(|o| o.label.starts_with("cis-renew pending")).count();
    assert_eq!(pending, 4, "two pending key pairs while the renewal is open");
    assert!(during.iter().all(|o| o.kind != ObjectKind::Certificate || !o.label.starts_with("cis-renew")));
    requested.cancel().expect("cancel");
    let after = look("cancel");
    assert_eq!(ids(&after), ids(&before));
    assert!(after.orphans.is_empty(), "{:?}", after.orphans);
}

#[test]
fn prepare_card_not_due_is_not_renewable_after_login() {
    let mut sink = no_progress();
    let result = Opened::new(
        Box::new(real_card("not-due")),
        Settings { window_days: 90, new_key_algorithm: KeyAlgorithm::P384 },
    )
    .sign_in(Some(&pin(PIN)), &mut sink)
    .and_then(|s| s.prepare(OffsetDateTime::now_utc()));
    let error = result.err().expect("not renewable");
    assert_eq!(error.code, ErrorCode::NotRenewable);
    assert_eq!(error.extra.get("reason").and_then(|v| v.as_str()), Some("NOT_DUE"));
}

#[test]
fn renewal_whose_second_certificate_write_fails_stays_open_and_the_same_answer_finishes_it() {
    let before = look("retry-write");
    let (card, log) = faulty("retry-write", None);
    let card = card.failing_call("write_certificate", 2);
    let mut sink = no_progress();
    let now = OffsetDateTime::now_utc();
    let requested = begin(Box::new(card), now).expect("begin");
    let certificates: Vec<Vec<u8>> = requested.roles().iter().map(|r| issue(r, 45)).collect();
    let trust = TrustPolicy::load(&[bed().ca.cert_pem_path()], false).expect("trust anchors");
    let proof = requested.verify(&certificates, &trust, now).expect("verify");
    let requested = match requested.install(proof, &mut sink) {
        Err(Interrupted::StillOpen(requested, error)) => {
            assert_eq!(error.code, ErrorCode::TokenError);
            *requested
        }
        Ok(_) => panic!("the injected write failure was not reported"),
        Err(_) => panic!("a failed write must leave the renewal open"),
    };
    // The first certificate stays, pending; recovery (another host's, or the next sign-in)
    // would roll that role forward, never destroy it.
    let during = real_card("retry-write").objects().expect("objects");
    let pending_certificates = during
        .iter()
        .filter(|o| o.kind == ObjectKind::Certificate && o.label.starts_with("cis-renew pending"))
        .count();
    assert_eq!(pending_certificates, 1);
    // The same CA answer again finishes the renewal, without writing the first one twice.
    let proof = requested.verify(&certificates, &trust, now).expect("verify again");
    match requested.install(proof, &mut sink).and_then(|installed| installed.retire_old(&mut sink)) {
        Ok(_) => {}
        _ => panic!("the retry should finish the renewal"),
    }
    let writes = log.names().iter().filter(|n| **n == "write_certificate").count();
    assert_eq!(writes, 3, "first, failed second, second again: {:?}", log.names());
    let after = look("retry-write");
    assert_eq!(after.working.len(), 2, "{after:?}");
    assert!(after.orphans.is_empty(), "{:?}", after.orphans);
    for id in ids(&before) {
        assert!(!ids(&after).contains(&id), "an old pair survived");
    }
}

#[test]
fn renewal_whose_second_read_back_fails_stays_open_names_the_step_and_is_not_written_twice() {
    let (card, log) = faulty("retry-read", None);
    let card = card.failing_call("read_certificate", 2);
    let mut sink = no_progress();
    let now = OffsetDateTime::now_utc();
    let requested = begin(Box::new(card), now).expect("begin");
    let certificates: Vec<Vec<u8>> = requested.roles().iter().map(|r| issue(r, 45)).collect();
    let second_role = requested.roles()[1].new.role.as_str();
    let trust = TrustPolicy::load(&[bed().ca.cert_pem_path()], false).expect("trust anchors");
    let proof = requested.verify(&certificates, &trust, now).expect("verify");
    let requested = match requested.install(proof, &mut sink) {
        Err(Interrupted::StillOpen(requested, error)) => {
            assert_eq!(error.code, ErrorCode::TokenError);
            assert_eq!(
                error.extra.get("step").and_then(|v| v.as_str()),
                Some("readBackCertificate"),
                "{error:?}"
            );
            assert_eq!(error.extra.get("role").and_then(|v| v.as_str()), Some(second_role), "{error:?}");
            assert!(
                error.message.contains("read back") && error.message.contains("try again"),
                "{}",
                error.message
            );
            *requested
        }
        Ok(_) => panic!("the injected read-back failure was not reported"),
        Err(_) => panic!("a failed read-back must leave the renewal open"),
    };
    let proof = requested.verify(&certificates, &trust, now).expect("verify again");
    match requested.install(proof, &mut sink).and_then(|installed| installed.retire_old(&mut sink)) {
        Ok(_) => {}
        _ => panic!("the retry should finish the renewal"),
    }
    let writes = log.names().iter().filter(|n| **n == "write_certificate").count();
    assert_eq!(writes, 2, "the certificate whose read-back failed is checked again, not written twice");
    let after = look("retry-read");
    assert_eq!(after.working.len(), 2, "{after:?}");
    assert!(after.orphans.is_empty(), "{:?}", after.orphans);
}

#[test]
fn prepare_on_a_token_that_cannot_make_the_chosen_key_says_so_before_the_card_changes() {
    let before = look("lacks-rsa3072");
    let (card, log) = faulty("lacks-rsa3072", None);
    let card = card.lacking(KeyAlgorithm::RSA3072);
    let mut sink = no_progress();
    let error =
        Opened::new(Box::new(card), Settings { window_days: 90, new_key_algorithm: KeyAlgorithm::RSA3072 })
            .sign_in(Some(&pin(PIN)), &mut sink)
            .and_then(|s| s.prepare(OffsetDateTime::now_utc()))
            .err()
            .expect("refused");
    assert_eq!(error.code, ErrorCode::KeyAlgorithmUnsupported, "{error:?}");
    assert_eq!(error.extra.get("keyAlgorithm").and_then(|v| v.as_str()), Some("rsa3072"), "{error:?}");
    assert!(
        error.message.contains("RSA-3072") && error.message.contains("Nothing on the card"),
        "{}",
        error.message
    );
    let changing = ["generate_key_pair", "write_certificate", "set_label", "destroy"];
    assert!(log.names().iter().all(|n| !changing.contains(n)), "{:?}", log.names());
    assert_eq!(ids(&look("lacks-rsa3072")), ids(&before), "nothing on the card changed");
}
