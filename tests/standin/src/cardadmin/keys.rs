//! Per-card management keys, derived from the service's master secret so that the service
//! stores one secret, not one key per card:
//!
//! ```text
//! key = HKDF-SHA256(salt = none, IKM = master secret,
//!                   info = "cis-renew card-management key v1" || 0x00 || ALG || 0x00 || GUID,
//!                   L = key length of ALG)
//! ```
//! ALG is the algorithm's name in ASCII (`3des`, `aes128`, `aes192`, `aes256`), GUID the
//! CHUID's 16 bytes. Naming the algorithm keeps a card's 3DES and AES keys unrelated. 3DES
//! keys then get odd parity in every byte (the low bit), as DES hardware expects.

use cis_renew_testbed::piv::MgmtAlg;
use hkdf::Hkdf;
use sha2::Sha256;

/// The fixed start of HKDF's info.
pub const INFO: &[u8] = b"cis-renew card-management key v1";

/// The management key of card `guid` for `alg`.
pub fn derive(master: &[u8], guid: &[u8; 16], alg: MgmtAlg) -> Vec<u8> {
    let info = [INFO, &[0], alg.name().as_bytes(), &[0], guid].concat();
    let mut key = vec![0u8; alg.key_len()];
    // expand fails only for L > 255 * 32 bytes; our keys are at most 32.
    let expanded = Hkdf::<Sha256>::new(None, master).expand(&info, &mut key);
    debug_assert!(expanded.is_ok());
    if alg == MgmtAlg::Tdes {
        for b in &mut key {
            // The low bit makes the count of ones odd.
            *b = (*b & 0xFE) | u8::from((*b & 0xFE).count_ones() % 2 == 0);
        }
    }
    key
}

/// A card ID as the API takes it: 32 hex digits (either case) -> the GUID's bytes.
pub fn parse_card_id(card_id: &str) -> Option<[u8; 16]> {
    if card_id.len() != 32 {
        return None;
    }
    let bytes = cis_renew_testbed::util::unhex(card_id).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUID: [u8; 16] = [0x11; 16];

    #[test]
    fn derive_gives_each_card_and_algorithm_its_own_key_of_the_right_length() {
        let master = [7u8; 32];
        let mut other = GUID;
        other[15] ^= 1;
        for alg in MgmtAlg::ALL {
            let key = derive(&master, &GUID, alg);
            assert_eq!(key.len(), alg.key_len(), "{alg}");
            assert_eq!(key, derive(&master, &GUID, alg), "{alg}: deterministic");
            assert_ne!(key, derive(&master, &other, alg), "{alg}: per card");
            assert_ne!(key, derive(&[8u8; 32], &GUID, alg), "{alg}: per master");
        }
        assert_ne!(derive(&master, &GUID, MgmtAlg::Aes192), derive(&master, &GUID, MgmtAlg::Tdes));
    }

    #[test]
    fn derive_matches_rfc_5869_hkdf_with_our_info() {
        // Independent HKDF-SHA256 (RFC 5869: PRK = HMAC(salt = 32 zero bytes, IKM); OKM = T(1)
        // = HMAC(PRK, info || 0x01)), written out with the hmac crate.
        use hmac::{KeyInit, Mac};
        let master = [0x42u8; 32];
        let mut extract = hmac::Hmac::<Sha256>::new_from_slice(&[0u8; 32]).expect("hmac key");
        extract.update(&master);
        let prk = extract.finalize().into_bytes();
        let mut expand = hmac::Hmac::<Sha256>::new_from_slice(&prk).expect("hmac key");
        expand.update(&[INFO, &[0], b"aes256", &[0], &GUID, &[1]].concat());
        let t1 = expand.finalize().into_bytes();
        assert_eq!(derive(&master, &GUID, MgmtAlg::Aes256), t1.to_vec());
    }

    #[test]
    fn tdes_keys_have_odd_parity() {
        for n in 0..20u8 {
            let key = derive(&[n; 32], &GUID, MgmtAlg::Tdes);
            assert!(key.iter().all(|b| b.count_ones() % 2 == 1), "{key:02x?}");
        }
    }

    #[test]
    fn card_ids_are_32_hex_digits() {
        assert_eq!(parse_card_id("00112233445566778899AABBCCDDEEFF").map(|g| g[15]), Some(0xFF));
        assert!(parse_card_id("0011").is_none());
        assert!(parse_card_id("zz112233445566778899aabbccddeeff").is_none());
    }
}
