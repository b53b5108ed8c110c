//! The committed manifests and the docs' location table are generated from the code; these
//! tests fail when either drifts (regenerate with `cis-renew-host manifests --out manifests`).

use crate::util::{files_under, host, repo_root, run};
use cis_renew_host::deploy::locations::markdown_table;

#[test]
fn committed_manifests_equal_the_generated_ones() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("out");
    let (code, _, err) = run(&mut host(dir.path(), &["manifests", "--out", out.to_str().expect("utf-8")]));
    assert_eq!(code, 0, "{err}");
    let committed = repo_root().join("manifests");
    let generated = files_under(&out);
    assert_eq!(generated.len(), 12);
    assert!(committed.join("identity.json").is_file(), "manifests/identity.json names the extension's IDs");
    // identity.json is the input the IDs come from (scripts/identity.mjs), not a manifest.
    let committed_files: Vec<_> =
        files_under(&committed).into_iter().filter(|f| f != "identity.json").collect();
    assert_eq!(committed_files, generated, "manifests/ has exactly the generated files");
    for file in generated {
        let want = std::fs::read_to_string(out.join(&file)).expect("generated");
        let have = std::fs::read_to_string(committed.join(&file)).expect("committed");
        assert_eq!(have, want, "manifests/{file} is stale: run `cis-renew-host manifests --out manifests`");
    }
}

#[test]
fn manifests_with_os_and_exe_write_that_path() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("out");
    let args = ["manifests", "--os", "linux", "--exe", "/opt/x/host", "--out", out.to_str().expect("utf-8")];
    let (code, _, err) = run(&mut host(dir.path(), &args));
    assert_eq!(code, 0, "{err}");
    assert_eq!(files_under(&out), ["chrome.json", "chromium.json", "edge.json", "firefox.json"]);
    assert_eq!(crate::util::read_json(&out.join("edge.json"))["path"], "/opt/x/host");
    let (code, _, _) = run(&mut host(dir.path(), &["manifests", "--exe", "/x", "--out", "y"]));
    assert_eq!(code, 2, "--exe without --os is refused (paths differ per OS)");
}

#[test]
fn docs_deployment_holds_the_location_table_from_the_code() {
    let doc = std::fs::read_to_string(repo_root().join("docs/deployment.md")).expect("docs/deployment.md");
    let table = markdown_table();
    assert!(
        doc.contains(&table),
        "docs/deployment.md must contain the table from deploy::locations::markdown_table():\n{table}"
    );
}

#[test]
fn packaged_default_configs_are_valid_host_configs() {
    use cis_renew_host::config::Config;
    for os in ["linux", "macos", "windows"] {
        let path = repo_root().join("installer").join(os).join("host.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let config = Config::parse(&text, &path).unwrap_or_else(|e| panic!("{os}: {e}"));
        assert_eq!(config.allowed_origins, Config::default().allowed_origins, "{os}");
        assert_eq!(config.renewal_window_days, 90, "{os}");
    }
}
