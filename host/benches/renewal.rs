//! Benchmark: the host's time for a whole renewal on SoftHSM (renewBegin + renewComplete, as the
//! browser sees it, the CA's time excluded) against the floor: the raw PKCS#11 calls a renewal
//! cannot avoid (one login, two P-384 key generations, two signatures, two certificate
//! objects), measured in this same run on the same kind of token.
//!
//! `cargo bench -p cis-renew-host --bench renewal [-- RUNS]` (default 10). Needs root and the
//! test bed's packages (pcscd, vpcd/vicc, SoftHSM), like the integration tests.

use cis_renew_testbed::{
    provision, CardSpec, IssueRequest, Pcscd, Role, SoftHsm, TestCa, READERS, SOFTHSM_MODULE,
};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, CertificateType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PIN: &str = "123456";

fn main() {
    let runs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10);
    let mut pcscd = Pcscd::start().expect("pcscd");
    pcscd.insert_card(1).expect("card in the managed reader");
    // Tokens live on /dev/shm by default (as in the tests); BENCH_TOKENS_ON_DISK=1 puts them on
    // disk, where SoftHSM fsyncs each object, as the floor in TESTBED.md was measured.
    let on_disk = std::env::var_os("BENCH_TOKENS_ON_DISK").is_some();
    let disk_dir = tempfile::tempdir_in("/var/tmp").expect("dir");
    let hsm = if on_disk { SoftHsm::at(disk_dir.path()) } else { SoftHsm::new() }.expect("softhsm");
    let storage = if on_disk { "disk" } else { "/dev/shm" };
    let ca_dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::create(ca_dir.path(), "bench CA").expect("ca");
    let work = tempfile::tempdir().expect("dir");
    // Every token first: SoftHSM in this process sees only tokens that exist when it loads.
    for i in 0..runs {
        provision(&hsm, &ca, &CardSpec::new(&format!("host {i}"), 45, 45)).expect("provision");
        provision(&hsm, &ca, &CardSpec::new(&format!("raw {i}"), 45, 45)).expect("provision");
    }
    std::env::set_var("SOFTHSM2_CONF", hsm.conf());

    let pkcs11 = Pkcs11::new(SOFTHSM_MODULE).expect("module");
    pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).expect("init");
    // A real certificate of the same size class as the card's, for the object writes.
    let certificate = ca.cert_der();
    // Interleaved, so both see the same load on a shared machine.
    let mut host_times = Vec::new();
    let mut raw_times = Vec::new();
    let mut peak_kib = 0;
    for i in 0..runs {
        let (time, kib) = host_renewal(&pcscd, &hsm, &ca, work.path(), &format!("host {i}"));
        host_times.push(time);
        peak_kib = peak_kib.max(kib);
        raw_times.push(raw_floor(&pkcs11, &format!("raw {i}"), &certificate));
    }

    let host = median(&host_times);
    let raw = median(&raw_times);
    println!("renewal on SoftHSM, {runs} runs, medians:");
    println!("  host, renewBegin + renewComplete (CA excluded): {:>8.2} ms", ms(host));
    println!("  raw PKCS#11 floor (login, 2 keygen, 2 sign, 2 cert writes): {:>8.2} ms", ms(raw));
    println!("  ratio of medians: {:.2}x (goal: at most 1.5x)", ms(host) / ms(raw));
    println!("  host peak RSS: {:.1} MiB", peak_kib as f64 / 1024.0);
    // Rows for bench/run.sh's table: name, figure, peak RSS.
    let kib = peak_kib as f64 / 1024.0;
    println!("ROW\twhole renewal, tokens on {storage}: host (CA excluded)\t{:.2} ms\t{kib:.1} MiB", ms(host));
    println!("ROW\twhole renewal, tokens on {storage}: raw PKCS#11 floor\t{:.2} ms\t", ms(raw));
    println!("ROW\t  host / floor\t{:.2}x\t", ms(host) / ms(raw));
    let (host_min, raw_min) = (host_times.iter().min().copied(), raw_times.iter().min().copied());
    if let (Some(host_min), Some(raw_min)) = (host_min, raw_min) {
        println!(
            "  best runs: host {:.2} ms, floor {:.2} ms, ratio {:.2}x",
            ms(host_min),
            ms(raw_min),
            ms(host_min) / ms(raw_min)
        );
    }
    println!(
        "  host runs (ms): {:?}",
        host_times.iter().map(|d| (ms(*d) * 10.0).round() / 10.0).collect::<Vec<_>>()
    );
    println!(
        "  raw runs (ms):  {:?}",
        raw_times.iter().map(|d| (ms(*d) * 10.0).round() / 10.0).collect::<Vec<_>>()
    );
    pcscd.stop();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

/// One renewal through a host process started as the browser starts it; returns the time from
/// sending renewBegin to its result plus the time from sending renewComplete to its result, and
/// the host's peak RSS in KiB.
fn host_renewal(
    pcscd: &Pcscd,
    hsm: &SoftHsm,
    ca: &TestCa,
    dir: &std::path::Path,
    label: &str,
) -> (Duration, u64) {
    let config = dir.join("host.json");
    let slot_map = json!({ READERS[1]: {"tokenLabel": label} });
    let text = json!({"pkcs11Module": SOFTHSM_MODULE, "slotMap": slot_map, "logLevel": "off",
        "trustAnchors": [ca.cert_pem_path()]});
    std::fs::write(&config, text.to_string()).expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cis-renew-host"))
        .arg(cis_renew_host::deploy::identity::DEFAULT_ALLOWED_ORIGINS[0])
        .env("CIS_RENEW_CONFIG", &config)
        .env("SOFTHSM2_CONF", hsm.conf())
        .env("PCSCLITE_CSOCK_NAME", pcscd.socket())
        .env("HOME", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("host");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let hello = read(&mut stdout);
    assert_eq!(hello["type"], "hello");
    // The extension asks for the status before it offers a renewal; that also loads the
    // PKCS#11 module, which the raw floor does not count either.
    write(&mut stdin, &json!({"id": 0, "command": "status"}));
    let status = reply(&mut stdout);
    assert_eq!(status["ok"], true, "{status}");
    // The serial the sponsor confirms, as the extension sends it ('' for a token without one).
    let serial = status["result"]["card"]["token"]["serial"].as_str().unwrap_or_default().to_string();

    let started = Instant::now();
    write(
        &mut stdin,
        &json!({"id": 1, "command": "renewBegin", "params": {"pin": PIN, "cardSerial": serial}}),
    );
    let begin = reply(&mut stdout);
    let begin_time = started.elapsed();
    assert_eq!(begin["ok"], true, "{begin}");

    let certificates: Vec<String> = begin["result"]["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|request| issue(ca, request))
        .collect();

    let started = Instant::now();
    let renewal_id = &begin["result"]["renewalId"];
    write(
        &mut stdin,
        &json!({"id": 2, "command": "renewComplete",
            "params": {"renewalId": renewal_id, "certificates": certificates}}),
    );
    let complete = reply(&mut stdout);
    let complete_time = started.elapsed();
    assert_eq!(complete["ok"], true, "{complete}");
    let peak_kib = peak_rss_kib(child.id());
    drop(stdin);
    let _ = child.wait();
    (begin_time + complete_time, peak_kib)
}

/// VmHWM of a running process: its peak RSS since exec, in KiB (0 if unreadable).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

fn issue(ca: &TestCa, request: &Value) -> String {
    use base64::Engine;
    use x509_cert::der::{Decode, Encode};
    let engine = base64::engine::general_purpose::STANDARD;
    let der = engine.decode(request["csr"].as_str().expect("csr")).expect("base64");
    let csr = x509_cert::request::CertReq::from_der(&der).expect("csr");
    let now = time::OffsetDateTime::now_utc();
    let certificate = ca
        .issue(&IssueRequest {
            subject_der: csr.info.subject.to_der().expect("subject"),
            public_key_sec1: csr.info.public_key.subject_public_key.as_bytes().expect("key").to_vec(),
            role: if request["role"] == "signing" { Role::Signing } else { Role::Authentication },
            not_before: now - time::Duration::minutes(1),
            not_after: now + time::Duration::days(700),
            serial: None,
        })
        .expect("issue");
    engine.encode(certificate)
}

fn write(stdin: &mut impl Write, message: &Value) {
    let payload = message.to_string();
    stdin.write_all(&(payload.len() as u32).to_ne_bytes()).expect("write");
    stdin.write_all(payload.as_bytes()).expect("write");
    stdin.flush().expect("flush");
}

fn read(stdout: &mut impl Read) -> Value {
    let mut length = [0u8; 4];
    stdout.read_exact(&mut length).expect("frame length");
    let mut payload = vec![0u8; u32::from_ne_bytes(length) as usize];
    stdout.read_exact(&mut payload).expect("frame");
    serde_json::from_slice(&payload).expect("json")
}

/// The next frame that is not an event.
fn reply(stdout: &mut impl Read) -> Value {
    loop {
        let frame = read(stdout);
        if frame.get("event").is_none() {
            return frame;
        }
    }
}

/// The raw calls a renewal needs, straight through cryptoki on a token like the card.
fn raw_floor(pkcs11: &Pkcs11, label: &str, certificate: &[u8]) -> Duration {
    let slot = pkcs11
        .get_slots_with_token()
        .expect("slots")
        .into_iter()
        .find(|s| pkcs11.get_token_info(*s).map(|i| i.label().trim() == label).unwrap_or(false))
        .expect("token");
    let session = pkcs11.open_rw_session(slot).expect("session");
    let started = Instant::now();
    session.login(UserType::User, Some(&AuthPin::new(Box::from(PIN)))).expect("login");
    for n in 0..2u8 {
        let id = vec![n; 20];
        let public = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::EcParams(vec![0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22]),
            Attribute::Id(id.clone()),
            Attribute::Label(b"raw".to_vec()),
        ];
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Id(id.clone()),
            Attribute::Label(b"raw".to_vec()),
        ];
        let (_, key) =
            session.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private).expect("keygen");
        session.sign(&Mechanism::Ecdsa, key, &[n; 48]).expect("sign");
        session
            .create_object(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Value(certificate.to_vec()),
                Attribute::Id(id),
                Attribute::Subject(vec![0x30, 0x00]),
                Attribute::Label(b"raw".to_vec()),
            ])
            .expect("certificate object");
    }
    started.elapsed()
}
