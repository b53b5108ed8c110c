//! The card's key pairs: generation, storage (PKCS#8 in the card file) and the private-key
//! operations the SmartCard-HSM offers (ECDSA over a hash, RSA raw, PKCS#1 v1.5 and PSS).

use getrandom04::SysRng;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use signature::hazmat::PrehashSigner;

use super::apdu::sw;
use super::tlv;

/// Key algorithms the card generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAlg {
    /// ECDSA on NIST P-256.
    P256,
    /// ECDSA on NIST P-384.
    P384,
    /// RSA with a 2048-bit modulus, exponent 65537.
    Rsa2048,
}

/// The field prime of P-256 (SEC 2), which names the curve in a CV request.
pub const P256_PRIME: [u8; 32] = hex32("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
/// The field prime of P-384 (SEC 2).
pub const P384_PRIME: [u8; 48] =
    hex48("fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff");

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not lower-case hex"),
    }
}

const fn hex32(s: &str) -> [u8; 32] {
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(b[2 * i]) << 4 | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn hex48(s: &str) -> [u8; 48] {
    let b = s.as_bytes();
    let mut out = [0u8; 48];
    let mut i = 0;
    while i < 48 {
        out[i] = nibble(b[2 * i]) << 4 | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// A private key held by the card.
pub enum CardKey {
    /// P-256.
    P256(p256::ecdsa::SigningKey),
    /// P-384.
    P384(p384::ecdsa::SigningKey),
    /// RSA-2048.
    Rsa(Box<rsa::PrivateKey>),
}

impl CardKey {
    /// Makes a new key pair.
    pub fn generate(alg: KeyAlg) -> Result<CardKey, String> {
        match alg {
            KeyAlg::P256 => loop {
                let bytes: [u8; 32] = random()?;
                if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                    return Ok(CardKey::P256(k));
                }
            },
            KeyAlg::P384 => loop {
                let bytes: [u8; 48] = random()?;
                if let Ok(k) = p384::ecdsa::SigningKey::from_slice(&bytes) {
                    return Ok(CardKey::P384(k));
                }
            },
            KeyAlg::Rsa2048 => rsa::PrivateKey::new(&mut SysRng, 2048)
                .map(|k| CardKey::Rsa(Box::new(k)))
                .map_err(|e| format!("RSA key generation: {e}")),
        }
    }

    /// Its algorithm.
    pub fn alg(&self) -> KeyAlg {
        match self {
            CardKey::P256(_) => KeyAlg::P256,
            CardKey::P384(_) => KeyAlg::P384,
            CardKey::Rsa(_) => KeyAlg::Rsa2048,
        }
    }

    /// PKCS#8 DER, for the card file.
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, String> {
        let doc = match self {
            CardKey::P256(k) => k.to_pkcs8_der(),
            CardKey::P384(k) => k.to_pkcs8_der(),
            CardKey::Rsa(k) => k.to_pkcs8_der(),
        };
        doc.map(|d| d.as_bytes().to_vec()).map_err(|e| format!("encoding a key: {e}"))
    }

    /// Reads a key the card file holds.
    pub fn from_pkcs8(alg: KeyAlg, der: &[u8]) -> Result<CardKey, String> {
        let key = match alg {
            KeyAlg::P256 => p256::ecdsa::SigningKey::from_pkcs8_der(der).map(CardKey::P256),
            KeyAlg::P384 => p384::ecdsa::SigningKey::from_pkcs8_der(der).map(CardKey::P384),
            KeyAlg::Rsa2048 => rsa::PrivateKey::from_pkcs8_der(der).map(|k| CardKey::Rsa(Box::new(k))),
        };
        key.map_err(|e| format!("decoding a {alg:?} key: {e}"))
    }

    /// The contents of the CV public key object (tag 7F49) for this key: the algorithm OID
    /// the request named, then modulus and exponent (RSA) or the field prime and the public
    /// point (EC). OpenSC finds the curve by the prime and reads nothing else.
    pub fn cvc_public_key(&self, oid: &[u8]) -> Vec<u8> {
        let mut out = tlv::encode(0x06, oid);
        match self {
            CardKey::P256(k) => {
                out.extend(tlv::encode(0x81, &P256_PRIME));
                out.extend(tlv::encode(0x86, &k.verifying_key().to_sec1_bytes()));
            }
            CardKey::P384(k) => {
                out.extend(tlv::encode(0x81, &P384_PRIME));
                out.extend(tlv::encode(0x86, &k.verifying_key().to_sec1_bytes()));
            }
            CardKey::Rsa(k) => {
                out.extend(tlv::encode(0x81, &k.n().to_be_bytes_trimmed_vartime()));
                out.extend(tlv::encode(0x82, &k.e().to_be_bytes_trimmed_vartime()));
            }
        }
        out
    }

    /// ECDSA over a hash the caller made, as the card's "ECDSA with hash input" algorithm:
    /// the hash is cut to (or left-padded to) the field size, as ECDSA itself does.
    /// Returns the DER signature. RSA keys answer `6A80`.
    pub fn sign_ec_hash(&self, hash: &[u8]) -> Result<Vec<u8>, u16> {
        fn fit(hash: &[u8], n: usize) -> Vec<u8> {
            if hash.len() >= n {
                hash[..n].to_vec()
            } else {
                let mut v = vec![0u8; n - hash.len()];
                v.extend_from_slice(hash);
                v
            }
        }
        match self {
            CardKey::P256(k) => {
                let sig: p256::ecdsa::Signature =
                    k.sign_prehash(&fit(hash, 32)).map_err(|_| sw::WRONG_DATA)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            CardKey::P384(k) => {
                let sig: p384::ecdsa::Signature =
                    k.sign_prehash(&fit(hash, 48)).map_err(|_| sw::WRONG_DATA)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            CardKey::Rsa(_) => Err(sw::WRONG_DATA),
        }
    }

    /// The RSA private-key operation on a block the caller padded (modulus-sized).
    pub fn rsa_raw(&self, block: &[u8]) -> Result<Vec<u8>, u16> {
        let CardKey::Rsa(k) = self else { return Err(sw::WRONG_DATA) };
        let size = k.size();
        if block.len() != size {
            return Err(sw::WRONG_LENGTH);
        }
        let c = rsa::BoxedUint::from_be_slice(block, k.n().bits_precision()).map_err(|_| sw::WRONG_DATA)?;
        if c >= *k.n().as_ref() {
            return Err(sw::WRONG_DATA);
        }
        let m = rsa::hazmat::rsa_decrypt_and_check(k.as_ref(), Some(&mut SysRng), &c)
            .map_err(|_| sw::WRONG_DATA)?;
        let bytes = m.to_be_bytes();
        // Left-pad (or trim leading zero limbs) to exactly the modulus size.
        let mut out = vec![0u8; size];
        let take = bytes.len().min(size);
        out[size - take..].copy_from_slice(&bytes[bytes.len() - take..]);
        Ok(out)
    }

    /// PKCS#1 v1.5 signature over a DigestInfo the caller built.
    pub fn rsa_pkcs1(&self, digest_info: &[u8]) -> Result<Vec<u8>, u16> {
        let CardKey::Rsa(k) = self else { return Err(sw::WRONG_DATA) };
        k.sign(rsa::Pkcs1v15Sign::new_unprefixed(), digest_info).map_err(|_| sw::WRONG_DATA)
    }

    /// RSA-PSS over a hash the caller made; the hash algorithm follows from its length.
    pub fn rsa_pss(&self, hash: &[u8]) -> Result<Vec<u8>, u16> {
        let CardKey::Rsa(k) = self else { return Err(sw::WRONG_DATA) };
        let signed = match hash.len() {
            20 => k.sign_with_rng(&mut SysRng, rsa::Pss::<sha1::Sha1>::new(), hash),
            32 => k.sign_with_rng(&mut SysRng, rsa::Pss::<sha2::Sha256>::new(), hash),
            48 => k.sign_with_rng(&mut SysRng, rsa::Pss::<sha2::Sha384>::new(), hash),
            64 => k.sign_with_rng(&mut SysRng, rsa::Pss::<sha2::Sha512>::new(), hash),
            _ => return Err(sw::WRONG_LENGTH),
        };
        signed.map_err(|_| sw::WRONG_DATA)
    }

    /// The key's own signature over `data` (SHA-256), for the CV request it returns: plain
    /// r||s for EC (TR-03110), PKCS#1 v1.5 for RSA. Nobody verifies it; the card has no
    /// device key, so the outer signature is the same.
    pub fn self_sign(&self, data: &[u8]) -> Vec<u8> {
        let hash = sha2::Sha256::digest(data);
        match self {
            CardKey::P256(k) => {
                PrehashSigner::<p256::ecdsa::Signature>::sign_prehash(k, &hash).map(|s| s.to_bytes().to_vec())
            }
            .unwrap_or_default(),
            CardKey::P384(k) => {
                PrehashSigner::<p384::ecdsa::Signature>::sign_prehash(k, &hash).map(|s| s.to_bytes().to_vec())
            }
            .unwrap_or_default(),
            CardKey::Rsa(k) => k.sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &hash).unwrap_or_default(),
        }
    }
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| format!("random bytes: {e}"))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use signature::hazmat::PrehashVerifier;

    #[test]
    fn ec_keys_sign_hashes_and_survive_the_card_file() {
        let key = CardKey::generate(KeyAlg::P384).unwrap();
        let again = CardKey::from_pkcs8(KeyAlg::P384, &key.to_pkcs8().unwrap()).unwrap();
        let hash = sha2::Sha384::digest(b"to be signed");
        let der = again.sign_ec_hash(&hash).unwrap();
        let CardKey::P384(k) = &key else { unreachable!() };
        let sig = p384::ecdsa::Signature::from_der(&der).unwrap();
        k.verifying_key().verify_prehash(&hash, &sig).unwrap();
        // A P-256 key signs a SHA-384 hash cut to 32 bytes.
        let small = CardKey::generate(KeyAlg::P256).unwrap();
        let der = small.sign_ec_hash(&hash).unwrap();
        let CardKey::P256(k) = &small else { unreachable!() };
        let sig = p256::ecdsa::Signature::from_der(&der).unwrap();
        k.verifying_key().verify_prehash(&hash[..32], &sig).unwrap();
    }

    #[test]
    fn the_prime_constants_are_the_curves_fields() {
        // p = 2^256 - 2^224 + 2^192 + 2^96 - 1 and p = 2^384 - 2^128 - 2^96 + 2^32 - 1.
        assert_eq!(P256_PRIME[0..4], [0xff; 4]);
        assert_eq!(P256_PRIME[4..8], [0, 0, 0, 1]);
        assert_eq!(P384_PRIME[31], 0xfe);
        assert_eq!(P384_PRIME[36..44], [0; 8]);
    }
}
