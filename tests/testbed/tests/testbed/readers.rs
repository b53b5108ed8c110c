//! Readers: private pcscd instances, vicc cards in and out, children reaped.

use std::path::Path;

use cis_renew_testbed::readers::VICC_ATR;
use cis_renew_testbed::{Pcscd, READERS};

fn names(pcscd: &Pcscd) -> Vec<String> {
    pcscd.status().expect("PC/SC status").into_iter().map(|r| r.name).collect()
}

#[test]
fn start_two_at_once_each_lists_both_readers() {
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(Pcscd::start);
        let b = s.spawn(Pcscd::start);
        (a.join().expect("thread a").expect("pcscd a"), b.join().expect("thread b").expect("pcscd b"))
    });

    assert_ne!(a.socket(), b.socket());
    assert_eq!(names(&a), READERS);
    assert_eq!(names(&b), READERS);
    assert!(a.status().expect("status a").iter().all(|r| !r.present));
}

#[test]
fn insert_card_is_present_in_that_reader_only_and_remove_empties_it() {
    let mut bed = Pcscd::start().expect("pcscd");

    bed.insert_card(1).expect("insert into reader 1");
    let status = bed.status().expect("status");
    assert!(!status[0].present, "reader 0 stays empty: {status:?}");
    assert!(status[1].present, "reader 1 has the card: {status:?}");
    assert_eq!(status[1].atr.as_deref(), Some(VICC_ATR));

    bed.remove_card(1).expect("remove");
    assert!(bed.status().expect("status").iter().all(|r| !r.present));

    // A card can go back in after removal (vpcd accepts a new vicc connection).
    bed.insert_card(1).expect("re-insert");
    assert!(bed.status().expect("status")[1].present);
}

#[test]
fn cards_in_parallel_beds_do_not_interfere() {
    let mut a = Pcscd::start().expect("pcscd a");
    let b = Pcscd::start().expect("pcscd b");

    a.insert_card(0).expect("insert into a");

    assert!(a.status().expect("status a")[0].present);
    assert!(!b.status().expect("status b")[0].present, "same port, other namespace");
}

#[test]
fn insert_twice_or_remove_nothing_is_an_error() {
    let mut bed = Pcscd::start().expect("pcscd");

    assert!(bed.remove_card(0).is_err());
    assert!(bed.insert_card(2).is_err());
    bed.insert_card(0).expect("insert");
    assert!(bed.insert_card(0).is_err());
}

#[test]
fn drop_kills_and_reaps_pcscd_and_cards() {
    let mut bed = Pcscd::start().expect("pcscd");
    bed.insert_card(0).expect("insert");
    let proc_dir = format!("/proc/{}", bed.pid());
    let dir = bed.dir().to_path_buf();
    assert!(Path::new(&proc_dir).exists());

    drop(bed);

    // A zombie would still have a /proc entry: gone means killed *and* waited for.
    assert!(!Path::new(&proc_dir).exists(), "pcscd not reaped");
    assert!(!dir.exists(), "temp dir not removed");
}
