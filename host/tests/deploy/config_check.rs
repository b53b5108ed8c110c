//! `cis-renew-host config check FILE...`: IT validates a config (and its drop-ins, merged in the
//! order given) before pushing it; the answer is the host's own check.

use crate::util::{host, run};

#[test]
fn config_check_accepts_a_valid_merge_and_names_each_key_source() {
    let dir = tempfile::tempdir().expect("tmp");
    let base = dir.path().join("host.json");
    let drop_in = dir.path().join("10-reader.json");
    std::fs::write(&base, r#"{"logLevel": "warn", "renewalWindowDays": 60}"#).expect("write");
    std::fs::write(&drop_in, r#"{"managedReader": "*01", "renewalWindowDays": 30}"#).expect("write");
    let args = ["config", "check", base.to_str().expect("utf-8"), drop_in.to_str().expect("utf-8")];
    let (code, out, err) = run(&mut host(dir.path(), &args));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("renewalWindowDays      from {}", drop_in.display())), "{out}");
    assert!(out.contains(&format!("logLevel               from {}", base.display())), "{out}");
    assert!(out.trim_end().ends_with(&format!("valid: {} + {}", base.display(), drop_in.display())), "{out}");
}

#[test]
fn config_check_refuses_each_bad_file_with_the_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases = [
        (r#"{"renewalWindowDays": 400}"#, "key 'renewalWindowDays': must be from 1 to 365"),
        (r#"{"pkcs11Modul": "/x.so"}"#, "unknown field `pkcs11Modul`"),
        ("[1, 2]", "must be a JSON object"),
        ("{not json", "is not JSON"),
    ];
    for (i, (text, reason)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.json"));
        std::fs::write(&file, text).expect("write");
        let (code, _, err) = run(&mut host(dir.path(), &["config", "check", file.to_str().expect("utf-8")]));
        assert_eq!(code, 1, "{text}: {err}");
        assert!(err.contains(reason), "{text}: {err}");
    }
    let (code, _, err) = run(&mut host(dir.path(), &["config", "check", "/nonexistent/host.json"]));
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/host.json: cannot be read"), "{err}");
    let (code, _, err) = run(&mut host(dir.path(), &["config"]));
    assert_eq!(code, 2);
    assert!(err.contains("expected: config check FILE..."), "{err}");
}
