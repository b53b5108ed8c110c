//! What a renewed certificate must be, compared with the one it replaces: not a CA, outliving
//! the old one, with the same key usages and extended key usages, chaining to a trust anchor,
//! and (unless IT set `allowIssuerChange`) from the same issuer.
//!
//! The checks of the new key, the subject, the role and the validity at `now` are the
//! renewal's own (`renewal::verify`); this module adds what only trust policy decides. Both
//! card backends (PKCS#11 and PIV) call [`check_renewed`] for every certificate they would
//! install.

use super::chain::{is_ca, load_anchors, verify_chain};
use crate::protocol::{ErrorCode, HostError};
use std::collections::BTreeSet;
use std::path::PathBuf;
use time::OffsetDateTime;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::Certificate;

/// What IT decided about trust, read from the host configuration.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// The trust anchors (`trustAnchors`).
    pub anchors: Vec<Certificate>,
    /// A renewed certificate may name another issuer than the one it replaces
    /// (`allowIssuerChange`).
    pub allow_issuer_change: bool,
}

impl TrustPolicy {
    /// Reads the anchor files now (IT may have replaced them since start-up).
    pub fn load(anchor_paths: &[PathBuf], allow_issuer_change: bool) -> Result<TrustPolicy, HostError> {
        let anchors = load_anchors(anchor_paths).map_err(|problem| {
            HostError::new(
                ErrorCode::ConfigInvalid,
                format!("A trust anchor in the host configuration cannot be used: {problem}."),
            )
        })?;
        Ok(TrustPolicy { anchors, allow_issuer_change })
    }
}

/// The refusal when no trust anchors are configured.
pub fn not_configured() -> HostError {
    HostError::new(
        ErrorCode::TrustNotConfigured,
        "No trust anchors are configured, so renewed certificates cannot be checked. IT must list the \
         issuing CA's certificate in 'trustAnchors' in the host configuration.",
    )
}

fn invalid(message: impl Into<String>) -> HostError {
    HostError::new(ErrorCode::CertificateInvalid, message)
}

/// Checks `new` (for the `role` named in messages) against `old_der`, the certificate it
/// replaces: see the module documentation. `intermediates` are the CA certificates of the same
/// answer.
pub fn check_renewed(
    new: &Certificate,
    old_der: &[u8],
    role: &str,
    intermediates: &[Certificate],
    policy: &TrustPolicy,
    now: OffsetDateTime,
) -> Result<(), HostError> {
    if policy.anchors.is_empty() {
        return Err(not_configured());
    }
    let old = Certificate::from_der(old_der)
        .map_err(|e| invalid(format!("The current {role} certificate could not be read ({e}).")))?;
    let new_usage = key_usages(new).map_err(|e| invalid(format!("The new {role} certificate's {e}.")))?;
    if is_ca(new) || new_usage.contains(&"keyCertSign") {
        return Err(invalid(format!(
            "The new {role} certificate is a CA certificate; a card certificate must not be one."
        )));
    }
    let new_end = new.tbs_certificate().validity().not_after;
    let old_end = old.tbs_certificate().validity().not_after;
    if new_end.to_system_time() <= old_end.to_system_time() {
        return Err(invalid(format!(
            "The new {role} certificate expires on {new_end}, no later than the one it would replace \
             ({old_end})."
        )));
    }
    let old_usage =
        key_usages(&old).map_err(|e| invalid(format!("The current {role} certificate's {e}.")))?;
    let lost: Vec<&str> = old_usage.difference(&new_usage).copied().collect();
    if !lost.is_empty() {
        return Err(invalid(format!(
            "The new {role} certificate lacks the key usage {} that the current one has.",
            lost.join(", ")
        )));
    }
    let new_eku =
        extended_key_usages(new).map_err(|e| invalid(format!("The new {role} certificate's {e}.")))?;
    let old_eku =
        extended_key_usages(&old).map_err(|e| invalid(format!("The current {role} certificate's {e}.")))?;
    if new_eku != old_eku {
        return Err(invalid(format!(
            "The new {role} certificate's extended key usage ({}) differs from the current one's ({}).",
            describe_eku(&new_eku),
            describe_eku(&old_eku)
        )));
    }
    verify_chain(new, intermediates, &policy.anchors, now)?;
    let new_issuer = new.tbs_certificate().issuer();
    let old_issuer = old.tbs_certificate().issuer();
    if new_issuer != old_issuer && !policy.allow_issuer_change {
        return Err(HostError::new(
            ErrorCode::CertificateMismatch,
            format!(
                "The new {role} certificate was issued by '{new_issuer}', not by '{old_issuer}' who issued \
                 the current one. IT can allow a change of issuer with 'allowIssuerChange'."
            ),
        ));
    }
    Ok(())
}

/// The key usage bits a certificate sets, by name.
fn key_usages(certificate: &Certificate) -> Result<BTreeSet<&'static str>, String> {
    let usage = certificate
        .tbs_certificate()
        .get_extension::<KeyUsage>()
        .map_err(|e| format!("key usage extension is malformed ({e})"))?;
    let Some((_, usage)) = usage else {
        return Ok(BTreeSet::new());
    };
    let names = [
        (KeyUsages::DigitalSignature, "digitalSignature"),
        (KeyUsages::NonRepudiation, "nonRepudiation"),
        (KeyUsages::KeyEncipherment, "keyEncipherment"),
        (KeyUsages::DataEncipherment, "dataEncipherment"),
        (KeyUsages::KeyAgreement, "keyAgreement"),
        (KeyUsages::KeyCertSign, "keyCertSign"),
        (KeyUsages::CRLSign, "cRLSign"),
        (KeyUsages::EncipherOnly, "encipherOnly"),
        (KeyUsages::DecipherOnly, "decipherOnly"),
    ];
    Ok(names.into_iter().filter(|(flag, _)| usage.0.contains(*flag)).map(|(_, name)| name).collect())
}

/// The extended key usage purposes, as dotted OIDs; `None`: the certificate has no such
/// extension (any purpose).
fn extended_key_usages(certificate: &Certificate) -> Result<Option<BTreeSet<String>>, String> {
    let usage = certificate
        .tbs_certificate()
        .get_extension::<ExtendedKeyUsage>()
        .map_err(|e| format!("extended key usage extension is malformed ({e})"))?;
    Ok(usage.map(|(_, usage)| usage.0.iter().map(|oid| oid.to_string()).collect()))
}

fn describe_eku(usage: &Option<BTreeSet<String>>) -> String {
    match usage {
        None => "none".into(),
        Some(set) if set.is_empty() => "empty".into(),
        Some(set) => set.iter().map(|oid| eku_name(oid)).collect::<Vec<_>>().join(", "),
    }
}

fn eku_name(oid: &str) -> String {
    match oid {
        "1.3.6.1.5.5.7.3.1" => "serverAuth".into(),
        "1.3.6.1.5.5.7.3.2" => "clientAuth".into(),
        "1.3.6.1.5.5.7.3.4" => "emailProtection".into(),
        "1.3.6.1.4.1.311.20.2.2" => "smartcardLogon".into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_renewed_without_anchors_is_trust_not_configured() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = cis_renew_testbed::TestCa::create(dir.path(), "Renewed CA").expect("ca");
        let certificate = Certificate::from_der(&ca.cert_der()).expect("parse");
        let error = check_renewed(
            &certificate,
            &ca.cert_der(),
            "authentication",
            &[],
            &TrustPolicy::default(),
            OffsetDateTime::now_utc(),
        )
        .expect_err("no anchors");
        assert_eq!(error.code, ErrorCode::TrustNotConfigured);
        assert!(error.message.contains("trustAnchors"), "{}", error.message);
    }

    #[test]
    fn describe_eku_names_common_purposes() {
        let set: BTreeSet<String> = ["1.3.6.1.5.5.7.3.2".to_string(), "1.2.3".to_string()].into();
        assert_eq!(describe_eku(&Some(set)), "1.2.3, clientAuth");
        assert_eq!(describe_eku(&None), "none");
    }
}
