//! Checking a PKCS#10 certificate request as EST `simplereenroll` receives it:
//! base64 body, DER CSR, a key the host makes (ECDSA P-384 signed ecdsa-with-SHA384,
//! ECDSA P-256 signed ecdsa-with-SHA256, RSA of 2048 bits or more signed
//! sha256WithRSAEncryption) whose signature verifies, and the role asked for in the
//! extensionRequest's key usage.

use std::fmt;

use base64::Engine;
use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use p384::ecdsa::signature::Verifier;
use p384::ecdsa::{DerSignature, VerifyingKey};
use x509_cert::ext::pkix::KeyUsage;
use x509_cert::request::{CertReq, ExtensionReq};

use crate::role::Role;

const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const ID_EXTENSION_REQ: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");
const ID_CE_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");

/// Why a request body is not an acceptable CSR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrError {
    /// The body is empty.
    Empty,
    /// The body is not base64.
    NotBase64,
    /// The bytes are not a DER PKCS#10 request.
    NotCsr(String),
    /// The key is none of the algorithms the host makes (ECDSA P-384 or P-256, RSA of 2048
    /// bits or more); says what it is.
    KeyAlgorithmNotAllowed(String),
    /// The request is not signed with the signature algorithm for its key; the OID used.
    SignatureAlgorithm(String),
    /// The signature does not verify with the request's key.
    BadSignature,
    /// The extensionRequest could not be read.
    BadExtensions(String),
    /// The key usage asks for both roles (or for neither).
    RoleAmbiguous,
}

impl CsrError {
    /// A stable machine-readable code for this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            CsrError::Empty | CsrError::NotBase64 | CsrError::NotCsr(_) => "bad-request-body",
            CsrError::KeyAlgorithmNotAllowed(_) => "key-algorithm-not-allowed",
            CsrError::SignatureAlgorithm(_) => "signature-algorithm",
            CsrError::BadSignature => "bad-signature",
            CsrError::BadExtensions(_) => "bad-extensions",
            CsrError::RoleAmbiguous => "role-ambiguous",
        }
    }
}

impl fmt::Display for CsrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsrError::Empty => write!(f, "The request body is empty; send a base64 PKCS#10 CSR."),
            CsrError::NotBase64 => write!(f, "The request body is not base64."),
            CsrError::NotCsr(e) => write!(f, "The request body is not a DER PKCS#10 CSR ({e})."),
            CsrError::KeyAlgorithmNotAllowed(what) => write!(
                f,
                "The CSR key is {what}; the card key must be ECDSA P-384 or P-256, or RSA of 2048 bits or more."
            ),
            CsrError::SignatureAlgorithm(oid) => write!(
                f,
                "The CSR is signed with {oid}; it must be signed with ecdsa-with-SHA384 (P-384), \
                 ecdsa-with-SHA256 (P-256) or sha256WithRSAEncryption (RSA)."
            ),
            CsrError::BadSignature => {
                write!(f, "The CSR signature does not verify with the CSR's public key.")
            }
            CsrError::BadExtensions(e) => {
                write!(f, "The CSR's extensionRequest cannot be read ({e}).")
            }
            CsrError::RoleAmbiguous => write!(
                f,
                "The CSR's key usage must name exactly one role: digitalSignature \
                 (authentication) or nonRepudiation (signing)."
            ),
        }
    }
}

impl std::error::Error for CsrError {}

/// A CSR that parsed, has a key of an algorithm the host makes and a valid signature.
#[derive(Debug, Clone)]
pub struct CheckedCsr {
    /// Subject Name, DER.
    pub subject_der: Vec<u8>,
    /// Subject Name, RFC 4514 text.
    pub subject: String,
    /// The requested key: the SEC1 point of a P-384 key, else its SubjectPublicKeyInfo DER
    /// (what the test bed's CA takes either way).
    pub public_key_sec1: Vec<u8>,
    /// The role from the extensionRequest's key usage; `None` if it has none.
    pub role: Option<Role>,
}

/// Decodes an EST body: base64 with any line breaks or spaces.
pub fn decode_body(body: &[u8]) -> Result<Vec<u8>, CsrError> {
    let compact: Vec<u8> = body.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err(CsrError::Empty);
    }
    base64::engine::general_purpose::STANDARD.decode(&compact).map_err(|_| CsrError::NotBase64)
}

/// Parses and checks a DER CSR.
pub fn check(der: &[u8]) -> Result<CheckedCsr, CsrError> {
    let req = CertReq::from_der(der).map_err(|e| CsrError::NotCsr(e.to_string()))?;
    let key = card_key(&req)?;
    if req.algorithm.oid != key.signature_algorithm() {
        return Err(CsrError::SignatureAlgorithm(req.algorithm.oid.to_string()));
    }
    verify_signature(&req, &key)?;
    let public_key_sec1 = key.for_ca(&req)?;
    let role = requested_role(&req)?;
    let subject_der = req.info.subject.to_der().map_err(|e| CsrError::NotCsr(e.to_string()))?;
    Ok(CheckedCsr { subject: req.info.subject.to_string(), subject_der, public_key_sec1, role })
}

/// The request's key, checked, and the signature algorithm it must use.
enum CardKey {
    P384(Vec<u8>),
    P256(p256::PublicKey),
    Rsa(rsa::PublicKey),
}

fn card_key(req: &CertReq) -> Result<CardKey, CsrError> {
    let spki = &req.info.public_key;
    if spki.algorithm.oid == RSA_ENCRYPTION {
        use p384::pkcs8::DecodePublicKey;
        use rsa::traits::PublicKeyParts;
        let der = spki.to_der().map_err(|e| CsrError::NotCsr(e.to_string()))?;
        let key = rsa::PublicKey::from_public_key_der(&der)
            .map_err(|_| CsrError::KeyAlgorithmNotAllowed("an RSA key that cannot be read".into()))?;
        if key.n().bit_width() < 2048 {
            return Err(CsrError::KeyAlgorithmNotAllowed(format!("RSA-{}", key.n().bit_width())));
        }
        return Ok(CardKey::Rsa(key));
    }
    if spki.algorithm.oid != ID_EC_PUBLIC_KEY {
        return Err(CsrError::KeyAlgorithmNotAllowed(format!("of algorithm {}", spki.algorithm.oid)));
    }
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    let point = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| CsrError::KeyAlgorithmNotAllowed("an unaligned bit string".into()))?;
    match curve {
        Some(SECP384R1) => {
            p384::PublicKey::from_sec1_bytes(point)
                .map_err(|_| CsrError::KeyAlgorithmNotAllowed("not a valid P-384 point".into()))?;
            Ok(CardKey::P384(point.to_vec()))
        }
        Some(SECP256R1) => p256::PublicKey::from_sec1_bytes(point)
            .map(CardKey::P256)
            .map_err(|_| CsrError::KeyAlgorithmNotAllowed("not a valid P-256 point".into())),
        Some(SECP521R1) => Err(CsrError::KeyAlgorithmNotAllowed("ECDSA P-521".into())),
        Some(other) => Err(CsrError::KeyAlgorithmNotAllowed(format!("on curve {other}"))),
        None => Err(CsrError::KeyAlgorithmNotAllowed("EC without a named curve".into())),
    }
}

impl CardKey {
    fn signature_algorithm(&self) -> ObjectIdentifier {
        match self {
            CardKey::P384(_) => ECDSA_WITH_SHA384,
            CardKey::P256(_) => ECDSA_WITH_SHA256,
            CardKey::Rsa(_) => SHA256_WITH_RSA,
        }
    }

    /// What the CA is given: the P-384 point, else the SubjectPublicKeyInfo.
    fn for_ca(&self, req: &CertReq) -> Result<Vec<u8>, CsrError> {
        match self {
            CardKey::P384(point) => Ok(point.clone()),
            _ => req.info.public_key.to_der().map_err(|e| CsrError::NotCsr(e.to_string())),
        }
    }
}

fn verify_signature(req: &CertReq, key: &CardKey) -> Result<(), CsrError> {
    let bits = req.signature.as_bytes().ok_or(CsrError::BadSignature)?;
    let tbs = req.info.to_der().map_err(|e| CsrError::NotCsr(e.to_string()))?;
    let verified = match key {
        CardKey::P384(point) => {
            let key = VerifyingKey::from_sec1_bytes(point)
                .map_err(|_| CsrError::KeyAlgorithmNotAllowed("not a valid P-384 point".into()))?;
            let sig = DerSignature::from_bytes(bits).map_err(|_| CsrError::BadSignature)?;
            key.verify(&tbs, &sig).is_ok()
        }
        CardKey::P256(public) => {
            let sig = p256::ecdsa::DerSignature::from_bytes(bits).map_err(|_| CsrError::BadSignature)?;
            p256::ecdsa::VerifyingKey::from(public).verify(&tbs, &sig).is_ok()
        }
        CardKey::Rsa(public) => {
            let sig = rsa::pkcs1v15::Signature::try_from(bits).map_err(|_| CsrError::BadSignature)?;
            rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public.clone()).verify(&tbs, &sig).is_ok()
        }
    };
    if verified {
        Ok(())
    } else {
        Err(CsrError::BadSignature)
    }
}

fn requested_role(req: &CertReq) -> Result<Option<Role>, CsrError> {
    let mut found = None;
    for attr in req.info.attributes.iter().filter(|a| a.oid == ID_EXTENSION_REQ) {
        for value in attr.values.iter() {
            let exts: ExtensionReq =
                value.decode_as().map_err(|e: der::Error| CsrError::BadExtensions(e.to_string()))?;
            for ext in exts.0.iter().filter(|e| e.extn_id == ID_CE_KEY_USAGE) {
                let ku = KeyUsage::from_der(ext.extn_value.as_bytes())
                    .map_err(|e| CsrError::BadExtensions(format!("key usage: {e}")))?;
                let role = Role::from_key_usage(&ku).ok_or(CsrError::RoleAmbiguous)?;
                if found.is_some_and(|r| r != role) {
                    return Err(CsrError::RoleAmbiguous);
                }
                found = Some(role);
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_body_accepts_wrapped_base64() {
        assert_eq!(decode_body(b"AAEC\r\nAw==\n"), Ok(vec![0, 1, 2, 3]));
    }

    #[test]
    fn decode_body_refuses_empty_and_garbage() {
        assert_eq!(decode_body(b" \n"), Err(CsrError::Empty));
        assert_eq!(decode_body(b"not base64!"), Err(CsrError::NotBase64));
    }

    #[test]
    fn check_refuses_non_der() {
        assert!(matches!(check(&[0x30, 0x03, 0x02]), Err(CsrError::NotCsr(_))));
    }

    #[test]
    fn check_accepts_a_p256_request_signed_with_sha256_and_hands_the_ca_its_spki() {
        use std::str::FromStr;
        use x509_cert::builder::{Builder, RequestBuilder};
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("key");
        let subject = x509_cert::name::Name::from_str("CN=Jane Smith,O=NHS Test,C=GB").expect("name");
        let builder = RequestBuilder::new(subject).expect("builder");
        let csr = builder.build::<_, p256::ecdsa::DerSignature>(&key).expect("csr").to_der().expect("der");
        let checked = check(&csr).expect("a P-256 request is accepted");
        assert_eq!(checked.public_key_sec1.first(), Some(&0x30), "SubjectPublicKeyInfo for the CA");
        // The same request claiming ecdsa-with-SHA384 is refused.
        let mut request = CertReq::from_der(&csr).expect("request");
        request.algorithm.oid = ECDSA_WITH_SHA384;
        let relabelled = request.to_der().expect("der");
        assert!(matches!(check(&relabelled), Err(CsrError::SignatureAlgorithm(_))));
    }
}
