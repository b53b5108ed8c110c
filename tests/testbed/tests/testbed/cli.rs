//! The `cis-testbed` command line, as Node tests and shell scripts use it.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cis-testbed");

struct Serve {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Serve {
    fn start(state: &Path) -> (Serve, Value) {
        let mut child = Command::new(BIN)
            .args(["serve", "--state"])
            .arg(state)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut serve = Serve { child, stdin, stdout };
        let ready = serve.read();
        (serve, ready)
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
    }

    fn ask(&mut self, command: &str) -> Value {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}").expect("write command");
        stdin.flush().expect("flush");
        self.read()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // Reap even when an assertion failed mid-test.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn gone(pid: &Value) -> bool {
    !Path::new(&format!("/proc/{}", pid.as_u64().expect("pid"))).exists()
}

#[test]
fn serve_reports_ready_then_inserts_and_removes_cards() {
    let state = tempfile::tempdir().expect("temp dir");

    let (mut serve, ready) = Serve::start(state.path());

    assert_eq!(ready["ready"], true);
    assert_eq!(ready["readers"][1], "Virtual PCD 00 01");
    assert!(Path::new(ready["socket"].as_str().expect("socket")).exists());
    assert_eq!(serve.ask("insert 1"), serde_json::json!({ "ok": true }));
    let status = serve.ask("status");
    assert_eq!(status["readers"][0]["present"], false);
    assert_eq!(status["readers"][1]["present"], true);
    assert_eq!(serve.ask("remove 1")["ok"], true);
    assert_eq!(serve.ask("status")["readers"][1]["present"], false);
    let bad = serve.ask("remove 1");
    assert_eq!(bad["ok"], false);
    assert!(bad["error"].as_str().expect("error").contains("no card"));
    assert_eq!(serve.ask("quit")["ok"], true);
    assert!(serve.child.wait().expect("wait").success());
    assert!(gone(&ready["pcscdPid"]), "pcscd outlived serve");
}

#[test]
fn serve_stops_cleanly_on_eof_and_on_sigterm() {
    let eof_dir = tempfile::tempdir().expect("temp dir");
    let term_dir = tempfile::tempdir().expect("temp dir");
    let (mut by_eof, eof_ready) = Serve::start(eof_dir.path());
    let (mut by_term, term_ready) = Serve::start(term_dir.path());
    assert_eq!(by_term.ask("insert 0")["ok"], true);

    by_eof.stdin = None;
    let killed =
        Command::new("kill").args(["-TERM", &by_term.child.id().to_string()]).status().expect("kill");

    assert!(killed.success());
    assert!(by_eof.child.wait().expect("wait").success(), "EOF: exit 0");
    assert!(by_term.child.wait().expect("wait").success(), "SIGTERM: exit 0");
    assert!(gone(&eof_ready["pcscdPid"]));
    assert!(gone(&term_ready["pcscdPid"]));
}

#[test]
fn ca_softhsm_provision_inspect_from_the_shell() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = |s: &str| dir.path().join(s);
    let run = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().expect("run");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let ca = d("ca");
    let ca = ca.to_str().expect("path");
    let hsm = d("hsm");

    let ca_pem = run(&["ca", "init", "--dir", ca, "--cn", "Shell CA"]);
    let conf = run(&["softhsm", "new", "--dir", hsm.to_str().expect("path")]);
    let conf = conf.trim();
    let card: Value = serde_json::from_str(&run(&[
        "provision",
        "--softhsm-conf",
        conf,
        "--ca",
        ca,
        "--label",
        "USER",
        "--pin",
        "1111",
        "--so-pin",
        "22222222",
        "--subject",
        "CN=Sam Jones,O=NHS Test",
        "--auth-days",
        "45",
        "--sign-days",
        "-3",
        "--json",
    ]))
    .expect("provision JSON");
    let seen: Value =
        serde_json::from_str(&run(&["inspect", "--softhsm-conf", conf, "--label", "USER", "--pin", "1111"]))
            .expect("inspect JSON");

    assert!(Path::new(ca_pem.trim()).is_file());
    assert_eq!(card["certs"][0]["role"], "authentication");
    assert_eq!(card["certs"][1]["role"], "signing");
    assert_eq!(card["certs"][0]["info"]["subject"], "CN=Sam Jones,O=NHS Test");
    assert_eq!(seen["pairs"].as_array().expect("pairs").len(), 2);
    assert!(seen["pairs"].as_array().expect("pairs").iter().all(|p| p["signsAndVerifies"] == true));
    assert_eq!(seen["objects"].as_array().expect("objects").len(), 6);
}

#[test]
fn bad_arguments_fail_with_a_message() {
    let out = Command::new(BIN)
        .args(["inspect", "--softhsm-conf", "/nonexistent.conf", "--label", "X", "--pin", "1"])
        .output()
        .expect("run");

    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cis-testbed"));
}

#[test]
fn schsm_provision_then_serve_inserts_that_card_for_opensc() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = |s: &str| dir.path().join(s).to_string_lossy().into_owned();
    let run = |args: &[&str]| Command::new(BIN).args(args).output().expect("run");
    assert!(run(&["ca", "init", "--dir", &d("ca")]).status.success());
    let bad = run(&["schsm", "provision", "--card", &d("bad.json"), "--ca", &d("ca"), "--so-pin", "1234"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("16 hexadecimal digits"), "{bad:?}");

    let made = run(&[
        "schsm",
        "provision",
        "--card",
        &d("card.json"),
        "--ca",
        &d("ca"),
        "--pin",
        "246813",
        "--so-pin",
        "0011223344556677",
        "--subject",
        "CN=Sam Jones,O=NHS Test",
        "--auth-days",
        "45",
        "--sign-days",
        "-3",
        "--alg",
        "p256",
        "--json",
    ]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let card: Value = serde_json::from_slice(&made.stdout).expect("provision JSON");
    assert_eq!(card["certs"][0]["role"], "authentication");
    assert_eq!(card["certs"][1]["info"]["subject"], "CN=Sam Jones,O=NHS Test");
    assert_eq!(card["certs"][0]["info"]["publicKey"].as_str().map(str::len), Some(130), "a P-256 point");

    let state = tempfile::tempdir().expect("state dir");
    let (mut serve, ready) = Serve::start(state.path());
    let bad = serve.ask("insert 1 --card /nonexistent.json");
    assert_eq!(bad["ok"], false, "{bad}");
    assert!(serve.ask("insert 1 --tear-after 3")["error"].as_str().unwrap_or_default().contains("--card"));
    assert_eq!(serve.ask(&format!("insert 1 --card {}", d("card.json"))), serde_json::json!({ "ok": true }));
    let status = serve.ask("status");
    assert_eq!(status["readers"][1]["atr"], cis_renew_testbed::schsm::vpcd::ATR_HEX);

    let slots = Command::new("pkcs11-tool")
        .args(["--module", cis_renew_testbed::schsm::OPENSC_MODULE, "--list-token-slots"])
        .env("PCSCLITE_CSOCK_NAME", ready["socket"].as_str().expect("socket"))
        .env("OPENSC_CONF", ready["openscConf"].as_str().expect("openscConf"))
        .output()
        .expect("pkcs11-tool");
    let listed = String::from_utf8_lossy(&slots.stdout);
    assert!(listed.contains("Virtual PCD 00 01") && listed.contains("cis-renew test card"), "{listed}");

    assert_eq!(serve.ask("remove 1")["ok"], true);
    assert_eq!(serve.ask("status")["readers"][1]["present"], false);
    assert_eq!(serve.ask("quit")["ok"], true);
    assert!(serve.child.wait().expect("wait").success());
}
