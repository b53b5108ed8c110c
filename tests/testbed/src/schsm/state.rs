//! What the card keeps across insertions, in a JSON file: its serial, PINs and retry counters,
//! elementary files and keys. Every change is written at once (temp file + rename), so a card
//! pulled or killed at any moment keeps everything it had done, answered or not, as a real
//! card's EEPROM does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::keys::KeyAlg;
use super::tlv;
use crate::error::{Error, Result};
use crate::util::b64;

/// EF.C_DevAut: the device certificate, whose holder reference gives the token serial.
pub const FID_DEVICE_CERT: u16 = 0x2F02;
/// EF.TokenInfo (PKCS#15), written at initialization.
pub const FID_TOKEN_INFO: u16 = 0x2F03;
/// High byte of the file IDs under which keys are listed.
pub const KEY_PREFIX: u8 = 0xCC;
/// High byte of PIN-protected data files.
pub const PROTECTED_PREFIX: u8 = 0xCD;
/// Retry counter OpenSC's `C_InitToken` asks for (and the card's default).
pub const DEFAULT_PIN_TRIES: u8 = 3;
/// The SO PIN (initialization code) retry counter.
pub const SO_PIN_TRIES: u8 = 15;

/// Bytes stored as base64 in the card file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Bytes(#[serde(with = "b64")] pub Vec<u8>);

/// A private key in the card file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredKey {
    /// Its algorithm.
    pub alg: KeyAlg,
    /// PKCS#8 DER.
    pub pkcs8: Bytes,
}

/// The card's persistent memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardState {
    /// Format marker.
    pub kind: String,
    /// The token serial OpenSC shows (the device certificate's holder reference minus its
    /// five-digit sequence number).
    pub serial: String,
    /// INITIALIZE DEVICE has run.
    pub initialized: bool,
    /// The user PIN.
    pub user_pin: Option<Bytes>,
    /// User PIN retry counter: tries allowed.
    pub pin_max_tries: u8,
    /// User PIN retry counter: tries left (0 = locked).
    pub pin_tries_left: u8,
    /// The SO PIN (8-byte initialization code).
    pub so_pin: Option<Bytes>,
    /// SO PIN tries left.
    pub so_tries_left: u8,
    /// Elementary files by 4-digit hex file ID.
    pub files: BTreeMap<String, Bytes>,
    /// Keys by 2-digit hex key ID (listed as file `CCxx`).
    pub keys: BTreeMap<String, StoredKey>,
}

/// The `kind` of a card file.
pub const KIND: &str = "cis-testbed-schsm-card/1";

impl CardState {
    /// A factory-fresh card: only its device certificate, not initialized.
    pub fn blank(serial: &str) -> CardState {
        let mut files = BTreeMap::new();
        files.insert(fid_key(FID_DEVICE_CERT), Bytes(device_certificate(serial)));
        CardState {
            kind: KIND.to_string(),
            serial: serial.to_string(),
            initialized: false,
            user_pin: None,
            pin_max_tries: DEFAULT_PIN_TRIES,
            pin_tries_left: DEFAULT_PIN_TRIES,
            so_pin: None,
            so_tries_left: SO_PIN_TRIES,
            files,
            keys: BTreeMap::new(),
        }
    }

    /// Reads a card file.
    pub fn load(path: &Path) -> Result<CardState> {
        let text = std::fs::read(path)
            .map_err(|e| Error::io(format!("reading the card file {}", path.display()), e))?;
        let state: CardState = serde_json::from_slice(&text).map_err(|e| {
            Error::Invalid(format!("{} is not a SmartCard-HSM card file: {e}", path.display()))
        })?;
        if state.kind != KIND {
            return Err(Error::Invalid(format!(
                "{} is a {:?} file, not {KIND:?}",
                path.display(),
                state.kind
            )));
        }
        Ok(state)
    }

    /// Writes the card file atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json =
            serde_json::to_vec_pretty(self).map_err(|e| Error::Invalid(format!("encoding the card: {e}")))?;
        let tmp = tmp_path(path);
        std::fs::write(&tmp, json).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("replacing {}", path.display()), e))
    }

    /// A file's contents.
    pub fn file(&self, fid: u16) -> Option<&[u8]> {
        self.files.get(&fid_key(fid)).map(|b| b.0.as_slice())
    }

    /// Mutable access to a file, creating it empty.
    pub fn file_mut(&mut self, fid: u16) -> &mut Vec<u8> {
        &mut self.files.entry(fid_key(fid)).or_default().0
    }

    /// Removes a file; whether it existed.
    pub fn remove_file(&mut self, fid: u16) -> bool {
        self.files.remove(&fid_key(fid)).is_some()
    }

    /// A key by ID.
    pub fn key(&self, id: u8) -> Option<&StoredKey> {
        self.keys.get(&format!("{id:02x}"))
    }

    /// Stores a key.
    pub fn put_key(&mut self, id: u8, key: StoredKey) {
        self.keys.insert(format!("{id:02x}"), key);
    }

    /// Removes a key; whether it existed.
    pub fn remove_key(&mut self, id: u8) -> bool {
        self.keys.remove(&format!("{id:02x}")).is_some()
    }

    /// Every file ID the card lists: keys as `CCxx`, then the files, ascending.
    pub fn list(&self) -> Vec<u16> {
        let mut out: Vec<u16> = self
            .keys
            .keys()
            .filter_map(|k| u8::from_str_radix(k, 16).ok())
            .map(|id| u16::from(KEY_PREFIX) << 8 | u16::from(id))
            .collect();
        out.extend(self.files.keys().filter_map(|k| u16::from_str_radix(k, 16).ok()));
        out.sort_unstable();
        out
    }

    /// Bytes of storage in use (files and keys), for the memory-full fault.
    pub fn used(&self) -> usize {
        self.files.values().map(|b| b.0.len()).sum::<usize>()
            + self.keys.values().map(|k| k.pkcs8.0.len()).sum::<usize>()
    }
}

fn fid_key(fid: u16) -> String {
    format!("{fid:04x}")
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// OID id-TA-ECDSA-SHA-256 (0.4.0.127.0.7.2.2.2.2.3), DER contents.
pub const OID_TA_ECDSA_SHA256: [u8; 10] = [0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x02, 0x03];

/// A card-verifiable device certificate (TR-03110 layout) whose holder reference is the
/// serial plus a five-digit sequence number. No one checks its signature here (OpenSC only
/// reads the holder reference unless secure messaging is in use, which this card lacks).
fn device_certificate(serial: &str) -> Vec<u8> {
    let body = tlv::nest(
        0x7F4E,
        &[
            tlv::encode(0x5F29, &[0x00]),
            tlv::encode(0x42, b"DECISTB00001"),
            tlv::nest(0x7F49, &[tlv::encode(0x06, &OID_TA_ECDSA_SHA256)]),
            tlv::encode(0x5F20, format!("{serial}00001").as_bytes()),
        ],
    );
    tlv::nest(0x7F21, &[body, tlv::encode(0x5F37, &[0u8; 64])])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_file_round_trips_and_lists_keys_before_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        let mut card = CardState::blank("UT00000042");
        card.file_mut(0xCE01).extend_from_slice(b"cert");
        card.put_key(1, StoredKey { alg: KeyAlg::P384, pkcs8: Bytes(vec![1, 2, 3]) });
        card.save(&path).unwrap();
        let again = CardState::load(&path).unwrap();
        assert_eq!(again, card);
        assert_eq!(again.list(), vec![0x2F02, 0xCC01, 0xCE01]);
        assert_eq!(again.used(), 3 + 4 + again.file(FID_DEVICE_CERT).unwrap().len());
    }

    #[test]
    fn other_files_are_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, "{\"kind\":\"other\"}").unwrap();
        let err = CardState::load(&path).unwrap_err().to_string();
        assert!(err.contains("not a SmartCard-HSM card file"), "{err}");
    }
}
