//! PKCS#10 certificate requests, built with `x509-cert`'s `RequestBuilder` and signed by the
//! card.
//!
//! The builder's two halves are used separately: `finalize` gives the bytes to sign, the card
//! signs them through a [`RequestSigner`], and `assemble` adds the signature. That keeps card
//! errors typed (a `signature::Signer` could only return an opaque error). The subject is the
//! current certificate's subject DER, decoded and checked to re-encode to the same bytes, so
//! the request asks for exactly the same name. The request carries an extensionRequest with the
//! role's key usage. Before it leaves the host, its signature is verified with `p384` against
//! the key the card reported.

use super::Role;
use crate::protocol::{ErrorCode, HostError};
use p384::ecdsa::signature::{Keypair, Verifier};
use p384::ecdsa::{DerSignature, VerifyingKey};
use x509_cert::builder::{Builder, RequestBuilder};
use x509_cert::der::asn1::BitString;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::request::CertReq;
use x509_cert::spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey, ObjectIdentifier,
    SubjectPublicKeyInfoOwned,
};

/// ecdsa-with-SHA384 (1.2.840.10045.4.3.3).
pub const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// Something that signs with a P-384 key: the card (through `token::card::Card`), or a software
/// key in tests.
pub trait RequestSigner {
    /// The public half of the signing key.
    fn public_key(&self) -> p384::PublicKey;
    /// ECDSA P-384 over SHA-384 of `message`.
    fn sign(&mut self, message: &[u8]) -> Result<p384::ecdsa::Signature, HostError>;
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

/// The public key as the builder wants it, with ecdsa-with-SHA384 as the signature algorithm.
struct PublicHalf(VerifyingKey);

impl Keypair for PublicHalf {
    type VerifyingKey = VerifyingKey;
    fn verifying_key(&self) -> VerifyingKey {
        self.0
    }
}

impl DynSignatureAlgorithmIdentifier for PublicHalf {
    fn signature_algorithm_identifier(&self) -> x509_cert::spki::Result<AlgorithmIdentifierOwned> {
        Ok(AlgorithmIdentifierOwned { oid: ECDSA_WITH_SHA384, parameters: None })
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
    let half = PublicHalf(VerifyingKey::from(public_key));
    let mut builder = RequestBuilder::new(subject).map_err(|e| build_error("builder", e))?;
    builder.add_extension(&key_usage_for(role)?).map_err(|e| build_error("key usage", e))?;
    let to_sign = builder.finalize(&half).map_err(|e| build_error("request info", e))?;
    let signature = signer.sign(&to_sign)?;
    let bits =
        BitString::from_bytes(signature.to_der().as_bytes()).map_err(|e| build_error("signature", e))?;
    let request = builder.assemble(bits, &half).map_err(|e| build_error("assembly", e))?;
    let der = request.to_der().map_err(|e| build_error("encoding", e))?;
    verify_request(&der, &public_key)?;
    Ok(der)
}

/// Checks that `csr` is a DER request for `key`, signed with ecdsa-with-SHA384 by that key.
pub fn verify_request(csr: &[u8], key: &p384::PublicKey) -> Result<(), HostError> {
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
    if request.algorithm.oid != ECDSA_WITH_SHA384 {
        return Err(bad(format!("unexpected algorithm {}", request.algorithm.oid)));
    }
    let expected = key.to_public_key_der().map_err(|e| bad(e.to_string()))?;
    let expected =
        SubjectPublicKeyInfoOwned::from_der(expected.as_bytes()).map_err(|e| bad(e.to_string()))?;
    if request.info.public_key != expected {
        return Err(bad("the request names another key".into()));
    }
    let signed = request.info.to_der().map_err(|e| bad(e.to_string()))?;
    let signature_bytes =
        request.signature.as_bytes().ok_or_else(|| bad("signature has unused bits".into()))?;
    let signature = DerSignature::from_bytes(signature_bytes).map_err(|e| bad(e.to_string()))?;
    VerifyingKey::from(key).verify(&signed, &signature).map_err(|e| bad(e.to_string()))
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
        fn public_key(&self) -> p384::PublicKey {
            p384::PublicKey::from(self.0.verifying_key())
        }
        fn sign(&mut self, message: &[u8]) -> Result<p384::ecdsa::Signature, HostError> {
            Ok(self.0.sign(message))
        }
    }

    /// Signs with another key than it claims: what a broken card would do.
    struct LyingSigner(SigningKey, SigningKey);

    impl RequestSigner for LyingSigner {
        fn public_key(&self) -> p384::PublicKey {
            p384::PublicKey::from(self.0.verifying_key())
        }
        fn sign(&mut self, message: &[u8]) -> Result<p384::ecdsa::Signature, HostError> {
            Ok(self.1.sign(message))
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
        let other = p384::PublicKey::from(key(6).verifying_key());
        assert_eq!(verify_request(&csr, &other).expect_err("other key").code, ErrorCode::TokenError);
        let mut tampered = csr.clone();
        let at = tampered.len() / 3;
        tampered[at] ^= 0x01;
        assert!(verify_request(&tampered, &signer.public_key()).is_err());
        assert!(verify_request(b"garbage", &signer.public_key()).is_err());
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
