//! The host process dies at each step of a renewal (the test-only kill hook,
//! `CIS_RENEW_TEST_ABORT_AT`, calls `abort()` there); the card must still hold a working pair,
//! and the next start must recover and renew (issue 3, "never lose the working pair").

use crate::bed::{managed, Bed};
use crate::renewal::{b64, begin, complete_der, issue_all, Issue, LABEL};
use crate::util::*;
use cis_renew_testbed::{provision, CardSpec};
use serde_json::json;
use std::time::Duration;

/// Every point the hook can stop at, in renewal order, and whether the new pairs had already
/// been written when the host died (then recovery finishes that renewal and the card is no
/// longer due; before that, recovery undoes it and a new renewal runs).
const STEPS: [(&str, bool); 11] = [
    ("login", false),
    ("generateKey:1", false),
    ("generateKey:2", false),
    ("buildRequest:1", false),
    ("buildRequest:2", false),
    ("verify", false),
    ("install:1", false),
    // The first certificate is written, the second is not: recovery rolls the first role
    // forward and the second back, so the card is still due (its signing pair is old).
    ("install:2", false),
    ("relabel", true),
    ("retireOld", true),
    ("done", true),
];

#[test]
fn renewal_killed_at_each_step_keeps_a_pair_and_next_start_recovers() {
    let mut bed = Bed::start();
    bed.card(managed(), LABEL, 45, 60);
    for (i, (step, finished_by_recovery)) in STEPS.iter().enumerate() {
        // A fresh token per step, bound to the managed reader (the vicc card stays in).
        let label = format!("{LABEL} {i}");
        let old = provision(&bed.hsm, &bed.ca, &CardSpec::new(&label, 45, 60)).expect("provision");
        bed.bind(managed(), &label);
        let mut env_with_hook = bed.env.vars.clone();
        env_with_hook.push(("CIS_RENEW_TEST_ABORT_AT".into(), (*step).into()));
        let mut doomed = HostEnv { dir: tempfile::tempdir().expect("dir"), vars: env_with_hook };
        doomed.set("CIS_RENEW_CONFIG", bed.env.config_path().to_string_lossy().as_ref());
        let mut host = doomed.spawn_ours();
        host.expect_hello();
        let params = with_serial(&mut host, json!({"pin": "123456"}));
        host.send(&json!({"id": 1, "command": "renewBegin", "params": params}));
        let mut reply = None;
        while let Some(frame) = host.recv_within(Duration::from_secs(10)) {
            if frame.get("event").is_none() {
                reply = Some(frame);
                break;
            }
        }
        if let Some(result) = reply {
            let result = expect_ok(&result);
            let certificates = issue_all(&bed, &result, Issue::default());
            let list: Vec<String> = certificates.iter().map(|c| b64(c)).collect();
            host.send(&json!({"id": 2, "command": "renewComplete",
                "params": {"renewalId": result["renewalId"], "certificates": list}}));
            while let Some(frame) = host.recv_within(Duration::from_secs(10)) {
                assert!(frame.get("event").is_some(), "{step}: the host answered instead of dying: {frame}");
            }
        }
        let status = host.wait_exit(Duration::from_secs(10)).expect("the host died");
        assert!(!status.success(), "{step}: the host should have aborted ({status})");

        let seen = cis_renew_testbed::inspect(&bed.hsm.conf(), &label, "123456").expect("inspect");
        for role in cis_renew_testbed::Role::ALL {
            assert!(
                seen.pairs.iter().any(|p| p.role == Some(role) && p.signs_and_verifies),
                "{step}: no working {role:?} pair: {seen:#?}"
            );
        }

        // A certificate the dead host wrote (pending) is on the card.
        let written: Vec<Vec<u8>> = seen
            .certificates()
            .filter(|c| c.label.starts_with("cis-renew pending"))
            .filter_map(|c| c.cert_der.clone())
            .collect();
        if *step == "install:2" {
            assert_eq!(written.len(), 1, "{step}: the first certificate was written: {seen:#?}");
        }

        // The next start: status may show the interruption; a renewal recovers and completes.
        let mut host = bed.env.spawn_ours();
        host.expect_hello();
        let status = expect_ok(&host.request(json!(1), "status", json!({})));
        assert_eq!(status["card"]["certificates"].as_array().map(Vec::len), Some(2), "{step}: {status}");
        let result = begin(&mut host, 2);
        // Recovery ran at that login and never destroys a new key whose certificate is on the
        // card: each written certificate is now a working pair's (rolled forward).
        let recovered = cis_renew_testbed::inspect(&bed.hsm.conf(), &label, "123456").expect("inspect");
        for der in &written {
            let kept = recovered.certificates().find(|c| c.cert_der.as_ref() == Some(der));
            assert!(
                kept.is_some_and(|c| !c.label.starts_with("cis-renew pending")),
                "{step}: the written certificate was rolled forward: {recovered:#?}"
            );
            assert!(recovered.all_pairs_verify(), "{step}: {:#?}", recovered.pairs);
        }
        if *finished_by_recovery {
            // Killed after the new pairs were in place: the card is no longer due, and the
            // renewal that was cut short is finished by recovery at this login.
            let error = expect_error(&result, "NOT_RENEWABLE");
            assert_eq!(error["reason"], "NOT_DUE", "{step}");
        } else {
            let result = expect_ok(&result);
            // A day longer than the interrupted run's: where recovery rolled one role forward,
            // this renewal replaces that new certificate, and the host refuses one that does not
            // outlive it (issued in the same second, they would tie).
            let later = Issue { not_after: time::Duration::days(701), ..Issue::default() };
            let certificates = issue_all(&bed, &result, later);
            expect_ok(&complete_der(&mut host, 3, &result, &certificates));
        }
        let after = cis_renew_testbed::inspect(&bed.hsm.conf(), &label, "123456").expect("inspect");
        assert_eq!(after.objects.len(), 6, "{step}: exactly two pairs left: {after:#?}");
        assert!(after.all_pairs_verify(), "{step}");
        assert!(after.objects.iter().all(|o| !o.label.starts_with("cis-renew pending")), "{step}");
        assert!(
            old.certs.iter().all(|c| after.objects.iter().all(|o| o.id != c.id)),
            "{step}: the old pairs are gone"
        );
        let status = expect_ok(&host.request(json!(4), "status", json!({})));
        assert!(status["card"].get("interrupted").is_none(), "{step}: {status}");
    }
}
