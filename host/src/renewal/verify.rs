//! Checking the certificates the CA returned, before anything on the card changes.
//!
//! A certificate is accepted for a role when its public key is that role's new key, its
//! subject is byte-for-byte the current certificate's, it is valid now, and its key usage gives
//! the same role. Certificates for no new key are tolerated only when they are CA certificates
//! (an EST answer may carry the chain). Every role needs exactly one certificate. Each must
//! then pass the trust policy against the certificate it replaces (`certs::renewed`): chain to
//! a trust anchor, not be a CA, outlive the old one, keep its usages and, unless IT allows a
//! change, its issuer. Without trust anchors nothing is accepted (`TRUST_NOT_CONFIGURED`).
//!
//! The result is a [`Verified`] proof. Its fields are private to this module, so the only way
//! to get one is [`Requested::verify`], and [`Requested::install`](super::Requested::install)
//! will not run without it.

use super::{RenewalId, Requested};
use crate::certs::chain::is_ca;
use crate::certs::renewed::{check_renewed, not_configured, TrustPolicy};
use crate::certs::{parse_certificate, CertificateInfo, Role};
use crate::protocol::{ErrorCode, HostError};
use crate::token::algorithm::PublicKey;
use time::{Duration, OffsetDateTime};
use x509_cert::der::{Decode, Encode};
use x509_cert::Certificate;

/// How far in the future a notBefore may be (clocks of the CA and the PC differ).
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// One checked certificate, ready to be written for its role.
#[derive(Debug, Clone)]
pub struct VerifiedCertificate {
    role: Role,
    der: Vec<u8>,
    info: CertificateInfo,
    issuer_der: Vec<u8>,
    serial_der: Vec<u8>,
}

impl VerifiedCertificate {
    /// The role it was checked for.
    pub fn role(&self) -> Role {
        self.role
    }
    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
    /// Its parsed fields.
    pub fn info(&self) -> &CertificateInfo {
        &self.info
    }
    /// Its issuer Name, DER (CKA_ISSUER).
    pub fn issuer_der(&self) -> &[u8] {
        &self.issuer_der
    }
    /// Its serial number as a DER INTEGER (CKA_SERIAL_NUMBER).
    pub fn serial_der(&self) -> &[u8] {
        &self.serial_der
    }
}

/// Proof that a set of certificates passed [`Requested::verify`] for one renewal.
#[derive(Debug, Clone)]
pub struct Verified {
    renewal: RenewalId,
    certificates: Vec<VerifiedCertificate>,
}

impl Verified {
    /// The renewal it was made for.
    pub fn renewal(&self) -> &RenewalId {
        &self.renewal
    }
    /// The checked certificates, one per role, in the renewal's role order.
    pub fn certificates(&self) -> &[VerifiedCertificate] {
        &self.certificates
    }
}

fn mismatch(message: impl Into<String>) -> HostError {
    HostError::new(ErrorCode::CertificateMismatch, message)
}

fn invalid(message: impl Into<String>) -> HostError {
    HostError::new(ErrorCode::CertificateInvalid, message)
}

impl Requested {
    /// Checks `certificates` (DER) against this renewal at `now`, and each against `trust`
    /// (chaining through CA certificates among `certificates`).
    pub fn verify(
        &self,
        certificates: &[Vec<u8>],
        trust: &TrustPolicy,
        now: OffsetDateTime,
    ) -> Result<Verified, HostError> {
        if trust.anchors.is_empty() {
            return Err(not_configured());
        }
        let mut found: Vec<Option<VerifiedCertificate>> = vec![None; self.roles.len()];
        let intermediates: Vec<Certificate> =
            certificates.iter().filter_map(|der| Certificate::from_der(der).ok()).filter(is_ca).collect();
        for (index, der) in certificates.iter().enumerate() {
            let number = index + 1;
            let info = parse_certificate(der)
                .map_err(|e| invalid(format!("Certificate {number} could not be read: {e}.")))?;
            let parsed = Certificate::from_der(der)
                .map_err(|e| invalid(format!("Certificate {number} could not be read: {e}.")))?;
            let key = PublicKey::from_spki_der(&info.public_key_der);
            let Some(slot) = key.and_then(|key| self.roles.iter().position(|r| r.new.public == key)) else {
                if is_ca(&parsed) {
                    continue;
                }
                return Err(mismatch(format!(
                    "Certificate {number} ({}) is for a key this renewal did not make.",
                    info.subject
                )));
            };
            let role = &self.roles[slot];
            if found[slot].is_some() {
                return Err(mismatch(format!(
                    "Two certificates were returned for the {} key.",
                    role.old.role.as_str()
                )));
            }
            let old = role.old.info()?;
            if info.subject_der != old.subject_der {
                return Err(mismatch(format!(
                    "The new {} certificate is for '{}', not '{}'.",
                    role.old.role.as_str(),
                    info.subject,
                    old.subject
                )));
            }
            if info.not_after <= now {
                return Err(invalid(format!("The new {} certificate has expired.", role.old.role.as_str())));
            }
            if info.not_before > now + CLOCK_SKEW {
                return Err(invalid(format!(
                    "The new {} certificate is not valid yet.",
                    role.old.role.as_str()
                )));
            }
            // The chain and renewal rules first: they name the precise problem (a CA certificate,
            // a changed issuer) where the role check below would only see another key usage.
            let old_der = role.old.group.certificate.as_ref().map(|c| c.value.as_slice()).unwrap_or_default();
            check_renewed(&parsed, old_der, role.old.role.as_str(), &intermediates, trust, now)?;
            if info.role != role.old.role {
                return Err(invalid(format!(
                    "The new certificate for the {} key has the key usage of {}.",
                    role.old.role.as_str(),
                    info.role.certificate_phrase()
                )));
            }
            let tbs = parsed.tbs_certificate();
            let issuer_der = tbs.issuer().to_der().map_err(|e| invalid(format!("issuer: {e}")))?;
            let serial_der = tbs.serial_number().to_der().map_err(|e| invalid(format!("serial: {e}")))?;
            found[slot] = Some(VerifiedCertificate {
                role: role.old.role,
                der: der.clone(),
                info,
                issuer_der,
                serial_der,
            });
        }
        let mut verified = Vec::with_capacity(found.len());
        for (slot, certificate) in found.into_iter().enumerate() {
            match certificate {
                Some(certificate) => verified.push(certificate),
                None => {
                    return Err(mismatch(format!(
                        "No certificate was returned for the new {} key.",
                        self.roles[slot].old.role.as_str()
                    )))
                }
            }
        }
        Ok(Verified { renewal: self.id.clone(), certificates: verified })
    }
}
