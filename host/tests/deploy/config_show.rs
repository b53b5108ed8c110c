//! `cis-renew-host config show [--json]`: the settings the host runs on, each key with the
//! source that set it (here the file `CIS_RENEW_CONFIG` names; the layered sources are in the
//! settings unit tests and, for the MSI's, the installer tests under wine).

use crate::util::{host, run};
use serde_json::Value;

#[test]
fn config_show_names_each_key_with_its_source_and_says_whether_it_is_valid() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("host.json");
    std::fs::write(&file, r#"{"managedReader": "*01", "renewalWindowDays": 30}"#).expect("write");
    let (code, out, err) = run(&mut host(dir.path(), &["config", "show", "--json"]));
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).expect("JSON");
    let shown = file.display().to_string();
    assert_eq!(report["settings"]["managedReader"], serde_json::json!({"value": "*01", "from": shown}));
    assert_eq!(report["settings"]["renewalWindowDays"]["value"], 30);
    assert_eq!(report["settings"].as_object().expect("object").len(), 2, "only keys a source set");
    assert_eq!(report["valid"], true);

    let (code, out, _) = run(&mut host(dir.path(), &["config", "show"]));
    assert_eq!(code, 0);
    assert!(out.contains(&format!("managedReader          \"*01\"  (from {shown})")), "{out}");
    assert!(out.trim_end().ends_with(&format!("valid: {shown}")), "{out}");

    // Invalid settings are still shown, with the problem, and exit 1.
    std::fs::write(&file, r#"{"renewalWindowDays": 400}"#).expect("write");
    let (code, out, _) = run(&mut host(dir.path(), &["config", "show", "--json"]));
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["settings"]["renewalWindowDays"]["value"], 400);
    assert_eq!(report["valid"], false);
    assert!(report["problem"].as_str().expect("problem").contains("must be from 1 to 365"), "{report}");

    std::fs::write(&file, "[1]").expect("write");
    let (code, _, err) = run(&mut host(dir.path(), &["config", "show"]));
    assert_eq!(code, 1);
    assert!(err.contains("must be a JSON object"), "{err}");
    let (code, _, err) = run(&mut host(dir.path(), &["config", "show", "--yaml"]));
    assert_eq!(code, 2);
    assert!(err.contains("usage: cis-renew-host config show [--json]"), "{err}");
}
