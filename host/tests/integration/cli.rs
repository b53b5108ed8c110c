//! The same binary run by a person: `status` as a table or as the protocol's JSON.

use crate::bed::{managed, Bed};
use std::process::Command;

fn run(bed: &Bed, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cis-renew-host"));
    command.args(args).env("HOME", bed.env.path());
    for (key, value) in &bed.env.vars {
        command.env(key, value);
    }
    command.env("CIS_RENEW_CONFIG", bed.env.config_path());
    command.output().expect("run host CLI")
}

#[test]
fn cli_status_prints_a_table_with_the_card() {
    let mut bed = Bed::start();
    bed.card(managed(), "Table card", 45, 400);
    let output = run(&bed, &["status"]);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Card in Virtual PCD 00 01"), "{text}");
    assert!(text.contains("Table card"), "{text}");
    assert!(text.contains("authentication") && text.contains("signing"), "{text}");
    assert!(text.contains("Renewable    yes"), "{text}");
}

#[test]
fn cli_status_json_is_the_protocol_result() {
    let mut bed = Bed::start();
    bed.card(managed(), "Json card", 45, 45);
    let output = run(&bed, &["status", "--json"]);
    assert!(output.status.success(), "{output:?}");
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(value["card"]["token"]["label"], "Json card");
    assert_eq!(value["managedReader"], managed());
}

#[test]
fn cli_rejects_unknown_arguments() {
    let bed = Bed::start();
    let output = run(&bed, &["status", "--yaml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage"));
}
