//! What is on a PIV card, read without a passcode in one transaction: SELECT, the CHUID's
//! GUID (the card identifier), the 9A and 9C certificates, and the PIN state from VERIFY with
//! no data. A card that does not answer SELECT is not a PIV card; that costs one APDU.

use super::card::{self, PinStatus};
use super::transport::{Connection, Counters};
use super::{hex_lower, PivError, Slot};
use crate::token::algorithm::PublicKey;
use crate::token::card::{CardObject, ObjectKind, ObjectRef};
use crate::token::inventory::{Inventory as CardInventory, Visibility};
use crate::token::{PinState, TokenSummary};

/// The shortest and longest PIV PIN (SP 800-73-4: 6 to 8 digits, padded to 8).
pub const PIN_LENGTH: (usize, usize) = (6, 8);

/// A PIV card's contents as status and the renewal need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The CHUID GUID (16 bytes).
    pub guid: Vec<u8>,
    /// The certificate in each slot that has one (DER).
    pub certificates: Vec<(Slot, Vec<u8>)>,
    /// The PIN state.
    pub pin: PinStatus,
}

impl Inventory {
    /// The card identifier on the wire: the GUID in lower-case hex.
    pub fn card_id(&self) -> String {
        hex_lower(&self.guid)
    }

    /// Tries left, when the card says (not after a verification in this session).
    pub fn tries_left(&self) -> Option<u8> {
        match self.pin {
            PinStatus::TriesLeft(n) => Some(n),
            PinStatus::Blocked => Some(0),
            PinStatus::Verified => None,
        }
    }

    /// The card model's inventory: per slot with a certificate, the certificate and its
    /// private key (a PIV slot's contents are known without the PIN, so the view counts as
    /// signed in), tied by the slot's key reference as identifier.
    pub fn card_model(&self) -> CardInventory {
        let mut objects = Vec::new();
        for (slot, der) in &self.certificates {
            let id = vec![slot.key_reference()];
            let algorithm = crate::certs::parse_certificate(der)
                .ok()
                .and_then(|info| PublicKey::from_spki_der(&info.public_key_der))
                .map(|key| key.algorithm());
            let object = |kind, value: Vec<u8>| CardObject {
                handle: ObjectRef(u64::from(slot.key_reference())),
                kind,
                id: id.clone(),
                label: format!("PIV {}", slot.as_str()),
                value,
                public_key: None,
                algorithm,
            };
            objects.push(object(ObjectKind::Certificate, der.clone()));
            objects.push(object(ObjectKind::PrivateKey, Vec::new()));
        }
        CardInventory::new(&objects, Visibility::SignedIn)
    }

    /// The token summary the status report is built from.
    pub fn summary(&self) -> TokenSummary {
        TokenSummary {
            label: "PIV".into(),
            serial: self.card_id(),
            manufacturer: String::new(),
            model: "PIV".into(),
            pin: pin_state(self.pin),
            pin_pad: false,
            pin_min: PIN_LENGTH.0,
            pin_max: PIN_LENGTH.1,
        }
    }
}

/// The PIN state in the card model's terms: one try left is the final try, two is low.
pub fn pin_state(pin: PinStatus) -> PinState {
    match pin {
        PinStatus::Blocked | PinStatus::TriesLeft(0) => PinState::Locked,
        PinStatus::TriesLeft(1) => PinState::FinalTry,
        PinStatus::TriesLeft(2) => PinState::CountLow,
        PinStatus::TriesLeft(_) | PinStatus::Verified => PinState::Ok,
    }
}

/// Reads the card in `reader`: `Ok(None)` when it has no PIV application.
pub fn read(reader: &str) -> Result<Option<Inventory>, PivError> {
    let before = Counters::now();
    let mut connection = Connection::open(reader, false)?;
    let outcome = connection.step(|x| {
        match card::select(x) {
            Err(PivError::NotPiv) => return Ok(None),
            other => other?,
        }
        let guid = card::guid(x)?.ok_or(PivError::Malformed("PIV card without a CHUID"))?;
        let mut certificates = Vec::new();
        for slot in Slot::ALL {
            if let Some(der) = card::certificate(x, slot)? {
                certificates.push((slot, der));
            }
        }
        let pin = card::pin_status(x)?;
        Ok(Some(Inventory { guid, certificates, pin }))
    });
    connection.release(false);
    let used = before.since();
    log::debug!("piv inventory: {} APDUs, card {:.2} ms", used.apdus, used.card_time.as_secs_f64() * 1000.0);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_state_follows_tries_left() {
        let cases = [
            (PinStatus::Blocked, PinState::Locked),
            (PinStatus::TriesLeft(0), PinState::Locked),
            (PinStatus::TriesLeft(1), PinState::FinalTry),
            (PinStatus::TriesLeft(2), PinState::CountLow),
            (PinStatus::TriesLeft(3), PinState::Ok),
            (PinStatus::Verified, PinState::Ok),
        ];
        for (pin, expected) in cases {
            assert_eq!(pin_state(pin), expected, "{pin:?}");
        }
    }
}
