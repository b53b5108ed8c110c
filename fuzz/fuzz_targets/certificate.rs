//! Any bytes as a certificate: parsing never panics, and a parsed certificate goes through the
//! renewal window without panicking at any instant.
#![no_main]

use cis_renew_host::certs::{assess_certificate, parse_certificate};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = parse_certificate(data) {
        for now in [OffsetDateTime::UNIX_EPOCH, OffsetDateTime::now_utc(), info.not_after, info.not_before] {
            for window in [1, 90, 365] {
                let _ = assess_certificate(now, info.not_after, window);
            }
        }
    }
});
