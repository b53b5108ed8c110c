//! Sponsors (who sign in) and users (who hold cards).

use rusqlite::{OptionalExtension, Row};
use serde::Serialize;

use super::{Store, StoreResult};

/// A sponsor account.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sponsor {
    /// Row id.
    pub id: i64,
    /// Sign-in name.
    pub username: String,
    /// Shown in the header.
    pub display_name: String,
    /// PBKDF2 hash (never serialised).
    #[serde(skip)]
    pub password_hash: String,
}

/// A card holder.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Short handle (`alice`).
    pub handle: String,
    /// 12-digit user UUID.
    pub uuid: String,
    /// Full name.
    pub name: String,
    /// Job role.
    pub job_role: String,
    /// Organisation.
    pub organisation: String,
    /// Certificate subject, RFC 4514.
    pub subject: String,
}

const USER_COLUMNS: &str = "id, handle, uuid, name, job_role, organisation, subject";

fn user_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        handle: r.get(1)?,
        uuid: r.get(2)?,
        name: r.get(3)?,
        job_role: r.get(4)?,
        organisation: r.get(5)?,
        subject: r.get(6)?,
    })
}

impl Store {
    /// The sponsor with this username.
    pub fn sponsor_by_username(&self, username: &str) -> StoreResult<Option<Sponsor>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT id, username, display_name, password_hash FROM sponsors WHERE username = ?1",
                [username],
                |r| {
                    Ok(Sponsor {
                        id: r.get(0)?,
                        username: r.get(1)?,
                        display_name: r.get(2)?,
                        password_hash: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// The user with this handle or UUID.
    pub fn user_by_handle_or_uuid(&self, key: &str) -> StoreResult<Option<User>> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE handle = ?1 OR uuid = ?1"),
                [key],
                user_row,
            )
            .optional()?)
    }

    /// The user with this row id.
    pub fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        Ok(self
            .lock()
            .query_row(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"), [id], user_row)
            .optional()?)
    }

    /// Every user, by name.
    pub fn users(&self) -> StoreResult<Vec<User>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))?;
        let rows = stmt.query_map([], user_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
