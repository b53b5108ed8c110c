//! The PIV card-management key (key reference 9B) and SP 800-73-4 mutual authentication.
//!
//! The card encrypts a random witness; whoever holds the key decrypts it and sends it back
//! with a challenge of its own; the card checks the witness and answers the challenge
//! encrypted, which the key holder checks in turn. Each step is one block in ECB: 8 bytes for
//! 3DES, 16 for AES. The test bed uses this to provision cards; the stand-in's renewal service
//! uses the same block functions.

use std::fmt;
use std::str::FromStr;

use aes::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockSizeUser, KeyInit};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The card's factory management key (3DES): what yubico-piv-tool and the PIV test card use.
pub const DEFAULT_MGMT_KEY: [u8; 24] =
    [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8];

/// A management-key algorithm, by its SP 800-78-4 identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MgmtAlg {
    /// 3-key Triple DES (algorithm 03), 24-byte key, 8-byte blocks.
    #[serde(rename = "3des")]
    Tdes,
    /// AES-128 (08).
    #[serde(rename = "aes128")]
    Aes128,
    /// AES-192 (0A).
    #[serde(rename = "aes192")]
    Aes192,
    /// AES-256 (0C).
    #[serde(rename = "aes256")]
    Aes256,
}

impl MgmtAlg {
    /// All four, in the order of their identifiers.
    pub const ALL: [MgmtAlg; 4] = [MgmtAlg::Tdes, MgmtAlg::Aes128, MgmtAlg::Aes192, MgmtAlg::Aes256];

    /// The algorithm identifier: P1 of GENERAL AUTHENTICATE.
    pub fn id(self) -> u8 {
        match self {
            MgmtAlg::Tdes => 0x03,
            MgmtAlg::Aes128 => 0x08,
            MgmtAlg::Aes192 => 0x0A,
            MgmtAlg::Aes256 => 0x0C,
        }
    }

    /// The algorithm with identifier `id`.
    pub fn from_id(id: u8) -> Option<MgmtAlg> {
        MgmtAlg::ALL.into_iter().find(|a| a.id() == id)
    }

    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            MgmtAlg::Tdes | MgmtAlg::Aes192 => 24,
            MgmtAlg::Aes128 => 16,
            MgmtAlg::Aes256 => 32,
        }
    }

    /// Block length in bytes: the length of the witness, the challenge and the response.
    pub fn block_len(self) -> usize {
        match self {
            MgmtAlg::Tdes => 8,
            _ => 16,
        }
    }

    /// The name used in JSON and on command lines (`3des`, `aes128`, ...).
    pub fn name(self) -> &'static str {
        match self {
            MgmtAlg::Tdes => "3des",
            MgmtAlg::Aes128 => "aes128",
            MgmtAlg::Aes192 => "aes192",
            MgmtAlg::Aes256 => "aes256",
        }
    }

    /// Encrypts one block with `key` (ECB).
    pub fn encrypt_block(self, key: &[u8], block: &[u8]) -> Result<Vec<u8>> {
        self.one_block(key, block, true)
    }

    /// Decrypts one block with `key` (ECB).
    pub fn decrypt_block(self, key: &[u8], block: &[u8]) -> Result<Vec<u8>> {
        self.one_block(key, block, false)
    }

    fn one_block(self, key: &[u8], block: &[u8], encrypt: bool) -> Result<Vec<u8>> {
        if key.len() != self.key_len() {
            return Err(Error::Invalid(format!(
                "a {} management key has {} bytes, not {}",
                self.name(),
                self.key_len(),
                key.len()
            )));
        }
        if block.len() != self.block_len() {
            return Err(Error::Invalid(format!(
                "a {} block has {} bytes, not {}",
                self.name(),
                self.block_len(),
                block.len()
            )));
        }
        match self {
            MgmtAlg::Tdes => ecb::<des::TdesEde3>(key, block, encrypt),
            MgmtAlg::Aes128 => ecb::<aes::Aes128>(key, block, encrypt),
            MgmtAlg::Aes192 => ecb::<aes::Aes192>(key, block, encrypt),
            MgmtAlg::Aes256 => ecb::<aes::Aes256>(key, block, encrypt),
        }
    }
}

fn ecb<C>(key: &[u8], block: &[u8], encrypt: bool) -> Result<Vec<u8>>
where
    C: KeyInit + BlockCipherEncrypt + BlockCipherDecrypt + BlockSizeUser,
{
    let cipher = C::new_from_slice(key).map_err(|e| Error::crypto("management key", e))?;
    let mut b: Array<u8, C::BlockSize> =
        Array::try_from(block).map_err(|_| Error::Invalid("block length".to_string()))?;
    if encrypt {
        cipher.encrypt_block(&mut b);
    } else {
        cipher.decrypt_block(&mut b);
    }
    Ok(b.to_vec())
}

impl fmt::Display for MgmtAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MgmtAlg {
    type Err = Error;
    fn from_str(s: &str) -> Result<MgmtAlg> {
        MgmtAlg::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            Error::Invalid(format!("management-key algorithm {s:?}: use 3des, aes128, aes192 or aes256"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::unhex;

    fn h(s: &str) -> Vec<u8> {
        unhex(s).unwrap_or_default()
    }

    // FIPS-197 appendix C (one block each) and SP 800-67 rev. 2's TDEA example (first block).
    const VECTORS: [(MgmtAlg, &str, &str, &str); 4] = [
        (
            MgmtAlg::Aes128,
            "000102030405060708090a0b0c0d0e0f",
            "00112233445566778899aabbccddeeff",
            "69c4e0d86a7b0430d8cdb78070b4c55a",
        ),
        (
            MgmtAlg::Aes192,
            "000102030405060708090a0b0c0d0e0f1011121314151617",
            "00112233445566778899aabbccddeeff",
            "dda97ca4864cdfe06eaf70a0ec0d7191",
        ),
        (
            MgmtAlg::Aes256,
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "00112233445566778899aabbccddeeff",
            "8ea2b7ca516745bfeafc49904b496089",
        ),
        (
            MgmtAlg::Tdes,
            "0123456789abcdef23456789abcdef01456789abcdef0123",
            "5468652071756663",
            "a826fd8ce53b855f",
        ),
    ];

    #[test]
    fn encrypt_and_decrypt_match_the_published_vectors() {
        for (alg, key, plain, cipher) in VECTORS {
            assert_eq!(alg.encrypt_block(&h(key), &h(plain)).ok(), Some(h(cipher)), "{alg} encrypt");
            assert_eq!(alg.decrypt_block(&h(key), &h(cipher)).ok(), Some(h(plain)), "{alg} decrypt");
        }
    }

    #[test]
    fn wrong_key_or_block_length_is_refused() {
        assert!(MgmtAlg::Aes256.encrypt_block(&[0; 24], &[0; 16]).is_err());
        assert!(MgmtAlg::Tdes.encrypt_block(&DEFAULT_MGMT_KEY, &[0; 16]).is_err());
    }

    #[test]
    fn names_and_ids_round_trip() {
        for alg in MgmtAlg::ALL {
            assert_eq!(alg.name().parse::<MgmtAlg>().ok(), Some(alg));
            assert_eq!(MgmtAlg::from_id(alg.id()), Some(alg));
            let json = serde_json::to_string(&alg).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", alg.name()));
        }
        assert!("aes".parse::<MgmtAlg>().is_err());
    }
}
