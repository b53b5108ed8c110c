//! Certificate roles on a card and the key usage that identifies each one.
//!
//! A card holds two certificate/key pairs. The role of a certificate (and of a
//! certificate request) comes from its key usage: `digitalSignature` alone means
//! authentication, `nonRepudiation` (contentCommitment) means signing.

use std::fmt;
use std::str::FromStr;

use x509_cert::ext::pkix::{KeyUsage, KeyUsages};

/// The job a certificate does on the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Authentication (key usage digitalSignature).
    Authentication,
    /// Signing (key usage nonRepudiation).
    Signing,
}

impl Role {
    /// Both roles, in the order a card lists them.
    pub const ALL: [Role; 2] = [Role::Authentication, Role::Signing];

    /// The wire and database name (`authentication` or `signing`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Authentication => "authentication",
            Role::Signing => "signing",
        }
    }

    /// A human label for pages.
    pub fn label(self) -> &'static str {
        match self {
            Role::Authentication => "Authentication",
            Role::Signing => "Signing",
        }
    }

    /// The key usage a certificate of this role carries.
    pub fn key_usage(self) -> KeyUsage {
        match self {
            Role::Authentication => KeyUsage(KeyUsages::DigitalSignature.into()),
            Role::Signing => KeyUsage(KeyUsages::NonRepudiation.into()),
        }
    }

    /// The role a key usage asks for: `None` when it names neither or both.
    pub fn from_key_usage(ku: &KeyUsage) -> Option<Role> {
        match (ku.non_repudiation(), ku.digital_signature()) {
            (true, false) => Some(Role::Signing),
            (false, true) => Some(Role::Authentication),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not a role name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRole(pub String);

impl fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown role {:?}: use authentication or signing", self.0)
    }
}

impl std::error::Error for UnknownRole {}

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "authentication" => Ok(Role::Authentication),
            "signing" => Ok(Role::Signing),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_key_usage_round_trips_each_role() {
        for role in Role::ALL {
            assert_eq!(Role::from_key_usage(&role.key_usage()), Some(role));
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
    }

    #[test]
    fn from_key_usage_both_or_neither_is_none() {
        let both = KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation);
        let neither = KeyUsage(KeyUsages::KeyEncipherment.into());
        assert_eq!(Role::from_key_usage(&both), None);
        assert_eq!(Role::from_key_usage(&neither), None);
    }
}
