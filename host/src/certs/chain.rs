//! Chaining a returned certificate to the trust anchors IT configured (`trustAnchors`), through
//! CA certificates that came in the same answer.
//!
//! A path is leaf <- zero or more intermediates from the answer <- one anchor. Every issuer on
//! it must be valid now; intermediates must say CA=true and keyCertSign, and every CA's
//! pathLenConstraint (anchors' too) must allow the intermediates below it. An anchor that
//! carries basicConstraints or keyUsage must also say CA and keyCertSign.
//!
//! Signatures: RSA (PKCS#1 v1.5 with SHA-256/384/512, and RSASSA-PSS with SHA-256/384/512,
//! MGF1 with the same hash; keys of 2048 bits or more) and ECDSA (P-256 and P-384 keys, with
//! SHA-256/384/512), verified with the `rsa`, `p256` and `p384` crates. Anything else fails the
//! check with a sentence that says so, rather than passing unchecked.
//!
//! Every failure is `CERTIFICATE_UNTRUSTED`, naming the certificate and what was wrong with it.

use crate::protocol::{ErrorCode, HostError};
use rsa::pkcs1::{RsaPssParamsOwned, TrailerField};
use rsa::pkcs8::DecodePublicKey as _;
use rsa::signature::hazmat::PrehashVerifier;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::path::Path;
use time::OffsetDateTime;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::Certificate;

/// Longest chain followed (leaf, intermediates, anchor).
pub const MAX_DEPTH: usize = 6;
/// Smallest RSA modulus accepted for a CA key.
pub const MIN_RSA_BITS: usize = 2048;

const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

fn untrusted(message: impl Into<String>) -> HostError {
    HostError::new(ErrorCode::CertificateUntrusted, message)
}

/// Reads anchor certificates from files: PEM (one or more certificates) or DER. A file that
/// others than administrators can change is refused ([`crate::fileperm`]).
pub fn load_anchors(paths: &[impl AsRef<Path>]) -> Result<Vec<Certificate>, String> {
    let mut anchors = Vec::new();
    for path in paths {
        let path = path.as_ref();
        crate::fileperm::check_admin_only(path).map_err(|problem| {
            format!(
                "{} is not used: it {problem}; only administrators may be able to change it",
                path.display()
            )
        })?;
        let bytes = std::fs::read(path).map_err(|e| format!("{} cannot be read ({e})", path.display()))?;
        anchors.extend(parse_anchor_file(path, &bytes)?);
    }
    Ok(anchors)
}

/// Parses one anchor file's bytes (PEM or DER); errors name `path`.
pub fn parse_anchor_file(path: &Path, bytes: &[u8]) -> Result<Vec<Certificate>, String> {
    let parsed = if bytes.starts_with(b"-----") || bytes.iter().take(64).all(u8::is_ascii) {
        Certificate::load_pem_chain(bytes)
    } else {
        Certificate::from_der(bytes).map(|c| vec![c])
    };
    match parsed {
        Ok(certificates) if !certificates.is_empty() => Ok(certificates),
        Ok(_) => Err(format!("{} holds no certificate", path.display())),
        Err(e) => Err(format!("{} is not a PEM or DER certificate ({e})", path.display())),
    }
}

/// Whether a certificate says it is a CA.
pub fn is_ca(certificate: &Certificate) -> bool {
    basic_constraints(certificate).is_some_and(|constraints| constraints.ca)
}

fn basic_constraints(certificate: &Certificate) -> Option<BasicConstraints> {
    certificate.tbs_certificate().get_extension::<BasicConstraints>().ok().flatten().map(|(_, c)| c)
}

fn key_usage(certificate: &Certificate) -> Option<KeyUsage> {
    certificate.tbs_certificate().get_extension::<KeyUsage>().ok().flatten().map(|(_, k)| k)
}

/// A certificate's subject, for messages.
pub fn subject_of(certificate: &Certificate) -> String {
    certificate.tbs_certificate().subject().to_string()
}

/// Whether `certificate` is inside its validity period at `now`.
pub fn valid_at(certificate: &Certificate, now: OffsetDateTime) -> bool {
    validity_problem(certificate, now).is_none()
}

/// "has expired" / "is not valid yet", or `None` inside the validity period.
pub fn validity_problem(certificate: &Certificate, now: OffsetDateTime) -> Option<&'static str> {
    let validity = certificate.tbs_certificate().validity();
    let now = std::time::SystemTime::from(now);
    if now < validity.not_before.to_system_time() {
        Some("is not valid yet")
    } else if now >= validity.not_after.to_system_time() {
        Some("has expired")
    } else {
        None
    }
}

/// Why `anchor` cannot serve as a trust anchor at `now`, if it cannot.
pub fn anchor_problem(anchor: &Certificate, now: OffsetDateTime) -> Option<String> {
    if let Some(problem) = validity_problem(anchor, now) {
        return Some(format!("the trust anchor '{}' {problem}", subject_of(anchor)));
    }
    if basic_constraints(anchor).is_some_and(|c| !c.ca) {
        return Some(format!("the trust anchor '{}' is not a CA certificate", subject_of(anchor)));
    }
    if key_usage(anchor).is_some_and(|k| !k.key_cert_sign()) {
        return Some(format!(
            "the trust anchor '{}' may not sign certificates (no keyCertSign)",
            subject_of(anchor)
        ));
    }
    None
}

/// Why `ca` cannot issue certificates as an intermediate at `now`, if it cannot.
fn intermediate_problem(ca: &Certificate, now: OffsetDateTime) -> Option<String> {
    let name = subject_of(ca);
    if let Some(problem) = validity_problem(ca, now) {
        return Some(format!("the intermediate CA '{name}' {problem}"));
    }
    if !is_ca(ca) {
        return Some(format!("the intermediate '{name}' is not a CA certificate"));
    }
    if !key_usage(ca).is_some_and(|k| k.key_cert_sign()) {
        return Some(format!("the intermediate CA '{name}' may not sign certificates (no keyCertSign)"));
    }
    None
}

/// Whether `ca`'s pathLenConstraint allows `below` intermediate CAs under it.
fn path_length_problem(ca: &Certificate, below: usize, what: &str) -> Option<String> {
    let limit = basic_constraints(ca).and_then(|c| c.path_len_constraint)?;
    (below > usize::from(limit)).then(|| {
        format!(
            "the path is too long: {what} '{}' allows {limit} intermediate CA(s) below it, the chain has {below}",
            subject_of(ca)
        )
    })
}

/// Checks that `issuer`'s key signed `certificate`.
pub fn signed_by(certificate: &Certificate, issuer: &Certificate) -> Result<(), String> {
    let algorithm = certificate.signature_algorithm();
    if certificate.tbs_certificate().signature() != algorithm {
        return Err("its inner and outer signature algorithms differ".into());
    }
    let signed = certificate.tbs_certificate().to_der().map_err(|e| e.to_string())?;
    let signature = certificate.signature().as_bytes().ok_or("its signature has unused bits")?;
    let spki = issuer.tbs_certificate().subject_public_key_info().to_der().map_err(|e| e.to_string())?;
    let oid = algorithm.oid;
    if let Some(hash) = ecdsa_hash(oid) {
        return verify_ecdsa(&spki, &digest(hash, &signed), signature);
    }
    if let Some(hash) = pkcs1_hash(oid) {
        let key = rsa_key(&spki)?;
        let hashed = digest(hash, &signed);
        let signature = rsa::pkcs1v15::Signature::try_from(signature).map_err(|e| e.to_string())?;
        let checked = match hash {
            Hash::Sha256 => {
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key).verify_prehash(&hashed, &signature)
            }
            Hash::Sha384 => {
                rsa::pkcs1v15::VerifyingKey::<Sha384>::new(key).verify_prehash(&hashed, &signature)
            }
            Hash::Sha512 => {
                rsa::pkcs1v15::VerifyingKey::<Sha512>::new(key).verify_prehash(&hashed, &signature)
            }
        };
        return checked.map_err(|_| "its signature does not verify".to_string());
    }
    if oid == RSA_PSS {
        let parameters = algorithm.parameters.as_ref().ok_or("its RSASSA-PSS parameters are missing")?;
        let (hash, salt) = pss_parameters(&parameters.to_der().map_err(|e| e.to_string())?)?;
        let key = rsa_key(&spki)?;
        let hashed = digest(hash, &signed);
        let signature = rsa::pss::Signature::try_from(signature).map_err(|e| e.to_string())?;
        let checked = match hash {
            Hash::Sha256 => rsa::pss::VerifyingKey::<Sha256>::new_with_salt_len(key, salt)
                .verify_prehash(&hashed, &signature),
            Hash::Sha384 => rsa::pss::VerifyingKey::<Sha384>::new_with_salt_len(key, salt)
                .verify_prehash(&hashed, &signature),
            Hash::Sha512 => rsa::pss::VerifyingKey::<Sha512>::new_with_salt_len(key, salt)
                .verify_prehash(&hashed, &signature),
        };
        return checked.map_err(|_| "its signature does not verify".to_string());
    }
    Err(format!("its signature algorithm {oid} is not supported"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

fn digest(hash: Hash, data: &[u8]) -> Vec<u8> {
    match hash {
        Hash::Sha256 => Sha256::digest(data).to_vec(),
        Hash::Sha384 => Sha384::digest(data).to_vec(),
        Hash::Sha512 => Sha512::digest(data).to_vec(),
    }
}

fn ecdsa_hash(oid: ObjectIdentifier) -> Option<Hash> {
    match oid {
        o if o == ECDSA_SHA256 => Some(Hash::Sha256),
        o if o == ECDSA_SHA384 => Some(Hash::Sha384),
        o if o == ECDSA_SHA512 => Some(Hash::Sha512),
        _ => None,
    }
}

fn pkcs1_hash(oid: ObjectIdentifier) -> Option<Hash> {
    match oid {
        o if o == RSA_SHA256 => Some(Hash::Sha256),
        o if o == RSA_SHA384 => Some(Hash::Sha384),
        o if o == RSA_SHA512 => Some(Hash::Sha512),
        _ => None,
    }
}

fn hash_by_oid(oid: ObjectIdentifier) -> Option<Hash> {
    match oid {
        o if o == SHA256 => Some(Hash::Sha256),
        o if o == SHA384 => Some(Hash::Sha384),
        o if o == SHA512 => Some(Hash::Sha512),
        _ => None,
    }
}

/// The hash and salt length of RSASSA-PSS parameters; SHA-1 (the ASN.1 default) is refused.
fn pss_parameters(der: &[u8]) -> Result<(Hash, usize), String> {
    let parameters = RsaPssParamsOwned::from_der(der)
        .map_err(|e| format!("its RSASSA-PSS parameters are malformed ({e})"))?;
    let hash = hash_by_oid(parameters.hash.oid)
        .ok_or_else(|| format!("its RSASSA-PSS hash {} is not supported", parameters.hash.oid))?;
    let mgf_hash = parameters.mask_gen.parameters.as_ref().map(|p| p.oid);
    if parameters.mask_gen.oid != MGF1 || mgf_hash != Some(parameters.hash.oid) {
        return Err("its RSASSA-PSS mask generation is not MGF1 with the signature's hash".into());
    }
    if parameters.trailer_field != TrailerField::BC {
        return Err("its RSASSA-PSS trailer field is not the standard one".into());
    }
    Ok((hash, usize::from(parameters.salt_len)))
}

fn rsa_key(spki: &[u8]) -> Result<rsa::PublicKey, String> {
    let key = rsa::PublicKey::from_public_key_der(spki)
        .map_err(|_| "its issuer's key is not an RSA key, but the signature is RSA".to_string())?;
    let bits = key.n().bit_width() as usize;
    if bits < MIN_RSA_BITS {
        return Err(format!("its issuer's RSA key has {bits} bits, fewer than {MIN_RSA_BITS}"));
    }
    Ok(key)
}

fn verify_ecdsa(spki: &[u8], hashed: &[u8], signature: &[u8]) -> Result<(), String> {
    let bad = |_| "its signature does not verify".to_string();
    if let Ok(key) = p384::ecdsa::VerifyingKey::from_public_key_der(spki) {
        let signature = p384::ecdsa::DerSignature::from_bytes(signature).map_err(|e| e.to_string())?;
        return key.verify_prehash(hashed, &signature).map_err(bad);
    }
    if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(spki) {
        let signature = p256::ecdsa::DerSignature::from_bytes(signature).map_err(|e| e.to_string())?;
        return key.verify_prehash(hashed, &signature).map_err(bad);
    }
    Err("its issuer's key is not a P-256 or P-384 key, but the signature is ECDSA".into())
}

/// Checks that `leaf` chains to one of `anchors`, through CA certificates in `intermediates`,
/// with every issuer valid at `now`. Fails with `CERTIFICATE_UNTRUSTED` naming what failed.
pub fn verify_chain(
    leaf: &Certificate,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    now: OffsetDateTime,
) -> Result<(), HostError> {
    let mut path = vec![leaf];
    build(&mut path, intermediates, anchors, now).map_err(|problem| {
        untrusted(format!("The certificate '{}' is not trusted: {problem}.", subject_of(leaf)))
    })
}

/// Extends `path` (leaf first) to an anchor; on failure, the most telling problem met.
fn build<'a>(
    path: &mut Vec<&'a Certificate>,
    intermediates: &'a [Certificate],
    anchors: &[Certificate],
    now: OffsetDateTime,
) -> Result<(), String> {
    let current = *path.last().unwrap_or_else(|| unreachable!("the path starts with the leaf"));
    let issuer_name = current.tbs_certificate().issuer();
    // Intermediates between the leaf and the CA being looked for.
    let below = path.len() - 1;
    let mut problem = None;
    for anchor in anchors.iter().filter(|a| a.tbs_certificate().subject() == issuer_name) {
        let outcome = signed_by(current, anchor)
            .map_err(|p| {
                format!("'{}' was not issued by the trust anchor of that name: {p}", subject_of(current))
            })
            .and_then(|()| anchor_problem(anchor, now).map_or(Ok(()), Err))
            .and_then(|()| path_length_problem(anchor, below, "the trust anchor").map_or(Ok(()), Err));
        match outcome {
            Ok(()) => return Ok(()),
            Err(p) => problem = Some(p),
        }
    }
    if path.len() >= MAX_DEPTH {
        return Err(problem.unwrap_or_else(|| format!("the chain is longer than {MAX_DEPTH} certificates")));
    }
    let candidates = intermediates
        .iter()
        .filter(|c| c.tbs_certificate().subject() == issuer_name && !path.contains(c))
        .collect::<Vec<_>>();
    for candidate in candidates {
        if let Err(p) = signed_by(current, candidate) {
            problem.get_or_insert(format!(
                "'{}' was not issued by the CA certificate '{}' that came with it: {p}",
                subject_of(current),
                subject_of(candidate)
            ));
            continue;
        }
        // A usable-looking candidate's own failure says more than an earlier mismatch.
        if let Some(p) = intermediate_problem(candidate, now)
            .or_else(|| path_length_problem(candidate, below, "the intermediate CA"))
        {
            problem = Some(p);
            continue;
        }
        path.push(candidate);
        match build(path, intermediates, anchors, now) {
            Ok(()) => return Ok(()),
            Err(p) => problem = Some(p),
        }
        path.pop();
    }
    Err(problem
        .unwrap_or_else(|| format!("no trusted certificate authority named '{issuer_name}' issued it")))
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
        assert_eq!(error.code, ErrorCode::CertificateUntrusted);
        assert!(error.message.contains("does not verify"), "{}", error.message);
        let error = verify_chain(&certificate, &[], &[], now).expect_err("no anchors");
        assert!(error.message.contains("no trusted certificate authority"), "{}", error.message);
        let later = now + time::Duration::days(30 * 365);
        let error = verify_chain(&certificate, &[], &anchors, later).expect_err("anchor expired");
        assert!(error.message.contains("has expired"), "{}", error.message);
    }

    #[test]
    fn pss_parameters_refuse_sha1_and_mismatched_mgf() {
        use rsa::pkcs1::RsaPssParams;
        let good = RsaPssParams::new::<Sha256>(32).to_der().expect("encode");
        assert_eq!(pss_parameters(&good).expect("sha256"), (Hash::Sha256, 32));
        let mut sha1 = RsaPssParams::new::<Sha256>(20);
        sha1.hash.oid = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
        let error = pss_parameters(&sha1.to_der().expect("encode")).expect_err("sha1");
        assert!(error.contains("not supported"), "{error}");
        let mut mixed = RsaPssParams::new::<Sha384>(48);
        mixed.hash.oid = SHA512;
        let error = pss_parameters(&mixed.to_der().expect("encode")).expect_err("mgf hash differs");
        assert!(error.contains("MGF1"), "{error}");
        assert!(pss_parameters(b"\x30\x03\x02\x01\x01").is_err());
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
