//! EST `csrattrs`: the key algorithm the CA asks for, read back with openssl.

use crate::util::{openssl, unb64, Server};

/// `openssl asn1parse` of the DER the stand-in answers.
fn asn1parse(s: &Server, der: &[u8]) -> String {
    let path = s.dir.path().join("csrattrs.der");
    std::fs::write(&path, der).expect("write");
    String::from_utf8(openssl(&["asn1parse", "-inform", "DER", "-in", path.to_str().expect("path")]))
        .expect("utf-8")
}

#[test]
fn csrattrs_names_the_default_p384_curve_for_a_signed_in_sponsor() {
    let s = Server::start();
    let mut b = s.signed_in();
    let r = b.get("/.well-known/est/csrattrs");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/csrattrs"));
    assert_eq!(r.header("content-transfer-encoding"), Some("base64"));
    let der = unb64(&r.bytes);
    let parsed = asn1parse(&s, &der);
    assert!(parsed.contains(":id-ecPublicKey"), "{parsed}");
    assert!(parsed.contains(":secp384r1"), "{parsed}");
    assert!(parsed.contains("SET"), "the curve is the attribute's value: {parsed}");
    let labelled = b.get("/.well-known/est/signing/csrattrs");
    assert_eq!(labelled.status, 200);
    assert_eq!(labelled.body, r.body);
}

#[test]
fn csrattrs_follows_the_csr_key_algorithm_option() {
    for (alg, want) in [("p256", ":prime256v1"), ("rsa2048", "2048"), ("rsa3072", "3072")] {
        let s = Server::start_with(&["--csr-key-algorithm", alg]);
        let r = s.signed_in().get("/.well-known/est/csrattrs");
        assert_eq!(r.status, 200, "{alg}: {}", r.body);
        let parsed = asn1parse(&s, &unb64(&r.bytes));
        if alg.starts_with("rsa") {
            assert!(parsed.contains(":rsaEncryption"), "{alg}: {parsed}");
            // asn1parse prints INTEGERs in hex: 0x800 = 2048, 0xC00 = 3072.
            let hex = if alg == "rsa2048" { ":0800" } else { ":0C00" };
            assert!(parsed.contains(hex), "{alg} ({want}): {parsed}");
        } else {
            assert!(parsed.contains(":id-ecPublicKey") && parsed.contains(want), "{alg}: {parsed}");
        }
    }
}

#[test]
fn csrattrs_needs_the_session_and_a_known_label() {
    let s = Server::start();
    let r = s.browser().get("/.well-known/est/csrattrs");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "not-signed-in");
    let r = s.signed_in().get("/.well-known/est/other/csrattrs");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "unknown-label");
}

#[test]
fn an_unknown_csr_key_algorithm_stops_the_server_with_the_choices() {
    let out = std::process::Command::new(crate::util::BIN)
        .args(["serve", "--csr-key-algorithm", "p521"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("p384, p256, rsa2048 or rsa3072"), "{err}");
}
