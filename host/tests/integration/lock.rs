//! One renewal per card across host processes (two browsers or profiles start two hosts).

use crate::bed::{managed, Bed};
use crate::util::*;
use serde_json::json;

fn begin(host: &mut Host, id: u64) -> serde_json::Value {
    host.begin_confirmed(json!(id), json!({"pin": "123456"}))
}

#[test]
fn lock_second_host_gets_busy_until_the_first_ends_its_renewal() {
    let mut bed = Bed::start();
    bed.card(managed(), "Locked card", 45, 45);
    let mut first = bed.env.spawn_ours();
    first.expect_hello();
    let mut second = bed.env.spawn_ours();
    second.expect_hello();

    let renewal = expect_ok(&begin(&mut first, 1))["renewalId"].clone();
    let error = expect_error(&begin(&mut second, 2), "BUSY");
    assert!(error["message"].as_str().unwrap_or_default().contains("another browser"), "{error}");
    // The second host's status tells a renewal running elsewhere from an interrupted one.
    let status = expect_ok(&second.request(json!(6), "status", json!({})));
    assert_eq!(status["card"]["renewalElsewhere"], true, "{status}");
    assert!(status["card"].get("interrupted").is_none(), "{status}");

    expect_ok(&first.request(json!(3), "renewCancel", json!({"renewalId": renewal})));
    let renewal = expect_ok(&begin(&mut second, 4))["renewalId"].clone();
    expect_ok(&second.request(json!(5), "renewCancel", json!({"renewalId": renewal})));
    let contents = cis_renew_testbed::inspect(&bed.hsm.conf(), "Locked card", "123456").expect("inspect");
    assert_eq!(contents.private_keys().count(), 2, "only the original keys remain");
    assert!(contents.all_pairs_verify());
}

#[test]
fn lock_is_released_when_a_host_is_killed_and_recovery_cleans_up() {
    let mut bed = Bed::start();
    bed.card(managed(), "Orphaned card", 45, 45);
    let mut first = bed.env.spawn_ours();
    first.expect_hello();
    expect_ok(&begin(&mut first, 1));
    drop(first); // SIGKILL: the OS releases the lock; the pending keys stay on the card.

    let mut second = bed.env.spawn_ours();
    second.expect_hello();
    let renewal = expect_ok(&begin(&mut second, 2))["renewalId"].clone();
    expect_ok(&second.request(json!(3), "renewCancel", json!({"renewalId": renewal})));
    let contents = cis_renew_testbed::inspect(&bed.hsm.conf(), "Orphaned card", "123456").expect("inspect");
    assert_eq!(contents.private_keys().count(), 2, "the killed host's new keys were rolled back");
    assert!(contents.all_pairs_verify());
}

#[test]
fn lock_in_an_unsafe_directory_is_busy_and_the_card_is_left_alone() {
    let mut bed = Bed::start();
    bed.card(managed(), "Unsafe lock", 45, 45);
    // The lock directory is a symlink to somewhere else: never followed, never "go ahead unlocked".
    let tmp = bed.env.path().join("tmp");
    let elsewhere = bed.env.path().join("elsewhere");
    std::fs::create_dir_all(&tmp).expect("tmp");
    std::fs::create_dir_all(&elsewhere).expect("elsewhere");
    std::os::unix::fs::symlink(&elsewhere, tmp.join("cis-renew-locks-")).expect("symlink");
    bed.env.set("TMPDIR", tmp.to_string_lossy().as_ref());
    let mut host = bed.env.spawn_ours();
    host.expect_hello();
    let error = expect_error(&begin(&mut host, 1), "BUSY");
    assert!(error["message"].as_str().is_some_and(|m| m.ends_with('.')), "a sentence: {error}");
    assert!(host.events.is_empty(), "refused before sign-in: {:?}", host.events);
    assert_eq!(std::fs::read_dir(&elsewhere).expect("dir").count(), 0, "nothing written through the link");
}
