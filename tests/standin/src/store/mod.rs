//! The stand-in's records in SQLite: sponsors, users, cards, certificates
//! (provisioned and renewed) and the audit trail of renewal attempts.
//!
//! One connection behind a mutex; every method takes the lock for one short
//! statement or transaction and never across an `.await`.

mod audit;
mod cards;
mod certificates;
mod people;
mod renewals;
pub mod schema;

use std::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

pub use audit::{AuditEntry, NewAudit};
pub use cards::{Card, CardWithUser};
pub use certificates::{CertRecord, NewCert, Source};
pub use people::{Sponsor, User};
pub use renewals::{PivCard, Renewal, RenewalRequest};

use crate::password;

/// A database error, with what the stand-in was doing.
#[derive(Debug)]
pub enum StoreError {
    /// SQLite said no.
    Sql(rusqlite::Error),
    /// A record the operation needs does not exist.
    NotFound(String),
    /// Hashing a seed password failed.
    Random(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Sql(e) => write!(f, "database: {e}"),
            StoreError::NotFound(what) => write!(f, "not found: {what}"),
            StoreError::Random(e) => write!(f, "random: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(e)
    }
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// The database.
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the database file, applies the schema and
    /// seeds the demo sponsors and users.
    pub fn open(path: &Path) -> StoreResult<Store> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(schema::SCHEMA)?;
        conn.execute_batch(renewals::SCHEMA)?;
        let store = Store { conn: Mutex::new(conn) };
        store.seed()?;
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (statements
        // are atomic), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn seed(&self) -> StoreResult<()> {
        let conn = self.lock();
        for s in schema::SPONSORS {
            let exists: bool = conn.query_row(
                "SELECT EXISTS(SELECT 1 FROM sponsors WHERE username = ?1)",
                [s.username],
                |r| r.get(0),
            )?;
            if !exists {
                let hash = password::hash(s.password).map_err(|e| StoreError::Random(e.to_string()))?;
                conn.execute(
                    "INSERT INTO sponsors (username, display_name, password_hash) VALUES (?1, ?2, ?3)",
                    (s.username, s.display_name, hash),
                )?;
            }
        }
        for u in schema::USERS {
            conn.execute(
                "INSERT OR IGNORE INTO users (handle, uuid, name, job_role, organisation, subject)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                (u.handle, u.uuid, u.name, u.job_role, u.organisation, schema::subject_for(u)),
            )?;
        }
        Ok(())
    }
}
