//! PIV cards (NIST SP 800-73-4) over PC/SC, without middleware.
//!
//! On a PIV card the passcode does not let anyone replace a key or a certificate: GENERATE
//! ASYMMETRIC KEY PAIR and PUT DATA need the card-management key (9B), which the renewal
//! service holds. The host relays the mutual authentication (witness, challenge) and then does
//! exactly the renewal's steps and nothing else: new keys in 9A and 9C, PUT DATA of those two
//! slots' certificate objects. It never changes the PIN, the PUK or the management key and
//! never writes another object.
//!
//! [`tlv`] and [`apdu`] encode; [`transport`] sends over PC/SC (chaining, GET RESPONSE, one
//! transaction per step, a fault seam for tests); [`card`] is the card's operations;
//! [`inventory`] reads what is on the card without a passcode; [`journal`] remembers an open
//! renewal's progress so an interrupted one can be finished; [`renewal`] is the flow.

pub mod apdu;
pub mod card;
pub mod inventory;
pub mod journal;
pub mod renewal;
pub mod tlv;
pub mod transport;

use crate::protocol::{ErrorCode, HostError};

/// The two key slots a renewal replaces (a closed set: the host touches no other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    /// 9A, PIV Authentication: the authentication certificate.
    Authentication,
    /// 9C, Digital Signature: the signing certificate; PIN always.
    Signature,
}

impl Slot {
    /// Both slots, authentication first.
    pub const ALL: [Slot; 2] = [Slot::Authentication, Slot::Signature];

    /// The key reference (P2 of GENERATE and GENERAL AUTHENTICATE).
    pub fn key_reference(self) -> u8 {
        match self {
            Slot::Authentication => 0x9A,
            Slot::Signature => 0x9C,
        }
    }

    /// The tag of the slot's certificate object.
    pub fn object_tag(self) -> [u8; 3] {
        match self {
            Slot::Authentication => [0x5F, 0xC1, 0x05],
            Slot::Signature => [0x5F, 0xC1, 0x0A],
        }
    }

    /// The role of the certificate the slot holds.
    pub fn role(self) -> crate::certs::Role {
        match self {
            Slot::Authentication => crate::certs::Role::Authentication,
            Slot::Signature => crate::certs::Role::Signing,
        }
    }

    /// `9a` or `9c`, for logs and the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Slot::Authentication => "9a",
            Slot::Signature => "9c",
        }
    }

    /// The slot for a journal name.
    pub fn from_name(name: &str) -> Option<Slot> {
        Slot::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// Algorithms of the keys the host generates (SP 800-78-4 identifiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECC P-384 (14).
    P384,
    /// ECC P-256 (11).
    P256,
    /// RSA 2048 (07).
    Rsa2048,
}

impl KeyAlgorithm {
    /// The algorithm identifier (P1 of GENERAL AUTHENTICATE, tag 80 of GENERATE).
    pub fn p1(self) -> u8 {
        match self {
            KeyAlgorithm::P384 => 0x14,
            KeyAlgorithm::P256 => 0x11,
            KeyAlgorithm::Rsa2048 => 0x07,
        }
    }

    /// The name used in configuration and the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::P384 => "p384",
            KeyAlgorithm::P256 => "p256",
            KeyAlgorithm::Rsa2048 => "rsa2048",
        }
    }

    /// The card model's name for it.
    pub fn model(self) -> crate::token::algorithm::KeyAlgorithm {
        use crate::token::algorithm::KeyAlgorithm as Model;
        match self {
            KeyAlgorithm::P384 => Model::P384,
            KeyAlgorithm::P256 => Model::P256,
            KeyAlgorithm::Rsa2048 => Model::RSA2048,
        }
    }

    /// The PIV algorithm for a card-model algorithm, if PIV has it (RSA-3072 is not in
    /// SP 800-78-4's PIV set).
    pub fn from_model(model: crate::token::algorithm::KeyAlgorithm) -> Option<KeyAlgorithm> {
        [KeyAlgorithm::P384, KeyAlgorithm::P256, KeyAlgorithm::Rsa2048]
            .into_iter()
            .find(|a| a.model() == model)
    }

    /// The algorithm for a configuration or journal name.
    pub fn from_name(name: &str) -> Option<KeyAlgorithm> {
        [KeyAlgorithm::P384, KeyAlgorithm::P256, KeyAlgorithm::Rsa2048]
            .into_iter()
            .find(|a| a.as_str() == name)
    }
}

/// Algorithms of the card-management key (SP 800-78-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAlgorithm {
    /// Three-key triple DES (03), 8-byte blocks.
    Tdes,
    /// AES-128 (08).
    Aes128,
    /// AES-192 (0A).
    Aes192,
    /// AES-256 (0C).
    Aes256,
}

impl AdminAlgorithm {
    /// The order the host tries them in: AES-256 (the service's default), then 3DES (older
    /// cards), then the rest. A card answers 6A86 to an algorithm its 9B key does not have.
    pub const PROBE_ORDER: [AdminAlgorithm; 4] =
        [AdminAlgorithm::Aes256, AdminAlgorithm::Tdes, AdminAlgorithm::Aes128, AdminAlgorithm::Aes192];

    /// The algorithm identifier.
    pub fn p1(self) -> u8 {
        match self {
            AdminAlgorithm::Tdes => 0x03,
            AdminAlgorithm::Aes128 => 0x08,
            AdminAlgorithm::Aes192 => 0x0A,
            AdminAlgorithm::Aes256 => 0x0C,
        }
    }

    /// The wire name (`cardAdmin.algorithm`).
    pub fn as_str(self) -> &'static str {
        match self {
            AdminAlgorithm::Tdes => "3des",
            AdminAlgorithm::Aes128 => "aes128",
            AdminAlgorithm::Aes192 => "aes192",
            AdminAlgorithm::Aes256 => "aes256",
        }
    }

    /// Witness and challenge length: one cipher block.
    pub fn block_len(self) -> usize {
        match self {
            AdminAlgorithm::Tdes => 8,
            _ => 16,
        }
    }
}

/// What went wrong talking to a PIV card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PivError {
    /// PC/SC failed (service gone, reader gone, sharing violation...).
    Pcsc(pcsc::Error),
    /// The card is not (or no longer) in the reader, or was reset under us.
    Removed,
    /// The card has no PIV application.
    NotPiv,
    /// The PIN was wrong; the card says how many tries are left.
    WrongPin {
        /// Tries left.
        tries: u8,
    },
    /// The PIN is blocked.
    PinBlocked,
    /// The card refused the service's answer to its witness.
    CardAuthFailed,
    /// The card's 9B key has none of the algorithms the host knows.
    NoAdminAlgorithm,
    /// The card does not support this key algorithm.
    AlgorithmUnsupported(KeyAlgorithm),
    /// A command the card refused, with its name and status word.
    Refused {
        /// Which command.
        command: &'static str,
        /// The status word, hex.
        sw: String,
    },
    /// The card's answer could not be read.
    Malformed(&'static str),
    /// The test fault seam stopped the card here (see [`transport`]).
    Injected(usize),
}

impl std::fmt::Display for PivError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PivError::Pcsc(e) => write!(f, "PC/SC: {e}"),
            PivError::Removed => f.write_str("card removed"),
            PivError::NotPiv => f.write_str("no PIV application"),
            PivError::WrongPin { tries } => write!(f, "wrong PIN, {tries} tries left"),
            PivError::PinBlocked => f.write_str("PIN blocked"),
            PivError::CardAuthFailed => f.write_str("card refused the management-key answer"),
            PivError::NoAdminAlgorithm => f.write_str("no known management-key algorithm"),
            PivError::AlgorithmUnsupported(a) => write!(f, "{} keys not supported", a.as_str()),
            PivError::Refused { command, sw } => write!(f, "{command} refused with {sw}"),
            PivError::Malformed(what) => write!(f, "unreadable answer: {what}"),
            PivError::Injected(n) => write!(f, "test fault at APDU {n}"),
        }
    }
}

impl From<PivError> for HostError {
    fn from(error: PivError) -> HostError {
        match error {
            PivError::Pcsc(e) => crate::readers::pcsc_error(e),
            PivError::Removed | PivError::Injected(_) => {
                HostError::new(ErrorCode::CardRemoved, "The card was removed. Put it back and try again.")
                    .with("piv", error.to_string())
            }
            PivError::NotPiv => {
                HostError::new(ErrorCode::NoCard, "The card in the managed reader is not a PIV card.")
            }
            PivError::WrongPin { tries } => HostError::new(ErrorCode::PinIncorrect, "The passcode is wrong.")
                .with("triesLeft", u64::from(tries)),
            PivError::PinBlocked => HostError::new(
                ErrorCode::PinLocked,
                "The passcode is locked. Unlock the card first, then renew.",
            ),
            PivError::CardAuthFailed => HostError::new(
                ErrorCode::CardAuthFailed,
                "The card did not accept the renewal service's authentication. Nothing on the card changed.",
            ),
            PivError::NoAdminAlgorithm | PivError::AlgorithmUnsupported(_) | PivError::Refused { .. } => {
                HostError::new(ErrorCode::TokenError, format!("The card failed: {error}."))
                    .with("piv", error.to_string())
            }
            PivError::Malformed(_) => {
                HostError::new(ErrorCode::TokenError, format!("The card's answer was unreadable ({error})."))
                    .with("piv", error.to_string())
            }
        }
    }
}

/// Lower-case hex (card identifiers on the wire, as the card-management API names cards).
pub fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
