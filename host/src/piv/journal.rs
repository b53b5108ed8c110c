//! A PIV renewal's progress, kept by the host so that an interrupted one can be finished.
//!
//! A PIV card has no room the host may write besides the two certificate objects, so the
//! journal lives in a small file per card (`<state dir>/cis-renew/piv/<GUID>.json`), holding
//! only public data: for each slot, whether its key is being replaced (`generating`), was
//! replaced (`generated`, with the new public key) or has its new certificate (`installed`).
//! It is written only after the renewal service has authenticated the card, right before the
//! first GENERATE, and removed when both certificates are installed. Without the file (another
//! PC, a wiped profile) the next renewal makes new keys, which also finishes the card.

use super::Slot;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a slot's replacement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotStage {
    /// GENERATE was sent (or about to be): the old key may already be gone.
    Generating,
    /// The new key is on the card; its public key is recorded.
    Generated,
    /// The new certificate is on the card.
    Installed,
}

/// One slot's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlotEntry {
    /// Its stage.
    pub stage: SlotStage,
    /// The new key's SubjectPublicKeyInfo, DER, base64 (from `generated` on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// The journal of one card.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Journal {
    /// The key algorithm of the new keys.
    pub algorithm: String,
    /// Slot (`9a`, `9c`) -> entry.
    pub slots: BTreeMap<String, SlotEntry>,
}

impl Journal {
    /// The entry of `slot`.
    pub fn slot(&self, slot: Slot) -> Option<&SlotEntry> {
        self.slots.get(slot.as_str())
    }

    /// Sets `slot`'s entry.
    pub fn set(&mut self, slot: Slot, stage: SlotStage, public_key: Option<String>) {
        self.slots.insert(slot.as_str().into(), SlotEntry { stage, public_key });
    }

    /// The slots whose new certificate is not installed yet.
    pub fn unfinished(&self) -> Vec<Slot> {
        Slot::ALL
            .into_iter()
            .filter(|s| self.slot(*s).is_some_and(|e| e.stage != SlotStage::Installed))
            .collect()
    }
}

/// The journal folder: next to the host's default log.
fn folder() -> Option<PathBuf> {
    crate::config::default_log_path().and_then(|log| log.parent().map(|dir| dir.join("piv")))
}

fn path(card_id: &str) -> Option<PathBuf> {
    let name: String = card_id.chars().filter(char::is_ascii_hexdigit).take(64).collect();
    folder().map(|dir| dir.join(format!("{name}.json")))
}

/// The journal of the card `card_id`, if an unfinished renewal left one.
pub fn load(card_id: &str) -> Option<Journal> {
    let path = path(card_id)?;
    let text = std::fs::read_to_string(&path).ok()?;
    match serde_json::from_str(&text) {
        Ok(journal) => Some(journal),
        Err(e) => {
            log::warn!("ignoring unreadable PIV journal {}: {e}", path.display());
            None
        }
    }
}

/// Writes the journal (atomically: a temp file renamed over it). A failure is logged, not
/// fatal: without the journal the next renewal makes new keys, which finishes the card too.
pub fn save(card_id: &str, journal: &Journal) {
    let Some(path) = path(card_id) else {
        log::warn!("no folder for the PIV journal; an interruption will be finished with new keys");
        return;
    };
    let result = (|| -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let temp = path.with_extension("tmp");
        let text = serde_json::to_vec(journal).map_err(std::io::Error::other)?;
        std::fs::write(&temp, text)?;
        std::fs::rename(&temp, &path)
    })();
    if let Err(e) = result {
        log::warn!("could not write the PIV journal {}: {e}", path.display());
    }
}

/// The roles an interrupted renewal left unfinished on the card `inventory` describes: slots
/// the journal has not marked installed whose certificate is not for the journal's new key.
pub fn remaining(inventory: &super::inventory::Inventory) -> Vec<&'static str> {
    let Some(journal) = load(&inventory.card_id()) else { return Vec::new() };
    journal
        .unfinished()
        .into_iter()
        .filter(|slot| {
            let new_key = journal.slot(*slot).and_then(|e| e.public_key.as_deref());
            let on_card = inventory
                .certificates
                .iter()
                .find(|(s, _)| s == slot)
                .and_then(|(_, der)| crate::certs::parse_certificate(der).ok())
                .map(|info| BASE64.encode(&info.public_key_der));
            new_key.is_none() || new_key != on_card.as_deref()
        })
        .map(|slot| slot.role().as_str())
        .collect()
}

/// Removes the journal (the renewal finished).
pub fn remove(card_id: &str) {
    if let Some(path) = path(card_id) {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::warn!("could not remove the PIV journal {}: {e}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_lists_slots_not_installed() {
        let mut journal = Journal { algorithm: "p384".into(), ..Journal::default() };
        assert!(journal.unfinished().is_empty());
        journal.set(Slot::Authentication, SlotStage::Installed, Some("AA".into()));
        journal.set(Slot::Signature, SlotStage::Generating, None);
        assert_eq!(journal.unfinished(), vec![Slot::Signature]);
        let text = serde_json::to_string(&journal).expect("json");
        assert!(text.contains(r#""9c":{"stage":"generating"}"#), "{text}");
        assert_eq!(serde_json::from_str::<Journal>(&text).expect("back"), journal);
    }

    #[test]
    fn path_keeps_only_hex_digits() {
        let path = path("../ab:CD 12").expect("HOME is set for tests");
        assert_eq!(path.file_name().and_then(|n| n.to_str()), Some("abCD12.json"));
    }
}
