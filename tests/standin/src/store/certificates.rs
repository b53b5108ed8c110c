//! Certificates this CA issued to cards: those written at provisioning and
//! those issued by renewal, with which one is current for each card and role.

use rusqlite::{OptionalExtension, Row};
use serde::Serialize;

use super::{Store, StoreError, StoreResult};
use crate::certinfo::CertInfo;
use crate::clock;
use crate::role::Role;

/// How a certificate came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Written when the card was provisioned/registered.
    Provisioned,
    /// Issued by EST simplereenroll.
    Renewed,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Provisioned => "provisioned",
            Source::Renewed => "renewed",
        }
    }
}

/// A stored certificate.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertRecord {
    /// Row id.
    pub id: i64,
    /// Card row id.
    pub card_id: i64,
    /// Role, `authentication` or `signing`.
    pub role: String,
    /// Serial, lower-case hex.
    pub serial: String,
    /// Subject, RFC 4514.
    pub subject: String,
    /// Subject DER (not serialised).
    #[serde(skip)]
    pub subject_der: Vec<u8>,
    /// SEC1 public key (not serialised).
    #[serde(skip)]
    pub public_key: Vec<u8>,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
    /// Certificate DER (not serialised; the admin view adds PEM).
    #[serde(skip)]
    pub der: Vec<u8>,
    /// `provisioned` or `renewed`.
    pub source: String,
    /// For renewals: the certificate this one replaced.
    pub renews_id: Option<i64>,
    /// For renewals: the sponsor whose session asked.
    pub sponsor_id: Option<i64>,
    /// Whether this is the card's current certificate for its role.
    pub is_current: bool,
    /// When recorded, Unix seconds.
    pub created_at: i64,
}

impl CertRecord {
    /// The role, parsed.
    pub fn role(&self) -> Option<Role> {
        self.role.parse().ok()
    }
}

/// A certificate to record.
pub struct NewCert<'a> {
    /// The parsed certificate.
    pub info: &'a CertInfo,
    /// Its role.
    pub role: Role,
}

pub(super) const CERT_COLUMNS: &str = "id, card_id, role, serial, subject, subject_der, public_key, \
     not_before, not_after, der, source, renews_id, sponsor_id, is_current, created_at";

pub(super) fn cert_row(r: &Row<'_>) -> rusqlite::Result<CertRecord> {
    Ok(CertRecord {
        id: r.get(0)?,
        card_id: r.get(1)?,
        role: r.get(2)?,
        serial: r.get(3)?,
        subject: r.get(4)?,
        subject_der: r.get(5)?,
        public_key: r.get(6)?,
        not_before: r.get(7)?,
        not_after: r.get(8)?,
        der: r.get(9)?,
        source: r.get(10)?,
        renews_id: r.get(11)?,
        sponsor_id: r.get(12)?,
        is_current: r.get(13)?,
        created_at: r.get(14)?,
    })
}

pub(super) fn insert_cert(
    conn: &rusqlite::Connection,
    card_id: i64,
    cert: &NewCert<'_>,
    source: Source,
    renews_id: Option<i64>,
    sponsor_id: Option<i64>,
) -> rusqlite::Result<i64> {
    let i = cert.info;
    conn.execute(
        "INSERT INTO certificates (card_id, role, serial, subject, subject_der, public_key,
             not_before, not_after, der, source, renews_id, sponsor_id, is_current, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13)",
        rusqlite::params![
            card_id,
            cert.role.as_str(),
            i.serial,
            i.subject,
            i.subject_der,
            i.public_key_sec1,
            i.not_before,
            i.not_after,
            i.der,
            source.as_str(),
            renews_id,
            sponsor_id,
            clock::now(),
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

impl Store {
    /// The current certificates of a card (at most one per role).
    pub fn current_certs(&self, card_id: i64) -> StoreResult<Vec<CertRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {CERT_COLUMNS} FROM certificates WHERE card_id = ?1 AND is_current = 1
             ORDER BY role"
        ))?;
        let rows = stmt.query_map([card_id], cert_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Current certificates of any card with this subject (DER) and role.
    pub fn current_certs_by_subject(&self, subject_der: &[u8], role: Role) -> StoreResult<Vec<CertRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {CERT_COLUMNS} FROM certificates
             WHERE subject_der = ?1 AND role = ?2 AND is_current = 1 ORDER BY id"
        ))?;
        let rows = stmt.query_map(rusqlite::params![subject_der, role.as_str()], cert_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether any certificate (current or not) has this subject DER.
    pub fn subject_known(&self, subject_der: &[u8]) -> StoreResult<bool> {
        Ok(self.lock().query_row(
            "SELECT EXISTS(SELECT 1 FROM certificates WHERE subject_der = ?1)",
            [subject_der],
            |r| r.get(0),
        )?)
    }

    /// A certificate by row id.
    pub fn cert_by_id(&self, id: i64) -> StoreResult<Option<CertRecord>> {
        Ok(self
            .lock()
            .query_row(&format!("SELECT {CERT_COLUMNS} FROM certificates WHERE id = ?1"), [id], cert_row)
            .optional()?)
    }

    /// Records a renewal: the new certificate becomes current and the old one
    /// is kept, not current. Fails if `old` is no longer current (a race).
    pub fn record_renewal(&self, old: &CertRecord, new: &NewCert<'_>, sponsor_id: i64) -> StoreResult<i64> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let changed =
            tx.execute("UPDATE certificates SET is_current = 0 WHERE id = ?1 AND is_current = 1", [old.id])?;
        if changed != 1 {
            return Err(StoreError::NotFound(format!(
                "current certificate {} (renewed meanwhile)",
                old.serial
            )));
        }
        let id = insert_cert(&tx, old.card_id, new, Source::Renewed, Some(old.id), Some(sponsor_id))?;
        tx.commit()?;
        Ok(id)
    }

    /// Every certificate issued by renewal, newest first.
    pub fn renewed_certs(&self) -> StoreResult<Vec<CertRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {CERT_COLUMNS} FROM certificates WHERE source = 'renewed' ORDER BY id DESC"
        ))?;
        let rows = stmt.query_map([], cert_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
