//! `doctor` against a good install (real pcscd with two virtual readers, SoftHSM as the
//! PKCS#11 module) and against each broken one; each break must fail its own check only.

use crate::util::{host, host_bin, run};
use cis_renew_testbed::readers::Pcscd;
use cis_renew_testbed::token::{SoftHsm, SOFTHSM_MODULE};
use cis_renew_testbed::TestCa;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Bed {
    dir: tempfile::TempDir,
    pcscd: Pcscd,
    softhsm: SoftHsm,
    ca: TestCa,
}

impl Bed {
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn manifest(&self, dir: &str) -> PathBuf {
        self.root().join(dir).join("uk.nhs.cis_renew.json")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = host(self.dir.path(), args);
        self.pcscd.configure(&mut cmd);
        self.softhsm.configure(&mut cmd);
        cmd
    }

    fn write_config(&self, config: &Value) {
        // A new file each time, so that a case that changed its owner or mode leaves no trace.
        let _ = std::fs::remove_file(self.dir.path().join("host.json"));
        std::fs::write(self.dir.path().join("host.json"), config.to_string()).expect("config");
    }

    /// A working config: SoftHSM and the test CA as the trust anchor.
    fn good_config(&self) -> Value {
        json!({"pkcs11Module": SOFTHSM_MODULE, "logLevel": "off", "trustAnchors": [self.ca.cert_pem_path()]})
    }

    fn good(&self) {
        self.write_config(&self.good_config());
        let root = self.root();
        let _ = std::fs::remove_dir_all(&root);
        let (code, _, err) = run(&mut self.cmd(&["install", "--root", root.to_str().expect("utf-8")]));
        assert_eq!(code, 0, "{err}");
    }

    /// Runs `doctor --json`; returns the exit code and check name -> (status, detail).
    fn doctor(&self, cmd: &mut Command) -> (i32, Value, Vec<(String, String, String)>) {
        let (code, out, err) = run(cmd);
        let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
        let checks = report["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .map(|c| {
                let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                (s("check"), s("status"), s("detail"))
            })
            .collect();
        (code, report, checks)
    }

    fn doctor_json(&self) -> (i32, Value, Vec<(String, String, String)>) {
        self.doctor(&mut self.cmd(&["doctor", "--json", "--root", self.root().to_str().expect("utf-8")]))
    }
}

fn failing(checks: &[(String, String, String)]) -> Vec<String> {
    checks.iter().filter(|c| c.1 == "fail").map(|c| c.0.clone()).collect()
}

fn detail<'a>(checks: &'a [(String, String, String)], name: &str) -> &'a str {
    checks.iter().find(|c| c.0 == name).map(|c| c.2.as_str()).unwrap_or_else(|| panic!("no check {name}"))
}

fn edit_manifest(path: &Path, key: &str, value: Value) {
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    manifest[key] = value;
    std::fs::write(path, manifest.to_string()).expect("write");
}

#[test]
fn doctor_good_install_then_each_break_fails_its_own_check() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca = TestCa::create(&dir.path().join("ca"), "Doctor Test CA").expect("test CA");
    let bed = Bed {
        dir,
        pcscd: Pcscd::start().expect("pcscd with two vpcd readers"),
        softhsm: SoftHsm::new().expect("softhsm"),
        ca,
    };

    // Good install: everything passes, exit 0, readers and the managed reader are named.
    bed.good();
    let (code, report, checks) = bed.doctor_json();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    assert!(failing(&checks).is_empty(), "{checks:?}");
    for browser in ["chrome", "chromium", "edge", "firefox"] {
        let found = checks.iter().find(|c| c.0 == format!("manifest {browser}")).expect("browser checked");
        assert_eq!(found.1, "ok", "{found:?}");
    }
    assert_eq!(report["managedReader"], "Virtual PCD 00 01");
    assert_eq!(report["readers"].as_array().map(Vec::len), Some(2));
    assert!(detail(&checks, "pkcs11 module").contains("libsofthsm2.so loads"), "{checks:?}");
    assert!(detail(&checks, "smart card service").contains("2 reader(s)"));
    assert!(detail(&checks, "trust anchors").contains("CN=Doctor Test CA"), "{checks:?}");

    // The table form says the same, for people.
    let (code, text, _) = run(&mut bed.cmd(&["doctor", "--root", bed.root().to_str().expect("utf-8")]));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("All checks passed.") && text.contains("manifest firefox"), "{text}");

    type Break = Box<dyn Fn(&Bed)>;
    let cases: Vec<(&str, Break, &str, &str)> = vec![
        (
            "missing manifest",
            Box::new(|b: &Bed| {
                std::fs::remove_file(b.manifest("etc/opt/edge/native-messaging-hosts")).expect("rm")
            }),
            "manifest edge",
            "not registered",
        ),
        (
            "wrong path",
            Box::new(|b: &Bed| {
                edit_manifest(
                    &b.manifest("etc/opt/chrome/native-messaging-hosts"),
                    "path",
                    json!("/bin/true"),
                )
            }),
            "manifest chrome",
            "not at this program",
        ),
        (
            "path to nothing",
            Box::new(|b: &Bed| {
                edit_manifest(
                    &b.manifest("etc/chromium/native-messaging-hosts"),
                    "path",
                    json!("/nonexistent/host"),
                )
            }),
            "manifest chromium",
            "does not exist",
        ),
        (
            "wrong ID",
            Box::new(|b: &Bed| {
                edit_manifest(
                    &b.manifest("etc/opt/chrome/native-messaging-hosts"),
                    "allowed_origins",
                    json!(["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"]),
                )
            }),
            "manifest chrome",
            "none of which this host accepts",
        ),
        (
            "wrong Firefox ID in the manifest Firefox uses first",
            Box::new(|b: &Bed| {
                edit_manifest(
                    &b.manifest("usr/lib/mozilla/native-messaging-hosts"),
                    "allowed_extensions",
                    json!(["x@y"]),
                )
            }),
            "manifest firefox",
            "none of which this host accepts",
        ),
        (
            "bad module path",
            Box::new(|b: &Bed| {
                let mut config = b.good_config();
                config["pkcs11Module"] = json!("/nonexistent/pkcs11.so");
                b.write_config(&config)
            }),
            "pkcs11 module",
            "could not be loaded",
        ),
        (
            "module writable by its group",
            Box::new(|b: &Bed| {
                let module = b.dir.path().join("module.so");
                std::fs::copy(SOFTHSM_MODULE, &module).expect("copy module");
                std::fs::set_permissions(&module, std::fs::Permissions::from_mode(0o664)).expect("chmod");
                let mut config = b.good_config();
                config["pkcs11Module"] = json!(module);
                b.write_config(&config)
            }),
            "pkcs11 module",
            "writable by its group",
        ),
        (
            "config owned by another user",
            Box::new(|b: &Bed| {
                std::os::unix::fs::chown(b.dir.path().join("host.json"), Some(1000), None).expect("chown")
            }),
            "config",
            "owned by uid 1000, not root",
        ),
        (
            "no trust anchors",
            Box::new(|b: &Bed| b.write_config(&json!({"pkcs11Module": SOFTHSM_MODULE, "logLevel": "off"}))),
            "trust anchors",
            "TRUST_NOT_CONFIGURED",
        ),
        (
            "trust anchor writable by all users",
            Box::new(|b: &Bed| {
                let anchor = b.dir.path().join("anchor.pem");
                std::fs::copy(b.ca.cert_pem_path(), &anchor).expect("copy anchor");
                std::fs::set_permissions(&anchor, std::fs::Permissions::from_mode(0o646)).expect("chmod");
                let mut config = b.good_config();
                config["trustAnchors"] = json!([anchor]);
                b.write_config(&config)
            }),
            "config",
            "writable by all users",
        ),
        (
            "bad config",
            Box::new(|b: &Bed| {
                std::fs::write(b.dir.path().join("host.json"), "{\"pkcs11Modul\": 1}").expect("w")
            }),
            "config",
            "pkcs11Modul",
        ),
    ];
    for (name, break_it, check, needle) in &cases {
        bed.good();
        break_it(&bed);
        let (code, report, checks) = bed.doctor_json();
        assert_eq!(code, 1, "{name}: {report:#}");
        assert_eq!(report["ok"], false, "{name}");
        let mut expected = vec![check.to_string()];
        if *check == "config" {
            // The defaults have no trust anchors.
            expected.push("trust anchors".into());
            // With the config unreadable the defaults apply, and the default module is OpenSC's.
            if !Path::new(&cis_renew_host::config::default_pkcs11_module()).exists() {
                expected.push("pkcs11 module".into());
            }
        }
        assert_eq!(failing(&checks), expected, "{name}: {checks:?}");
        assert!(detail(&checks, check).contains(needle), "{name}: {}", detail(&checks, check));
        if name.contains("writable") || name.contains("owned") {
            assert!(detail(&checks, check).contains("Fix: "), "{name}: {}", detail(&checks, check));
        }
    }

    // No pcscd: the service check fails, and says what to do.
    bed.good();
    let mut cmd = bed.cmd(&["doctor", "--json", "--root", bed.root().to_str().expect("utf-8")]);
    cmd.env("PCSCLITE_CSOCK_NAME", bed.dir.path().join("nothing-here.comm"));
    let (code, report, checks) = bed.doctor(&mut cmd);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(failing(&checks), ["smart card service"]);
    assert!(detail(&checks, "smart card service").contains("PCSC_UNAVAILABLE"));
    assert_eq!(report["readers"], json!([]));

    // A per-user manifest shadows the system one: doctor checks the one the browser uses.
    bed.good();
    let (code, _, err) = run(&mut bed.cmd(&[
        "install",
        "--user",
        "--browser",
        "chromium",
        "--exe",
        "/bin/true",
        "--root",
        bed.root().to_str().expect("utf-8"),
    ]));
    assert_eq!(code, 0, "{err}");
    let (code, _, checks) = bed.doctor_json();
    assert_eq!(code, 1);
    assert!(detail(&checks, "manifest chromium").contains(".config/chromium"), "{checks:?}");
    assert!(host_bin().is_file());
}

#[test]
fn doctor_only_checks_the_browsers_asked_for() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("root");
    let root_s = root.to_str().expect("utf-8");
    assert_eq!(run(&mut host(dir.path(), &["install", "--browser", "firefox", "--root", root_s])).0, 0);
    let (_, out, err) =
        run(&mut host(dir.path(), &["doctor", "--json", "--browser", "firefox", "--root", root_s]));
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let names: Vec<&str> =
        report["checks"].as_array().expect("checks").iter().filter_map(|c| c["check"].as_str()).collect();
    assert!(names.contains(&"manifest firefox") && !names.contains(&"manifest chrome"), "{names:?}");
    let firefox = report["checks"]
        .as_array()
        .expect("c")
        .iter()
        .find(|c| c["check"] == "manifest firefox")
        .expect("ff");
    assert_eq!(firefox["status"], "ok", "{firefox}");
}

/// A system install (manifests in the system folders) without IT's config file is a FAIL that
/// says how to put one there; with the file it is OK; without system manifests it is not asked.
#[test]
fn doctor_system_install_without_system_config_fails_with_its_fix() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("root");
    let root_arg = root.to_str().expect("utf-8");
    let (code, _, err) = run(&mut host(dir.path(), &["install", "--root", root_arg]));
    assert_eq!(code, 0, "{err}");
    let doctor = || {
        let mut cmd = host(dir.path(), &["doctor", "--json", "--root", root_arg]);
        cmd.env_remove("CIS_RENEW_CONFIG");
        let (_, out, err) = run(&mut cmd);
        let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
        report["checks"].as_array().expect("checks").iter().find(|c| c["check"] == "system config").cloned()
    };
    let found = doctor().expect("a system install is asked about its config");
    assert_eq!(found["status"], "fail", "{found}");
    let text = found["detail"].as_str().expect("detail");
    assert!(text.contains("no /etc/cis-renew/host.json on a system install"), "{text}");
    assert!(
        text.ends_with("Fix: sudo install -o root -g root -m 0644 host.json /etc/cis-renew/host.json."),
        "{text}"
    );

    std::fs::create_dir_all(root.join("etc/cis-renew")).expect("mkdir");
    std::fs::write(root.join("etc/cis-renew/host.json"), "{}").expect("config");
    assert_eq!(doctor().expect("asked")["status"], "ok");

    // `install --system` made the config folder and the manifest folders root's, mode 0755.
    use std::os::unix::fs::MetadataExt;
    for d in
        ["etc/cis-renew", "etc/opt/chrome/native-messaging-hosts", "usr/lib/mozilla/native-messaging-hosts"]
    {
        let meta = std::fs::metadata(root.join(d)).expect(d);
        assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o755), "{d}");
    }

    // No manifest in a system folder: not a system install, so not asked.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let mut cmd = host(dir.path(), &["doctor", "--json", "--root", empty.to_str().expect("utf-8")]);
    cmd.env_remove("CIS_RENEW_CONFIG");
    let (_, out, _) = run(&mut cmd);
    assert!(out.contains("\"checks\"") && !out.contains("\"system config\""), "{out}");
}
