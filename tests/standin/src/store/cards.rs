//! Cards, keyed by the token serial the host reports, and their registration
//! with the certificates written on them.

use rusqlite::{OptionalExtension, Row};
use serde::Serialize;

use super::certificates::{insert_cert, CertRecord, NewCert, Source};
use super::people::User;
use super::{Store, StoreError, StoreResult};
use crate::clock;

/// A registered card.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    /// Row id.
    pub id: i64,
    /// Token serial (what the host reports as `token.serial`).
    pub serial: String,
    /// Owner's user row id.
    pub user_id: i64,
    /// Token label.
    pub label: String,
    /// When registered, Unix seconds.
    pub registered_at: i64,
}

/// A card with its holder and current certificates.
#[derive(Debug, Clone)]
pub struct CardWithUser {
    /// The card.
    pub card: Card,
    /// Its holder.
    pub user: User,
    /// Its current certificates.
    pub certs: Vec<CertRecord>,
}

fn card_row(r: &Row<'_>) -> rusqlite::Result<Card> {
    Ok(Card {
        id: r.get(0)?,
        serial: r.get(1)?,
        user_id: r.get(2)?,
        label: r.get(3)?,
        registered_at: r.get(4)?,
    })
}

const CARD_COLUMNS: &str = "id, serial, user_id, label, registered_at";

impl Store {
    /// The card with this token serial.
    pub fn card_by_serial(&self, serial: &str) -> StoreResult<Option<Card>> {
        Ok(self
            .lock()
            .query_row(&format!("SELECT {CARD_COLUMNS} FROM cards WHERE serial = ?1"), [serial], card_row)
            .optional()?)
    }

    /// The card with this row id.
    pub fn card_by_id(&self, id: i64) -> StoreResult<Option<Card>> {
        Ok(self
            .lock()
            .query_row(&format!("SELECT {CARD_COLUMNS} FROM cards WHERE id = ?1"), [id], card_row)
            .optional()?)
    }

    /// The cards of a user, oldest first.
    pub fn cards_of_user(&self, user_id: i64) -> StoreResult<Vec<Card>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare(&format!("SELECT {CARD_COLUMNS} FROM cards WHERE user_id = ?1 ORDER BY id"))?;
        let rows = stmt.query_map([user_id], card_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every card with its holder and current certificates.
    pub fn cards_with_users(&self) -> StoreResult<Vec<CardWithUser>> {
        let cards = {
            let conn = self.lock();
            let mut stmt = conn.prepare(&format!("SELECT {CARD_COLUMNS} FROM cards ORDER BY id"))?;
            let rows = stmt.query_map([], card_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        let mut out = Vec::with_capacity(cards.len());
        for card in cards {
            let user = self
                .user_by_id(card.user_id)?
                .ok_or_else(|| StoreError::NotFound(format!("user {}", card.user_id)))?;
            let certs = self.current_certs(card.id)?;
            out.push(CardWithUser { card, user, certs });
        }
        Ok(out)
    }

    /// Registers a card (or re-registers a serial) for a user, with the
    /// certificates on it; earlier certificates of the same roles stop being
    /// current.
    pub fn register_card(
        &self,
        user_id: i64,
        serial: &str,
        label: &str,
        certs: &[NewCert<'_>],
    ) -> StoreResult<Card> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO cards (serial, user_id, label, registered_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(serial) DO UPDATE SET user_id = ?2, label = ?3, registered_at = ?4",
            rusqlite::params![serial, user_id, label, clock::now()],
        )?;
        let card =
            tx.query_row(&format!("SELECT {CARD_COLUMNS} FROM cards WHERE serial = ?1"), [serial], card_row)?;
        for cert in certs {
            tx.execute(
                "UPDATE certificates SET is_current = 0 WHERE card_id = ?1 AND role = ?2",
                rusqlite::params![card.id, cert.role.as_str()],
            )?;
            insert_cert(&tx, card.id, cert, Source::Provisioned, None, None)?;
        }
        tx.commit()?;
        Ok(card)
    }
}
