//! The audit trail: one row per renewal attempt, issued or refused.

use rusqlite::Row;
use serde::Serialize;

use super::{Store, StoreResult};
use crate::clock;

/// One attempt to record.
#[derive(Debug, Clone, Default)]
pub struct NewAudit {
    /// The signed-in sponsor, if any.
    pub sponsor: Option<String>,
    /// The card, once known.
    pub card_serial: Option<String>,
    /// The role, once known.
    pub role: Option<String>,
    /// The CSR subject, once known.
    pub subject: Option<String>,
    /// HTTP status sent.
    pub status: u16,
    /// Stable reason code (`issued` on success).
    pub code: String,
    /// Human reason.
    pub reason: String,
    /// The new certificate's serial on success.
    pub issued_serial: Option<String>,
}

/// A recorded attempt.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Row id.
    pub id: i64,
    /// When, Unix seconds.
    pub at: i64,
    /// Sponsor username.
    pub sponsor: Option<String>,
    /// Card serial.
    pub card_serial: Option<String>,
    /// Role.
    pub role: Option<String>,
    /// CSR subject.
    pub subject: Option<String>,
    /// `issued` or `refused`.
    pub outcome: String,
    /// HTTP status sent.
    pub status: u16,
    /// Stable reason code.
    pub code: String,
    /// Human reason.
    pub reason: String,
    /// New certificate serial.
    pub issued_serial: Option<String>,
}

fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        at: r.get(1)?,
        sponsor: r.get(2)?,
        card_serial: r.get(3)?,
        role: r.get(4)?,
        subject: r.get(5)?,
        outcome: r.get(6)?,
        status: r.get(7)?,
        code: r.get(8)?,
        reason: r.get(9)?,
        issued_serial: r.get(10)?,
    })
}

impl Store {
    /// Records one attempt.
    pub fn audit(&self, a: &NewAudit) -> StoreResult<()> {
        let outcome = if a.issued_serial.is_some() { "issued" } else { "refused" };
        self.lock().execute(
            "INSERT INTO audit (at, sponsor, card_serial, role, subject, outcome, status, code,
                 reason, issued_serial)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            rusqlite::params![
                clock::now(),
                a.sponsor,
                a.card_serial,
                a.role,
                a.subject,
                outcome,
                a.status,
                a.code,
                a.reason,
                a.issued_serial,
            ],
        )?;
        Ok(())
    }

    /// Every attempt, oldest first.
    pub fn audit_entries(&self) -> StoreResult<Vec<AuditEntry>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, at, sponsor, card_serial, role, subject, outcome, status, code, reason,
                 issued_serial FROM audit ORDER BY id",
        )?;
        let rows = stmt.query_map([], audit_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
