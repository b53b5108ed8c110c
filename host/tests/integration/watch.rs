//! `watch`: reader and card changes arrive as events while other commands keep being answered.

use crate::bed::{managed, Bed};
use crate::util::*;
use serde_json::json;
use std::time::{Duration, Instant};

const WITHIN: Duration = Duration::from_secs(2);

#[test]
fn watch_reports_card_removed_and_inserted() {
    let mut bed = Bed::start();
    bed.card(managed(), "Watched", 45, 45);
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    expect_ok(&host.request(json!("w"), "watch", json!({})));
    let initial = host.next_event("card", WITHIN).expect("initial card event");
    assert_eq!(initial["id"], "w");
    assert_eq!(initial["status"]["card"]["token"]["label"], "Watched");
    let initial_readers = host.next_event("readers", WITHIN).expect("initial readers event");
    assert_eq!(initial_readers["readers"][1]["cardPresent"], true);

    let removed_at = Instant::now();
    bed.remove(managed());
    let removed = host.next_event("card", WITHIN).expect("card event after removal");
    assert_eq!(removed["status"]["reason"], "NO_CARD", "{removed}");
    assert!(removed_at.elapsed() < Duration::from_secs(1) + WITHIN);
    let readers = host.next_event("readers", WITHIN).expect("readers event after removal");
    assert_eq!(readers["readers"][1]["cardPresent"], false);

    bed.insert(managed());
    let inserted = host.next_event("card", WITHIN).expect("card event after insertion");
    assert_eq!(inserted["status"]["card"]["renewable"], true);
}

#[test]
fn watch_keeps_answering_other_commands() {
    let mut bed = Bed::start();
    bed.card(managed(), "Busy", 45, 45);
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    expect_ok(&host.request(json!(1), "watch", json!({})));
    let status = expect_ok(&host.request(json!(2), "status", json!({})));
    assert_eq!(status["card"]["token"]["label"], "Busy");
    expect_error(&host.request(json!(3), "nope", json!({})), "UNKNOWN_COMMAND");
}

#[test]
fn eof_while_watching_exits_zero_promptly() {
    let bed = Bed::start();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    expect_ok(&host.request(json!(1), "watch", json!({})));
    host.close_stdin();
    let started = Instant::now();
    let status = host.wait_exit(Duration::from_secs(3)).expect("exits while watching");
    assert!(status.success());
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
}

#[test]
fn unwatch_stops_events() {
    let mut bed = Bed::start();
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    expect_ok(&host.request(json!(1), "watch", json!({})));
    host.next_event("card", WITHIN).expect("initial event");
    let result = expect_ok(&host.request(json!(2), "unwatch", json!({})));
    assert_eq!(result["wasWatching"], true);
    host.events.clear();
    bed.card(managed(), "Late", 45, 45);
    assert!(host.next_event("card", Duration::from_millis(1500)).is_none(), "{:?}", host.events);
}

#[test]
fn watch_without_pcscd_is_pcsc_unavailable() {
    let env = HostEnv::with_defaults();
    let mut host = env.spawn_ours();
    host.expect_hello();
    expect_error(&host.request(json!(1), "watch", json!({})), "PCSC_UNAVAILABLE");
}

#[test]
fn watch_reports_the_smart_card_service_going_away() {
    let mut bed = Bed::start();
    bed.card(managed(), "Service", 45, 45);
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    expect_ok(&host.request(json!("w"), "watch", json!({})));
    host.next_event("card", WITHIN).expect("initial card event");
    bed.pcscd.stop();
    let event = host.next_event("error", Duration::from_secs(5)).expect("an error event when pcscd goes");
    assert_eq!(event["id"], "w");
    assert_eq!(event["error"]["code"], "PCSC_UNAVAILABLE", "{event}");
    // Still answering, at once, with the same clear error.
    expect_error(&host.request(json!(2), "status", json!({})), "PCSC_UNAVAILABLE");
}
