//! The SQLite schema and the seeded demo records (sponsors and users).

/// Tables, created if missing. Times are Unix seconds.
pub const SCHEMA: &str = "
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS sponsors (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY,
    handle        TEXT NOT NULL UNIQUE,
    uuid          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    job_role      TEXT NOT NULL,
    organisation  TEXT NOT NULL,
    subject       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cards (
    id            INTEGER PRIMARY KEY,
    serial        TEXT NOT NULL UNIQUE,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    label         TEXT NOT NULL,
    registered_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
    id            INTEGER PRIMARY KEY,
    card_id       INTEGER NOT NULL REFERENCES cards(id),
    role          TEXT NOT NULL CHECK (role IN ('authentication', 'signing')),
    serial        TEXT NOT NULL UNIQUE,
    subject       TEXT NOT NULL,
    subject_der   BLOB NOT NULL,
    public_key    BLOB NOT NULL,
    not_before    INTEGER NOT NULL,
    not_after     INTEGER NOT NULL,
    der           BLOB NOT NULL,
    source        TEXT NOT NULL CHECK (source IN ('provisioned', 'renewed')),
    renews_id     INTEGER REFERENCES certificates(id),
    sponsor_id    INTEGER REFERENCES sponsors(id),
    is_current    INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS certificates_card_role ON certificates(card_id, role, is_current);
CREATE TABLE IF NOT EXISTS audit (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    sponsor       TEXT,
    card_serial   TEXT,
    role          TEXT,
    subject       TEXT,
    outcome       TEXT NOT NULL CHECK (outcome IN ('issued', 'refused')),
    status        INTEGER NOT NULL,
    code          TEXT NOT NULL,
    reason        TEXT NOT NULL,
    issued_serial TEXT
);
";

/// A seeded sponsor: username, display name, demo password.
pub struct SeedSponsor {
    /// Sign-in name.
    pub username: &'static str,
    /// Shown in the header.
    pub display_name: &'static str,
    /// The documented demo password (hashed before it is stored).
    pub password: &'static str,
}

/// The demo sponsors (see README).
pub const SPONSORS: &[SeedSponsor] = &[
    SeedSponsor { username: "sponsor1", display_name: "Sam Sponsor", password: "sponsor1-demo" },
    SeedSponsor { username: "sponsor2", display_name: "Priya Sponsor", password: "sponsor2-demo" },
];

/// A seeded card holder.
pub struct SeedUser {
    /// Short handle used on the command line.
    pub handle: &'static str,
    /// The 12-digit user UUID.
    pub uuid: &'static str,
    /// Full name.
    pub name: &'static str,
    /// Job role.
    pub job_role: &'static str,
    /// Organisation.
    pub organisation: &'static str,
}

/// The demo card holders (see README).
pub const USERS: &[SeedUser] = &[
    SeedUser {
        handle: "alice",
        uuid: "555000000001",
        name: "Alice Example",
        job_role: "Staff Nurse",
        organisation: "Demo Hospital NHS Trust (RX1)",
    },
    SeedUser {
        handle: "bob",
        uuid: "555000000002",
        name: "Bob Example",
        job_role: "Pharmacist",
        organisation: "Demo Hospital NHS Trust (RX1)",
    },
    SeedUser {
        handle: "carol",
        uuid: "555000000003",
        name: "Carol Example",
        job_role: "General Practitioner",
        organisation: "Demo Surgery (Y01234)",
    },
];

/// The certificate subject of a seeded user, RFC 4514 (last RDN first).
pub fn subject_for(user: &SeedUser) -> String {
    format!("serialNumber={},CN={},O=NHS,C=GB", user.uuid, user.name)
}
