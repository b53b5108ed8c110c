//! Key algorithms the host knows: RSA (any size; 2048 and 3072 are made new) and EC on P-256
//! and P-384. [`KeyAlgorithm`] names one, [`PublicKey`] holds a key of one (from a
//! certificate's SubjectPublicKeyInfo or from a token's public-key attributes), and
//! [`Signature`] is what a card returns for one. The maths is the `p256`, `p384` and `rsa`
//! crates'; this module only picks which one and converts encodings.

use crate::protocol::{ErrorCode, HostError};
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::BoxedUint;
use sha2::{Digest, Sha256, Sha384};
use x509_cert::spki::ObjectIdentifier;

/// An elliptic curve the host signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Curve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
}

/// DER of the namedCurve OID of P-256 (1.2.840.10045.3.1.7), as CKA_EC_PARAMS holds it.
pub const P256_EC_PARAMS: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
/// DER of the namedCurve OID of P-384 (1.3.132.0.34).
pub const P384_EC_PARAMS: [u8; 7] = [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22];

impl Curve {
    /// CKA_EC_PARAMS for the curve.
    pub fn ec_params(self) -> &'static [u8] {
        match self {
            Curve::P256 => &P256_EC_PARAMS,
            Curve::P384 => &P384_EC_PARAMS,
        }
    }

    /// The curve CKA_EC_PARAMS names, if it is one we know.
    pub fn from_ec_params(params: &[u8]) -> Option<Curve> {
        [Curve::P256, Curve::P384].into_iter().find(|c| c.ec_params() == params)
    }

    /// The curve's size in bits (how PKCS#11 mechanism info counts EC key sizes).
    pub fn bits(self) -> u32 {
        match self {
            Curve::P256 => 256,
            Curve::P384 => 384,
        }
    }
}

/// A key pair's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyAlgorithm {
    /// RSA with a modulus of `bits` bits.
    Rsa {
        /// Modulus size.
        bits: u32,
    },
    /// ECDSA on a curve.
    Ec(Curve),
}

impl KeyAlgorithm {
    /// RSA-2048.
    pub const RSA2048: KeyAlgorithm = KeyAlgorithm::Rsa { bits: 2048 };
    /// RSA-3072.
    pub const RSA3072: KeyAlgorithm = KeyAlgorithm::Rsa { bits: 3072 };
    /// ECDSA P-256.
    pub const P256: KeyAlgorithm = KeyAlgorithm::Ec(Curve::P256);
    /// ECDSA P-384.
    pub const P384: KeyAlgorithm = KeyAlgorithm::Ec(Curve::P384);
    /// The algorithms new keys may have, by their config and wire names.
    pub const NEW_KEY_CHOICES: [(&'static str, KeyAlgorithm); 4] = [
        ("p384", KeyAlgorithm::P384),
        ("p256", KeyAlgorithm::P256),
        ("rsa2048", KeyAlgorithm::RSA2048),
        ("rsa3072", KeyAlgorithm::RSA3072),
    ];

    /// The name config and protocol use (`p384`, `p256`, `rsa2048`, `rsa3072`; other RSA
    /// sizes read `rsa<bits>`).
    pub fn name(self) -> String {
        match self {
            KeyAlgorithm::Ec(Curve::P256) => "p256".into(),
            KeyAlgorithm::Ec(Curve::P384) => "p384".into(),
            KeyAlgorithm::Rsa { bits } => format!("rsa{bits}"),
        }
    }

    /// A new key's algorithm by its config or wire name: only the four of
    /// [`Self::NEW_KEY_CHOICES`].
    pub fn new_key_from_name(name: &str) -> Option<KeyAlgorithm> {
        Self::NEW_KEY_CHOICES.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }

    /// For people: `RSA-2048`, `P-384`.
    pub fn describe(self) -> String {
        match self {
            KeyAlgorithm::Ec(Curve::P256) => "P-256".into(),
            KeyAlgorithm::Ec(Curve::P384) => "P-384".into(),
            KeyAlgorithm::Rsa { bits } => format!("RSA-{bits}"),
        }
    }

    /// The X.509 signature algorithm a request signed by such a key carries: ECDSA with the
    /// curve's hash, or sha256WithRSAEncryption.
    pub fn signature_oid(self) -> ObjectIdentifier {
        match self {
            KeyAlgorithm::Ec(Curve::P256) => ECDSA_WITH_SHA256,
            KeyAlgorithm::Ec(Curve::P384) => ECDSA_WITH_SHA384,
            KeyAlgorithm::Rsa { .. } => SHA256_WITH_RSA,
        }
    }
}

/// ecdsa-with-SHA256 (1.2.840.10045.4.3.2).
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// ecdsa-with-SHA384 (1.2.840.10045.4.3.3).
pub const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// sha256WithRSAEncryption (1.2.840.113549.1.1.11).
pub const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// The DER DigestInfo prefix of SHA-256 (RFC 8017 §9.2 note 1): what `CKM_RSA_PKCS` signs in
/// front of the digest when the card does not hash.
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    0x04, 0x20,
];

/// A public key of one of the algorithms the host knows.
#[derive(Debug, Clone, PartialEq)]
pub enum PublicKey {
    /// ECDSA P-256.
    P256(p256::PublicKey),
    /// ECDSA P-384.
    P384(p384::PublicKey),
    /// RSA.
    Rsa(rsa::PublicKey),
}

fn token_key_error(message: impl Into<String>) -> HostError {
    HostError::new(ErrorCode::TokenError, message)
}

impl PublicKey {
    /// Its algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            PublicKey::P256(_) => KeyAlgorithm::P256,
            PublicKey::P384(_) => KeyAlgorithm::P384,
            PublicKey::Rsa(key) => KeyAlgorithm::Rsa { bits: key.n().bit_width() },
        }
    }

    /// Reads a SubjectPublicKeyInfo (a certificate's key); `None` for other algorithms.
    pub fn from_spki_der(der: &[u8]) -> Option<PublicKey> {
        if let Ok(key) = p384::PublicKey::from_public_key_der(der) {
            return Some(PublicKey::P384(key));
        }
        if let Ok(key) = p256::PublicKey::from_public_key_der(der) {
            return Some(PublicKey::P256(key));
        }
        rsa::PublicKey::from_public_key_der(der).ok().map(PublicKey::Rsa)
    }

    /// The SubjectPublicKeyInfo, DER.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, HostError> {
        let document = match self {
            PublicKey::P256(key) => key.to_public_key_der(),
            PublicKey::P384(key) => key.to_public_key_der(),
            PublicKey::Rsa(key) => key.to_public_key_der(),
        }
        .map_err(|e| HostError::new(ErrorCode::InternalError, format!("encoding a public key ({e})")))?;
        Ok(document.as_bytes().to_vec())
    }

    /// Reads an EC public key object: CKA_EC_PARAMS and CKA_EC_POINT (a DER OCTET STRING around
    /// the SEC1 point, as PKCS#11 says, or the bare point, as some cards give it).
    pub fn from_ec_attributes(params: &[u8], point: &[u8]) -> Result<PublicKey, HostError> {
        let curve = Curve::from_ec_params(params)
            .ok_or_else(|| token_key_error("The card holds an EC key on a curve this host does not use."))?;
        let sec1 = unwrap_ec_point(point);
        let bad = || {
            token_key_error(format!(
                "The card returned a public key that is not a {} point.",
                KeyAlgorithm::Ec(curve).describe()
            ))
        };
        match curve {
            Curve::P256 => p256::PublicKey::from_sec1_bytes(sec1).map(PublicKey::P256).map_err(|_| bad()),
            Curve::P384 => p384::PublicKey::from_sec1_bytes(sec1).map(PublicKey::P384).map_err(|_| bad()),
        }
    }

    /// Reads an RSA public key object: CKA_MODULUS and CKA_PUBLIC_EXPONENT (big-endian).
    pub fn from_rsa_attributes(modulus: &[u8], exponent: &[u8]) -> Result<PublicKey, HostError> {
        let bad = || token_key_error("The card returned an RSA public key this host cannot read.");
        let n = BoxedUint::from_be_slice_vartime(modulus);
        let e = BoxedUint::from_be_slice_vartime(exponent);
        rsa::PublicKey::new(n, e).map(PublicKey::Rsa).map_err(|_| bad())
    }

    /// Checks `signature` over `message` with the hash this key's algorithm uses.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), String> {
        use p384::ecdsa::signature::Verifier;
        match (self, signature) {
            (PublicKey::P256(key), Signature::P256(sig)) => {
                p256::ecdsa::VerifyingKey::from(key).verify(message, sig).map_err(|e| e.to_string())
            }
            (PublicKey::P384(key), Signature::P384(sig)) => {
                p384::ecdsa::VerifyingKey::from(key).verify(message, sig).map_err(|e| e.to_string())
            }
            (PublicKey::Rsa(key), Signature::Rsa(raw)) => {
                let sig = rsa::pkcs1v15::Signature::try_from(raw.as_slice()).map_err(|e| e.to_string())?;
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.clone())
                    .verify(message, &sig)
                    .map_err(|e| e.to_string())
            }
            _ => Err(format!("a {} key cannot have made this signature", self.algorithm().describe())),
        }
    }

    /// Checks an X.509 signature value (ECDSA: the DER Ecdsa-Sig-Value; RSA: the raw block).
    pub fn verify_x509(&self, message: &[u8], bits: &[u8]) -> Result<(), String> {
        let signature = match self {
            PublicKey::P256(_) => {
                Signature::P256(p256::ecdsa::Signature::from_der(bits).map_err(|e| e.to_string())?)
            }
            PublicKey::P384(_) => {
                Signature::P384(p384::ecdsa::Signature::from_der(bits).map_err(|e| e.to_string())?)
            }
            PublicKey::Rsa(_) => Signature::Rsa(bits.to_vec()),
        };
        self.verify(message, &signature)
    }
}

impl EncodePublicKey for PublicKey {
    fn to_public_key_der(&self) -> x509_cert::spki::Result<x509_cert::der::Document> {
        match self {
            PublicKey::P256(key) => key.to_public_key_der(),
            PublicKey::P384(key) => key.to_public_key_der(),
            PublicKey::Rsa(key) => key.to_public_key_der(),
        }
    }
}

/// The SEC1 point inside CKA_EC_POINT: unwraps a DER OCTET STRING (short or one-byte long
/// form) when the bytes are one, else takes them as the bare point.
fn unwrap_ec_point(point: &[u8]) -> &[u8] {
    match point {
        [0x04, length, rest @ ..] if usize::from(*length) == rest.len() && rest.first() == Some(&0x04) => {
            rest
        }
        [0x04, 0x81, length, rest @ ..] if usize::from(*length) == rest.len() => rest,
        bare => bare,
    }
}

/// A signature as a card returns it, typed by algorithm.
#[derive(Debug, Clone, PartialEq)]
pub enum Signature {
    /// ECDSA P-256 (from the card's raw `r || s`).
    P256(p256::ecdsa::Signature),
    /// ECDSA P-384 (from the card's raw `r || s`).
    P384(p384::ecdsa::Signature),
    /// RSA PKCS#1 v1.5: the signature block.
    Rsa(Vec<u8>),
}

impl Signature {
    /// Reads the card's raw output for a key of `algorithm`.
    pub fn from_raw(algorithm: KeyAlgorithm, raw: &[u8]) -> Result<Signature, HostError> {
        let bad = || {
            token_key_error(format!(
                "The card returned a {}-byte signature, not a {} one.",
                raw.len(),
                algorithm.describe()
            ))
        };
        match algorithm {
            KeyAlgorithm::Ec(Curve::P256) => {
                p256::ecdsa::Signature::from_slice(raw).map(Signature::P256).map_err(|_| bad())
            }
            KeyAlgorithm::Ec(Curve::P384) => {
                p384::ecdsa::Signature::from_slice(raw).map(Signature::P384).map_err(|_| bad())
            }
            KeyAlgorithm::Rsa { bits } if raw.len() == bits.div_ceil(8) as usize => {
                Ok(Signature::Rsa(raw.to_vec()))
            }
            KeyAlgorithm::Rsa { .. } => Err(bad()),
        }
    }

    /// The bytes of the X.509 / PKCS#10 signature BIT STRING.
    pub fn to_x509_bytes(&self) -> Vec<u8> {
        match self {
            Signature::P256(sig) => sig.to_der().as_bytes().to_vec(),
            Signature::P384(sig) => sig.to_der().as_bytes().to_vec(),
            Signature::Rsa(raw) => raw.clone(),
        }
    }
}

/// What a card is asked to sign for a key of `algorithm` when it does not hash itself: the
/// digest (ECDSA), or the DigestInfo around it (RSA PKCS#1 v1.5).
pub fn prehashed_input(algorithm: KeyAlgorithm, message: &[u8]) -> Vec<u8> {
    match algorithm {
        KeyAlgorithm::Ec(Curve::P256) => Sha256::digest(message).to_vec(),
        KeyAlgorithm::Ec(Curve::P384) => Sha384::digest(message).to_vec(),
        KeyAlgorithm::Rsa { .. } => {
            let mut input = SHA256_DIGEST_INFO_PREFIX.to_vec();
            input.extend_from_slice(&Sha256::digest(message));
            input
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p384::elliptic_curve::sec1::ToSec1Point;

    #[test]
    fn names_round_trip_and_only_four_are_new_key_choices() {
        for (name, algorithm) in KeyAlgorithm::NEW_KEY_CHOICES {
            assert_eq!(algorithm.name(), name);
            assert_eq!(KeyAlgorithm::new_key_from_name(name), Some(algorithm));
        }
        assert_eq!(KeyAlgorithm::new_key_from_name("rsa1024"), None);
        assert_eq!(KeyAlgorithm::new_key_from_name("P384"), None);
        assert_eq!(KeyAlgorithm::RSA3072.describe(), "RSA-3072");
    }

    #[test]
    fn ec_attributes_read_both_curves_wrapped_or_bare() {
        let p384_key = p384::SecretKey::from_slice(&[7u8; 48]).expect("scalar").public_key();
        let point = p384_key.to_sec1_point(false).as_bytes().to_vec();
        let mut wrapped = vec![0x04, 0x61];
        wrapped.extend_from_slice(&point);
        let expected = PublicKey::P384(p384_key);
        assert_eq!(PublicKey::from_ec_attributes(&P384_EC_PARAMS, &wrapped).expect("wrapped"), expected);
        assert_eq!(PublicKey::from_ec_attributes(&P384_EC_PARAMS, &point).expect("bare"), expected);
        let p256_key = p256::SecretKey::from_slice(&[7u8; 32]).expect("scalar").public_key();
        let point =
            p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&p256_key, false).as_bytes().to_vec();
        let mut wrapped = vec![0x04, 0x41];
        wrapped.extend_from_slice(&point);
        let key = PublicKey::from_ec_attributes(&P256_EC_PARAMS, &wrapped).expect("p256");
        assert_eq!(key.algorithm(), KeyAlgorithm::P256);
        // The same SPKI comes back from the certificate side.
        assert_eq!(PublicKey::from_spki_der(&key.to_spki_der().expect("spki")), Some(key));
        assert!(PublicKey::from_ec_attributes(&P384_EC_PARAMS, &wrapped).is_err(), "P-256 point as P-384");
        assert!(PublicKey::from_ec_attributes(&[0x06, 0x01, 0x00], &point).is_err(), "unknown curve");
    }

    #[test]
    fn rsa_attributes_give_the_modulus_size() {
        // A 2048-bit odd modulus with the top bit set (never factored: only its size matters).
        let mut modulus = vec![0xC1u8; 256];
        modulus[255] |= 1;
        let key = PublicKey::from_rsa_attributes(&modulus, &[1, 0, 1]).expect("rsa");
        assert_eq!(key.algorithm(), KeyAlgorithm::RSA2048);
        assert_eq!(PublicKey::from_spki_der(&key.to_spki_der().expect("spki")), Some(key));
    }

    #[test]
    fn raw_signatures_are_checked_for_size() {
        assert!(Signature::from_raw(KeyAlgorithm::P384, &[1u8; 96]).is_ok());
        assert!(Signature::from_raw(KeyAlgorithm::P384, &[1u8; 64]).is_err());
        assert!(Signature::from_raw(KeyAlgorithm::P256, &[1u8; 64]).is_ok());
        assert!(Signature::from_raw(KeyAlgorithm::RSA2048, &[1u8; 256]).is_ok());
        assert_eq!(
            Signature::from_raw(KeyAlgorithm::RSA2048, &[1u8; 255]).expect_err("short").code,
            ErrorCode::TokenError
        );
    }

    #[test]
    fn prehashed_input_has_digest_info_for_rsa() {
        assert_eq!(prehashed_input(KeyAlgorithm::P384, b"m").len(), 48);
        assert_eq!(prehashed_input(KeyAlgorithm::P256, b"m").len(), 32);
        let rsa = prehashed_input(KeyAlgorithm::RSA2048, b"m");
        assert_eq!(rsa.len(), 19 + 32);
        assert!(rsa.starts_with(&SHA256_DIGEST_INFO_PREFIX));
    }
}
