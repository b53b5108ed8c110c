//! `renewComplete`'s input parsing: the first byte picks the path, the rest is the input.
//! 0: raw bytes as a PKCS#7 (certs-only) DER; 1: raw bytes as JSON params (pkcs7 or
//! certificates lists, base64). Every certificate extracted is then parsed. Nothing may panic,
//! and the certificate count stays bounded.
#![no_main]

use cis_renew_host::certs::parse_certificate;
use cis_renew_host::certs::pkcs7::certificates_from_pkcs7;
use cis_renew_host::handlers::renew_complete;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((selector, input)) = data.split_first() else { return };
    let certificates = if selector % 2 == 0 {
        certificates_from_pkcs7(input).ok()
    } else {
        let Ok(serde_json::Value::Object(params)) = serde_json::from_slice(input) else { return };
        renew_complete::parse(&params).ok().map(|p| p.certificates)
    };
    for certificate in certificates.unwrap_or_default() {
        let _ = parse_certificate(&certificate);
    }
});
