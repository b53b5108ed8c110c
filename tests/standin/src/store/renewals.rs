//! PIV cards and their renewals through the card-management API: which management-key
//! algorithm each PIV card has, the master secret its keys are derived from, and one record
//! per renewal (state, challenge, the CSRs received and the certificates issued).

use rusqlite::{OptionalExtension, Row};
use serde::Serialize;

use super::{Store, StoreError, StoreResult};
use crate::clock;

/// Tables, created if missing (applied after [`super::schema::SCHEMA`]).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS card_admin_master (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    secret        BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS piv_cards (
    card_id       INTEGER PRIMARY KEY REFERENCES cards(id),
    mgmt_alg      TEXT NOT NULL CHECK (mgmt_alg IN ('3des', 'aes128', 'aes192', 'aes256')),
    key_alg       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS piv_renewals (
    id            TEXT PRIMARY KEY,
    card_id       INTEGER NOT NULL REFERENCES cards(id),
    sponsor_id    INTEGER NOT NULL REFERENCES sponsors(id),
    algorithm     TEXT NOT NULL,
    challenge     BLOB NOT NULL,
    state         TEXT NOT NULL
                  CHECK (state IN ('authenticated', 'issuing', 'issued', 'installed', 'failed', 'superseded')),
    certificates  BLOB,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS piv_renewals_card ON piv_renewals(card_id, created_at);
CREATE TABLE IF NOT EXISTS piv_renewal_requests (
    id            INTEGER PRIMARY KEY,
    renewal_id    TEXT NOT NULL REFERENCES piv_renewals(id),
    role          TEXT NOT NULL,
    csr           BLOB NOT NULL,
    cert_serial   TEXT,
    cert_der      BLOB
);
";

/// A PIV card's card-management facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PivCard {
    /// The card's row id.
    pub card_id: i64,
    /// `3des`, `aes128`, `aes192` or `aes256`.
    pub mgmt_alg: String,
    /// The key algorithm it was provisioned with (`p384`, `p256`, `rsa2048`).
    pub key_alg: String,
}

/// One renewal's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Renewal {
    /// The renewal ID (random, URL-safe).
    pub id: String,
    /// Card row id.
    pub card_id: i64,
    /// The sponsor whose session began it.
    pub sponsor_id: i64,
    /// The management-key algorithm used.
    pub algorithm: String,
    /// The challenge sent to the card (not serialised).
    #[serde(skip)]
    pub challenge: Vec<u8>,
    /// `authenticated`, `issuing`, `issued`, `installed`, `failed` or `superseded`.
    pub state: String,
    /// The issued certificates as certs-only PKCS#7 DER, once issued (not serialised).
    #[serde(skip)]
    pub certificates: Option<Vec<u8>>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// One CSR of a renewal and what was issued for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalRequest {
    /// `authentication` or `signing`.
    pub role: String,
    /// The CSR, DER (not serialised).
    #[serde(skip)]
    pub csr: Vec<u8>,
    /// The issued certificate's serial.
    pub cert_serial: Option<String>,
    /// The issued certificate, DER (not serialised).
    #[serde(skip)]
    pub cert_der: Option<Vec<u8>>,
}

const RENEWAL_COLUMNS: &str =
    "id, card_id, sponsor_id, algorithm, challenge, state, certificates, created_at, updated_at";

fn renewal_row(r: &Row<'_>) -> rusqlite::Result<Renewal> {
    Ok(Renewal {
        id: r.get(0)?,
        card_id: r.get(1)?,
        sponsor_id: r.get(2)?,
        algorithm: r.get(3)?,
        challenge: r.get(4)?,
        state: r.get(5)?,
        certificates: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

impl Store {
    /// The master secret card-management keys are derived from; made (32 random bytes) the
    /// first time it is asked for. A real CMS keeps it in an HSM; the stand-in in its database.
    pub fn card_master_secret(&self) -> StoreResult<Vec<u8>> {
        let conn = self.lock();
        let found: Option<Vec<u8>> = conn
            .query_row("SELECT secret FROM card_admin_master WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        if let Some(secret) = found {
            return Ok(secret);
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| StoreError::Random(e.to_string()))?;
        conn.execute("INSERT INTO card_admin_master (id, secret) VALUES (1, ?1)", [&secret[..]])?;
        Ok(secret.to_vec())
    }

    /// Marks card `card_id` as a PIV card with this management-key algorithm.
    pub fn register_piv_card(&self, card_id: i64, mgmt_alg: &str, key_alg: &str) -> StoreResult<()> {
        self.lock().execute(
            "INSERT INTO piv_cards (card_id, mgmt_alg, key_alg) VALUES (?1, ?2, ?3)
             ON CONFLICT(card_id) DO UPDATE SET mgmt_alg = ?2, key_alg = ?3",
            rusqlite::params![card_id, mgmt_alg, key_alg],
        )?;
        Ok(())
    }

    /// The PIV facts of card `card_id`, if it is a PIV card.
    pub fn piv_card(&self, card_id: i64) -> StoreResult<Option<PivCard>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT card_id, mgmt_alg, key_alg FROM piv_cards WHERE card_id = ?1",
                [card_id],
                |r| Ok(PivCard { card_id: r.get(0)?, mgmt_alg: r.get(1)?, key_alg: r.get(2)? }),
            )
            .optional()?)
    }

    /// Starts a renewal in state `authenticated`; earlier renewals of the card still in that
    /// state (they never got CSRs) become `superseded`.
    pub fn begin_renewal(
        &self,
        id: &str,
        card_id: i64,
        sponsor_id: i64,
        algorithm: &str,
        challenge: &[u8],
    ) -> StoreResult<Renewal> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let now = clock::now();
        tx.execute(
            "UPDATE piv_renewals SET state = 'superseded', updated_at = ?2
             WHERE card_id = ?1 AND state = 'authenticated'",
            rusqlite::params![card_id, now],
        )?;
        tx.execute(
            "INSERT INTO piv_renewals (id, card_id, sponsor_id, algorithm, challenge, state, created_at,
                 updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'authenticated', ?6, ?6)",
            rusqlite::params![id, card_id, sponsor_id, algorithm, challenge, now],
        )?;
        let r = tx.query_row(
            &format!("SELECT {RENEWAL_COLUMNS} FROM piv_renewals WHERE id = ?1"),
            [id],
            renewal_row,
        )?;
        tx.commit()?;
        Ok(r)
    }

    /// The renewal with this ID.
    pub fn renewal(&self, id: &str) -> StoreResult<Option<Renewal>> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {RENEWAL_COLUMNS} FROM piv_renewals WHERE id = ?1"),
                [id],
                renewal_row,
            )
            .optional()?)
    }

    /// The card's unfinished renewal: the newest `issued` one (its certificates are what
    /// finishing needs), else the newest `authenticated` one.
    pub fn unfinished_renewal(&self, card_id: i64) -> StoreResult<Option<Renewal>> {
        Ok(self
            .lock()
            .query_row(
                &format!(
                    "SELECT {RENEWAL_COLUMNS} FROM piv_renewals
                     WHERE card_id = ?1 AND state IN ('authenticated', 'issued')
                     ORDER BY state = 'issued' DESC, created_at DESC, rowid DESC LIMIT 1"
                ),
                [card_id],
                renewal_row,
            )
            .optional()?)
    }

    /// Moves a renewal from `from` to `to` (and stores the certificates when given); false
    /// when it was not in state `from` (someone else moved it first).
    pub fn move_renewal(
        &self,
        id: &str,
        from: &str,
        to: &str,
        certificates: Option<&[u8]>,
    ) -> StoreResult<bool> {
        let n = self.lock().execute(
            "UPDATE piv_renewals SET state = ?3, certificates = COALESCE(?4, certificates), updated_at = ?5
             WHERE id = ?1 AND state = ?2",
            rusqlite::params![id, from, to, certificates, clock::now()],
        )?;
        Ok(n == 1)
    }

    /// Closes the card's `authenticated` renewals (made `superseded`): after an install, such a
    /// renewal was the session that wrote the certificates, or abandoned.
    pub fn supersede_authenticated(&self, card_id: i64) -> StoreResult<()> {
        self.lock().execute(
            "UPDATE piv_renewals SET state = 'superseded', updated_at = ?2
             WHERE card_id = ?1 AND state = 'authenticated'",
            rusqlite::params![card_id, clock::now()],
        )?;
        Ok(())
    }

    /// Records a CSR of a renewal and what was issued for it.
    pub fn record_renewal_request(
        &self,
        renewal_id: &str,
        role: &str,
        csr: &[u8],
        cert: Option<(&str, &[u8])>,
    ) -> StoreResult<()> {
        self.lock().execute(
            "INSERT INTO piv_renewal_requests (renewal_id, role, csr, cert_serial, cert_der)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![renewal_id, role, csr, cert.map(|c| c.0), cert.map(|c| c.1)],
        )?;
        Ok(())
    }

    /// The CSRs of a renewal, in the order received.
    pub fn renewal_requests(&self, renewal_id: &str) -> StoreResult<Vec<RenewalRequest>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT role, csr, cert_serial, cert_der FROM piv_renewal_requests WHERE renewal_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([renewal_id], |r| {
            Ok(RenewalRequest {
                role: r.get(0)?,
                csr: r.get(1)?,
                cert_serial: r.get(2)?,
                cert_der: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every renewal of a card, oldest first.
    pub fn renewals_of_card(&self, card_id: i64) -> StoreResult<Vec<Renewal>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {RENEWAL_COLUMNS} FROM piv_renewals WHERE card_id = ?1 ORDER BY created_at, rowid"
        ))?;
        let rows = stmt.query_map([card_id], renewal_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
