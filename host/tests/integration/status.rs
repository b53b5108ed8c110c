//! `status` against real readers and tokens.

use crate::bed::{managed, Bed, SPONSOR_READER};
use crate::util::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn status(bed: &Bed) -> Value {
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    expect_ok(&host.request(json!(1), "status", json!({})))
}

fn parse_time(text: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(text.as_str().expect("a date string"), &Rfc3339).expect("RFC 3339")
}

#[test]
fn status_without_pcscd_is_pcsc_unavailable_at_once() {
    let env = HostEnv::with_defaults();
    let mut host = env.spawn_ours();
    host.expect_hello();
    let started = Instant::now();
    let error = expect_error(&host.request(json!(1), "status", json!({})), "PCSC_UNAVAILABLE");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert!(error["message"].as_str().unwrap_or_default().contains("pcscd"));
}

#[test]
fn status_with_empty_readers_lists_them_and_says_no_card() {
    let bed = Bed::start();
    let result = status(&bed);
    assert_eq!(
        result["readers"],
        json!([
            {"name": SPONSOR_READER, "cardPresent": false, "managed": false},
            {"name": managed(), "cardPresent": false, "managed": true},
        ])
    );
    assert_eq!(result["managedReader"], managed());
    assert_eq!(result["card"], Value::Null);
    assert_eq!(result["reason"], "NO_CARD");
}

#[test]
fn status_with_due_card_in_second_reader_and_sponsor_card_in_first() {
    let mut bed = Bed::start();
    let sponsor = bed.card(SPONSOR_READER, "Sponsor card", 300, 300);
    let user = bed.card(managed(), "User card", 45, 60);
    let result = status(&bed);

    assert_eq!(result["readers"][0], json!({"name": SPONSOR_READER, "cardPresent": true, "managed": false}));
    assert_eq!(result["readers"][1], json!({"name": managed(), "cardPresent": true, "managed": true}));
    let card = &result["card"];
    assert_eq!(card["reader"], managed());
    assert_eq!(card["atr"], "3B951381018073FF01000B");
    assert_eq!(card["token"]["label"], "User card");
    assert_eq!(card["token"]["serial"], user.token_serial.as_str());
    assert_eq!(card["token"]["manufacturer"], "SoftHSM project");
    assert_eq!(card["pin"], "ok");
    assert_eq!(card["pinPad"], false);
    assert!(card["pinLength"]["min"].as_u64().unwrap_or(0) >= 4, "{card}");
    assert_eq!(card["renewable"], true);
    assert_eq!(card["reason"], Value::Null);

    let certificates = card["certificates"].as_array().expect("certificates");
    assert_eq!(certificates.len(), 2);
    assert_eq!(certificates[0]["role"], "authentication");
    assert_eq!(certificates[1]["role"], "signing");
    assert_eq!(certificates[0]["daysLeft"], 44, "45 days minus the seconds since provisioning");
    assert_eq!(certificates[1]["daysLeft"], 59);
    assert!(certificates.iter().all(|c| c["renewable"] == true));
    let expected = user.certs.iter().find(|c| c.cert_label.contains("Authentication")).expect("auth");
    assert_eq!(
        certificates[0]["serial"].as_str().map(str::to_ascii_uppercase),
        Some(expected.info.serial.to_ascii_uppercase())
    );
    assert!(certificates[0]["subject"].as_str().unwrap_or_default().contains("CN="));
    assert!(certificates[0]["issuer"].as_str().unwrap_or_default().contains("cis-renew Test CA"));
    let not_after = parse_time(&certificates[0]["notAfter"]);
    let left = not_after - OffsetDateTime::now_utc();
    assert!(left > time::Duration::days(44) && left <= time::Duration::days(45), "{left}");

    // The sponsor's card is listed, never reported or read.
    assert!(!result.to_string().contains("Sponsor card"));
    assert!(!result.to_string().contains(&sponsor.token_serial));
}

#[test]
fn status_with_card_not_due_says_when() {
    let mut bed = Bed::start();
    bed.card(managed(), "Not due", 400, 200);
    let card = status(&bed)["card"].clone();
    assert_eq!(card["renewable"], false);
    assert_eq!(card["reason"], "NOT_DUE");
    let from = parse_time(&card["renewableFrom"]);
    let expected = OffsetDateTime::now_utc() + time::Duration::days(110);
    assert!((from - expected).abs() < time::Duration::minutes(5), "{from} vs {expected}");
    assert!(card["certificates"].as_array().expect("certs").iter().all(|c| c["renewable"] == false));
}

#[test]
fn status_with_one_expired_certificate_is_not_renewable() {
    let mut bed = Bed::start();
    bed.card(managed(), "Expired", -1, 45);
    let card = status(&bed)["card"].clone();
    assert_eq!(card["renewable"], false);
    assert_eq!(card["reason"], "EXPIRED");
    assert_eq!(card["certificates"][0]["daysLeft"], -1);
    assert_eq!(card["certificates"][0]["renewable"], false);
    assert_eq!(card["certificates"][1]["renewable"], true);
}

#[test]
fn status_with_unknown_card_in_managed_reader_says_no_token() {
    let mut bed = Bed::start();
    bed.provision_only("Someone else", 45, 45);
    bed.bind(managed(), "Not this label");
    bed.insert(managed());
    let result = status(&bed);
    assert_eq!(result["card"], Value::Null);
    assert_eq!(result["reason"], "NO_TOKEN");
    assert_eq!(result["readers"][1]["cardPresent"], true);
}

#[test]
fn status_with_removed_card_ignores_the_token() {
    let mut bed = Bed::start();
    bed.card(managed(), "Pulled", 45, 45);
    bed.remove(managed());
    let result = status(&bed);
    assert_eq!(result["reason"], "NO_CARD");
    assert_eq!(result["card"], Value::Null);
}

#[test]
fn status_follows_configured_reader_pattern_and_window() {
    let mut bed = Bed::start();
    bed.card(SPONSOR_READER, "First reader card", 45, 45);
    bed.config("managedReader", json!("*PCD 00 00"));
    bed.config("renewalWindowDays", json!(30));
    let result = status(&bed);
    assert_eq!(result["managedReader"], SPONSOR_READER);
    assert_eq!(result["readers"][0]["managed"], true);
    assert_eq!(result["card"]["token"]["label"], "First reader card");
    assert_eq!(result["card"]["reason"], "NOT_DUE", "45 days left is outside a 30-day window");
}

#[test]
fn status_with_bad_module_path_is_token_unavailable() {
    let mut bed = Bed::start();
    bed.card(managed(), "Card", 45, 45);
    bed.config("pkcs11Module", json!("/nonexistent/libpkcs11.so"));
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let error = expect_error(&host.request(json!(1), "status", json!({})), "TOKEN_UNAVAILABLE");
    assert!(error["message"].as_str().unwrap_or_default().contains("/nonexistent/libpkcs11.so"));
}
