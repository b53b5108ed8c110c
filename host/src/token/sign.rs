//! Signatures on the card: ECDSA P-384 over SHA-384.
//!
//! `CKM_ECDSA_SHA384` when the token lists it (the card hashes); otherwise SHA-384 in the host
//! and `CKM_ECDSA` over the digest (SoftHSM and many cards). Either way the card returns the raw
//! `r || s`, which [`signature_from_raw`] turns into a typed signature.

use super::card::{CryptokiCard, ObjectRef};
use super::token_error;
use crate::protocol::{ErrorCode, HostError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use sha2::{Digest, Sha384};

impl CryptokiCard {
    pub(super) fn sign_sha384(
        &mut self,
        key: ObjectRef,
        message: &[u8],
    ) -> Result<p384::ecdsa::Signature, HostError> {
        let handle = self.handle(key)?;
        let hash_on_card = match self.hash_on_card {
            Some(known) => known,
            None => {
                let mechanisms = self.module.pkcs11().get_mechanism_list(self.slot).map_err(token_error)?;
                let known = mechanisms.contains(&MechanismType::ECDSA_SHA384);
                self.hash_on_card = Some(known);
                known
            }
        };
        let raw = if hash_on_card {
            self.session.sign(&Mechanism::EcdsaSha384, handle, message)
        } else {
            let digest = Sha384::digest(message);
            self.session.sign(&Mechanism::Ecdsa, handle, &digest)
        }
        .map_err(token_error)?;
        signature_from_raw(&raw)
    }
}

/// Reads the card's raw `r || s` (48 + 48 bytes for P-384).
pub fn signature_from_raw(raw: &[u8]) -> Result<p384::ecdsa::Signature, HostError> {
    p384::ecdsa::Signature::from_slice(raw).map_err(|_| {
        HostError::new(
            ErrorCode::TokenError,
            format!("The card returned a {}-byte signature, not a P-384 one.", raw.len()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use p384::ecdsa::signature::{Signer, Verifier};

    #[test]
    fn signature_from_raw_reads_r_and_s() {
        let key = p384::ecdsa::SigningKey::from_slice(&[3u8; 48]).expect("key");
        let signature: p384::ecdsa::Signature = key.sign(b"message");
        let parsed = signature_from_raw(&signature.to_bytes()).expect("raw");
        assert!(key.verifying_key().verify(b"message", &parsed).is_ok());
        assert_eq!(signature_from_raw(&[1u8; 95]).expect_err("short").code, ErrorCode::TokenError);
    }
}
