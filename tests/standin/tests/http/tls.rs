//! `serve --tls`: HTTPS with a certificate from the stand-in's CA, checked
//! with `openssl s_client`; cookies get `Secure`.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::util::Server;

#[test]
fn tls_serves_https_verified_against_the_ca_with_secure_cookies() {
    let s = Server::start_with(&["--tls"]);
    assert_eq!(s.ready["tls"], true);
    assert!(s.url.starts_with("https://127.0.0.1:"), "{}", s.url);
    let port = s.ready["port"].as_u64().expect("port").to_string();
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-CAfile"])
        .arg(&s.ca_cert)
        .args(["-verify_return_error", "-verify_ip", "127.0.0.1", "-quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl s_client");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"GET /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .expect("write request");
    let out = child.wait_with_output().expect("s_client output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "verification failed: {stderr}");
    assert!(stdout.starts_with("HTTP/1.1 200 OK"), "{stdout}");
    let cookie = stdout.lines().find(|l| l.starts_with("set-cookie: cis_signin=")).expect("sign-in cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    let cert = std::fs::read_to_string(s.ready["tlsCert"].as_str().expect("tlsCert")).expect("cert file");
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
}
