//! Chaining a returned certificate to the trust anchors IT configured (`trustAnchors`), through
//! CA certificates that came in the same answer.
//!
//! Supported signatures: ecdsa-with-SHA384 by a P-384 key (what the CA behind the dashboard and
//! the test CA use). Anything else fails the check with a sentence that says so, rather than
//! passing unchecked. With no anchors configured there is no chain check.

use crate::protocol::{ErrorCode, HostError};
use p384::ecdsa::signature::Verifier;
use p384::ecdsa::{DerSignature, VerifyingKey};
use p384::pkcs8::DecodePublicKey;
use std::path::Path;
use time::OffsetDateTime;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

/// ecdsa-with-SHA384 (1.2.840.10045.4.3.3).
const ECDSA_WITH_SHA384: x509_cert::der::oid::ObjectIdentifier = super::csr::ECDSA_WITH_SHA384;
/// Longest chain followed (leaf, intermediates, anchor).
pub const MAX_DEPTH: usize = 6;

fn invalid(message: impl Into<String>) -> HostError {
    HostError::new(ErrorCode::CertificateInvalid, message)
}

/// Reads anchor certificates from files: PEM (one or more certificates) or DER.
pub fn load_anchors(paths: &[impl AsRef<Path>]) -> Result<Vec<Certificate>, String> {
    let mut anchors = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| format!("{} cannot be read ({e})", path.display()))?;
        let parsed = if bytes.starts_with(b"-----") || bytes.iter().take(64).all(u8::is_ascii) {
            Certificate::load_pem_chain(&bytes)
        } else {
            Certificate::from_der(&bytes).map(|c| vec![c])
        };
        match parsed {
            Ok(certificates) if !certificates.is_empty() => anchors.extend(certificates),
            Ok(_) => return Err(format!("{} holds no certificate", path.display())),
            Err(e) => return Err(format!("{} is not a PEM or DER certificate ({e})", path.display())),
        }
    }
    Ok(anchors)
}

/// Whether a certificate says it is a CA.
pub fn is_ca(certificate: &Certificate) -> bool {
    certificate
        .tbs_certificate()
        .get_extension::<BasicConstraints>()
        .ok()
        .flatten()
        .is_some_and(|(_, constraints)| constraints.ca)
}

/// Checks that `issuer`'s key signed `certificate`.
fn signed_by(certificate: &Certificate, issuer: &Certificate) -> Result<(), String> {
    if certificate.signature_algorithm().oid != ECDSA_WITH_SHA384 {
        return Err(format!(
            "its signature algorithm {} is not supported",
            certificate.signature_algorithm().oid
        ));
    }
    let spki = issuer.tbs_certificate().subject_public_key_info().to_der().map_err(|e| e.to_string())?;
    let key =
        VerifyingKey::from_public_key_der(&spki).map_err(|_| "its issuer's key is not P-384".to_string())?;
    let signed = certificate.tbs_certificate().to_der().map_err(|e| e.to_string())?;
    let signature = certificate.signature().as_bytes().ok_or("its signature has unused bits")?;
    let signature = DerSignature::from_bytes(signature).map_err(|e| e.to_string())?;
    key.verify(&signed, &signature).map_err(|_| "its signature does not verify".to_string())
}

fn valid_at(certificate: &Certificate, now: OffsetDateTime) -> bool {
    let validity = certificate.tbs_certificate().validity();
    let now = std::time::SystemTime::from(now);
    validity.not_before.to_system_time() <= now && now < validity.not_after.to_system_time()
}

/// Checks that `leaf` chains to one of `anchors`, through CA certificates in `intermediates`.
pub fn verify_chain(
    leaf: &Certificate,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    now: OffsetDateTime,
) -> Result<(), HostError> {
    let mut current = leaf;
    for _ in 0..MAX_DEPTH {
        let issuer_name = current.tbs_certificate().issuer();
        let mut last_problem = None;
        for anchor in anchors.iter().filter(|a| a.tbs_certificate().subject() == issuer_name) {
            match signed_by(current, anchor) {
                Ok(()) => return Ok(()),
                Err(problem) => last_problem = Some(problem),
            }
        }
        let next = intermediates.iter().find(|c| {
            c.tbs_certificate().subject() == issuer_name
                && is_ca(c)
                && valid_at(c, now)
                && signed_by(current, c).is_ok()
        });
        match next {
            Some(intermediate) => current = intermediate,
            None => {
                let detail =
                    last_problem.unwrap_or_else(|| format!("no trusted CA named '{issuer_name}' issued it"));
                return Err(invalid(format!(
                    "The new certificate does not chain to a trusted certificate authority: {detail}."
                )));
            }
        }
    }
    Err(invalid("The new certificate's chain is longer than the host follows."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cis_renew_testbed::{IssueRequest, Role, TestCa};
    use p384::elliptic_curve::sec1::ToSec1Point;

    fn leaf(ca: &TestCa) -> Certificate {
        let key = p384::SecretKey::from_slice(&[9u8; 48]).expect("key").public_key();
        let now = OffsetDateTime::now_utc();
        let der = ca
            .issue(&IssueRequest {
                subject_der: cis_renew_testbed::subject_der("CN=Leaf").expect("subject"),
                public_key_sec1: key.to_sec1_point(false).as_bytes().to_vec(),
                role: Role::Authentication,
                not_before: now - time::Duration::minutes(1),
                not_after: now + time::Duration::days(30),
                serial: None,
            })
            .expect("issue");
        Certificate::from_der(&der).expect("leaf")
    }

    #[test]
    fn verify_chain_accepts_the_issuing_anchor_and_refuses_another() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = TestCa::create(&dir.path().join("a"), "Chain CA").expect("ca");
        let other = TestCa::create(&dir.path().join("b"), "Chain CA").expect("other ca with the same name");
        let anchors = load_anchors(&[ca.cert_pem_path()]).expect("anchors");
        let others = load_anchors(&[other.cert_pem_path()]).expect("anchors");
        let certificate = leaf(&ca);
        let now = OffsetDateTime::now_utc();
        verify_chain(&certificate, &[], &anchors, now).expect("chains");
        let error = verify_chain(&certificate, &[], &others, now).expect_err("same name, other key");
        assert_eq!(error.code, ErrorCode::CertificateInvalid);
        assert!(error.message.contains("does not verify"), "{}", error.message);
        let error = verify_chain(&certificate, &[], &[], now).expect_err("no anchors");
        assert!(error.message.contains("no trusted CA"), "{}", error.message);
    }

    #[test]
    fn load_anchors_reads_pem_and_der_and_names_bad_files() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = TestCa::create(dir.path(), "Anchor CA").expect("ca");
        let der_path = dir.path().join("ca.der");
        std::fs::write(&der_path, ca.cert_der()).expect("write");
        let loaded = load_anchors(&[ca.cert_pem_path(), der_path]).expect("both");
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded[0], loaded[1]);
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .expect("write");
        let error = load_anchors(&[bad]).expect_err("bad");
        assert!(error.contains("bad.pem"), "{error}");
        assert!(load_anchors(&[dir.path().join("missing.pem")]).is_err());
    }
}
