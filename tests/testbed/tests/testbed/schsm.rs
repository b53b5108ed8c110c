//! The virtual SmartCard-HSM, proven with OpenSC's own tools before the host touches it:
//! `pkcs15-tool -D`, `pkcs11-tool` (--test, --keypairgen, --sign verified with openssl,
//! --write-object, --delete-object) and wrong-PIN counting as `pkcs11-tool` reports it.
//! Then the fault hooks, each seen through OpenSC.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cis_renew_testbed::schsm::{self, Faults, KeyAlg, SchsmSpec, OPENSC_MODULE};
use cis_renew_testbed::{CardSpec, Pcscd, Role, TestCa};

const PIN: &str = "123456";

struct Card {
    _dir: tempfile::TempDir,
    path: PathBuf,
    ca: TestCa,
    dir: PathBuf,
}

fn provision(alg: KeyAlg) -> Card {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::create(&dir.path().join("ca"), "SC-HSM Test CA").expect("CA");
    let path = dir.path().join("card.json");
    let mut card = CardSpec::new(schsm::DEFAULT_LABEL, 45, 400);
    card.so_pin = schsm::DEFAULT_SO_PIN.to_string();
    let made = schsm::provision(&path, &ca, &SchsmSpec { card, alg }).expect("provision through OpenSC");
    assert_eq!(made.certs.len(), 2);
    assert_eq!(made.certs[0].role, Role::Authentication);
    Card { dir: dir.path().to_path_buf(), _dir: dir, path, ca }
}

fn bed_with(card: &Card, faults: &Faults) -> Pcscd {
    let mut bed = Pcscd::start().expect("pcscd");
    bed.insert_schsm(1, &card.path, faults).expect("insert the SmartCard-HSM");
    bed
}

fn tool(bed: &Pcscd, program: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    if program == "pkcs11-tool" {
        cmd.args(["--module", OPENSC_MODULE, "--slot-index", "1"]);
    }
    cmd.args(args);
    bed.configure_opensc(&mut cmd);
    cmd.output().unwrap_or_else(|e| panic!("running {program}: {e}"))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn ok(bed: &Pcscd, program: &str, args: &[&str]) -> String {
    let out = tool(bed, program, args);
    assert!(out.status.success(), "{program} {args:?} failed:\n{}", text(&out));
    text(&out)
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}:\n{}", text(&out));
    text(&out)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

fn file(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

#[test]
fn a_provisioned_card_is_what_opensc_expects_and_both_pairs_work() {
    let card = provision(KeyAlg::P384);
    let bed = bed_with(&card, &Faults::default());

    let name = ok(&bed, "opensc-tool", &["--reader", "1", "--name"]);
    assert!(name.contains("SmartCard-HSM version 3.5"), "OpenSC's sc-hsm driver took the card: {name}");
    let dump = ok(&bed, "pkcs15-tool", &["-D", "--reader", "1"]);
    assert!(dump.contains("www.CardContact.de"), "{dump}");
    assert_eq!(dump.matches("Private EC Key").count(), 2, "{dump}");
    assert_eq!(dump.matches("X.509 Certificate").count(), 2, "{dump}");
    assert!(dump.contains("UserPIN"), "{dump}");

    let contents = schsm::inspect(&bed, 1, PIN).expect("inspect through OpenSC");
    assert!(contents.all_pairs_verify(), "{:?}", contents.pairs);
    assert_eq!(contents.pairs.len(), 2);
    assert!(contents.certificate(Role::Signing).is_some());
    let key = contents.private_keys().next().expect("a private key");
    assert_eq!((key.sensitive, key.extractable, key.sign), (Some(true), Some(false), Some(true)));

    // The whole PKCS#11 self-test, logged in (it signs and verifies with each key).
    let test = ok(&bed, "pkcs11-tool", &["--login", "--pin", PIN, "--test"]);
    assert!(test.contains("No errors"), "{test}");
}

#[test]
fn an_rsa_card_passes_pkcs11_tools_signature_tests() {
    let card = provision(KeyAlg::Rsa2048);
    let bed = bed_with(&card, &Faults::default());
    let test = ok(&bed, "pkcs11-tool", &["--login", "--pin", PIN, "--test"]);
    // pkcs11-tool checks RSA signatures (raw RSA on this card, padding by OpenSC) with OpenSSL.
    assert!(test.contains("No errors"), "{test}");
    assert!(test.contains("RSA-PKCS: OK"), "{test}");
}

/// Generates a pair with pkcs11-tool, signs with it, and verifies with openssl.
fn keypair_sign_verify(bed: &Pcscd, dir: &Path, key_type: &str, id: &str, mechanism: &str, digest: &str) {
    ok(
        bed,
        "pkcs11-tool",
        &["--login", "--pin", PIN, "--keypairgen", "--key-type", key_type, "--id", id, "--label", id],
    );
    let (data, sig, pubkey) =
        (file(dir, "data"), file(dir, &format!("{id}.sig")), file(dir, &format!("{id}.pub")));
    std::fs::write(&data, b"signed on the virtual SmartCard-HSM").expect("data");
    ok(
        bed,
        "pkcs11-tool",
        &[
            "--login",
            "--pin",
            PIN,
            "--sign",
            "--id",
            id,
            "-m",
            mechanism,
            "--signature-format",
            "openssl",
            "-i",
            &data,
            "-o",
            &sig,
        ],
    );
    if key_type == "EC:secp384r1" {
        // pkcs11-tool 0.23 cannot export P-384 public keys ("cannot create EVP_PKEY"), so
        // build the SubjectPublicKeyInfo from the CKA_EC_POINT it lists.
        // (--list-objects ignores --id: pick the object's block by its ID line.)
        let listed = ok(bed, "pkcs11-tool", &["--list-objects", "--type", "pubkey"]);
        let block = listed
            .split("Public Key Object")
            .find(|b| b.lines().any(|l| l.trim() == format!("ID:         {id}")))
            .expect("the new public key is listed");
        let point = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("EC_POINT:"))
            .and_then(|h| h.trim().strip_prefix("0461"))
            .map(str::to_string)
            .expect("an EC_POINT line");
        let spki = format!("3076301006072a8648ce3d020106052b81040022036200{point}");
        std::fs::write(&pubkey, unhex(&spki)).expect("public key file");
    } else {
        ok(bed, "pkcs11-tool", &["--read-object", "--type", "pubkey", "--id", id, "-o", &pubkey]);
    }
    let verified =
        openssl(&["dgst", digest, "-keyform", "DER", "-verify", &pubkey, "-signature", &sig, &data]);
    assert!(verified.contains("Verified OK"), "{key_type}: {verified}");
}

#[test]
fn keypairgen_sign_and_openssl_verify_for_p256_p384_and_rsa2048() {
    let card = provision(KeyAlg::P256);
    let bed = bed_with(&card, &Faults::default());
    keypair_sign_verify(&bed, &card.dir, "EC:prime256v1", "a1", "ECDSA-SHA256", "-sha256");
    keypair_sign_verify(&bed, &card.dir, "EC:secp384r1", "a2", "ECDSA-SHA384", "-sha384");
    keypair_sign_verify(&bed, &card.dir, "rsa:2048", "a3", "SHA256-RSA-PKCS", "-sha256");
    let listed = ok(&bed, "pkcs11-tool", &["--login", "--pin", PIN, "--list-objects", "--type", "privkey"]);
    assert_eq!(listed.matches("Private Key Object").count(), 5, "two provisioned + three new: {listed}");
}

#[test]
fn write_object_and_delete_object_change_what_the_card_holds() {
    let card = provision(KeyAlg::P384);
    let bed = bed_with(&card, &Faults::default());
    let pem = card.ca.cert_pem_path();
    let der = file(&card.dir, "ca.der");
    openssl(&["x509", "-in", &pem.to_string_lossy(), "-outform", "DER", "-out", &der]);

    ok(
        &bed,
        "pkcs11-tool",
        &[
            "--login",
            "--pin",
            PIN,
            "--write-object",
            &der,
            "--type",
            "cert",
            "--id",
            "ca01",
            "--label",
            "Test CA",
        ],
    );
    let listed = ok(&bed, "pkcs11-tool", &["--list-objects", "--type", "cert"]);
    assert!(listed.contains("Test CA"), "{listed}");
    assert_eq!(listed.matches("Certificate Object").count(), 3, "{listed}");

    ok(&bed, "pkcs11-tool", &["--login", "--pin", PIN, "--delete-object", "--type", "cert", "--id", "ca01"]);
    let listed = ok(&bed, "pkcs11-tool", &["--list-objects", "--type", "cert"]);
    assert!(!listed.contains("Test CA"), "{listed}");
    assert_eq!(listed.matches("Certificate Object").count(), 2, "{listed}");
}

#[test]
fn wrong_pins_count_down_to_locked_as_pkcs11_tool_reports_and_the_count_survives_removal() {
    let card = provision(KeyAlg::P384);
    let mut bed = bed_with(&card, &Faults::default());
    let flags = |bed: &Pcscd| ok(bed, "pkcs11-tool", &["--list-token-slots"]);
    assert!(!flags(&bed).contains("count low"), "{}", flags(&bed));

    let wrong = tool(&bed, "pkcs11-tool", &["--login", "--pin", "654321", "--list-objects"]);
    assert!(text(&wrong).contains("CKR_PIN_INCORRECT"), "{}", text(&wrong));
    assert!(flags(&bed).contains("user PIN count low"), "{}", flags(&bed));

    let wrong = tool(&bed, "pkcs11-tool", &["--login", "--pin", "654321", "--list-objects"]);
    assert!(text(&wrong).contains("CKR_PIN_INCORRECT"), "{}", text(&wrong));
    assert!(flags(&bed).contains("final user PIN try"), "{}", flags(&bed));

    // The tries live on the card: out and back in, still one left.
    bed.remove_card(1).expect("remove");
    bed.insert_schsm(1, &card.path, &Faults::default()).expect("re-insert");
    assert!(flags(&bed).contains("final user PIN try"), "{}", flags(&bed));

    let wrong = tool(&bed, "pkcs11-tool", &["--login", "--pin", "654321", "--list-objects"]);
    assert!(!wrong.status.success());
    assert!(flags(&bed).contains("user PIN locked"), "{}", flags(&bed));
    let right = tool(&bed, "pkcs11-tool", &["--login", "--pin", PIN, "--list-objects"]);
    assert!(text(&right).contains("CKR_PIN_LOCKED"), "the right PIN no longer opens it: {}", text(&right));

    // The SO PIN unblocks it (C_InitPIN = RESET RETRY COUNTER).
    ok(
        &bed,
        "pkcs11-tool",
        &["--login", "--login-type", "so", "--so-pin", schsm::DEFAULT_SO_PIN, "--init-pin", "--new-pin", PIN],
    );
    assert!(!flags(&bed).contains("locked"), "{}", flags(&bed));
    ok(&bed, "pkcs11-tool", &["--login", "--pin", PIN, "--list-objects"]);
}

#[test]
fn a_failed_apdu_a_tear_memory_full_and_a_slow_key_generation_each_show_through_opensc() {
    let card = provision(KeyAlg::P256);

    // Memory full: key generation is refused and nothing is left behind.
    let bed = bed_with(&card, &Faults { memory_full: true, ..Faults::default() });
    let gen = tool(
        &bed,
        "pkcs11-tool",
        &["--login", "--pin", PIN, "--keypairgen", "--key-type", "EC:prime256v1", "--id", "b1"],
    );
    assert!(!gen.status.success(), "keygen must fail on a full card: {}", text(&gen));
    let keys = ok(&bed, "pkcs11-tool", &["--login", "--pin", PIN, "--list-objects", "--type", "privkey"]);
    assert_eq!(keys.matches("Private Key Object").count(), 2, "{keys}");
    drop(bed);

    // A slow key generation takes at least its delay.
    let bed = bed_with(&card, &Faults { keygen_delay_ms: 1500, ..Faults::default() });
    let start = Instant::now();
    ok(
        &bed,
        "pkcs11-tool",
        &["--login", "--pin", PIN, "--keypairgen", "--key-type", "EC:prime256v1", "--id", "b2"],
    );
    assert!(start.elapsed() >= Duration::from_millis(1500), "{:?}", start.elapsed());
    drop(bed);

    // A failed APDU: find which APDU a signature is, then fail exactly that one.
    let data = file(&card.dir, "data");
    std::fs::write(&data, [7u8; 32]).expect("data");
    let sign = ["--login", "--pin", PIN, "--sign", "--id", "b2", "-m", "ECDSA", "-i", data.as_str()];
    let bed = bed_with(&card, &Faults::default());
    assert_eq!(bed.apdu_count(1), 0, "no APDU before a client asks");
    ok(&bed, "pkcs11-tool", &sign);
    let log = std::fs::read_to_string(bed.apdu_log(1)).expect("APDU log");
    let n = log.lines().position(|l| l.contains(" 80 68 ")).expect("a SIGN APDU") as u64 + 1;
    drop(bed);
    // (Not 6982: OpenSC answers that by verifying the PIN again and retrying.)
    let bed = bed_with(&card, &Faults { fail_apdu: Some((n, 0x6F00)), ..Faults::default() });
    // OpenSC sends a failed SIGN once more: the operation still succeeds, on APDU n+1.
    ok(&bed, "pkcs11-tool", &sign);
    let log = std::fs::read_to_string(bed.apdu_log(1)).expect("APDU log");
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines[n as usize - 1].contains(" 80 68 ") && lines[n as usize - 1].contains("-> 6F00 "), "{log}");
    assert!(lines[n as usize].contains(" 80 68 ") && lines[n as usize].contains("-> 9000 "), "{log}");
    drop(bed);

    // A tear after the 3rd APDU: the card leaves the reader and PC/SC sees it gone.
    let mut bed = bed_with(&card, &Faults { tear_after: Some(3), ..Faults::default() });
    let _ = tool(&bed, "pkcs11-tool", &["--list-objects"]);
    bed.wait_absent(1).expect("the torn card leaves the reader");
    assert_eq!(bed.apdu_count(1), 3, "{}", std::fs::read_to_string(bed.apdu_log(1)).unwrap_or_default());
    // Back in without faults, it works and kept its keys.
    bed.insert_schsm(1, &card.path, &Faults::default()).expect("re-insert");
    let keys = ok(&bed, "pkcs11-tool", &["--login", "--pin", PIN, "--list-objects", "--type", "privkey"]);
    assert_eq!(keys.matches("Private Key Object").count(), 3, "{keys}");
}
