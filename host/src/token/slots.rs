//! Finds the token that belongs to a reader: an explicit `slotMap` binding, else the slot whose
//! description names the reader (how OpenSC and most middleware describe slots).

use super::{token_error, TokenModule};
use crate::config::SlotBinding;
use crate::protocol::HostError;
use cryptoki::slot::Slot;

impl TokenModule {
    /// The slot with a token for `reader`, if any.
    pub fn slot_for_reader(
        &self,
        reader: &str,
        binding: Option<&SlotBinding>,
    ) -> Result<Option<Slot>, HostError> {
        let slots = self.pkcs11().get_slots_with_token().map_err(token_error)?;
        for slot in slots {
            let matches = match binding {
                Some(SlotBinding::TokenLabel(label)) => {
                    let info = self.pkcs11().get_token_info(slot).map_err(token_error)?;
                    info.label().trim() == label.trim()
                }
                Some(SlotBinding::TokenSerial(serial)) => {
                    let info = self.pkcs11().get_token_info(slot).map_err(token_error)?;
                    info.serial_number().trim().eq_ignore_ascii_case(serial.trim())
                }
                None => {
                    let info = self.pkcs11().get_slot_info(slot).map_err(token_error)?;
                    slot_description_names_reader(info.slot_description(), reader)
                }
            };
            if matches {
                return Ok(Some(slot));
            }
        }
        Ok(None)
    }
}

/// OpenSC describes a slot as the reader name, sometimes with a suffix (e.g. `... (PIN)`).
pub fn slot_description_names_reader(description: &str, reader: &str) -> bool {
    let description = description.trim();
    let reader = reader.trim();
    !reader.is_empty()
        && (description == reader
            || description.strip_prefix(reader).is_some_and(|rest| rest.starts_with([' ', '(', '\t'])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_description_names_reader_cases() {
        let cases = [
            ("Virtual PCD 00 01", "Virtual PCD 00 01", true),
            ("Virtual PCD 00 01   ", "Virtual PCD 00 01", true),
            ("Virtual PCD 00 01 (PIN)", "Virtual PCD 00 01", true),
            ("Virtual PCD 00 011", "Virtual PCD 00 01", false),
            ("Virtual PCD 00 00", "Virtual PCD 00 01", false),
            ("SoftHSM slot ID 0x1", "Virtual PCD 00 01", false),
            ("", "", false),
        ];
        for (description, reader, expected) in cases {
            assert_eq!(slot_description_names_reader(description, reader), expected, "{description:?}");
        }
    }
}
