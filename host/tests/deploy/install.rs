//! `install` / `uninstall` on Linux, into a temp root: files, contents, idempotence, refusal
//! without rights, and nothing left behind.

use crate::util::{files_under, host, host_bin, is_root, read_json, run};
use serde_json::json;
use std::path::Path;

const EXT_ORIGIN: &str = cis_renew_host::deploy::identity::DEFAULT_ALLOWED_ORIGINS[0];

const SYSTEM_FILES: [&str; 5] = [
    "etc/chromium/native-messaging-hosts/uk.nhs.cis_renew.json",
    "etc/opt/chrome/native-messaging-hosts/uk.nhs.cis_renew.json",
    "etc/opt/edge/native-messaging-hosts/uk.nhs.cis_renew.json",
    "usr/lib/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json",
    "usr/lib64/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json",
];

fn exe() -> String {
    host_bin().canonicalize().expect("canonical exe").display().to_string()
}

#[test]
fn install_system_writes_every_browser_manifest_into_root() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("root");
    let root_s = root.to_str().expect("utf-8");
    let (code, out, err) = run(&mut host(dir.path(), &["install", "--system", "--root", root_s]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(files_under(&root), SYSTEM_FILES);
    for file in SYSTEM_FILES {
        let manifest = read_json(&root.join(file));
        let expected_callers = if file.contains("mozilla") {
            json!({"allowed_extensions": [cis_renew_host::deploy::identity::FIREFOX_ID]})
        } else {
            json!({"allowed_origins": [EXT_ORIGIN]})
        };
        let mut expected = json!({
            "name": "uk.nhs.cis_renew",
            "description": "cis-renew: renews the certificates on an NHS smartcard",
            "path": exe(),
            "type": "stdio",
        });
        expected.as_object_mut().expect("object").extend(expected_callers.as_object().expect("o").clone());
        assert_eq!(manifest, expected, "{file}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(root.join(file)).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "{file}: browsers run as the user and must read it");
        }
    }
    assert_eq!(out.lines().filter(|l| l.starts_with("wrote")).count(), 5, "{out}");
}

#[test]
fn install_twice_changes_nothing_the_second_time() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("root");
    let args = ["install", "--root", root.to_str().expect("utf-8")];
    assert_eq!(run(&mut host(dir.path(), &args)).0, 0);
    let before: Vec<Vec<u8>> =
        SYSTEM_FILES.iter().map(|f| std::fs::read(root.join(f)).expect("read")).collect();
    let (code, out, err) = run(&mut host(dir.path(), &args));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("unchanged")).count(), 5, "{out}");
    let after: Vec<Vec<u8>> =
        SYSTEM_FILES.iter().map(|f| std::fs::read(root.join(f)).expect("read")).collect();
    assert_eq!(before, after);
    assert_eq!(files_under(&root).len(), 5, "no temporary files are left");
}

#[test]
fn install_replaces_a_damaged_manifest() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("root");
    let file = root.join(SYSTEM_FILES[1]);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(&file, "{\"name\": \"uk.nhs.cis_renew\", \"pa").expect("write");
    let (code, _, err) = run(&mut host(
        dir.path(),
        &["install", "--browser", "chrome", "--root", root.to_str().expect("utf-8")],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(read_json(&file)["path"], json!(exe()));
}

#[test]
fn install_user_writes_under_home_only_for_the_named_browsers() {
    let dir = tempfile::tempdir().expect("tmp");
    let (code, out, err) =
        run(&mut host(dir.path(), &["install", "--user", "--browser", "chromium,firefox"]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        files_under(&dir.path().join("home")),
        [
            ".config/chromium/NativeMessagingHosts/uk.nhs.cis_renew.json",
            ".mozilla/native-messaging-hosts/uk.nhs.cis_renew.json"
        ]
    );
}

#[test]
fn install_store_ids_are_added_to_the_browsers_that_use_each_store() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("root");
    let (cws, edge) = ("a".repeat(32), "b".repeat(32));
    std::fs::write(dir.path().join("host.json"), "{}").expect("config that allows only our own ID");
    let (code, _, err) = run(&mut host(
        dir.path(),
        &[
            "install",
            "--root",
            root.to_str().expect("utf-8"),
            "--chrome-web-store-id",
            &cws,
            "--edge-addons-id",
            &edge,
        ],
    ));
    assert_eq!(code, 0, "{err}");
    let origin = |id: &str| format!("chrome-extension://{id}/");
    assert_eq!(read_json(&root.join(SYSTEM_FILES[1]))["allowed_origins"], json!([EXT_ORIGIN, origin(&cws)]));
    assert_eq!(
        read_json(&root.join(SYSTEM_FILES[2]))["allowed_origins"],
        json!([EXT_ORIGIN, origin(&edge), origin(&cws)])
    );
    assert!(err.contains("add \"chrome-extension://aaaa"), "warns that the host config must allow it: {err}");

    // The IDs are kept beside host.json, so a later `install --system` without them (a package
    // upgrade's postinst) writes them again; uninstall takes them away.
    let saved = root.join("etc/cis-renew/store-ids.json");
    assert_eq!(read_json(&saved), json!({"chromeWebStoreId": cws, "edgeAddonsId": edge}));
    std::fs::remove_dir_all(root.join("etc/opt")).expect("a package upgrade puts back its own manifests");
    let (code, out, err) = run(&mut host(dir.path(), &["install", "--root", root.to_str().expect("utf-8")]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("store IDs from an earlier install: {cws}, {edge}")), "{out}");
    assert_eq!(
        read_json(&root.join(SYSTEM_FILES[2]))["allowed_origins"],
        json!([EXT_ORIGIN, origin(&edge), origin(&cws)])
    );
    let (code, _, err) = run(&mut host(dir.path(), &["uninstall", "--root", root.to_str().expect("utf-8")]));
    assert_eq!(code, 0, "{err}");
    assert!(!saved.exists(), "uninstall --system forgets the IDs");

    // --extension-ids: more Chromium IDs, for Chrome, Chromium and Edge, never Firefox.
    let (c, d) = ("c".repeat(32), "d".repeat(32));
    let list = format!("{c},{d}");
    let (code, _, err) = run(&mut host(
        dir.path(),
        &["install", "--root", root.to_str().expect("utf-8"), "--extension-ids", &list],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        read_json(&root.join(SYSTEM_FILES[1]))["allowed_origins"],
        json!([EXT_ORIGIN, origin(&c), origin(&d)])
    );
    assert_eq!(read_json(&saved), json!({"extensionIds": [c, d]}));
    let firefox = SYSTEM_FILES.iter().find(|f| f.contains("mozilla")).expect("firefox");
    assert!(read_json(&root.join(firefox)).get("allowed_origins").is_none());
    let (code, _, err) = run(&mut host(
        dir.path(),
        &["install", "--root", root.to_str().expect("utf-8"), "--extension-ids", "abc"],
    ));
    assert_eq!(code, 2, "a bad ID is a usage error");
    assert!(err.contains("--extension-ids: 'abc' is not an extension ID"), "{err}");
}

#[test]
fn install_bad_arguments_are_usage_errors_and_write_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("root");
    let root_s = root.to_str().expect("utf-8");
    for args in [
        vec!["install", "--root", root_s, "--browser", "safari"],
        vec!["install", "--root", root_s, "--chrome-web-store-id", "not-an-id"],
        vec!["install", "--root", root_s, "--system", "--user"],
        vec!["install", "--root", root_s, "--frobnicate"],
        vec!["install", "--root"],
    ] {
        let (code, _, err) = run(&mut host(dir.path(), &args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("Usage"), "{err}");
    }
    assert!(!root.exists());
}

#[test]
fn install_without_rights_refuses_clearly_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).expect("mkdir");
    let mut cmd = host(dir.path(), &["install", "--root", root.to_str().expect("utf-8")]);
    if is_root() {
        // Root may write anywhere, so drop to nobody, as an ordinary person would run it.
        use std::os::unix::fs::PermissionsExt;
        for d in [dir.path(), root.as_path()] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let inner = cmd;
        cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(inner.get_program());
        cmd.args(inner.get_args());
        for (k, v) in inner.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
    }
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("needs administrator rights") && err.contains("--user"), "{err}");
    assert!(files_under(&root).is_empty());
}

#[test]
fn uninstall_removes_every_manifest_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("root");
    let root_s = root.to_str().expect("utf-8");
    // Another host's manifest in a shared folder must survive, and keep its folder.
    let other = root.join("etc/opt/chrome/native-messaging-hosts/org.other.json");
    std::fs::create_dir_all(other.parent().expect("parent")).expect("mkdir");
    std::fs::write(&other, "{}").expect("write");
    assert_eq!(run(&mut host(dir.path(), &["install", "--root", root_s])).0, 0);
    let (code, out, err) = run(&mut host(dir.path(), &["uninstall", "--root", root_s]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("removed")).count(), 5, "{out}");
    assert_eq!(files_under(&root), ["etc/opt/chrome/native-messaging-hosts/org.other.json"]);
    assert!(!root.join("etc/chromium/native-messaging-hosts").exists(), "our empty folders go too");
    let (code, out, _) = run(&mut host(dir.path(), &["uninstall", "--root", root_s]));
    assert_eq!(code, 0);
    // The five manifests and the saved store IDs (none were given here).
    assert_eq!(out.lines().filter(|l| l.starts_with("not there")).count(), 6, "{out}");
    assert!(out.contains("etc/cis-renew/store-ids.json"), "{out}");
}

#[test]
fn uninstall_user_leaves_home_without_files() {
    let dir = tempfile::tempdir().expect("tmp");
    assert_eq!(run(&mut host(dir.path(), &["install", "--user"])).0, 0);
    assert_eq!(files_under(&dir.path().join("home")).len(), 4);
    assert_eq!(run(&mut host(dir.path(), &["uninstall", "--user"])).0, 0);
    assert!(files_under(&dir.path().join("home")).is_empty());
}

#[test]
fn bare_word_subcommands_never_start_the_native_host() {
    // A browser passes an origin or a manifest path; each deployment word must reach the CLI.
    let dir = tempfile::tempdir().expect("tmp");
    let (code, out, _) = run(&mut host(dir.path(), &["help"]));
    assert_eq!(code, 0);
    for word in ["install", "uninstall", "manifests", "doctor"] {
        assert!(out.contains(&format!("cis-renew-host {word}")), "help lists {word}: {out}");
    }
    assert!(Path::new(&exe()).is_file());
}

#[test]
fn install_os_macos_stages_the_macos_places_into_root_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("payload");
    let exe = "/Library/Application Support/cis-renew/cis-renew-host";
    let args = ["install", "--os", "macos", "--root", root.to_str().expect("utf-8"), "--exe", exe];
    let (code, _, err) = run(&mut host(dir.path(), &args));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        files_under(&root),
        [
            "Library/Application Support/Chromium/NativeMessagingHosts/uk.nhs.cis_renew.json",
            "Library/Application Support/Mozilla/NativeMessagingHosts/uk.nhs.cis_renew.json",
            "Library/Google/Chrome/NativeMessagingHosts/uk.nhs.cis_renew.json",
            "Library/Microsoft/Edge/NativeMessagingHosts/uk.nhs.cis_renew.json",
        ]
    );
    let committed = crate::util::repo_root().join("manifests/macos/chrome.json");
    assert_eq!(
        std::fs::read_to_string(
            root.join("Library/Google/Chrome/NativeMessagingHosts/uk.nhs.cis_renew.json")
        )
        .expect("staged"),
        std::fs::read_to_string(committed).expect("committed")
    );
    for refused in [vec!["install", "--os", "macos"], vec!["install", "--os", "windows", "--root", "x"]] {
        assert_eq!(run(&mut host(dir.path(), &refused)).0, 2, "{refused:?}");
    }
}
