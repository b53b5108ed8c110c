//! Reading the fields the stand-in needs out of an X.509 certificate: serial,
//! subject, validity, role (from key usage) and the P-384 public key.

use std::fmt;

use der::{Decode, Encode};
use p384::ecdsa::signature::Verifier;
use p384::ecdsa::{DerSignature, VerifyingKey};
use x509_cert::ext::pkix::KeyUsage;
use x509_cert::Certificate;

use crate::clock;
use crate::role::Role;

/// The certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertError(pub String);

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "certificate: {}", self.0)
    }
}

impl std::error::Error for CertError {}

/// The fields of a certificate that the stand-in records.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// Subject Name, DER.
    pub subject_der: Vec<u8>,
    /// Subject Name, RFC 4514 text.
    pub subject: String,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
    /// The role from key usage, if the key usage names exactly one.
    pub role: Option<Role>,
    /// The subject public key as a SEC1 point (empty if not P-384).
    pub public_key_sec1: Vec<u8>,
    /// The whole certificate, DER.
    pub der: Vec<u8>,
    cert: Certificate,
}

impl CertInfo {
    /// Parses a DER certificate.
    pub fn parse(der: &[u8]) -> Result<CertInfo, CertError> {
        let cert = Certificate::from_der(der).map_err(|e| CertError(e.to_string()))?;
        let tbs = cert.tbs_certificate();
        let subject_der = tbs.subject().to_der().map_err(|e| CertError(e.to_string()))?;
        let role = tbs
            .get_extension::<KeyUsage>()
            .map_err(|e| CertError(format!("key usage: {e}")))?
            .and_then(|(_, ku)| Role::from_key_usage(&ku));
        let public_key_sec1 = tbs
            .subject_public_key_info()
            .subject_public_key
            .as_bytes()
            .filter(|b| p384::PublicKey::from_sec1_bytes(b).is_ok())
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        Ok(CertInfo {
            serial: hex(tbs.serial_number().as_bytes()),
            subject: tbs.subject().to_string(),
            subject_der,
            not_before: clock::from_system_time(tbs.validity().not_before.to_system_time()),
            not_after: clock::from_system_time(tbs.validity().not_after.to_system_time()),
            role,
            public_key_sec1,
            der: der.to_vec(),
            cert,
        })
    }

    /// Whether the issuer's P-384 `key` signed this certificate.
    pub fn verify_issued_by(&self, key: &VerifyingKey) -> bool {
        let Some(sig) = self.cert.signature().as_bytes() else {
            return false;
        };
        let Ok(sig) = DerSignature::from_bytes(sig) else {
            return false;
        };
        let Ok(tbs) = self.cert.tbs_certificate().to_der() else {
            return false;
        };
        key.verify(&tbs, &sig).is_ok()
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
