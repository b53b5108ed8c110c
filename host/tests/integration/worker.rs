//! The card worker through the real binary (issue 10): the host keeps answering while a key
//! generation runs (made slow by the `CIS_RENEW_TEST_DELAY` hook), a cancel or the end of
//! input during it leaves the old pairs working, and an open renewal left idle is cancelled
//! with a `renewalExpired` event.

use crate::renewal::{contents, due_card, PIN};
use crate::util::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// The delay before each key generation: long enough to act while it "runs".
const SLOW_KEYGEN: &str = "generateKey:2500";

/// Starts a host with slow key generation and sends renewBegin (id 1); returns once the host
/// says it signed in and is making the first key.
fn begin_a_slow_key_generation(bed: &mut crate::bed::Bed) -> Host {
    bed.env.set("CIS_RENEW_TEST_DELAY", SLOW_KEYGEN);
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let params = with_serial(&mut host, json!({"pin": PIN}));
    host.send(&json!({"id": 1, "command": "renewBegin", "params": params}));
    let step = host.next_event("progress", Duration::from_secs(10)).expect("login");
    assert_eq!(step["step"], "login");
    let step = host.next_event("progress", Duration::from_secs(10)).expect("generateKey");
    assert_eq!(step["step"], "generateKey");
    host
}

fn assert_old_pairs_only(bed: &crate::bed::Bed, old: &cis_renew_testbed::ProvisionedCard) {
    let contents = contents(bed);
    assert_eq!(contents.objects.len(), 6, "{contents:#?}");
    assert!(contents.all_pairs_verify(), "{:#?}", contents.pairs);
    assert!(old.certs.iter().all(|c| contents.objects.iter().any(|o| o.id == c.id)));
}

#[test]
fn worker_status_and_cancel_are_answered_during_a_slow_key_generation() {
    let (mut bed, old) = due_card();
    let mut host = begin_a_slow_key_generation(&mut bed);
    let asked = Instant::now();
    let status = expect_ok(&host.request(json!(2), "status", json!({})));
    assert!(
        asked.elapsed() < Duration::from_millis(2000),
        "status waited for the card: {:?}",
        asked.elapsed()
    );
    assert!(status["card"].get("interrupted").is_none(), "own renewal is not an interruption: {status}");
    let cancel = expect_ok(&host.request(json!(3), "renewCancel", json!({})));
    assert_eq!(cancel, json!({"cancelled": true}));
    let begin = host.reply_within(&json!(1), Duration::from_secs(30));
    expect_error(&begin, "CANCELLED");
    assert_old_pairs_only(&bed, &old);
    // The lock and the session are gone: a new renewal may start (quickly this time).
    drop(host);
    bed.env.set("CIS_RENEW_TEST_DELAY", "");
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let again = expect_ok(&host.begin_confirmed(json!(4), json!({"pin": PIN})));
    expect_ok(&host.request(json!(5), "renewCancel", json!({"renewalId": again["renewalId"]})));
}

#[test]
fn worker_end_of_input_during_a_slow_key_generation_leaves_the_old_pairs() {
    let (mut bed, old) = due_card();
    let mut host = begin_a_slow_key_generation(&mut bed);
    host.close_stdin();
    let status = host.wait_exit(Duration::from_secs(30)).expect("the host exits once the token returns");
    assert!(status.success(), "{status:?}");
    assert_old_pairs_only(&bed, &old);
}

#[test]
fn worker_idle_renewal_is_cancelled_at_the_deadline_and_says_so() {
    let (mut bed, old) = due_card();
    bed.config("renewalTimeoutSeconds", json!(2));
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let begin = expect_ok(&host.begin_confirmed(json!(1), json!({"pin": PIN})));
    let expired = host.next_event("renewalExpired", Duration::from_secs(10)).expect("renewalExpired event");
    assert_eq!(expired["id"], 1, "{expired}");
    assert_eq!(expired["renewalId"], begin["renewalId"]);
    assert_old_pairs_only(&bed, &old);
    let reply = host.request(json!(2), "renewCancel", json!({"renewalId": begin["renewalId"]}));
    expect_error(&reply, "UNKNOWN_RENEWAL");
    // The card lock went with the renewal: another host may renew.
    let mut other = bed.env.spawn_ours();
    other.expect_hello();
    let again = expect_ok(&other.begin_confirmed(json!(3), json!({"pin": PIN})));
    assert!(again["renewalId"].is_string());
}
