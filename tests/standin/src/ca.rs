//! The stand-in's certificate authority: the test bed's [`TestCa`] (a P-384
//! key and self-signed certificate as `ca.key.pem` + `ca.pem` in a directory),
//! made at first start in `<data>/ca` and reused after. Sharing the test bed's
//! format lets `cis-testbed provision --ca <data>/ca` issue card certificates
//! from this same CA.

use std::fmt;
use std::path::Path;

use cis_renew_testbed as testbed;
use time::OffsetDateTime;

use crate::role::Role;

pub use testbed::TestCa;

/// Common name of a CA the stand-in makes.
pub const CA_NAME: &str = "cis-renew stand-in CA";

/// The CA could not be opened or could not issue.
#[derive(Debug)]
pub struct CaError(pub String);

impl fmt::Display for CaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CA: {}", self.0)
    }
}

impl std::error::Error for CaError {}

/// What to put in an issued certificate.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// The subject Name, DER, copied as is.
    pub subject_der: Vec<u8>,
    /// The certified key: a SEC1-encoded P-384 point.
    pub public_key_sec1: Vec<u8>,
    /// The role, which sets the key usage.
    pub role: Role,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
}

/// Loads the CA in `dir`, or makes one there if it has none.
pub fn open(dir: &Path) -> Result<TestCa, CaError> {
    let made = if dir.join("ca.pem").exists() { TestCa::load(dir) } else { TestCa::create(dir, CA_NAME) };
    made.map_err(|e| CaError(e.to_string()))
}

fn at(unix: i64) -> Result<OffsetDateTime, CaError> {
    OffsetDateTime::from_unix_timestamp(unix).map_err(|e| CaError(e.to_string()))
}

/// The test bed's name for a role.
pub fn testbed_role(role: Role) -> testbed::Role {
    match role {
        Role::Authentication => testbed::Role::Authentication,
        Role::Signing => testbed::Role::Signing,
    }
}

/// Issues a card certificate; returns its DER.
pub fn issue(ca: &TestCa, req: &IssueRequest) -> Result<Vec<u8>, CaError> {
    ca.issue(&testbed::IssueRequest {
        subject_der: req.subject_der.clone(),
        public_key_sec1: req.public_key_sec1.clone(),
        role: testbed_role(req.role),
        not_before: at(req.not_before)?,
        not_after: at(req.not_after)?,
        serial: None,
    })
    .map_err(|e| CaError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certinfo::CertInfo;
    use der::Encode;
    use p384::ecdsa::SigningKey;
    use p384::elliptic_curve::Generate;
    use std::str::FromStr;
    use x509_cert::name::Name;

    fn subject() -> Vec<u8> {
        Name::from_str("CN=Test User,O=NHS,C=GB").and_then(|n| n.to_der()).expect("name")
    }

    #[test]
    fn issue_sets_subject_role_validity_and_reopens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = open(dir.path()).expect("create");
        let key = SigningKey::try_generate().expect("key");
        let sec1 = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
        let der = issue(
            &ca,
            &IssueRequest {
                subject_der: subject(),
                public_key_sec1: sec1.clone(),
                role: Role::Signing,
                not_before: 1_800_000_000,
                not_after: 1_800_000_000 + 86_400,
            },
        )
        .expect("issue");
        let info = CertInfo::parse(&der).expect("parse");
        assert_eq!(info.subject_der, subject());
        assert_eq!(info.role, Some(Role::Signing));
        assert_eq!((info.not_before, info.not_after), (1_800_000_000, 1_800_086_400));
        assert_eq!(info.public_key_sec1, sec1);
        assert!(info.verify_issued_by(&ca.verifying_key()));

        let again = open(dir.path()).expect("load");
        assert_eq!(again.cert_der(), ca.cert_der());
    }
}
