//! `doctor` against a good install (real pcscd with two virtual readers, SoftHSM as the
//! PKCS#11 module) and against each broken one; each break must fail its own check only.

use crate::util::{host, host_bin, run};
use cis_renew_host::deploy::identity::{CHROMIUM_ID, FIREFOX_ID};
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
        let _ = std::fs::remove_dir_all(self.root());
        let _ = std::fs::remove_dir_all(self.dir.path().join("home"));
        self.install(&[]);
    }

    /// `install ARGS --root ROOT`.
    fn install(&self, args: &[&str]) {
        let root = self.root();
        let mut all = vec!["install"];
        all.extend(args);
        all.extend(["--root", root.to_str().expect("utf-8")]);
        let (code, _, err) = run(&mut self.cmd(&all));
        assert_eq!(code, 0, "{err}");
    }

    /// Writes a browser policy file at `path` inside the root (as IT would: root's, 0644).
    fn policy(&self, path: &str, policy: &Value) {
        let file = self.root().join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(&file, policy.to_string()).expect("policy");
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

/// The detail of the failing check `name`.
fn fail_detail<'a>(checks: &'a [(String, String, String)], name: &str) -> &'a str {
    checks
        .iter()
        .find(|c| c.0 == name && c.1 == "fail")
        .map(|c| c.2.as_str())
        .unwrap_or_else(|| panic!("no failing check {name}: {checks:?}"))
}

/// Every FAIL line says how to fix it, last.
fn assert_every_fail_has_a_fix(checks: &[(String, String, String)]) {
    for (name, status, detail) in checks {
        if status == "fail" {
            let fix = detail.split(". Fix: ").nth(1).unwrap_or_else(|| panic!("{name}: no fix: {detail}"));
            assert!(fix.len() > 10 && detail.ends_with('.'), "{name}: {detail}");
        }
    }
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
    // (case, break it, the check that fails, its problem, its fix)
    let cases: Vec<(&str, Break, &str, &str, String)> = vec![
        (
            "missing manifest",
            Box::new(|b: &Bed| {
                std::fs::remove_file(b.manifest("etc/opt/edge/native-messaging-hosts")).expect("rm")
            }),
            "manifest edge",
            "not registered",
            "sudo cis-renew-host install --system --browser edge".into(),
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
            "sudo cis-renew-host install --system --browser chrome".into(),
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
            "sudo cis-renew-host install --system --browser chromium".into(),
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
            "add \"chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/\" to \"allowedOrigins\" in".into(),
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
            "add \"x@y\" to \"allowedOrigins\"".into(),
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
            "install the card's middleware, or set \"pkcs11Module\" in".into(),
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
            "sudo chmod go-w".into(),
        ),
        (
            "config owned by another user",
            Box::new(|b: &Bed| {
                std::os::unix::fs::chown(b.dir.path().join("host.json"), Some(1000), None).expect("chown")
            }),
            "config",
            "owned by uid 1000, not root",
            "sudo chown root:root".into(),
        ),
        (
            "no trust anchors",
            Box::new(|b: &Bed| b.write_config(&json!({"pkcs11Module": SOFTHSM_MODULE, "logLevel": "off"}))),
            "trust anchors",
            "TRUST_NOT_CONFIGURED",
            "list the issuing CA's certificate file in \"trustAnchors\" in".into(),
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
            "sudo chmod go-w".into(),
        ),
        (
            "bad config",
            Box::new(|b: &Bed| {
                std::fs::write(b.dir.path().join("host.json"), "{\"pkcs11Modul\": 1}").expect("w")
            }),
            "config",
            "pkcs11Modul",
            "correct the setting named above in".into(),
        ),
        (
            "system manifest writable by its group",
            Box::new(|b: &Bed| {
                let manifest = b.manifest("etc/opt/chrome/native-messaging-hosts");
                std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o664)).expect("chmod")
            }),
            "permissions",
            "chrome manifest",
            "sudo chmod go-w".into(),
        ),
        (
            "host blocked by NativeMessagingBlocklist",
            Box::new(|b: &Bed| {
                b.policy("etc/chromium/policies/managed/block.json", &json!({"NativeMessagingBlocklist": ["*"]}))
            }),
            "policy chromium",
            "NativeMessagingBlocklist lists \"*\", so the browser will not start the host uk.nhs.cis_renew",
            "add \"uk.nhs.cis_renew\" to NativeMessagingAllowlist (in".into(),
        ),
        (
            "extension blocked by policy",
            Box::new(|b: &Bed| {
                b.policy("etc/opt/edge/policies/managed/ext.json", &json!({"ExtensionInstallBlocklist": ["*"]}))
            }),
            "policy edge",
            "ExtensionInstallBlocklist blocks the extension",
            format!("add \"{CHROMIUM_ID};<update URL>\" to ExtensionInstallForcelist"),
        ),
        (
            "user-level registration only, user-level hosts off by policy",
            Box::new(|b: &Bed| {
                std::fs::remove_file(b.manifest("etc/chromium/native-messaging-hosts")).expect("rm");
                b.install(&["--user", "--browser", "chromium"]);
                b.policy("etc/chromium/policies/managed/nm.json", &json!({"NativeMessagingUserLevelHosts": false}))
            }),
            "manifest chromium",
            "NativeMessagingUserLevelHosts=false makes chromium ignore per-user hosts",
            "sudo cis-renew-host install --system --browser chromium (or set NativeMessagingUserLevelHosts to true)"
                .into(),
        ),
    ];
    for (name, break_it, check, needle, fix) in &cases {
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
        let line = fail_detail(&checks, check);
        let (problem, its_fix) =
            line.split_once(". Fix: ").unwrap_or_else(|| panic!("{name}: no fix: {line}"));
        assert!(problem.contains(needle), "{name}: {line}");
        assert!(its_fix.contains(fix.as_str()) && its_fix.ends_with('.'), "{name}: {line}");
        assert_every_fail_has_a_fix(&checks);
    }

    // The exact lines for two breaks whose every word is known.
    bed.good();
    std::fs::remove_file(bed.manifest("etc/opt/edge/native-messaging-hosts")).expect("rm");
    let (_, _, checks) = bed.doctor_json();
    let root = bed.root();
    assert_eq!(
        fail_detail(&checks, "manifest edge"),
        format!(
            "not registered: edge cannot start the host (looked in {home}/.config/microsoft-edge/NativeMessagingHosts/\
             uk.nhs.cis_renew.json, /etc/opt/edge/native-messaging-hosts/uk.nhs.cis_renew.json). Fix: sudo \
             cis-renew-host install --system --browser edge.",
            home = bed.dir.path().join("home").display()
        )
    );
    let exe = host_bin().canonicalize().expect("host binary");
    bed.good();
    edit_manifest(&bed.manifest("etc/opt/chrome/native-messaging-hosts"), "path", json!("/bin/true"));
    let (_, _, checks) = bed.doctor_json();
    assert_eq!(
        fail_detail(&checks, "manifest chrome"),
        format!(
            "{}: points at /bin/true, not at this program ({}). Fix: sudo cis-renew-host install --system --browser \
             chrome.",
            bed.manifest("etc/opt/chrome/native-messaging-hosts").display(),
            exe.display()
        )
    );
    bed.good();
    edit_manifest(
        &bed.manifest("etc/opt/chrome/native-messaging-hosts"),
        "allowed_origins",
        json!(["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"]),
    );
    let (_, _, checks) = bed.doctor_json();
    assert_eq!(
        fail_detail(&checks, "manifest chrome"),
        format!(
            "{}: allowed_origins lists [chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/], none of which this host \
             accepts (allowedOrigins: [chrome-extension://{CHROMIUM_ID}/, {FIREFOX_ID}]). Fix: add \
             \"chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/\" to \"allowedOrigins\" in {} if that is your \
             extension, else sudo cis-renew-host install --system --browser chrome.",
            bed.manifest("etc/opt/chrome/native-messaging-hosts").display(),
            bed.dir.path().join("host.json").display()
        )
    );
    bed.good();
    bed.write_config(&json!({"pkcs11Module": SOFTHSM_MODULE, "logLevel": "off"}));
    let (_, _, checks) = bed.doctor_json();
    assert_eq!(
        fail_detail(&checks, "trust anchors"),
        format!(
            "none configured: every renewal is refused (TRUST_NOT_CONFIGURED). Fix: list the issuing CA's certificate \
             file in \"trustAnchors\" in {} (Windows: the TRUSTANCHORS MSI property or the TrustAnchors group \
             policy).",
            bed.dir.path().join("host.json").display()
        )
    );
    bed.good();
    let manifest = bed.manifest("etc/opt/chrome/native-messaging-hosts");
    std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o664)).expect("chmod");
    let (_, _, checks) = bed.doctor_json();
    assert_eq!(
        fail_detail(&checks, "permissions"),
        format!(
            "chrome manifest {0} is writable by its group (mode 664): a non-administrator could change it. Fix: make \
             root the owner of {0} and of every folder above it, writable by root only (sudo chown root:root {0} && \
             sudo chmod go-w {0}).",
            manifest.display()
        )
    );
    bed.good();
    bed.policy("etc/opt/edge/policies/managed/ext.json", &json!({"ExtensionInstallBlocklist": ["*"]}));
    let (_, _, checks) = bed.doctor_json();
    assert_eq!(
        fail_detail(&checks, "policy edge"),
        format!(
            "ExtensionInstallBlocklist blocks the extension {CHROMIUM_ID}: users cannot install it. Fix: add \
             \"{CHROMIUM_ID};<update URL>\" to ExtensionInstallForcelist (or \"{CHROMIUM_ID}\" to \
             ExtensionInstallAllowlist) in {}.",
            bed.root().join("etc/opt/edge/policies/managed/ext.json").display()
        )
    );
    bed.good();
    bed.policy(
        "etc/chromium/policies/managed/block.json",
        &json!({"NativeMessagingBlocklist": ["uk.nhs.cis_renew"]}),
    );
    let (_, _, checks) = bed.doctor_json();
    assert_eq!(
        fail_detail(&checks, "policy chromium"),
        format!(
            "NativeMessagingBlocklist lists \"uk.nhs.cis_renew\", so the browser will not start the host \
             uk.nhs.cis_renew. Fix: add \"uk.nhs.cis_renew\" to NativeMessagingAllowlist (in {}).",
            root.join("etc/chromium/policies/managed/block.json").display()
        )
    );

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

/// Browser policies from real files in the places the browsers read them (inside `--root`):
/// a force-install by each policy shape, Firefox's `policies.json` with the extension's managed
/// settings, and what they say next to the host's config.
#[test]
fn doctor_reads_each_browsers_policy_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("root");
    let root_s = root.to_str().expect("utf-8");
    assert_eq!(run(&mut host(dir.path(), &["install", "--root", root_s])).0, 0);
    std::fs::write(dir.path().join("host.json"), json!({"managedReader": "*01"}).to_string())
        .expect("config");
    let write = |path: &str, value: Value| {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, value.to_string()).expect("policy");
    };
    write(
        "etc/opt/chrome/policies/managed/cis.json",
        json!({"ExtensionInstallForcelist": [format!("{CHROMIUM_ID};https://it.example/updates.xml")]}),
    );
    write(
        "etc/opt/edge/policies/managed/cis.json",
        json!({"ExtensionSettings": {CHROMIUM_ID: {"installation_mode": "force_installed", "update_url": "https://it.example/u.xml"}},
               "NativeMessagingBlocklist": ["*"], "NativeMessagingAllowlist": ["uk.nhs.cis_renew"]}),
    );
    // Chromium reads every file; a later one adds to an earlier one.
    write("etc/chromium/policies/managed/10-nm.json", json!({"NativeMessagingUserLevelHosts": false}));
    std::fs::write(root.join("etc/chromium/policies/managed/20-broken.json"), "{not json").expect("w");
    // /etc/firefox/policies wins over the installation's distribution folder.
    write(
        "etc/firefox/policies/policies.json",
        json!({"policies": {
            "ExtensionSettings": {FIREFOX_ID: {"installation_mode": "force_installed", "install_url": "https://it.example/c.xpi"}},
            "3rdparty": {"Extensions": {FIREFOX_ID: {"portalOrigins": ["https://cis.example"], "managedReader": "*00"}}}
        }}),
    );
    write(
        "usr/lib/firefox-esr/distribution/policies.json",
        json!({"policies": {"ExtensionSettings": {"*": {"installation_mode": "blocked"}}}}),
    );

    let (_, out, err) = run(&mut host(dir.path(), &["doctor", "--json", "--root", root_s]));
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let checks: Vec<(String, String, String)> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (s("check"), s("status"), s("detail"))
        })
        .collect();
    let lines = |name: &str| -> Vec<(String, String)> {
        checks.iter().filter(|c| c.0 == name).map(|c| (c.1.clone(), c.2.clone())).collect()
    };
    let chrome = lines("policy chrome");
    assert_eq!(chrome.len(), 1, "{chrome:?}");
    assert_eq!(chrome[0].0, "ok");
    assert!(
        chrome[0].1.starts_with(&format!(
            "force-installs {CHROMIUM_ID} (ExtensionInstallForcelist); from {}",
            root.join("etc/opt/chrome/policies/managed/cis.json").display()
        )),
        "{chrome:?}"
    );
    let edge = lines("policy edge");
    assert_eq!(edge[0].0, "ok", "{edge:?}");
    assert!(edge[0].1.starts_with(&format!("force-installs {CHROMIUM_ID} (ExtensionSettings)")), "{edge:?}");
    let chromium = lines("policy chromium");
    assert_eq!(chromium.iter().map(|l| l.0.as_str()).collect::<Vec<_>>(), ["ok", "warn"], "{chromium:?}");
    assert!(chromium[0].1.contains("NativeMessagingUserLevelHosts=false"), "{chromium:?}");
    assert!(chromium[1].1.contains("20-broken.json is not JSON"), "{chromium:?}");
    let firefox = lines("policy firefox");
    assert_eq!(firefox.iter().map(|l| l.0.as_str()).collect::<Vec<_>>(), ["ok", "warn"], "{firefox:?}");
    assert!(
        firefox[0].1.contains(&format!("force-installs {FIREFOX_ID} (ExtensionSettings)")),
        "{firefox:?}"
    );
    assert!(
        firefox[0].1.contains(&format!("managed settings for {FIREFOX_ID}: managedReader, portalOrigins")),
        "{firefox:?}"
    );
    assert!(
        firefox[1].1.contains("managedReader \"*00\"") && firefox[1].1.contains("host uses *01"),
        "{firefox:?}"
    );
    // The system registrations still win under NativeMessagingUserLevelHosts=false.
    assert_eq!(lines("manifest chromium")[0].0, "ok");
    // The policy files are among the files whose owner and mode were checked.
    let permissions = lines("permissions");
    assert_eq!(permissions.len(), 1, "{permissions:?}");
    assert_eq!(permissions[0].0, "ok");
    // Program, four browsers' manifests (Firefox's first of two), five policy files.
    assert_eq!(permissions[0].1, "10 file(s) only administrators can change", "{permissions:?}");
}

/// The card in the managed reader against the configured middleware, on the real test bed:
/// SoftHSM does not know a SmartCard-HSM (FAIL, with the module to use); OpenSC does (ok,
/// naming the token); a PIV card is checked by SELECT PIV under cardBackend auto, and under
/// cardBackend pkcs11 with SoftHSM it is a FAIL whose fix is the backend.
#[test]
fn doctor_checks_the_managed_card_against_the_middleware() {
    use cis_renew_testbed::piv::{provision, PivSpec};
    use cis_renew_testbed::schsm::{self, Faults, KeyAlg, SchsmSpec, OPENSC_MODULE};
    use cis_renew_testbed::CardSpec;

    let dir = tempfile::tempdir().expect("tmp");
    let ca = TestCa::create(&dir.path().join("ca"), "Doctor Card CA").expect("test CA");
    let card = dir.path().join("schsm.json");
    let mut spec = CardSpec::new(schsm::DEFAULT_LABEL, 45, 60);
    spec.so_pin = schsm::DEFAULT_SO_PIN.into();
    schsm::provision(&card, &ca, &SchsmSpec { card: spec, alg: KeyAlg::P384 }).expect("provision the SC-HSM");
    let mut pcscd = Pcscd::start().expect("pcscd");
    pcscd.insert_schsm(1, &card, &Faults::default()).expect("SC-HSM in the managed reader");
    let softhsm = SoftHsm::new().expect("softhsm");
    let write_config = |config: Value| {
        let _ = std::fs::remove_file(dir.path().join("host.json"));
        std::fs::write(dir.path().join("host.json"), config.to_string()).expect("config");
    };
    let doctor = |pcscd: &Pcscd| {
        let mut cmd = host(dir.path(), &["doctor", "--json", "--browser", "chrome"]);
        pcscd.configure_opensc(&mut cmd);
        softhsm.configure(&mut cmd);
        let (_, out, err) = run(&mut cmd);
        let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
        let checks = report["checks"].as_array().expect("checks").clone();
        let card = checks
            .iter()
            .find(|c| c["check"] == "managed card")
            .cloned()
            .unwrap_or_else(|| panic!("{report:#}"));
        for c in &checks {
            if c["status"] == "fail" {
                assert!(c["detail"].as_str().unwrap_or_default().contains(". Fix: "), "{c}");
            }
        }
        (
            card["status"].as_str().unwrap_or_default().to_string(),
            card["detail"].as_str().unwrap_or_default().to_string(),
        )
    };
    let config_file = dir.path().join("host.json");

    write_config(json!({"pkcs11Module": SOFTHSM_MODULE, "logLevel": "off"}));
    let (status, detail) = doctor(&pcscd);
    assert_eq!(status, "fail", "{detail}");
    assert!(
        detail.starts_with(&format!("a card is in Virtual PCD 00 01, but {SOFTHSM_MODULE} (SoftHSM, ")),
        "{detail}"
    );
    assert!(
        detail.ends_with(&format!(
            "shows no token for it: the middleware does not know this card, so the extension would say there is no \
             card. Fix: set \"pkcs11Module\" in {} to the middleware for this card (OpenSC's {} for a SmartCard-HSM \
             or PIV card), install the card's driver, or map the reader to its token in \"slotMap\".",
            config_file.display(),
            cis_renew_host::config::default_pkcs11_module().display()
        )),
        "{detail}"
    );

    // A slotMap naming a token no module slot has: the fix is the slot map.
    write_config(json!({"pkcs11Module": SOFTHSM_MODULE, "logLevel": "off",
                        "slotMap": {"Virtual PCD 00 01": {"tokenLabel": "nobody"}}}));
    let (status, detail) = doctor(&pcscd);
    assert_eq!(status, "fail", "{detail}");
    assert!(detail.contains("Fix: correct \"slotMap\" for \"Virtual PCD 00 01\""), "{detail}");

    // cardBackend piv with a card that has no PIV application.
    write_config(json!({"pkcs11Module": OPENSC_MODULE, "logLevel": "off", "cardBackend": "piv"}));
    let (status, detail) = doctor(&pcscd);
    assert_eq!(
        (status.as_str(), detail),
        (
            "fail",
            format!(
                "the card in Virtual PCD 00 01 has no PIV application, and cardBackend is \"piv\". Fix: set \
                 \"cardBackend\" to \"auto\" in {} with a \"pkcs11Module\" that knows this card.",
                config_file.display()
            )
        )
    );

    write_config(json!({"pkcs11Module": OPENSC_MODULE, "logLevel": "off"}));
    let (status, detail) = doctor(&pcscd);
    assert_eq!(status, "ok", "{detail}");
    // OpenSC names the card driver: manufacturer and model.
    assert!(
        detail.contains(
            "(Virtual PCD 00 01): token 'cis-renew test card (UserPIN)', www.CardContact.de PKCS#15 emulated"
        ),
        "{detail}"
    );

    // A PIV card in the managed reader.
    pcscd.remove_card(1).expect("remove the SC-HSM");
    let piv_dir = dir.path().join("piv");
    std::fs::create_dir_all(&piv_dir).expect("mkdir");
    let piv = provision(&piv_dir, &ca, &PivSpec::new(45, 60)).expect("provision the PIV card");
    pcscd.insert_piv_card(1, &piv_dir).expect("PIV card in the managed reader");
    write_config(json!({"pkcs11Module": SOFTHSM_MODULE, "logLevel": "off", "cardBackend": "pkcs11"}));
    let (status, detail) = doctor(&pcscd);
    assert_eq!(status, "fail", "{detail}");
    assert!(
        detail.ends_with(&format!(
            "Fix: it is a PIV card: set \"cardBackend\" to \"auto\" (or \"piv\") in {}.",
            config_file.display()
        )),
        "{detail}"
    );
    write_config(json!({"pkcs11Module": SOFTHSM_MODULE, "logLevel": "off", "cardBackend": "auto"}));
    let (status, detail) = doctor(&pcscd);
    assert_eq!(status, "ok", "{detail}");
    assert_eq!(
        detail,
        format!(
            "Virtual PCD 00 01: PIV card {} (2 certificate(s)), driven over PC/SC (cardBackend auto)",
            piv.card_id
        )
    );
    pcscd.stop();
}

/// The real policy folder, not a temp root: in a private mount namespace (so other test runs and
/// the machine's own policies are untouched) a tmpfs over `/etc/chromium/policies/managed` holds a
/// blocklist, and doctor run without `--root` reads it where Chromium does.
#[test]
fn doctor_reads_the_real_chromium_policy_folder_in_a_private_mount_namespace() {
    assert!(crate::util::is_root(), "the deploy tests run as root (they chown files to other users)");
    let managed = Path::new("/etc/chromium/policies/managed");
    std::fs::create_dir_all(managed).expect("the policy folder exists (as the e2e tests make it)");
    let dir = tempfile::tempdir().expect("tmp");
    let script = format!(
        "mount -t tmpfs -o mode=0755 none {0} && printf '%s' '{1}' > {0}/block.json && chmod 0644 {0}/block.json && \
         exec \"$0\" doctor --json --browser chromium",
        managed.display(),
        json!({"NativeMessagingBlocklist": ["*"]})
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &script]).arg(host_bin());
    let template = host(dir.path(), &[]);
    cmd.env_clear().envs(template.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
    let (_, out, err) = run(&mut cmd);
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let policy = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == "policy chromium" && c["status"] == "fail")
        .cloned()
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(
        policy["detail"],
        "NativeMessagingBlocklist lists \"*\", so the browser will not start the host uk.nhs.cis_renew. Fix: add \
         \"uk.nhs.cis_renew\" to NativeMessagingAllowlist (in /etc/chromium/policies/managed/block.json)."
    );
    // The namespace is gone: the machine's folder never had the file.
    assert!(!managed.join("block.json").exists());
}
