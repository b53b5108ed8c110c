//! PKCS#7 / CMS "certs-only" messages, as an EST server returns them (RFC 7030 §4.2.3): a
//! SignedData with no content and no signers, whose `certificates` carry the issued certificate
//! (and perhaps its chain). Parsed with the `cms` crate; nothing here slices bytes by hand.
//!
//! Bounded: at most [`MAX_PKCS7_BYTES`] of DER and [`MAX_CERTIFICATES`] certificates per message.

use crate::protocol::{ErrorCode, HostError};
use base64::Engine;
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use x509_cert::der::oid::db::rfc5911::ID_SIGNED_DATA;
use x509_cert::der::{Decode, Encode};

/// Largest PKCS#7 message accepted (DER bytes); an EST answer with a chain is a few KiB.
pub const MAX_PKCS7_BYTES: usize = 256 * 1024;
/// Most certificates accepted in one message.
pub const MAX_CERTIFICATES: usize = 16;

fn invalid(detail: impl std::fmt::Display) -> HostError {
    HostError::new(ErrorCode::CertificateInvalid, format!("The PKCS#7 answer could not be used: {detail}."))
}

/// The certificates (DER) in a certs-only PKCS#7 message.
pub fn certificates_from_pkcs7(der: &[u8]) -> Result<Vec<Vec<u8>>, HostError> {
    if der.len() > MAX_PKCS7_BYTES {
        return Err(invalid(format!("it is {} bytes, more than {MAX_PKCS7_BYTES}", der.len())));
    }
    let info = ContentInfo::from_der(der).map_err(|e| invalid(format!("not DER CMS ({e})")))?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(invalid(format!("content type {} is not signedData", info.content_type)));
    }
    let signed: SignedData =
        info.content.decode_as().map_err(|e| invalid(format!("bad SignedData ({e})")))?;
    let Some(set) = signed.certificates else {
        return Err(invalid("it holds no certificates"));
    };
    if set.0.len() > MAX_CERTIFICATES {
        return Err(invalid(format!("it holds {} certificates, more than {MAX_CERTIFICATES}", set.0.len())));
    }
    let mut certificates = Vec::with_capacity(set.0.len());
    for choice in set.0.iter() {
        match choice {
            // Strict DER decoding means re-encoding gives back the bytes the CA signed.
            CertificateChoices::Certificate(certificate) => {
                certificates.push(certificate.to_der().map_err(|e| invalid(format!("re-encoding ({e})")))?)
            }
            CertificateChoices::Other(_) => return Err(invalid("it holds a certificate that is not X.509")),
        }
    }
    if certificates.is_empty() {
        return Err(invalid("it holds no certificates"));
    }
    Ok(certificates)
}

/// Decodes base64 as EST sends it: line breaks and spaces allowed, PEM armour tolerated.
pub fn decode_base64(text: &str, what: &str) -> Result<Vec<u8>, HostError> {
    let body: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("-----"))
        .flat_map(|line| line.chars())
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body.as_bytes()).map_err(|e| {
        HostError::new(ErrorCode::CertificateInvalid, format!("The {what} is not valid base64 ({e})."))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_cert::Certificate;

    fn test_certificates(n: usize) -> Vec<Vec<u8>> {
        let dir = tempfile::tempdir().expect("dir");
        let ca = cis_renew_testbed::TestCa::create(dir.path(), "pkcs7 test CA").expect("ca");
        (0..n)
            .map(|i| {
                let key = p384::SecretKey::from_slice(&[i as u8 + 1; 48]).expect("key").public_key();
                let now = time::OffsetDateTime::now_utc();
                ca.issue(&cis_renew_testbed::IssueRequest {
                    subject_der: cis_renew_testbed::subject_der(&format!("CN=User {i}")).expect("subject"),
                    public_key_sec1: p384::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&key, false)
                        .as_bytes()
                        .to_vec(),
                    role: cis_renew_testbed::Role::Authentication,
                    not_before: now - time::Duration::minutes(1),
                    not_after: now + time::Duration::days(700),
                    serial: None,
                })
                .expect("issue")
            })
            .collect()
    }

    fn certs_only(certificates: &[Vec<u8>]) -> Vec<u8> {
        let path: Vec<Certificate> =
            certificates.iter().map(|der| Certificate::from_der(der).expect("cert")).collect();
        ContentInfo::try_from(path).expect("content info").to_der().expect("der")
    }

    #[test]
    fn certificates_from_pkcs7_returns_each_certificate_exactly() {
        let certificates = test_certificates(3);
        let mut got = certificates_from_pkcs7(&certs_only(&certificates)).expect("parse");
        let mut expected = certificates.clone();
        got.sort();
        expected.sort();
        assert_eq!(got, expected);
    }

    #[test]
    fn certificates_from_pkcs7_rejects_garbage() {
        let one = test_certificates(1);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (Vec::new(), "DER"),
            (b"hello".to_vec(), "DER"),
            (vec![0x30, 0x82, 0xff, 0xff, 0x06], "DER"),
            // A bare certificate is not a PKCS#7.
            (one[0].clone(), "DER"),
            // Right shape, wrong content type (id-data).
            (
                ContentInfo {
                    content_type: x509_cert::der::oid::db::rfc5911::ID_DATA,
                    content: x509_cert::der::Any::from(x509_cert::der::asn1::Null),
                }
                .to_der()
                .expect("der"),
                "signedData",
            ),
        ];
        for (input, needle) in cases {
            let error = certificates_from_pkcs7(&input).expect_err("garbage");
            assert_eq!(error.code, ErrorCode::CertificateInvalid);
            assert!(error.message.contains(needle), "{needle}: {}", error.message);
        }
    }

    #[test]
    fn certificates_from_pkcs7_rejects_oversize_input_and_too_many_certificates() {
        let error = certificates_from_pkcs7(&vec![0x30; MAX_PKCS7_BYTES + 1]).expect_err("oversize");
        assert!(error.message.contains("bytes"), "{}", error.message);
        let many = test_certificates(MAX_CERTIFICATES + 1);
        let error = certificates_from_pkcs7(&certs_only(&many)).expect_err("too many");
        assert!(error.message.contains("17 certificates"), "{}", error.message);
        let exactly = test_certificates(MAX_CERTIFICATES);
        assert_eq!(certificates_from_pkcs7(&certs_only(&exactly)).expect("max").len(), MAX_CERTIFICATES);
    }

    #[test]
    fn decode_base64_accepts_wrapped_lines_and_pem_armour() {
        let cases = [
            ("aGVsbG8=", true),
            ("aGVs\r\nbG8=\n", true),
            ("-----BEGIN PKCS7-----\naGVsbG8=\n-----END PKCS7-----\n", true),
            ("not base64!", false),
        ];
        for (text, ok) in cases {
            let result = decode_base64(text, "answer");
            assert_eq!(result.is_ok(), ok, "{text:?}");
            if ok {
                assert_eq!(result.expect("ok"), b"hello");
            }
        }
    }
}
