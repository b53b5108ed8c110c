//! Reads the fields of a certificate that the sponsor sees and the renewal needs.

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

/// What a certificate on the card is for. NHS cards carry one of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Signs in: key usage digitalSignature without nonRepudiation.
    Authentication,
    /// Signs documents: key usage nonRepudiation (contentCommitment).
    Signing,
    /// Anything else: CA certificates, no key usage, or encipherment only.
    Other,
}

impl Role {
    /// The role's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Authentication => "authentication",
            Role::Signing => "signing",
            Role::Other => "other",
        }
    }

    /// A certificate of this role, in words for messages ("a signing certificate"; never
    /// "a other").
    pub fn certificate_phrase(self) -> &'static str {
        match self {
            Role::Authentication => "an authentication certificate",
            Role::Signing => "a signing certificate",
            Role::Other => "neither an authentication nor a signing certificate",
        }
    }

    /// The role for a key usage; nonRepudiation wins because it marks the signing certificate.
    pub fn from_key_usage(digital_signature: bool, non_repudiation: bool) -> Role {
        match (digital_signature, non_repudiation) {
            (_, true) => Role::Signing,
            (true, false) => Role::Authentication,
            (false, false) => Role::Other,
        }
    }
}

/// The parsed fields of one certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateInfo {
    /// Role from key usage.
    pub role: Role,
    /// Subject in RFC 4514 form.
    pub subject: String,
    /// Issuer in RFC 4514 form.
    pub issuer: String,
    /// The subject's DER, kept so a renewal asks for exactly the same name.
    pub subject_der: Vec<u8>,
    /// Serial number, upper-case hex.
    pub serial: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// The SubjectPublicKeyInfo's DER.
    pub public_key_der: Vec<u8>,
}

/// Parses a DER certificate; the error says what was wrong, for logs and `CERTIFICATE_INVALID`.
pub fn parse_certificate(der: &[u8]) -> Result<CertificateInfo, String> {
    let (rest, certificate) =
        X509Certificate::from_der(der).map_err(|e| format!("not a DER X.509 certificate ({e})"))?;
    if !rest.is_empty() {
        return Err(format!("{} bytes follow the certificate", rest.len()));
    }
    let key_usage = certificate.key_usage().map_err(|e| format!("key usage extension is malformed ({e})"))?;
    let is_ca = certificate
        .basic_constraints()
        .map_err(|e| format!("basic constraints extension is malformed ({e})"))?
        .is_some_and(|constraints| constraints.value.ca);
    // A CA certificate's key usage may include digitalSignature; it is still not the user's.
    let role = match key_usage {
        Some(_) if is_ca => Role::Other,
        Some(usage) => Role::from_key_usage(usage.value.digital_signature(), usage.value.non_repudiation()),
        None => Role::Other,
    };
    let validity = certificate.validity();
    Ok(CertificateInfo {
        role,
        subject: certificate.subject().to_string(),
        issuer: certificate.issuer().to_string(),
        subject_der: certificate.subject().as_raw().to_vec(),
        serial: certificate.raw_serial_as_string().replace(':', "").to_ascii_uppercase(),
        not_before: validity.not_before.to_datetime(),
        not_after: validity.not_after.to_datetime(),
        public_key_der: certificate.public_key().raw.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_key_usage_maps_each_combination() {
        assert_eq!(Role::from_key_usage(true, false), Role::Authentication);
        assert_eq!(Role::from_key_usage(false, true), Role::Signing);
        assert_eq!(Role::from_key_usage(true, true), Role::Signing);
        assert_eq!(Role::from_key_usage(false, false), Role::Other);
    }

    #[test]
    fn certificate_phrase_takes_the_right_article() {
        // Issue 10: messages once said "the key usage of a other certificate".
        for role in [Role::Authentication, Role::Signing, Role::Other] {
            let phrase = role.certificate_phrase();
            assert!(!phrase.starts_with("a other") && !phrase.starts_with("a authentication"), "{phrase}");
        }
        assert_eq!(Role::Authentication.certificate_phrase(), "an authentication certificate");
        assert_eq!(Role::Other.certificate_phrase(), "neither an authentication nor a signing certificate");
    }

    #[test]
    fn parse_certificate_rejects_garbage_and_trailing_bytes() {
        assert!(parse_certificate(b"").is_err());
        assert!(parse_certificate(b"\x30\x03\x02\x01\x01").is_err());
        assert!(parse_certificate(&[0xff; 64]).is_err());
    }
}
