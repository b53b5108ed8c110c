//! Signatures on the card, per key algorithm: ECDSA over SHA-384 (P-384) or SHA-256 (P-256),
//! RSA PKCS#1 v1.5 over SHA-256.
//!
//! The hashing mechanism (`CKM_ECDSA_SHA384`, `CKM_ECDSA_SHA256`, `CKM_SHA256_RSA_PKCS`) when
//! the token lists it (the card hashes); otherwise the host hashes and the card signs the
//! digest with `CKM_ECDSA`, or the DigestInfo with `CKM_RSA_PKCS` (SoftHSM and many cards).

use super::algorithm::{prehashed_input, Curve, KeyAlgorithm, Signature};
use super::card::{CryptokiCard, ObjectRef};
use super::token_error;
use crate::protocol::HostError;
use cryptoki::mechanism::{Mechanism, MechanismType};

impl CryptokiCard {
    pub(super) fn sign_message(
        &mut self,
        key: ObjectRef,
        algorithm: KeyAlgorithm,
        message: &[u8],
    ) -> Result<Signature, HostError> {
        let handle = self.handle(key)?;
        let (hashing, hashing_type, raw_mechanism) = match algorithm {
            KeyAlgorithm::Ec(Curve::P384) => {
                (Mechanism::EcdsaSha384, MechanismType::ECDSA_SHA384, Mechanism::Ecdsa)
            }
            KeyAlgorithm::Ec(Curve::P256) => {
                (Mechanism::EcdsaSha256, MechanismType::ECDSA_SHA256, Mechanism::Ecdsa)
            }
            KeyAlgorithm::Rsa { .. } => {
                (Mechanism::Sha256RsaPkcs, MechanismType::SHA256_RSA_PKCS, Mechanism::RsaPkcs)
            }
        };
        let hash_on_card = self.mechanism_list()?.contains(&hashing_type);
        let raw = if hash_on_card {
            self.session.sign(&hashing, handle, message)
        } else {
            self.session.sign(&raw_mechanism, handle, &prehashed_input(algorithm, message))
        }
        .map_err(token_error)?;
        Signature::from_raw(algorithm, &raw)
    }
}
