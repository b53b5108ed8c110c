//! PKCS#10 certificate requests, built with `x509-cert`'s `RequestBuilder` and signed by the
//! card.
//!
//! The builder's two halves are used separately: `finalize` gives the bytes to sign, the card
//! signs them through a [`RequestSigner`], and `assemble` adds the signature. That keeps card
//! errors typed (a `signature::Signer` could only return an opaque error). The subject is the
//! current certificate's subject DER, decoded and checked to re-encode to the same bytes, so
//! the request asks for exactly the same name. The request carries an extensionRequest with the
//! role's key usage. Before it leaves the host, its signature is verified (`p256`, `p384` or
//! `rsa`, by the key's algorithm) against the key the card reported.

use super::Role;
use crate::protocol::{ErrorCode, HostError};
use crate::token::algorithm::{KeyAlgorithm, PublicKey, Signature};
use p384::ecdsa::signature::Keypair;
use x509_cert::builder::{Builder, RequestBuilder};
use x509_cert::der::asn1::{BitString, Null};
use x509_cert::der::{Any, Decode, Encode};
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::request::CertReq;
use x509_cert::spki::{AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier};

pub use crate::token::algorithm::ECDSA_WITH_SHA384;

/// Something that signs with a key: the card (through `token::card::Card`), or a software key
/// in tests.
pub trait RequestSigner {
    /// The public half of the signing key.
    fn public_key(&self) -> PublicKey;
    /// Signs `message` as the key's algorithm does (see [`KeyAlgorithm::signature_oid`]).
    fn sign(&mut self, message: &[u8]) -> Result<Signature, HostError>;
}

/// The key usage a role's certificate carries.
pub fn key_usage_for(role: Role) -> Result<KeyUsage, HostError> {
    match role {
        Role::Authentication => Ok(KeyUsage(KeyUsages::DigitalSignature.into())),
        Role::Signing => Ok(KeyUsage(KeyUsages::NonRepudiation.into())),
        Role::Other => Err(HostError::new(
            ErrorCode::InternalError,
            "only authentication and signing certificates are renewed",
        )),
    }
}

/// The signature AlgorithmIdentifier for a key: no parameters for ECDSA, NULL for RSA
/// (RFC 4055 §5).
pub fn signature_algorithm(algorithm: KeyAlgorithm) -> AlgorithmIdentifierOwned {
    let parameters = match algorithm {
        KeyAlgorithm::Rsa { .. } => Any::encode_from(&Null).ok(),
        KeyAlgorithm::Ec(_) => None,
    };
    AlgorithmIdentifierOwned { oid: algorithm.signature_oid(), parameters }
}

/// The public key as the builder wants it, with its signature algorithm.
struct PublicHalf(PublicKey);

impl Keypair for PublicHalf {
    type VerifyingKey = PublicKey;
    fn verifying_key(&self) -> PublicKey {
        self.0.clone()
    }
}

impl DynSignatureAlgorithmIdentifier for PublicHalf {
    fn signature_algorithm_identifier(&self) -> x509_cert::spki::Result<AlgorithmIdentifierOwned> {
        Ok(signature_algorithm(self.0.algorithm()))
    }
}

fn build_error(what: &str, detail: impl std::fmt::Display) -> HostError {
    HostError::new(
        ErrorCode::InternalError,
        format!("building the certificate request failed: {what} ({detail})"),
    )
}

/// Builds, signs and verifies a CSR for `role` with `subject_der` (copied from the current
/// certificate). Returns the request's DER.
pub fn build_request(
    subject_der: &[u8],
    role: Role,
    signer: &mut dyn RequestSigner,
) -> Result<Vec<u8>, HostError> {
    let subject = Name::from_der(subject_der).map_err(|e| build_error("subject", e))?;
    if subject.to_der().map_err(|e| build_error("subject", e))? != subject_der {
        return Err(HostError::new(
            ErrorCode::CertificateInvalid,
            "The current certificate's subject is not DER, so it cannot be copied exactly.",
        ));
    }
    let public_key = signer.public_key();
    let half = PublicHalf(public_key.clone());
    let mut builder = RequestBuilder::new(subject).map_err(|e| build_error("builder", e))?;
    builder.add_extension(&key_usage_for(role)?).map_err(|e| build_error("key usage", e))?;
    let to_sign = builder.finalize(&half).map_err(|e| build_error("request info", e))?;
    let signature = signer.sign(&to_sign)?;
    let bits = BitString::from_bytes(&signature.to_x509_bytes()).map_err(|e| build_error("signature", e))?;
    let request = builder.assemble(bits, &half).map_err(|e| build_error("assembly", e))?;
    let der = request.to_der().map_err(|e| build_error("encoding", e))?;
    verify_request(&der, &public_key)?;
    Ok(der)
}

/// Checks that `csr` is a DER request for `key`, signed by that key with its algorithm.
pub fn verify_request(csr: &[u8], key: &PublicKey) -> Result<(), HostError> {
    let bad = |detail: String| {
        HostError::new(
            ErrorCode::TokenError,
            format!("The card's signature on the request did not verify: {detail}."),
        )
    };
    let request = CertReq::from_der(csr).map_err(|e| bad(format!("not a DER request ({e})")))?;
    // Strict DER decoding plus this round trip mean the re-encoded info is the signed bytes.
    if request.to_der().map_err(|e| bad(e.to_string()))? != csr {
        return Err(bad("the request does not re-encode identically".into()));
    }
    if request.algorithm.oid != key.algorithm().signature_oid() {
        return Err(bad(format!("unexpected algorithm {}", request.algorithm.oid)));
    }
    let named = request.info.public_key.to_der().map_err(|e| bad(e.to_string()))?;
    if PublicKey::from_spki_der(&named).as_ref() != Some(key) {
        return Err(bad("the request names another key".into()));
    }
    let signed = request.info.to_der().map_err(|e| bad(e.to_string()))?;
    let signature_bytes =
        request.signature.as_bytes().ok_or_else(|| bad("signature has unused bits".into()))?;
    key.verify_x509(&signed, signature_bytes).map_err(bad)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use p384::ecdsa::signature::Signer;
    use p384::ecdsa::SigningKey;
    use std::str::FromStr;
    use x509_cert::request::ExtensionReq;

    /// A software P-384 key behind the same trait the card implements.
    pub(crate) struct SoftSigner(pub SigningKey);

    impl RequestSigner for SoftSigner {
        fn public_key(&self) -> PublicKey {
            PublicKey::P384(p384::PublicKey::from(self.0.verifying_key()))
        }
        fn sign(&mut self, message: &[u8]) -> Result<Signature, HostError> {
            Ok(Signature::P384(self.0.sign(message)))
        }
    }

    /// A software P-256 key.
    struct SoftP256(p256::ecdsa::SigningKey);

    impl RequestSigner for SoftP256 {
        fn public_key(&self) -> PublicKey {
            PublicKey::P256(p256::PublicKey::from(self.0.verifying_key()))
        }
        fn sign(&mut self, message: &[u8]) -> Result<Signature, HostError> {
            Ok(Signature::P256(self.0.sign(message)))
        }
    }

    /// Signs with another key than it claims: what a broken card would do.
    struct LyingSigner(SigningKey, SigningKey);

    impl RequestSigner for LyingSigner {
        fn public_key(&self) -> PublicKey {
            PublicKey::P384(p384::PublicKey::from(self.0.verifying_key()))
        }
        fn sign(&mut self, message: &[u8]) -> Result<Signature, HostError> {
            Ok(Signature::P384(self.1.sign(message)))
        }
    }

    pub(crate) fn key(seed: u8) -> SigningKey {
        SigningKey::from_slice(&[seed; 48]).expect("key")
    }

    fn subject() -> Vec<u8> {
        Name::from_str("CN=Jane Smith,SERIALNUMBER=555123456789,O=NHS,C=GB")
            .expect("name")
            .to_der()
            .expect("der")
    }

    fn requested_usage(csr: &[u8]) -> KeyUsage {
        let request = CertReq::from_der(csr).expect("request");
        let attribute = request.info.attributes.iter().next().expect("one attribute");
        let value = attribute.values.iter().next().expect("value");
        let extensions: ExtensionReq = value.decode_as().expect("extensionRequest");
        let extension = extensions.0.first().expect("one extension");
        assert!(extension.critical);
        KeyUsage::from_der(extension.extn_value.as_bytes()).expect("key usage")
    }

    #[test]
    fn build_request_copies_subject_and_sets_role_usage() {
        for (role, digital_signature, non_repudiation) in
            [(Role::Authentication, true, false), (Role::Signing, false, true)]
        {
            let mut signer = SoftSigner(key(5));
            let csr = build_request(&subject(), role, &mut signer).expect("csr");
            let request = CertReq::from_der(&csr).expect("request");
            assert_eq!(request.info.subject.to_der().expect("der"), subject());
            let usage = requested_usage(&csr);
            assert_eq!(usage.digital_signature(), digital_signature, "{role:?}");
            assert_eq!(usage.non_repudiation(), non_repudiation, "{role:?}");
            verify_request(&csr, &signer.public_key()).expect("verifies");
        }
    }

    #[test]
    fn verify_request_rejects_other_key_and_tampering() {
        let mut signer = SoftSigner(key(5));
        let csr = build_request(&subject(), Role::Signing, &mut signer).expect("csr");
        let other = PublicKey::P384(p384::PublicKey::from(key(6).verifying_key()));
        assert_eq!(verify_request(&csr, &other).expect_err("other key").code, ErrorCode::TokenError);
        let mut tampered = csr.clone();
        let at = tampered.len() / 3;
        tampered[at] ^= 0x01;
        assert!(verify_request(&tampered, &signer.public_key()).is_err());
        assert!(verify_request(b"garbage", &signer.public_key()).is_err());
    }

    #[test]
    fn build_request_with_a_p256_key_uses_ecdsa_with_sha256() {
        let mut signer = SoftP256(p256::ecdsa::SigningKey::from_slice(&[4u8; 32]).expect("key"));
        let csr = build_request(&subject(), Role::Authentication, &mut signer).expect("csr");
        let request = CertReq::from_der(&csr).expect("request");
        assert_eq!(request.algorithm.oid, crate::token::algorithm::ECDSA_WITH_SHA256);
        verify_request(&csr, &signer.public_key()).expect("verifies");
        let p384_key = SoftSigner(key(5)).public_key();
        assert!(verify_request(&csr, &p384_key).is_err(), "another algorithm's key");
    }

    #[test]
    fn build_request_refuses_a_signature_by_another_key() {
        let mut signer = LyingSigner(key(5), key(6));
        let error = build_request(&subject(), Role::Authentication, &mut signer).expect_err("lying card");
        assert_eq!(error.code, ErrorCode::TokenError);
    }

    #[test]
    fn build_request_refuses_non_der_subject_and_other_role() {
        let mut signer = SoftSigner(key(5));
        assert!(build_request(b"\x30\x03\x02\x01\x01", Role::Signing, &mut signer).is_err());
        assert!(build_request(&subject(), Role::Other, &mut signer).is_err());
    }
}
