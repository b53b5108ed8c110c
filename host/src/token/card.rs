//! The seam between a renewal and the token: every card operation a renewal performs goes
//! through the [`Card`] trait, one method per PKCS#11 step.
//!
//! [`CryptokiCard`] is the real implementation over a read-write `cryptoki` session (its methods
//! live in [`super::session`], [`super::keys`], [`super::sign`] and [`super::write`], one file per
//! group of operations). [`super::fault::FaultyCard`] wraps any card to make one operation fail,
//! which is how the tests prove that an interruption at any point keeps a working pair. The
//! binary always uses [`CryptokiCard`] directly.

use super::algorithm::{KeyAlgorithm, PublicKey, Signature};
use super::{token_error, PinState, TokenModule};
use crate::protocol::HostError;
use crate::readers::presence::Presence;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::collections::HashMap;
use std::sync::Arc;

/// A token object, by its PKCS#11 handle value (valid for the session that found it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef(pub u64);

/// The object classes a renewal deals with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    /// An X.509 certificate (public object).
    Certificate,
    /// A private key (most tokens show it only after login).
    PrivateKey,
    /// A public key (public object).
    PublicKey,
}

impl ObjectKind {
    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Certificate => "certificate",
            ObjectKind::PrivateKey => "private key",
            ObjectKind::PublicKey => "public key",
        }
    }
}

/// One object as listed by [`Card::objects`] (and by any backend that feeds
/// [`super::inventory::Inventory`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CardObject {
    /// Its handle.
    pub handle: ObjectRef,
    /// Its class.
    pub kind: ObjectKind,
    /// CKA_ID: links a certificate to its key pair.
    pub id: Vec<u8>,
    /// CKA_LABEL.
    pub label: String,
    /// Certificates: the DER (CKA_VALUE). Keys: empty.
    pub value: Vec<u8>,
    /// Public keys: the key, when the token's attributes give one of a known algorithm.
    pub public_key: Option<PublicKey>,
    /// Keys: the algorithm, when the token's attributes tell it.
    pub algorithm: Option<KeyAlgorithm>,
}

/// What the token says about itself and its passcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenState {
    /// Passcode state from the token flags.
    pub pin: PinState,
    /// Shortest passcode, in bytes.
    pub pin_min: usize,
    /// Longest passcode, in bytes.
    pub pin_max: usize,
    /// The reader collects the passcode itself (protected authentication path).
    pub pin_pad: bool,
}

/// Handles of a freshly generated key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPairRefs {
    /// The private key.
    pub private: ObjectRef,
    /// The public key.
    pub public: ObjectRef,
}

/// A certificate object to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCertificate {
    /// CKA_ID: the key pair's id.
    pub id: Vec<u8>,
    /// CKA_LABEL.
    pub label: String,
    /// CKA_VALUE: the DER certificate.
    pub der: Vec<u8>,
    /// CKA_SUBJECT: the subject's DER.
    pub subject: Vec<u8>,
    /// CKA_ISSUER: the issuer's DER.
    pub issuer: Vec<u8>,
    /// CKA_SERIAL_NUMBER: the DER INTEGER of the serial number.
    pub serial: Vec<u8>,
}

/// The token operations a renewal uses. Each call is one step the fault injector can fail.
pub trait Card {
    /// Reads the passcode state and limits (C_GetTokenInfo).
    fn token_state(&mut self) -> Result<TokenState, HostError>;
    /// Signs in as the user; `None` lets a PIN-pad reader collect the passcode (C_Login).
    fn login(&mut self, pin: Option<&AuthPin>) -> Result<(), HostError>;
    /// Lists every certificate, private key and public key on the token.
    fn objects(&mut self) -> Result<Vec<CardObject>, HostError>;
    /// Whether the token can make and sign with a key of `algorithm` (C_GetMechanismList and
    /// C_GetMechanismInfo: the key-pair generator with that size, and a signing mechanism).
    /// Asked before anything on the card changes.
    fn can_make(&mut self, algorithm: KeyAlgorithm) -> Result<bool, HostError>;
    /// Generates a key pair of `algorithm` on the card: token objects, private key sensitive
    /// and never extractable (C_GenerateKeyPair).
    fn generate_key_pair(
        &mut self,
        algorithm: KeyAlgorithm,
        id: &[u8],
        label: &str,
    ) -> Result<KeyPairRefs, HostError>;
    /// Reads a public key object (C_GetAttributeValue: CKA_EC_PARAMS and CKA_EC_POINT, or
    /// CKA_MODULUS and CKA_PUBLIC_EXPONENT).
    fn public_key(&mut self, key: ObjectRef) -> Result<PublicKey, HostError>;
    /// Signs `message` with a key of `algorithm` (C_Sign): ECDSA over SHA-384 (P-384) or
    /// SHA-256 (P-256), or RSA PKCS#1 v1.5 over SHA-256.
    fn sign(
        &mut self,
        key: ObjectRef,
        algorithm: KeyAlgorithm,
        message: &[u8],
    ) -> Result<Signature, HostError>;
    /// Creates a certificate object (C_CreateObject).
    fn write_certificate(&mut self, certificate: &NewCertificate) -> Result<ObjectRef, HostError>;
    /// Reads a certificate object's DER back (C_GetAttributeValue CKA_VALUE).
    fn read_certificate(&mut self, certificate: ObjectRef) -> Result<Vec<u8>, HostError>;
    /// Changes an object's label (C_SetAttributeValue CKA_LABEL).
    fn set_label(&mut self, object: ObjectRef, label: &str) -> Result<(), HostError>;
    /// Destroys an object (C_DestroyObject).
    fn destroy(&mut self, object: ObjectRef) -> Result<(), HostError>;
}

/// The renewal's card in the binary: a boxed [`Card`] that can move between commands.
pub type BoxedCard = Box<dyn Card + Send>;

/// The real card: a read-write session on the token, plus a PC/SC presence check before each
/// operation (SoftHSM, unlike a real card, keeps answering after the card is pulled).
pub struct CryptokiCard {
    pub(super) module: Arc<TokenModule>,
    pub(super) slot: Slot,
    pub(super) session: Session,
    /// Handles this card has seen; cryptoki's `ObjectHandle` cannot be built from a number.
    pub(super) handles: HashMap<u64, ObjectHandle>,
    /// The token's mechanisms (read once, when first needed).
    pub(super) mechanisms: Option<Vec<cryptoki::mechanism::MechanismType>>,
    presence: Option<Box<dyn Presence + Send>>,
    /// Keeps other host processes off this card while the session lives.
    lock: Option<super::lock::CardLock>,
}

impl CryptokiCard {
    /// Opens a read-write session on `slot`. `presence`, when given, is checked before every
    /// operation and turns a pulled card into `CARD_REMOVED`.
    pub fn open(
        module: Arc<TokenModule>,
        slot: Slot,
        presence: Option<Box<dyn Presence + Send>>,
    ) -> Result<CryptokiCard, HostError> {
        if let Some(presence) = &presence {
            presence.check()?;
        }
        let session = module.pkcs11().open_rw_session(slot).map_err(token_error)?;
        Ok(CryptokiCard {
            module,
            slot,
            session,
            handles: HashMap::new(),
            mechanisms: None,
            presence,
            lock: None,
        })
    }

    /// Holds `lock` (see [`super::lock`]) for as long as this session lives.
    pub fn with_lock(mut self, lock: Option<super::lock::CardLock>) -> CryptokiCard {
        self.lock = lock;
        self
    }

    /// Fails with `CARD_REMOVED` when the card has left the reader (or was swapped).
    pub(super) fn ensure_present(&self) -> Result<(), HostError> {
        match &self.presence {
            Some(presence) => presence.check(),
            None => Ok(()),
        }
    }

    /// A failed operation on a card that has left the reader since is `CARD_REMOVED`: OpenSC
    /// reports a card pulled mid-operation as whatever the step failed with
    /// (CKR_GENERAL_ERROR, CKR_FUNCTION_FAILED, ...), SoftHSM never notices.
    fn removed_or(&self, error: HostError) -> HostError {
        if error.code != crate::protocol::ErrorCode::TokenError {
            return error;
        }
        match self.presence.as_ref().map(|p| p.check_settled()) {
            Some(Err(gone)) if gone.code == crate::protocol::ErrorCode::CardRemoved => {
                match error.extra.get("pkcs11").cloned() {
                    Some(detail) => gone.with("pkcs11", detail),
                    None => gone,
                }
            }
            _ => error,
        }
    }

    /// Remembers a handle and returns its reference.
    pub(super) fn remember(&mut self, handle: ObjectHandle) -> ObjectRef {
        let value = super::objects::handle_value(handle);
        self.handles.insert(value, handle);
        ObjectRef(value)
    }

    /// The cryptoki handle for a reference this card handed out.
    pub(super) fn handle(&self, object: ObjectRef) -> Result<ObjectHandle, HostError> {
        self.handles.get(&object.0).copied().ok_or_else(|| {
            HostError::new(
                crate::protocol::ErrorCode::InternalError,
                format!("object {} is not one this session found", object.0),
            )
        })
    }
}

impl Card for CryptokiCard {
    fn token_state(&mut self) -> Result<TokenState, HostError> {
        self.ensure_present()?;
        let result = self.read_token_state();
        result.map_err(|e| self.removed_or(e))
    }

    fn login(&mut self, pin: Option<&AuthPin>) -> Result<(), HostError> {
        self.ensure_present()?;
        let result = self.login_user(pin);
        result.map_err(|e| self.removed_or(e))
    }

    fn objects(&mut self) -> Result<Vec<CardObject>, HostError> {
        self.ensure_present()?;
        let result = self.list_objects();
        let objects = result.map_err(|e| self.removed_or(e))?;
        // OpenSC lists what it could read before a pull as if that were the whole card.
        if let Some(presence) = &self.presence {
            presence.check_now()?;
        }
        Ok(objects)
    }

    fn can_make(&mut self, algorithm: KeyAlgorithm) -> Result<bool, HostError> {
        self.ensure_present()?;
        let result = self.supports(algorithm);
        result.map_err(|e| self.removed_or(e))
    }

    fn generate_key_pair(
        &mut self,
        algorithm: KeyAlgorithm,
        id: &[u8],
        label: &str,
    ) -> Result<KeyPairRefs, HostError> {
        self.ensure_present()?;
        let result = self.generate(algorithm, id, label);
        result.map_err(|e| self.removed_or(e))
    }

    fn public_key(&mut self, key: ObjectRef) -> Result<PublicKey, HostError> {
        self.ensure_present()?;
        let result = self.read_public_key(key);
        result.map_err(|e| self.removed_or(e))
    }

    fn sign(
        &mut self,
        key: ObjectRef,
        algorithm: KeyAlgorithm,
        message: &[u8],
    ) -> Result<Signature, HostError> {
        self.ensure_present()?;
        let result = self.sign_message(key, algorithm, message);
        result.map_err(|e| self.removed_or(e))
    }

    fn write_certificate(&mut self, certificate: &NewCertificate) -> Result<ObjectRef, HostError> {
        self.ensure_present()?;
        let result = self.create_certificate(certificate);
        result.map_err(|e| self.removed_or(e))
    }

    fn read_certificate(&mut self, certificate: ObjectRef) -> Result<Vec<u8>, HostError> {
        self.ensure_present()?;
        let result = self.read_certificate_value(certificate);
        result.map_err(|e| self.removed_or(e))
    }

    fn set_label(&mut self, object: ObjectRef, label: &str) -> Result<(), HostError> {
        self.ensure_present()?;
        let result = self.relabel(object, label);
        result.map_err(|e| self.removed_or(e))
    }

    fn destroy(&mut self, object: ObjectRef) -> Result<(), HostError> {
        self.ensure_present()?;
        let result = self.destroy_object(object);
        result.map_err(|e| self.removed_or(e))
    }
}
