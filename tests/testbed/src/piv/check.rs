//! Independent checks of a PIV card in a reader: what the project's own code did to a card is
//! judged by clients nobody here wrote. Debian's yubico-piv-tool reads the status (CHUID, slots,
//! PIN tries) and the certificates and runs `test-signature` on 9A and 9C; OpenSC's PIV driver
//! (`pkcs11-tool` with opensc-pkcs11.so) signs with each key, and openssl verifies each
//! signature against the slot's certificate.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::{Deserialize, Serialize};
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

use super::Slot;
use crate::error::{Error, Result};
use crate::readers::{Pcscd, READERS};
use crate::util::{b64, show};

/// OpenSC's PKCS#11 module on Debian.
pub const OPENSC_MODULE: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";

/// OpenSC with only the PIV driver and no caches: a cached certificate would hide a renewal.
const OPENSC_CONF: &str = "app default {\n  card_drivers = PIV-II;\n  framework pkcs15 {\n    \
                           use_file_caching = no;\n    use_pin_caching = false;\n  }\n}\n";

/// What the independent clients found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PivReport {
    /// The reader's name.
    pub reader: String,
    /// The CHUID's GUID in hex, as yubico-piv-tool's status shows it.
    pub card_id: Option<String>,
    /// PIN tries left as yubico-piv-tool's status shows them after the checks. `None` when
    /// the PIN is still verified: PC/SC clients leave the card unreset, so the login outlives
    /// the client (as on a real card), and status then shows no count.
    pub pin_tries_left: Option<u32>,
    /// 9A and 9C, each if a certificate was found there.
    pub slots: Vec<SlotReport>,
    /// Every check that failed, with the tool's words.
    pub problems: Vec<String>,
}

impl PivReport {
    /// Both slots have certificates and every check passed.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
            && Slot::ALL.iter().all(|s| self.slot(*s).is_some_and(|r| r.test_signature && r.opensc_signature))
    }

    /// The report for `slot`.
    pub fn slot(&self, slot: Slot) -> Option<&SlotReport> {
        self.slots.iter().find(|r| r.slot == slot)
    }
}

/// One slot's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlotReport {
    /// `9a` or `9c`.
    pub slot: Slot,
    /// yubico-piv-tool's name for the key algorithm (`ECCP384`, `ECCP256`, `RSA2048`).
    pub algorithm: String,
    /// The certificate read with yubico-piv-tool, DER (base64 in JSON).
    #[serde(with = "b64")]
    pub cert_der: Vec<u8>,
    /// `yubico-piv-tool -a verify-pin -a test-signature` passed.
    pub test_signature: bool,
    /// A signature made through OpenSC's PKCS#11 module verified with openssl against the
    /// certificate.
    pub opensc_signature: bool,
}

/// Checks the PIV card in `bed`'s reader `reader` with PIN `pin`.
pub fn piv_check(bed: &Pcscd, reader: usize, pin: &str) -> Result<PivReport> {
    run(&bed.socket(), reader, pin)
}

/// [`piv_check`] given the pcscd socket (`cis-testbed piv check`).
pub fn run(socket: &Path, reader: usize, pin: &str) -> Result<PivReport> {
    let name =
        *READERS.get(reader).ok_or_else(|| Error::Invalid(format!("reader {reader} does not exist")))?;
    let tmp = tempfile::Builder::new()
        .prefix("cis-piv-check-")
        .tempdir()
        .map_err(|e| Error::io("creating a temp dir for the PIV checks", e))?;
    let work = Work { socket: socket.to_path_buf(), reader: name, dir: tmp.path().to_path_buf() };
    std::fs::write(work.file("opensc.conf"), OPENSC_CONF).map_err(|e| Error::io("writing opensc.conf", e))?;
    std::fs::write(work.file("data"), b"cis-renew PIV check\n")
        .map_err(|e| Error::io("writing the data file", e))?;

    let mut report = PivReport {
        reader: name.to_string(),
        card_id: None,
        pin_tries_left: None,
        slots: Vec::new(),
        problems: Vec::new(),
    };
    let status = work.yubico(&["-a", "status"])?;
    if !status.status.success() {
        report.problems.push(format!("yubico-piv-tool -a status failed: {}", said(&status)));
        return Ok(report);
    }
    let status_text = String::from_utf8_lossy(&status.stdout).into_owned();
    report.card_id = status_line(&status_text, "CHUID").and_then(guid_of_chuid);
    // One VERIFY first: a wrong PIN then costs one try, not one per tool and slot.
    let verify = work.yubico(&["-a", "verify-pin", &format!("--pin={pin}")])?;
    if !verify.status.success() {
        report.problems.push(format!("the card refused the PIN: {}", said(&verify)));
        let after = work.yubico(&["-a", "status"])?;
        report.pin_tries_left = status_line(&String::from_utf8_lossy(&after.stdout), "PIN tries left")
            .and_then(|v| v.parse().ok());
        return Ok(report);
    }

    for slot in Slot::ALL {
        let Some(algorithm) = slot_algorithm(&status_text, slot) else {
            report.problems.push(format!("yubico-piv-tool -a status lists no certificate in slot {slot}"));
            continue;
        };
        match work.check_slot(slot, &algorithm, pin, &mut report.problems)? {
            Some(r) => report.slots.push(r),
            None => continue,
        }
    }
    let after = work.yubico(&["-a", "status"])?;
    report.pin_tries_left =
        status_line(&String::from_utf8_lossy(&after.stdout), "PIN tries left").and_then(|v| v.parse().ok());
    Ok(report)
}

struct Work {
    socket: PathBuf,
    reader: &'static str,
    dir: PathBuf,
}

impl Work {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn tool(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("PCSCLITE_CSOCK_NAME", &self.socket).env("OPENSC_CONF", self.file("opensc.conf"));
        cmd
    }

    fn yubico(&self, args: &[&str]) -> Result<Output> {
        let mut cmd = self.tool("yubico-piv-tool");
        cmd.arg("-r").arg(self.reader).args(args);
        output(&mut cmd)
    }

    fn check_slot(
        &self,
        slot: Slot,
        algorithm: &str,
        pin: &str,
        problems: &mut Vec<String>,
    ) -> Result<Option<SlotReport>> {
        let pem = self.file(&format!("{slot}.pem"));
        let read =
            self.yubico(&["-a", "read-certificate", "-s", &slot.to_string(), "-o", &pem.to_string_lossy()])?;
        let cert = std::fs::read(&pem).ok().and_then(|p| Certificate::from_pem(p).ok());
        let Some(cert) = cert.filter(|_| read.status.success()) else {
            problems
                .push(format!("slot {slot}: yubico-piv-tool -a read-certificate failed: {}", said(&read)));
            return Ok(None);
        };
        let cert_der = cert.to_der().map_err(|e| Error::crypto("encoding a certificate", e))?;

        let test = self.yubico(&[
            "-a",
            "verify-pin",
            &format!("--pin={pin}"),
            "-a",
            "test-signature",
            "-s",
            &slot.to_string(),
            "-H",
            // The card signs only a digest as long as the curve's order (P-256: 32 bytes).
            if algorithm == "ECCP256" { "SHA256" } else { "SHA384" },
            "-i",
            &pem.to_string_lossy(),
        ])?;
        let test_signature = test.status.success();
        if !test_signature {
            problems.push(format!("slot {slot}: yubico-piv-tool -a test-signature failed: {}", said(&test)));
        }
        let opensc_signature = self.opensc_sign_and_verify(slot, &cert_der, pin, problems)?;
        Ok(Some(SlotReport {
            slot,
            algorithm: algorithm.to_string(),
            cert_der,
            test_signature,
            opensc_signature,
        }))
    }

    /// Signs the data file through OpenSC (`pkcs11-tool --sign`) with the slot's key and
    /// verifies the signature with `openssl dgst -verify` and the certificate's public key.
    fn opensc_sign_and_verify(
        &self,
        slot: Slot,
        cert_der: &[u8],
        pin: &str,
        problems: &mut Vec<String>,
    ) -> Result<bool> {
        let cert = Certificate::from_der(cert_der).map_err(|e| Error::crypto("decoding a certificate", e))?;
        let spki = cert.tbs_certificate().subject_public_key_info();
        let rsa = spki.algorithm.oid.to_string() == "1.2.840.113549.1.1.1";
        // EC keys sign a digest as long as the curve's order: P-256 SHA-256, P-384 SHA-384.
        let p256 = !rsa && spki.subject_public_key.raw_bytes().len() == 65;
        let hash = if p256 { "sha256" } else { "sha384" };
        let (mechanism, input) = if rsa {
            ("SHA384-RSA-PKCS", self.file("data"))
        } else {
            let digest = self.file(&format!("{slot}.digest"));
            let mut dgst = Command::new("openssl");
            dgst.args(["dgst", &format!("-{hash}"), "-binary", "-out"]).arg(&digest).arg(self.file("data"));
            let out = output(&mut dgst)?;
            if !out.status.success() {
                return Err(Error::Invalid(format!("openssl dgst failed: {}", said(&out))));
            }
            ("ECDSA", digest)
        };
        let signature = self.file(&format!("{slot}.sig"));
        let mut sign = self.tool("pkcs11-tool");
        sign.args(["--module", OPENSC_MODULE, "--slot-description", self.reader, "--login"])
            .arg(format!("--pin={pin}"))
            .args([
                "--sign",
                "--id",
                slot.opensc_id(),
                "-m",
                mechanism,
                "--signature-format",
                "openssl",
                "-i",
            ])
            .arg(&input)
            .arg("-o")
            .arg(&signature);
        let signed = output(&mut sign)?;
        if !signed.status.success() {
            problems.push(format!("slot {slot}: pkcs11-tool --sign (OpenSC) failed: {}", said(&signed)));
            return Ok(false);
        }
        let public = self.file(&format!("{slot}.pub.der"));
        std::fs::write(&public, spki.to_der().map_err(|e| Error::crypto("encoding a public key", e))?)
            .map_err(|e| Error::io("writing a public key", e))?;
        let mut verify = Command::new("openssl");
        verify
            .args(["dgst", &format!("-{hash}"), "-verify"])
            .arg(&public)
            .args(["-keyform", "DER", "-signature"])
            .arg(&signature)
            .arg(self.file("data"));
        let verified = output(&mut verify)?;
        if !verified.status.success() {
            problems.push(format!(
                "slot {slot}: OpenSC's signature does not verify against the certificate: {}",
                said(&verified)
            ));
        }
        Ok(verified.status.success())
    }
}

fn output(cmd: &mut Command) -> Result<Output> {
    cmd.output().map_err(|e| Error::io(format!("running `{}`", show(cmd)), e))
}

fn said(out: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    format!("{} ({})", text.trim(), out.status)
}

/// The value of `Name:\tvalue` in yubico-piv-tool's status.
fn status_line<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim))
}

/// The algorithm under `Slot 9a:` in the status (present only when the slot has a certificate).
fn slot_algorithm(text: &str, slot: Slot) -> Option<String> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with(&format!("Slot {slot}:")));
    lines.next()?;
    lines
        .take_while(|l| l.starts_with('\t'))
        .find_map(|l| l.trim().strip_prefix("Algorithm:").map(|a| a.trim().to_string()))
}

/// The GUID (tag 34) inside the CHUID's hex.
fn guid_of_chuid(chuid_hex: &str) -> Option<String> {
    let bytes = crate::util::unhex(chuid_hex).ok()?;
    let guid = super::apdu::find(&bytes, 0x34).ok()??;
    Some(crate::util::hex(guid))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Version:\t6.6.6\nCHUID:\t3019d4e739d821086c1084210d8360d8210842108421804210c3f33410faaa809a744c4b2fbe5d0cab64fd37b0350832303430313233313e00fe00\n\
        Slot 9a:\t\n\tAlgorithm:\tECCP384\n\tSubject DN:\tCN=Jane Smith\nPIN tries left:\t3\n";

    #[test]
    fn status_parsing_finds_guid_slots_and_tries() {
        let chuid = status_line(STATUS, "CHUID").and_then(guid_of_chuid);
        assert_eq!(chuid.as_deref(), Some("faaa809a744c4b2fbe5d0cab64fd37b0"));
        assert_eq!(slot_algorithm(STATUS, Slot::Authentication).as_deref(), Some("ECCP384"));
        assert_eq!(slot_algorithm(STATUS, Slot::Signature), None);
        assert_eq!(status_line(STATUS, "PIN tries left"), Some("3"));
    }
}
