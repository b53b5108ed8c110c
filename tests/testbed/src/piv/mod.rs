//! The PIV test card: `cis-piv-card` (Nitrokey's piv-authenticator, built apart in
//! tests/testbed/piv-card/) keeping its state in a directory.
//!
//! - [`provision()`]: makes a card as a card-management system would: a CHUID with a GUID, keys
//!   generated on the card in 9A (authentication) and 9C (signing) with certificates from the
//!   [`TestCa`] (the same profile as SoftHSM cards), PIN, PUK and management key set.
//! - [`crate::Pcscd::insert_piv_card`] puts a card directory into a reader.
//! - [`piv_check`]: independent clients (yubico-piv-tool, OpenSC's PIV driver, openssl)
//!   check that a card in a reader works.
//! - [`mgmt`]: the management-key algorithms and one-block ciphers (used by the stand-in's
//!   renewal service too).

pub mod apdu;
pub mod card;
pub mod check;
pub mod mgmt;
pub mod provision;
pub mod session;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use card::{card_bin, StdioCard};
pub use check::{piv_check, PivReport, SlotReport};
pub use mgmt::{MgmtAlg, DEFAULT_MGMT_KEY};
pub use provision::{provision, PivCert, PivSpec, ProvisionedPiv};

use crate::ca::Role;

/// The PIV application identifier with its version (SP 800-73-4 part 1, 2.2).
pub const PIV_AID: [u8; 11] = [0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00];

/// The file in a card directory that says what the card is (written by [`provision()`]).
pub const MARKER: &str = "piv-card.json";

/// The card's factory PIN and PUK.
pub const DEFAULT_PIN: &str = "123456";
/// See [`DEFAULT_PIN`].
pub const DEFAULT_PUK: &str = "12345678";

/// Whether `path` is a PIV card directory (has [`MARKER`]).
pub fn is_card_dir(path: &Path) -> bool {
    path.is_dir() && path.join(MARKER).is_file()
}

/// A key slot with a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Slot {
    /// 9A, PIV Authentication.
    #[serde(rename = "9a")]
    Authentication,
    /// 9C, Digital Signature (PIN always).
    #[serde(rename = "9c")]
    Signature,
}

impl Slot {
    /// Both, in the order the card's roles are listed.
    pub const ALL: [Slot; 2] = [Slot::Authentication, Slot::Signature];

    /// The key reference (P2 of GENERATE and GENERAL AUTHENTICATE).
    pub fn key_ref(self) -> u8 {
        match self {
            Slot::Authentication => 0x9A,
            Slot::Signature => 0x9C,
        }
    }

    /// The tag of the slot's certificate object.
    pub fn cert_object(self) -> [u8; 3] {
        match self {
            Slot::Authentication => [0x5F, 0xC1, 0x05],
            Slot::Signature => [0x5F, 0xC1, 0x0A],
        }
    }

    /// The role its certificate has.
    pub fn role(self) -> Role {
        match self {
            Slot::Authentication => Role::Authentication,
            Slot::Signature => Role::Signing,
        }
    }

    /// The key ID OpenSC's PIV driver gives the slot's objects (PKCS#11 CKA_ID).
    pub fn opensc_id(self) -> &'static str {
        match self {
            Slot::Authentication => "01",
            Slot::Signature => "02",
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}", self.key_ref())
    }
}

/// A key algorithm the card generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAlg {
    /// ECDSA P-384 (PIV algorithm 14).
    P384,
    /// ECDSA P-256 (11).
    P256,
    /// RSA 2048 (07).
    Rsa2048,
}

impl KeyAlg {
    /// The PIV algorithm identifier.
    pub fn piv_id(self) -> u8 {
        match self {
            KeyAlg::P384 => 0x14,
            KeyAlg::P256 => 0x11,
            KeyAlg::Rsa2048 => 0x07,
        }
    }
}
