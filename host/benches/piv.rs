//! Benchmark: a PIV card's `status` and whole renewal through the host, against the fewest
//! APDUs SP 800-73-4 allows for the same work, and the host's wall time minus the card's own
//! time (what the host, PC/SC and the framing add).
//!
//! The floor, with short APDUs (what the vpcd reader carries): status = SELECT, GET DATA of
//! the CHUID, 9A and 9C certificates (one APDU per 256 bytes of answer), VERIFY with no data;
//! renewal = SELECT, GET DATA of the 9A and 9C certificates (their subjects go into the
//! requests), the witness, the mutual authentication, VERIFY, GENERATE x2, sign x2, the second
//! VERIFY (9C is PIN-always), PUT DATA x2 (one APDU per 255 bytes of data). The host adds, at
//! renewBegin, a whole status read (CHUID, PIN state) and then SELECT and CHUID again on its
//! exclusive connection (is it the same card?), an algorithm probe for cards whose 9B key is
//! not AES-256, and a read-back of each written certificate. The status in renewComplete's
//! reply is counted apart.
//!
//! `cargo bench -p cis-renew-host --bench piv [-- RUNS]` (default 10). Needs root, the test
//! bed's packages and the PIV test card binary (tests/testbed/piv-card/README.md).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use cis_renew_testbed::piv::{provision, PivSpec};
use cis_renew_testbed::{IssueRequest, Pcscd, Role, TestCa};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

const PIN: &str = "123456";

static LATER: AtomicI64 = AtomicI64::new(0);

fn main() {
    let runs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10);
    let work = tempfile::tempdir().expect("dir");
    let ca = TestCa::create(&work.path().join("ca"), "bench CA").expect("ca");
    let card_dir = work.path().join("card");
    std::fs::create_dir_all(&card_dir).expect("dir");
    let spec = PivSpec::new(45, 45);
    let (alg, key) = (spec.mgmt_alg, spec.mgmt_key.clone());
    let card = provision(&card_dir, &ca, &spec).expect("provision");
    let mut pcscd = Pcscd::start().expect("pcscd");
    pcscd.insert_piv_card(1, &card_dir).expect("card");
    let log = work.path().join("host.log");
    let config = work.path().join("host.json");
    // A year's window keeps each renewed card renewable for the next run.
    let text = json!({"logFile": log, "logLevel": "debug", "renewalWindowDays": 365,
                      "trustAnchors": [ca.cert_pem_path()]});
    std::fs::write(&config, text.to_string()).expect("config");

    let mut child = Command::new(env!("CARGO_BIN_EXE_cis-renew-host"))
        .arg(cis_renew_host::deploy::identity::DEFAULT_ALLOWED_ORIGINS[0])
        .env("CIS_RENEW_CONFIG", &config)
        .env("PCSCLITE_CSOCK_NAME", pcscd.socket())
        .env("HOME", work.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("host");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    assert_eq!(read(&mut stdout)["type"], "hello");
    let mut call = |id: u64, command: &str, params: Value| -> (Value, Duration) {
        let started = Instant::now();
        write(&mut stdin, &json!({"id": id, "command": command, "params": params}));
        let answer = reply(&mut stdout);
        (answer, started.elapsed())
    };

    let mut status_times = Vec::new();
    let mut renewal_times = Vec::new();
    let mut renewal_card = Vec::new();
    let mut status_floor = 0;
    let mut renewal_floor = 0;
    let mut id = 0;
    for _ in 0..runs {
        id += 10;
        let (status, time) = call(id, "status", json!({}));
        assert_eq!(status["ok"], true, "{status}");
        status_times.push(time);
        let certificates: Vec<Vec<u8>> = current_certificates(&pcscd, &card.card_id);
        let certificate_reads = certificates.iter().map(|c| read_apdus(c.len() + 12)).sum::<usize>();
        status_floor = 1 + read_apdus(60) + certificate_reads + 1;

        let serial = status["result"]["card"]["token"]["serial"].clone();
        let (begin, t_begin) = call(id + 1, "renewBegin", json!({"cardSerial": serial}));
        assert_eq!(begin["ok"], true, "{begin}");
        let witness =
            alg.decrypt_block(&key, &unb64(&begin["result"]["cardAdmin"]["witness"])).expect("witness");
        let challenge = vec![0x42; witness.len()];
        let (admin, t_admin) = call(
            id + 2,
            "renewAdmin",
            json!({"renewalId": begin["result"]["renewalId"], "witness": BASE64.encode(&witness),
                   "challenge": BASE64.encode(&challenge), "pin": PIN}),
        );
        assert_eq!(admin["ok"], true, "{admin}");
        let issued: Vec<Vec<u8>> =
            admin["result"]["requests"].as_array().expect("requests").iter().map(|r| issue(&ca, r)).collect();
        let list: Vec<String> = issued.iter().map(|c| BASE64.encode(c)).collect();
        let (done, t_complete) = call(
            id + 3,
            "renewComplete",
            json!({"renewalId": begin["result"]["renewalId"], "certificates": list}),
        );
        assert_eq!(done["ok"], true, "{done}");
        renewal_times.push(t_begin + t_admin + t_complete);
        // SELECT, witness, mutual, VERIFY, 2 GENERATE, 2 sign, VERIFY, PUT DATA x2.
        // SELECT, the certificates, witness, mutual, VERIFY, 2 GENERATE, 2 sign, VERIFY, PUT
        // DATA x2.
        renewal_floor =
            9 + certificate_reads + issued.iter().map(|c| write_apdus(c.len() + 12)).sum::<usize>();
    }
    drop(stdin);
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let per_command = |name: &str| -> Vec<(u64, f64)> {
        text.lines()
            .filter_map(|line| line.split(&format!("piv {name}: ")).nth(1))
            .filter_map(|rest| {
                let (apdus, rest) = rest.split_once(" APDUs, card ")?;
                Some((apdus.parse().ok()?, rest.trim_end_matches(" ms").parse().ok()?))
            })
            .collect()
    };
    let inventory = per_command("inventory");
    let (begin, admin, complete) =
        (per_command("renewBegin"), per_command("renewAdmin"), per_command("renewComplete"));
    // Status reads: one per `status`, one per renewBegin, one after each renewComplete.
    let status_apdus = inventory.first().map(|x| x.0).unwrap_or(0);
    let status_card: Vec<f64> = inventory.iter().step_by(3).map(|x| x.1).collect();
    // Per run the inventory lines are: status, renewBegin's read, the status in renewComplete's
    // reply; the card time of all but the first is part of the renewal's wall time.
    for i in 0..runs {
        let reads = [inventory.get(3 * i + 1), inventory.get(3 * i + 2)]
            .into_iter()
            .flatten()
            .map(|x| x.1)
            .sum::<f64>();
        let card_ms = [&begin, &admin, &complete].iter().filter_map(|v| v.get(i)).map(|x| x.1).sum::<f64>();
        renewal_card.push(card_ms + reads);
    }
    let begin_read = inventory.get(1).map(|x| x.0).unwrap_or(0);
    let renewal_apdus: u64 =
        begin_read + [&begin, &admin, &complete].iter().filter_map(|v| v.first()).map(|x| x.0).sum::<u64>();
    let status_ms = median_ms(&status_times);
    let status_card_ms = median_f(&status_card);
    let renewal_ms = median_ms(&renewal_times);
    let renewal_card_ms = median_f(&renewal_card);
    println!("PIV card (piv-authenticator on vpcd), {runs} runs, medians:");
    println!("  status: {status_apdus} APDUs (floor {status_floor}), {status_ms:.1} ms, card {status_card_ms:.1} ms");
    println!(
        "  renewal: {renewal_apdus} APDUs (floor {renewal_floor}; begin {begin_read} + {}, admin {}, complete {}; + {status_apdus} for the status in the reply), {renewal_ms:.1} ms, card {renewal_card_ms:.1} ms",
        begin.first().map(|x| x.0).unwrap_or(0),
        admin.first().map(|x| x.0).unwrap_or(0),
        complete.first().map(|x| x.0).unwrap_or(0)
    );
    println!("ROW\tPIV status: APDUs (SP 800-73-4 floor {status_floor})\t{status_apdus}\t");
    println!("ROW\tPIV status: host wall minus card time\t{:.2} ms\t", status_ms - status_card_ms);
    println!("ROW\tPIV renewal: APDUs (SP 800-73-4 floor {renewal_floor})\t{renewal_apdus}\t");
    println!("ROW\tPIV renewal: host wall (service excluded)\t{renewal_ms:.1} ms\t");
    println!("ROW\tPIV renewal: host wall minus card time\t{:.1} ms\t", renewal_ms - renewal_card_ms);
    pcscd.stop();
}

/// APDUs to read an answer of `len` bytes with short APDUs: one per 256 bytes.
fn read_apdus(len: usize) -> usize {
    len.div_ceil(256).max(1)
}

/// APDUs to send `len` bytes of command data with short APDUs: one per 255 bytes.
fn write_apdus(len: usize) -> usize {
    len.div_ceil(255).max(1)
}

/// The certificates now on the card, as the independent check reads them.
fn current_certificates(pcscd: &Pcscd, _card_id: &str) -> Vec<Vec<u8>> {
    match cis_renew_testbed::piv::piv_check(pcscd, 1, PIN) {
        Ok(report) => report.slots.into_iter().map(|s| s.cert_der).collect(),
        Err(_) => Vec::new(),
    }
}

fn median_ms(times: &[Duration]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

fn median_f(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

fn unb64(value: &Value) -> Vec<u8> {
    BASE64.decode(value.as_str().expect("base64")).expect("base64")
}

fn issue(ca: &TestCa, request: &Value) -> Vec<u8> {
    use x509_cert::der::{Decode, Encode};
    let csr = x509_cert::request::CertReq::from_der(&unb64(&request["csr"])).expect("csr");
    let now = time::OffsetDateTime::now_utc();
    ca.issue(&IssueRequest {
        subject_der: csr.info.subject.to_der().expect("subject"),
        public_key_sec1: csr.info.public_key.subject_public_key.as_bytes().expect("key").to_vec(),
        role: if request["role"] == "signing" { Role::Signing } else { Role::Authentication },
        not_before: now - time::Duration::minutes(1),
        // Later each run: a renewed certificate must outlive the one it replaces.
        not_after: now
            + time::Duration::days(300)
            + time::Duration::minutes(LATER.fetch_add(1, Ordering::Relaxed)),
        serial: None,
    })
    .expect("issue")
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

fn reply(stdout: &mut impl Read) -> Value {
    loop {
        let frame = read(stdout);
        if frame.get("event").is_none() {
            return frame;
        }
    }
}
