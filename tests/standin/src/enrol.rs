//! Registering cards in the records: from the certificates found on a
//! provisioned token, or (for tests and the demo without a token) with
//! certificates this CA issues to throwaway keys.

use std::fmt;
use std::str::FromStr;

use der::Encode;
use p384::ecdsa::SigningKey;
use p384::elliptic_curve::Generate;
use x509_cert::name::Name;

use crate::ca::{self, IssueRequest, TestCa};
use crate::certinfo::{hex, CertInfo};
use crate::clock::{self, DAY};
use crate::role::Role;
use crate::store::{Card, NewCert, Store, User};

/// Registration failed.
#[derive(Debug)]
pub enum EnrolError {
    /// Bad input (unknown user, certificate without a role, wrong CA...).
    Invalid(String),
    /// The CA or the database failed.
    Internal(String),
}

impl fmt::Display for EnrolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnrolError::Invalid(m) | EnrolError::Internal(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for EnrolError {}

fn internal(e: impl fmt::Display) -> EnrolError {
    EnrolError::Internal(e.to_string())
}

/// Registers card `serial` for `user` with the certificates on it (DER).
/// Each must be issued by `ca` and name exactly one role.
pub fn register_certificates(
    store: &Store,
    ca: &TestCa,
    user: &User,
    serial: &str,
    label: &str,
    ders: &[Vec<u8>],
) -> Result<Card, EnrolError> {
    let infos = ders
        .iter()
        .map(|d| CertInfo::parse(d).map_err(|e| EnrolError::Invalid(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let mut certs = Vec::new();
    for info in &infos {
        let role = info.role.ok_or_else(|| {
            EnrolError::Invalid(format!("certificate {} names no single role", info.serial))
        })?;
        if !info.verify_issued_by(&ca.verifying_key()) {
            return Err(EnrolError::Invalid(format!(
                "certificate {} was not issued by the stand-in's CA ({})",
                info.serial,
                ca.cert_pem_path().display()
            )));
        }
        certs.push(NewCert { info, role });
    }
    store.register_card(user.id, serial, label, &certs).map_err(internal)
}

/// What a demo card gets.
#[derive(Debug, Clone)]
pub struct DemoCard {
    /// Token serial; random 16 hex digits if `None`.
    pub serial: Option<String>,
    /// Token label.
    pub label: String,
    /// Days until the authentication certificate expires (negative: expired).
    pub auth_days: i64,
    /// Days until the signing certificate expires.
    pub sign_days: i64,
    /// Subject override, RFC 4514; the user's subject if `None`.
    pub subject: Option<String>,
}

/// Validity for a card certificate that expires `days` from `now`.
pub fn validity_for(now: i64, days: i64) -> (i64, i64) {
    let not_after = now + days * DAY;
    let not_before = (not_after - 730 * DAY).min(now - 60);
    (not_before, not_after)
}

/// A random token-like serial (16 upper-case hex digits, like SoftHSM's).
pub fn random_serial() -> Result<String, EnrolError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(internal)?;
    Ok(hex(&b).to_uppercase())
}

/// Issues both certificates to throwaway keys and registers the card.
pub fn register_demo_card(
    store: &Store,
    ca: &TestCa,
    user: &User,
    spec: &DemoCard,
) -> Result<Card, EnrolError> {
    let subject = spec.subject.as_deref().unwrap_or(&user.subject);
    let subject_der = Name::from_str(subject)
        .and_then(|n| n.to_der())
        .map_err(|e| EnrolError::Invalid(format!("subject {subject:?}: {e}")))?;
    let now = clock::now();
    let mut ders = Vec::new();
    for (role, days) in [(Role::Authentication, spec.auth_days), (Role::Signing, spec.sign_days)] {
        let key = SigningKey::try_generate().map_err(internal)?;
        let (not_before, not_after) = validity_for(now, days);
        ders.push(
            ca::issue(
                ca,
                &IssueRequest {
                    subject_der: subject_der.clone(),
                    public_key_sec1: key.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
                    role,
                    not_before,
                    not_after,
                },
            )
            .map_err(internal)?,
        );
    }
    let serial = match &spec.serial {
        Some(s) => s.clone(),
        None => random_serial()?,
    };
    register_certificates(store, ca, user, &serial, &spec.label, &ders)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_for_starts_before_now_and_ends_on_day() {
        let now = 1_000 * DAY;
        assert_eq!(validity_for(now, 45), (now - 685 * DAY, now + 45 * DAY));
        assert_eq!(validity_for(now, -1).1, now - DAY);
        let (nb, na) = validity_for(now, 1000);
        assert!(nb < now && na == now + 1000 * DAY);
    }
}
