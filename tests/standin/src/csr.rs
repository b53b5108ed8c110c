//! Checking a PKCS#10 certificate request as EST `simplereenroll` receives it:
//! base64 body, DER CSR, ECDSA P-384 key, ecdsa-with-SHA384 signature that
//! verifies, and the role asked for in the extensionRequest's key usage.

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
    /// The key is not ECDSA P-384; says what it is.
    KeyNotP384(String),
    /// The request is not signed with ecdsa-with-SHA384; the OID used.
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
            CsrError::KeyNotP384(_) => "key-not-p384",
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
            CsrError::KeyNotP384(what) => {
                write!(f, "The CSR key is {what}; the card key must be ECDSA P-384.")
            }
            CsrError::SignatureAlgorithm(oid) => {
                write!(f, "The CSR is signed with {oid}; it must be signed with ecdsa-with-SHA384.")
            }
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

/// A CSR that parsed, has a P-384 key and a valid signature.
#[derive(Debug, Clone)]
pub struct CheckedCsr {
    /// Subject Name, DER.
    pub subject_der: Vec<u8>,
    /// Subject Name, RFC 4514 text.
    pub subject: String,
    /// The requested key, SEC1 point.
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
    let public_key_sec1 = p384_key(&req)?;
    if req.algorithm.oid != ECDSA_WITH_SHA384 {
        return Err(CsrError::SignatureAlgorithm(req.algorithm.oid.to_string()));
    }
    verify_signature(&req, &public_key_sec1)?;
    let role = requested_role(&req)?;
    let subject_der = req.info.subject.to_der().map_err(|e| CsrError::NotCsr(e.to_string()))?;
    Ok(CheckedCsr { subject: req.info.subject.to_string(), subject_der, public_key_sec1, role })
}

fn p384_key(req: &CertReq) -> Result<Vec<u8>, CsrError> {
    let spki = &req.info.public_key;
    if spki.algorithm.oid == RSA_ENCRYPTION {
        return Err(CsrError::KeyNotP384("RSA".into()));
    }
    if spki.algorithm.oid != ID_EC_PUBLIC_KEY {
        return Err(CsrError::KeyNotP384(format!("of algorithm {}", spki.algorithm.oid)));
    }
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    match curve {
        Some(SECP384R1) => {}
        Some(SECP256R1) => return Err(CsrError::KeyNotP384("ECDSA P-256".into())),
        Some(SECP521R1) => return Err(CsrError::KeyNotP384("ECDSA P-521".into())),
        Some(other) => return Err(CsrError::KeyNotP384(format!("on curve {other}"))),
        None => return Err(CsrError::KeyNotP384("EC without a named curve".into())),
    }
    let point = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| CsrError::KeyNotP384("an unaligned bit string".into()))?;
    p384::PublicKey::from_sec1_bytes(point)
        .map_err(|_| CsrError::KeyNotP384("not a valid P-384 point".into()))?;
    Ok(point.to_vec())
}

fn verify_signature(req: &CertReq, point: &[u8]) -> Result<(), CsrError> {
    let key = VerifyingKey::from_sec1_bytes(point)
        .map_err(|_| CsrError::KeyNotP384("not a valid P-384 point".into()))?;
    let sig = req
        .signature
        .as_bytes()
        .and_then(|b| DerSignature::from_bytes(b).ok())
        .ok_or(CsrError::BadSignature)?;
    let tbs = req.info.to_der().map_err(|e| CsrError::NotCsr(e.to_string()))?;
    key.verify(&tbs, &sig).map_err(|_| CsrError::BadSignature)
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
}
