//! The SmartCard-HSM applet: the commands OpenSC's `sc-hsm` driver sends (card-sc-hsm.c,
//! pkcs15-sc-hsm.c, pkcs15init/pkcs15-sc-hsm.c in OpenSC 0.23), answered as the card does.
//!
//! | Command | APDU |
//! |---|---|
//! | SELECT application / EF | `00 A4 04 0C|00 AID`, `00 A4 00|02|08 .. FID` |
//! | VERIFY (and the empty status query) | `00 20 00 81 [PIN]` -> `9000`, `63Cx`, `6983` |
//! | CHANGE REFERENCE DATA | `00 24 00 81|88 old||new` |
//! | RESET RETRY COUNTER | `00 2C 00|01 81 SO-PIN[||new PIN]` |
//! | ENUMERATE OBJECTS | `80 58 00 00` -> list of file IDs (keys as `CCxx`) |
//! | READ BINARY (odd) | `00 B1 FID 54 02 offset` |
//! | UPDATE BINARY (odd) | `00 D7 FID 54 02 offset 53 L data` (creates the EF) |
//! | DELETE FILE | `00 E4 02 00 FID` |
//! | GENERATE ASYMMETRIC KEY PAIR | `00 46 keyID 00 CVC-body` -> `67` authenticated CV request |
//! | SIGN | `80 68 keyID alg data` (EC `70`-`73`, RSA `20`, `30`, `40`) |
//! | INITIALIZE DEVICE | `80 50 00 00 80..82..91..` |
//! | GET CHALLENGE | `00 84 00 00 Le` |
//!
//! Selecting the application resets the PIN status (OpenSC's logout relies on that).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::apdu::{sw, Command, Response};
use super::keys::{CardKey, KeyAlg, P256_PRIME, P384_PRIME};
use super::state::{self, Bytes, CardState, StoredKey};
use super::tlv;
use crate::error::Result;

/// The SmartCard-HSM application identifier.
pub const AID: [u8; 11] = [0xE8, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x81, 0xC3, 0x1F, 0x02, 0x01];

/// Faults to inject, counted from the card's insertion (APDUs are numbered from 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Answer the n-th APDU with this status word without carrying it out: `[n, sw]`.
    pub fail_apdu: Option<(u64, u16)>,
    /// Carry out the n-th APDU, then leave the reader without answering it (card pulled
    /// mid-command, after the card committed).
    pub tear_after: Option<u64>,
    /// Leave the reader when the n-th APDU arrives, without carrying it out.
    pub tear_before: Option<u64>,
    /// Refuse with `6A84` any write that would use more memory than the card holds now.
    pub memory_full: bool,
    /// Time key generation takes (a real card: 1-3 s for EC, more for RSA).
    pub keygen_delay_ms: u64,
    /// Answer the n-th write that starts a file whose ID begins with this byte (an UPDATE
    /// BINARY that names the file, as OpenSC's first APDU of each file write does; the
    /// chunks after it name the current file and are not counted; `CE` = certificates and
    /// CV requests, `C4` = key descriptions) with this status word, without carrying it out:
    /// `[prefix, n, sw]`. Counted from insertion.
    pub fail_write: Option<(u8, u64, u16)>,
}

/// What to do with a response.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send it.
    Answer(Response),
    /// Leave the reader without answering (a tear fault).
    Tear,
}

/// The card: persistent state plus what a reset clears.
pub struct Applet {
    path: PathBuf,
    state: CardState,
    faults: Faults,
    memory_limit: Option<usize>,
    count: u64,
    /// Writes seen that started a file with `faults.fail_write`'s prefix.
    writes_started: u64,
    selected: bool,
    current_ef: Option<u16>,
    pin_verified: bool,
}

impl Applet {
    /// Opens the card file.
    pub fn open(path: &Path, faults: Faults) -> Result<Applet> {
        let state = CardState::load(path)?;
        let memory_limit = faults.memory_full.then(|| state.used());
        Ok(Applet {
            path: path.to_path_buf(),
            state,
            faults,
            memory_limit,
            count: 0,
            writes_started: 0,
            selected: false,
            current_ef: None,
            pin_verified: false,
        })
    }

    /// Power off, power on or reset: volatile state goes.
    pub fn reset(&mut self) {
        self.selected = false;
        self.current_ef = None;
        self.pin_verified = false;
    }

    /// APDUs seen since insertion.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Handles one command APDU.
    pub fn handle(&mut self, apdu: &[u8]) -> Action {
        self.count += 1;
        let n = self.count;
        if self.faults.tear_before == Some(n) {
            return Action::Tear;
        }
        if let Some((at, status)) = self.faults.fail_apdu {
            if at == n {
                return Action::Answer(Response::status(status));
            }
        }
        let response = match Command::parse(apdu) {
            Some(cmd) => self.dispatch(&cmd),
            None => Response::status(sw::WRONG_LENGTH),
        };
        if self.faults.tear_after == Some(n) {
            return Action::Tear;
        }
        Action::Answer(response)
    }

    fn dispatch(&mut self, cmd: &Command) -> Response {
        if cmd.cla & 0x0C != 0 {
            // No secure messaging on this card.
            return Response::status(0x6882);
        }
        if cmd.ins == 0xA4 {
            return self.select(cmd);
        }
        if cmd.ins == 0x84 {
            return get_challenge(cmd);
        }
        if !self.selected {
            return Response::status(sw::INS_NOT_SUPPORTED);
        }
        let result = match (cmd.cla & 0xF0, cmd.ins) {
            (0x00, 0x20) => self.verify(cmd),
            (0x00, 0x24) => self.change_pin(cmd),
            (0x00, 0x2C) => self.reset_retry_counter(cmd),
            (0x80, 0x58) => Ok(self.enumerate()),
            (0x00, 0xB1) => self.read_binary(cmd),
            (0x00, 0xD7) => self.update_binary(cmd),
            (0x00, 0xE4) => self.delete_file(cmd),
            (0x00, 0x46) => self.generate(cmd),
            (0x80, 0x68) => self.sign(cmd),
            (0x80, 0x50) => self.initialize(cmd),
            _ => Err(sw::INS_NOT_SUPPORTED),
        };
        result.unwrap_or_else(Response::status)
    }

    fn save(&self) -> std::result::Result<(), u16> {
        // A card that cannot write its EEPROM reports a memory failure.
        self.state.save(&self.path).map_err(|e| {
            eprintln!("schsm: {e}");
            0x6581
        })
    }

    fn check_memory(&self, extra: usize) -> std::result::Result<(), u16> {
        match self.memory_limit {
            Some(limit) if self.state.used() + extra > limit => Err(sw::MEMORY_FULL),
            _ => Ok(()),
        }
    }

    fn require_pin(&self) -> std::result::Result<(), u16> {
        if self.pin_verified {
            Ok(())
        } else {
            Err(sw::SECURITY_STATUS)
        }
    }

    fn select(&mut self, cmd: &Command) -> Response {
        let want_fcp = cmd.p2 & 0x0C != 0x0C;
        match cmd.p1 {
            0x04 => {
                if cmd.data != AID {
                    return Response::status(sw::NOT_FOUND);
                }
                self.selected = true;
                self.current_ef = None;
                self.pin_verified = false;
                if want_fcp {
                    Response::ok(application_fcp())
                } else {
                    Response::status(sw::OK)
                }
            }
            0x00 | 0x02 | 0x08 | 0x09 if self.selected => {
                let Some(fid) = cmd.data.rchunks_exact(2).next().map(|c| u16::from_be_bytes([c[0], c[1]]))
                else {
                    return Response::status(sw::WRONG_LENGTH);
                };
                if fid == 0x3F00 {
                    self.current_ef = None;
                    return Response::status(sw::OK);
                }
                let size = if fid >> 8 == u16::from(state::KEY_PREFIX) {
                    self.state.key(fid as u8).map(|_| 0)
                } else {
                    self.state.file(fid).map(<[u8]>::len)
                };
                let Some(size) = size else { return Response::status(sw::NOT_FOUND) };
                self.current_ef = Some(fid);
                if want_fcp {
                    Response::ok(ef_fcp(fid, size))
                } else {
                    Response::status(sw::OK)
                }
            }
            0x00 | 0x02 | 0x08 | 0x09 => Response::status(sw::NOT_FOUND),
            _ => Response::status(sw::WRONG_P1P2),
        }
    }

    fn verify(&mut self, cmd: &Command) -> std::result::Result<Response, u16> {
        match cmd.p2 {
            0x81 => {}
            0x88 => return self.verify_so(cmd),
            // PIN pad and biometric templates: this card has none.
            _ => return Err(sw::REF_NOT_FOUND),
        }
        if !self.state.initialized {
            return Err(sw::REF_NOT_FOUND);
        }
        if self.state.pin_tries_left == 0 {
            return Err(sw::BLOCKED);
        }
        if cmd.data.is_empty() {
            return if self.pin_verified {
                Ok(Response::status(sw::OK))
            } else {
                Err(sw::WRONG_PIN | u16::from(self.state.pin_tries_left))
            };
        }
        self.check_user_pin(&cmd.data)
    }

    /// Compares a presented user PIN, counting a wrong one.
    fn check_user_pin(&mut self, pin: &[u8]) -> std::result::Result<Response, u16> {
        let right = self.state.user_pin.as_ref().is_some_and(|p| p.0 == pin);
        if right {
            self.state.pin_tries_left = self.state.pin_max_tries;
            self.pin_verified = true;
            self.save()?;
            Ok(Response::status(sw::OK))
        } else {
            self.state.pin_tries_left = self.state.pin_tries_left.saturating_sub(1);
            self.pin_verified = false;
            self.save()?;
            match self.state.pin_tries_left {
                0 => Err(sw::BLOCKED),
                n => Err(sw::WRONG_PIN | u16::from(n)),
            }
        }
    }

    fn verify_so(&mut self, cmd: &Command) -> std::result::Result<Response, u16> {
        if !self.state.initialized {
            return Err(sw::REF_NOT_FOUND);
        }
        if cmd.data.is_empty() {
            return Err(sw::WRONG_PIN | u16::from(self.state.so_tries_left.min(15)));
        }
        self.check_so_pin(&cmd.data).map(|()| Response::status(sw::OK))
    }

    fn check_so_pin(&mut self, so: &[u8]) -> std::result::Result<(), u16> {
        if self.state.so_tries_left == 0 {
            return Err(sw::BLOCKED);
        }
        if self.state.so_pin.as_ref().is_some_and(|p| p.0 == so) {
            self.state.so_tries_left = state::SO_PIN_TRIES;
            self.save()?;
            Ok(())
        } else {
            self.state.so_tries_left -= 1;
            self.save()?;
            match self.state.so_tries_left {
                0 => Err(sw::BLOCKED),
                n => Err(sw::WRONG_PIN | u16::from(n.min(15))),
            }
        }
    }

    fn change_pin(&mut self, cmd: &Command) -> std::result::Result<Response, u16> {
        match cmd.p2 {
            0x81 => {
                if self.state.pin_tries_left == 0 {
                    return Err(sw::BLOCKED);
                }
                let old_len = self.state.user_pin.as_ref().map_or(0, |p| p.0.len());
                if cmd.data.len() <= old_len {
                    return Err(sw::WRONG_LENGTH);
                }
                let (old, new) = cmd.data.split_at(old_len);
                check_pin_format(new)?;
                self.check_user_pin(old)?;
                self.state.user_pin = Some(Bytes(new.to_vec()));
                self.save()?;
                Ok(Response::status(sw::OK))
            }
            0x88 => {
                if cmd.data.len() != 16 {
                    return Err(sw::WRONG_LENGTH);
                }
                let (old, new) = cmd.data.split_at(8);
                self.check_so_pin(old)?;
                self.state.so_pin = Some(Bytes(new.to_vec()));
                self.save()?;
                Ok(Response::status(sw::OK))
            }
            _ => Err(sw::REF_NOT_FOUND),
        }
    }

    fn reset_retry_counter(&mut self, cmd: &Command) -> std::result::Result<Response, u16> {
        if cmd.p2 != 0x81 || cmd.data.len() < 8 {
            return Err(sw::WRONG_DATA);
        }
        let (so, new) = cmd.data.split_at(8);
        match cmd.p1 {
            0x00 => check_pin_format(new)?,
            0x01 if new.is_empty() => {}
            _ => return Err(sw::WRONG_P1P2),
        }
        self.check_so_pin(so)?;
        if !new.is_empty() {
            self.state.user_pin = Some(Bytes(new.to_vec()));
        }
        self.state.pin_tries_left = self.state.pin_max_tries;
        self.save()?;
        Ok(Response::status(sw::OK))
    }

    fn enumerate(&self) -> Response {
        Response::ok(self.state.list().iter().flat_map(|f| f.to_be_bytes()).collect())
    }

    /// The EF a READ/UPDATE BINARY names (P1P2 `0000`: the current one).
    fn target_ef(&self, cmd: &Command) -> std::result::Result<u16, u16> {
        match u16::from_be_bytes([cmd.p1, cmd.p2]) {
            0 => self.current_ef.ok_or(sw::CONDITIONS),
            fid => Ok(fid),
        }
    }

    fn read_binary(&mut self, cmd: &Command) -> std::result::Result<Response, u16> {
        let fid = self.target_ef(cmd)?;
        if fid >> 8 == u16::from(state::KEY_PREFIX) {
            return Err(sw::SECURITY_STATUS);
        }
        if fid >> 8 == u16::from(state::PROTECTED_PREFIX) {
            self.require_pin()?;
        }
        let offset = offset_of(&cmd.data)?;
        let data = self.state.file(fid).ok_or(sw::NOT_FOUND)?;
        self.current_ef = Some(fid);
        if offset > data.len() {
            return Err(0x6B00);
        }
        let want = cmd.le.unwrap_or(65536);
        let end = data.len().min(offset + want);
        let chunk = data[offset..end].to_vec();
        let status = if chunk.len() < want { sw::END_OF_FILE } else { sw::OK };
        Ok(Response { data: chunk, sw: status })
    }

    fn update_binary(&mut self, cmd: &Command) -> std::result::Result<Response, u16> {
        self.require_pin()?;
        let fid = self.target_ef(cmd)?;
        if fid >> 8 == u16::from(state::KEY_PREFIX) || fid == state::FID_DEVICE_CERT {
            return Err(sw::SECURITY_STATUS);
        }
        let objects = tlv::parse(&cmd.data).ok_or(sw::WRONG_DATA)?;
        let offset = match tlv::find(&objects, 0x54) {
            Some(&[hi, lo]) => usize::from(hi) << 8 | usize::from(lo),
            None => 0,
            Some(_) => return Err(sw::WRONG_DATA),
        };
        if let Some((prefix, n, status)) = self.faults.fail_write {
            let names_the_file = (cmd.p1, cmd.p2) != (0, 0);
            if names_the_file && fid >> 8 == u16::from(prefix) {
                self.writes_started += 1;
                if self.writes_started == n {
                    return Err(status);
                }
            }
        }
        let value = tlv::find(&objects, 0x53).unwrap_or(&[]);
        let current = self.state.file(fid).map_or(0, <[u8]>::len);
        let grows = (offset + value.len()).saturating_sub(current);
        self.check_memory(grows)?;
        if offset > current {
            return Err(0x6B00);
        }
        let file = self.state.file_mut(fid);
        if file.len() < offset + value.len() {
            file.resize(offset + value.len(), 0);
        }
        file[offset..offset + value.len()].copy_from_slice(value);
        self.current_ef = Some(fid);
        self.save()?;
        Ok(Response::status(sw::OK))
    }

    fn delete_file(&mut self, cmd: &Command) -> std::result::Result<Response, u16> {
        self.require_pin()?;
        if cmd.p1 != 0x02 || cmd.data.len() != 2 {
            return Err(sw::WRONG_DATA);
        }
        let fid = u16::from_be_bytes([cmd.data[0], cmd.data[1]]);
        let removed = if fid >> 8 == u16::from(state::KEY_PREFIX) {
            self.state.remove_key(fid as u8)
        } else if fid == state::FID_DEVICE_CERT {
            return Err(sw::SECURITY_STATUS);
        } else {
            self.state.remove_file(fid)
        };
        if !removed {
            return Err(sw::NOT_FOUND);
        }
        if self.current_ef == Some(fid) {
            self.current_ef = None;
        }
        self.save()?;
        Ok(Response::status(sw::OK))
    }

    fn generate(&mut self, cmd: &Command) -> std::result::Result<Response, u16> {
        self.require_pin()?;
        let key_id = cmd.p1;
        let body = tlv::parse(&cmd.data).ok_or(sw::WRONG_DATA)?;
        let public = tlv::parse(tlv::find(&body, 0x7F49).ok_or(sw::WRONG_DATA)?).ok_or(sw::WRONG_DATA)?;
        let oid = tlv::find(&public, 0x06).ok_or(sw::WRONG_DATA)?.to_vec();
        let alg = match (tlv::find(&public, 0x81), tlv::find(&public, 0x02)) {
            (Some(p), _) if p == P256_PRIME => KeyAlg::P256,
            (Some(p), _) if p == P384_PRIME => KeyAlg::P384,
            (None, Some(bits)) if bits == [0x08, 0x00] => KeyAlg::Rsa2048,
            _ => return Err(sw::FUNC_NOT_SUPPORTED),
        };
        let car = tlv::find(&body, 0x42).unwrap_or(b"UTCA00001").to_vec();
        let chr = tlv::find(&body, 0x5F20).ok_or(sw::WRONG_DATA)?.to_vec();
        if self.faults.keygen_delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(self.faults.keygen_delay_ms));
        }
        let key = CardKey::generate(alg).map_err(|e| {
            eprintln!("schsm: {e}");
            0x6F00_u16
        })?;
        let pkcs8 = key.to_pkcs8().map_err(|_| 0x6F00_u16)?;
        let replaced = self.state.key(key_id).map_or(0, |k| k.pkcs8.0.len());
        self.check_memory(pkcs8.len().saturating_sub(replaced))?;
        let request = cv_request(&key, &oid, &car, &chr);
        self.state.put_key(key_id, StoredKey { alg, pkcs8: Bytes(pkcs8) });
        self.save()?;
        Ok(Response::ok(request))
    }

    fn sign(&mut self, cmd: &Command) -> std::result::Result<Response, u16> {
        self.require_pin()?;
        let stored = self.state.key(cmd.p1).ok_or(sw::REF_NOT_FOUND)?;
        let key = CardKey::from_pkcs8(stored.alg, &stored.pkcs8.0).map_err(|_| 0x6F00_u16)?;
        let data = &cmd.data;
        let signature = match cmd.p2 {
            0x70 => key.sign_ec_hash(data)?,
            0x71 => key.sign_ec_hash(&sha1::Sha1::digest(data))?,
            0x72 => key.sign_ec_hash(&sha2::Sha224::digest(data))?,
            0x73 => key.sign_ec_hash(&sha2::Sha256::digest(data))?,
            0x20 => key.rsa_raw(data)?,
            0x30 => key.rsa_pkcs1(data)?,
            0x40 => key.rsa_pss(data)?,
            _ => return Err(sw::FUNC_NOT_SUPPORTED),
        };
        Ok(Response::ok(signature))
    }

    fn initialize(&mut self, cmd: &Command) -> std::result::Result<Response, u16> {
        let objects = tlv::parse(&cmd.data).ok_or(sw::WRONG_DATA)?;
        let pin = tlv::find(&objects, 0x81).ok_or(sw::WRONG_DATA)?;
        let so = tlv::find(&objects, 0x82).filter(|s| s.len() == 8).ok_or(sw::WRONG_DATA)?;
        let tries =
            tlv::find(&objects, 0x91).and_then(|t| t.first().copied()).unwrap_or(state::DEFAULT_PIN_TRIES);
        if !(1..=10).contains(&tries) {
            return Err(sw::WRONG_DATA);
        }
        check_pin_format(pin)?;
        if self.state.initialized {
            // Re-initialization needs the current SO PIN.
            self.check_so_pin(so)?;
        }
        let device_cert = self.state.file(state::FID_DEVICE_CERT).map(<[u8]>::to_vec);
        self.state.files.clear();
        self.state.keys.clear();
        if let Some(cert) = device_cert {
            *self.state.file_mut(state::FID_DEVICE_CERT) = cert;
        }
        self.state.initialized = true;
        self.state.user_pin = Some(Bytes(pin.to_vec()));
        self.state.pin_max_tries = tries;
        self.state.pin_tries_left = tries;
        self.state.so_pin = Some(Bytes(so.to_vec()));
        self.state.so_tries_left = state::SO_PIN_TRIES;
        self.pin_verified = false;
        self.current_ef = None;
        self.save()?;
        Ok(Response::status(sw::OK))
    }
}

fn check_pin_format(pin: &[u8]) -> std::result::Result<(), u16> {
    // OpenSC's PKCS#15 emulation declares 6-15 characters; C_InitToken uses 6 binary bytes.
    if (6..=16).contains(&pin.len()) {
        Ok(())
    } else {
        Err(sw::WRONG_LENGTH)
    }
}

/// `54 02 hi lo`: the offset of an odd-instruction READ/UPDATE BINARY.
fn offset_of(data: &[u8]) -> std::result::Result<usize, u16> {
    match data {
        [0x54, 0x02, hi, lo, ..] => Ok(usize::from(*hi) << 8 | usize::from(*lo)),
        [] => Ok(0),
        _ => Err(sw::WRONG_DATA),
    }
}

fn get_challenge(cmd: &Command) -> Response {
    let n = cmd.le.unwrap_or(8).min(1024);
    let mut buf = vec![0u8; n];
    match getrandom::fill(&mut buf) {
        Ok(()) => Response::ok(buf),
        Err(_) => Response::status(0x6F00),
    }
}

/// The application's FCP: a DF with the AID and proprietary information (tag 85) whose last
/// two bytes are the applet version, as OpenSC's match and init read it.
fn application_fcp() -> Vec<u8> {
    tlv::nest(
        0x62,
        &[
            tlv::encode(0x82, &[0x38]),
            tlv::encode(0x84, &AID),
            tlv::encode(0x85, &[0x00, 0x00, 0xFE, 0x03, 0x05]),
        ],
    )
}

fn ef_fcp(fid: u16, size: usize) -> Vec<u8> {
    let size = u16::try_from(size).unwrap_or(u16::MAX);
    tlv::nest(
        0x62,
        &[
            tlv::encode(0x80, &size.to_be_bytes()),
            tlv::encode(0x82, &[0x01]),
            tlv::encode(0x83, &fid.to_be_bytes()),
        ],
    )
}

/// The authenticated CV request GENERATE returns (tag 67): the new public key in a certificate
/// body signed by the new key, then an outer reference and signature.
fn cv_request(key: &CardKey, oid: &[u8], car: &[u8], chr: &[u8]) -> Vec<u8> {
    let body = tlv::nest(
        0x7F4E,
        &[
            tlv::encode(0x5F29, &[0x00]),
            tlv::encode(0x42, car),
            tlv::encode(0x7F49, &key.cvc_public_key(oid)),
            tlv::encode(0x5F20, chr),
        ],
    );
    let inner_sig = key.self_sign(&body);
    let cert = tlv::nest(0x7F21, &[body, tlv::encode(0x5F37, &inner_sig)]);
    let outer_sig = key.self_sign(&cert);
    tlv::nest(0x67, &[cert, tlv::encode(0x42, car), tlv::encode(0x5F37, &outer_sig)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apdu(head: [u8; 4], data: &[u8]) -> Vec<u8> {
        let mut v = head.to_vec();
        if !data.is_empty() {
            v.push(data.len() as u8);
            v.extend_from_slice(data);
        }
        v
    }

    fn sw_of(card: &mut Applet, head: [u8; 4], data: &[u8]) -> u16 {
        match card.handle(&apdu(head, data)) {
            Action::Answer(r) => r.sw,
            Action::Tear => panic!("torn"),
        }
    }

    fn initialized(faults: Faults) -> (tempfile::TempDir, Applet) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        CardState::blank("UT00000001").save(&path).unwrap();
        let mut card = Applet::open(&path, faults).unwrap();
        assert_eq!(sw_of(&mut card, [0, 0xA4, 4, 0x0C], &AID), sw::OK);
        let init = [
            tlv::encode(0x80, &[0, 1]),
            tlv::encode(0x81, b"123456"),
            tlv::encode(0x82, &[1, 2, 3, 4, 5, 6, 7, 8]),
            tlv::encode(0x91, &[3]),
        ]
        .concat();
        assert_eq!(sw_of(&mut card, [0x80, 0x50, 0, 0], &init), sw::OK);
        (dir, card)
    }

    #[test]
    fn verify_counts_wrong_pins_to_blocked_and_the_empty_query_reports_tries() {
        let (dir, mut card) = initialized(Faults::default());
        assert_eq!(sw_of(&mut card, [0, 0x20, 0, 0x81], &[]), 0x63C3);
        assert_eq!(sw_of(&mut card, [0, 0x20, 0, 0x81], b"000000"), 0x63C2);
        assert_eq!(sw_of(&mut card, [0, 0x20, 0, 0x81], b"000000"), 0x63C1);
        // The counter is on the card: a new session (reopened file) sees one try left.
        let mut again = Applet::open(&dir.path().join("card.json"), Faults::default()).unwrap();
        assert_eq!(sw_of(&mut again, [0, 0xA4, 4, 0x0C], &AID), sw::OK);
        assert_eq!(sw_of(&mut again, [0, 0x20, 0, 0x81], &[]), 0x63C1);
        assert_eq!(sw_of(&mut again, [0, 0x20, 0, 0x81], b"000000"), sw::BLOCKED);
        assert_eq!(sw_of(&mut again, [0, 0x20, 0, 0x81], b"123456"), sw::BLOCKED);
        // The SO PIN resets the counter and sets a new PIN.
        let reset = [&[1u8, 2, 3, 4, 5, 6, 7, 8][..], b"654321"].concat();
        assert_eq!(sw_of(&mut again, [0, 0x2C, 0, 0x81], &reset), sw::OK);
        assert_eq!(sw_of(&mut again, [0, 0x20, 0, 0x81], b"654321"), sw::OK);
        assert_eq!(sw_of(&mut again, [0, 0x20, 0, 0x81], &[]), sw::OK);
    }

    #[test]
    fn generate_needs_the_pin_and_returns_a_cv_request_with_the_public_point() {
        let (_dir, mut card) = initialized(Faults::default());
        let public = tlv::nest(
            0x7F49,
            &[tlv::encode(0x06, &state::OID_TA_ECDSA_SHA256), tlv::encode(0x81, &P256_PRIME)],
        );
        let body = [
            tlv::encode(0x5F29, &[0]),
            tlv::encode(0x42, b"UTCA00001"),
            public,
            tlv::encode(0x5F20, b"UT0000000100001"),
        ]
        .concat();
        let mut cmd = vec![0, 0x46, 1, 0, 0, (body.len() >> 8) as u8, body.len() as u8];
        cmd.extend_from_slice(&body);
        cmd.extend_from_slice(&[0, 0]);
        assert_eq!(card.handle(&cmd), Action::Answer(Response::status(sw::SECURITY_STATUS)));
        assert_eq!(sw_of(&mut card, [0, 0x20, 0, 0x81], b"123456"), sw::OK);
        let Action::Answer(r) = card.handle(&cmd) else { panic!("torn") };
        assert_eq!(r.sw, sw::OK);
        let top = tlv::parse(&r.data).unwrap();
        assert_eq!(top[0].tag, 0x67);
        let req = tlv::parse(top[0].value).unwrap();
        let cert = tlv::parse(tlv::find(&req, 0x7F21).unwrap()).unwrap();
        let body = tlv::parse(tlv::find(&cert, 0x7F4E).unwrap()).unwrap();
        let key = tlv::parse(tlv::find(&body, 0x7F49).unwrap()).unwrap();
        assert_eq!(tlv::find(&key, 0x86).map(<[u8]>::len), Some(65));
        assert_eq!(card.enumerate().data, vec![0x2F, 0x02, 0xCC, 0x01]);
        // Signing with the new key: ECDSA over a 32-byte hash gives a DER signature.
        let Action::Answer(sig) = card.handle(&apdu([0x80, 0x68, 1, 0x70], &[9u8; 32])) else {
            panic!("torn")
        };
        assert_eq!((sig.sw, sig.data.first()), (sw::OK, Some(&0x30)));
    }

    #[test]
    fn faults_fail_tear_and_fill_memory_at_the_apdu_they_name() {
        let (_dir, mut card) =
            initialized(Faults { fail_apdu: Some((4, 0x6A84)), tear_after: Some(5), ..Faults::default() });
        // APDUs 1-2 were SELECT and INITIALIZE.
        assert_eq!(sw_of(&mut card, [0, 0x20, 0, 0x81], b"123456"), sw::OK);
        assert_eq!(sw_of(&mut card, [0, 0x20, 0, 0x81], &[]), 0x6A84);
        assert_eq!(card.handle(&apdu([0, 0x20, 0, 0x81], b"000000")), Action::Tear);
        // The torn VERIFY was carried out: the wrong PIN counted.
        assert_eq!(card.state.pin_tries_left, 2);

        let (_dir, mut full) = initialized(Faults::default());
        full.memory_limit = Some(full.state.used());
        assert_eq!(sw_of(&mut full, [0, 0x20, 0, 0x81], b"123456"), sw::OK);
        let write = [tlv::encode(0x54, &[0, 0]), tlv::encode(0x53, b"x")].concat();
        assert_eq!(sw_of(&mut full, [0, 0xD7, 0xCE, 0x05], &write), sw::MEMORY_FULL);
        assert!(full.state.file(0xCE05).is_none());
    }

    #[test]
    fn fail_write_fails_only_the_nth_file_started_with_its_prefix() {
        let (_dir, mut card) =
            initialized(Faults { fail_write: Some((0xCE, 2, 0x6581)), ..Faults::default() });
        assert_eq!(sw_of(&mut card, [0, 0x20, 0, 0x81], b"123456"), sw::OK);
        let start = |v: &[u8]| [tlv::encode(0x54, &[0, 0]), tlv::encode(0x53, v)].concat();
        let more = [tlv::encode(0x54, &[0, 1]), tlv::encode(0x53, b"y")].concat();
        // Another prefix is not counted; a later chunk (to the current file) is not counted.
        assert_eq!(sw_of(&mut card, [0, 0xD7, 0xC4, 0x01], &start(b"k")), sw::OK);
        assert_eq!(sw_of(&mut card, [0, 0xD7, 0xCE, 0x01], &start(b"x")), sw::OK);
        assert_eq!(sw_of(&mut card, [0, 0xD7, 0, 0], &more), sw::OK);
        // The second certificate file started fails and is not written; the next one works.
        assert_eq!(sw_of(&mut card, [0, 0xD7, 0xCE, 0x02], &start(b"z")), 0x6581);
        assert!(card.state.file(0xCE02).is_none());
        assert_eq!(sw_of(&mut card, [0, 0xD7, 0xCE, 0x02], &start(b"z")), sw::OK);
        assert_eq!(card.state.file(0xCE01), Some(&b"xy"[..]));
    }
}
