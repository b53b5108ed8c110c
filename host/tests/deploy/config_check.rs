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

/// Everything the loader refuses, `config check` refuses with the loader's words: types, key
/// algorithms, unknown members deep inside, a trust anchor others can change, a module others
/// can change; and a drop-in that breaks a valid base is named.
#[test]
fn config_check_refuses_what_the_loader_refuses() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let anchor = dir.path().join("anchor.pem");
    let ca = cis_renew_testbed::TestCa::create(&dir.path().join("ca"), "Check CA").expect("CA");
    std::fs::copy(ca.cert_pem_path(), &anchor).expect("copy");
    std::fs::set_permissions(&anchor, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let module = dir.path().join("module.so");
    std::fs::copy(cis_renew_testbed::token::SOFTHSM_MODULE, &module).expect("copy");
    std::fs::set_permissions(&module, std::fs::Permissions::from_mode(0o664)).expect("chmod");
    let cases = [
        (r#"{"renewalWindowDays": "30"}"#.to_string(), "key 'renewalWindowDays': invalid type: string \"30\", expected u32".to_string()),
        (r#"{"newKeyAlgorithm": "rsa1024"}"#.into(), "key 'newKeyAlgorithm': unknown variant `rsa1024`".into()),
        (r#"{"allowedKeyAlgorithms": []}"#.into(), "key 'allowedKeyAlgorithms': name at least one algorithm".into()),
        (
            r#"{"allowedKeyAlgorithms": ["p256"], "newKeyAlgorithm": "p384"}"#.into(),
            "key 'newKeyAlgorithm': must be one of 'allowedKeyAlgorithms'".into(),
        ),
        (r#"{"slotMap": {"R": {"tokenLabl": "x"}}}"#.into(), "key 'slotMap.R': unknown variant `tokenLabl`".into()),
        (r#"{"allowedOrigins": [""]}"#.into(), "key 'allowedOrigins': entries must not be empty".into()),
        (r#"{"cardBackend": "pcsc"}"#.into(), "key 'cardBackend': unknown variant `pcsc`".into()),
        (
            serde_json::json!({"trustAnchors": [anchor]}).to_string(),
            format!("key 'trustAnchors': {} is not used: it is writable by its group and all users (mode 666)", anchor.display()),
        ),
        (
            serde_json::json!({"pkcs11Module": module}).to_string(),
            format!(
                "key 'pkcs11Module': {0} is writable by its group (mode 664), so the host will not load it. Fix: make \
                 root the owner of {0}",
                module.display()
            ),
        ),
    ];
    for (i, (text, reason)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("case{i}.json"));
        std::fs::write(&file, text).expect("write");
        let (code, out, err) =
            run(&mut host(dir.path(), &["config", "check", file.to_str().expect("utf-8")]));
        assert_eq!(code, 1, "{text}: {out}{err}");
        assert!(err.contains(reason.as_str()), "{text}: {err}");
        assert!(!out.contains("valid:"), "{text}: {out}");
    }
    // A drop-in that breaks a valid base: the merge is refused and both files are named.
    let base = dir.path().join("host.json");
    let drop_in = dir.path().join("50-bad.json");
    std::fs::write(&base, r#"{"renewalWindowDays": 30}"#).expect("w");
    std::fs::write(&drop_in, r#"{"renewalWindowDays": 0}"#).expect("w");
    let (code, _, err) = run(&mut host(
        dir.path(),
        &["config", "check", base.to_str().expect("utf-8"), drop_in.to_str().expect("utf-8")],
    ));
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "{} + {} is invalid: key 'renewalWindowDays': must be from 1 to 365",
            base.display(),
            drop_in.display()
        )),
        "{err}"
    );
}

/// What is valid but worth knowing: a module not on this machine, an origin no browser uses.
#[test]
fn config_check_warns_about_a_missing_module_and_an_origin_no_browser_uses() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("host.json");
    std::fs::write(
        &file,
        r#"{"pkcs11Module": "/opt/vendor/pkcs11.so", "allowedOrigins": ["https://cis.example", "cis-renew@digital.nhs.uk"]}"#,
    )
    .expect("write");
    let (code, out, err) = run(&mut host(dir.path(), &["config", "check", file.to_str().expect("utf-8")]));
    assert_eq!(code, 0, "{err}");
    assert!(out.trim_end().ends_with(&format!("valid: {}", file.display())), "{out}");
    assert!(
        err.contains("warning: pkcs11Module: /opt/vendor/pkcs11.so does not exist on this machine"),
        "{err}"
    );
    assert!(err.contains("warning: allowedOrigins: 'https://cis.example' is neither"), "{err}");
    assert!(!err.contains("'cis-renew@digital.nhs.uk' is neither"), "{err}");
}
