//! Objects stored on the token, read by one loop ([`read_objects`]) for both the status (a
//! read-only session, public objects) and a renewal (its signed-in session). What comes out
//! feeds [`super::inventory::Inventory`].

use super::algorithm::{Curve, KeyAlgorithm, PublicKey};
use super::card::{CardObject, CryptokiCard, ObjectKind, ObjectRef};
use super::inventory::{Inventory, Visibility};
use super::{token_error, TokenModule};
use crate::protocol::HostError;
use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState};
use cryptoki::slot::Slot;

pub use super::inventory::PENDING_LABEL_PREFIX;

/// The key facts an object's attributes give.
#[derive(Default)]
struct KeyAttributes {
    key_type: Option<KeyType>,
    ec_params: Option<Vec<u8>>,
    ec_point: Option<Vec<u8>>,
    modulus: Option<Vec<u8>>,
    exponent: Option<Vec<u8>>,
}

impl KeyAttributes {
    fn algorithm(&self) -> Option<KeyAlgorithm> {
        match self.key_type? {
            KeyType::EC => self.ec_params.as_deref().and_then(Curve::from_ec_params).map(KeyAlgorithm::Ec),
            KeyType::RSA => self.modulus.as_ref().map(|m| {
                let leading = m.iter().take_while(|b| **b == 0).count();
                let significant = &m[leading..];
                let bits = significant
                    .first()
                    .map_or(0, |top| (significant.len() as u32 - 1) * 8 + (8 - top.leading_zeros()));
                KeyAlgorithm::Rsa { bits }
            }),
            _ => None,
        }
    }

    fn public_key(&self) -> Option<PublicKey> {
        let read = match self.key_type? {
            KeyType::EC => {
                PublicKey::from_ec_attributes(self.ec_params.as_deref()?, self.ec_point.as_deref()?)
            }
            KeyType::RSA => {
                PublicKey::from_rsa_attributes(self.modulus.as_deref()?, self.exponent.as_deref()?)
            }
            _ => return None,
        };
        match read {
            Ok(key) => Some(key),
            Err(e) => {
                log::warn!("a public key object could not be read: {}", e.message);
                None
            }
        }
    }
}

/// Every X.509 certificate, public key and private key `session` can see, with the attributes
/// the card model needs. `remember` turns each handle into the reference the caller hands out.
pub fn read_objects(
    session: &Session,
    remember: &mut dyn FnMut(ObjectHandle) -> ObjectRef,
) -> Result<Vec<CardObject>, HostError> {
    let key_attributes = [
        AttributeType::Id,
        AttributeType::Label,
        AttributeType::KeyType,
        AttributeType::EcParams,
        AttributeType::EcPoint,
        AttributeType::Modulus,
        AttributeType::PublicExponent,
    ];
    let searches: [(ObjectKind, Vec<Attribute>, &[AttributeType]); 3] = [
        (
            ObjectKind::Certificate,
            vec![
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
            ],
            &[AttributeType::Id, AttributeType::Label, AttributeType::Value],
        ),
        (ObjectKind::PublicKey, vec![Attribute::Class(ObjectClass::PUBLIC_KEY)], &key_attributes),
        // A private key's CKA_EC_POINT and CKA_PUBLIC_EXPONENT are often absent; the token
        // skips what it does not have.
        (ObjectKind::PrivateKey, vec![Attribute::Class(ObjectClass::PRIVATE_KEY)], &key_attributes[..6]),
    ];
    let mut objects = Vec::new();
    for (kind, template, wanted) in searches {
        for handle in session.find_objects(&template).map_err(token_error)? {
            let attributes = session.get_attributes(handle, wanted).map_err(token_error)?;
            let mut object = CardObject {
                handle: remember(handle),
                kind,
                id: Vec::new(),
                label: String::new(),
                value: Vec::new(),
                public_key: None,
                algorithm: None,
            };
            let mut key = KeyAttributes::default();
            for attribute in attributes {
                match attribute {
                    Attribute::Id(id) => object.id = id,
                    Attribute::Label(label) => object.label = String::from_utf8_lossy(&label).into_owned(),
                    Attribute::Value(der) => object.value = der,
                    Attribute::KeyType(key_type) => key.key_type = Some(key_type),
                    Attribute::EcParams(params) => key.ec_params = Some(params),
                    Attribute::EcPoint(point) => key.ec_point = Some(point),
                    Attribute::Modulus(modulus) => key.modulus = Some(modulus),
                    Attribute::PublicExponent(exponent) => key.exponent = Some(exponent),
                    _ => {}
                }
            }
            if kind != ObjectKind::Certificate {
                object.algorithm = key.algorithm();
            }
            if kind == ObjectKind::PublicKey {
                object.public_key = key.public_key();
            }
            objects.push(object);
        }
    }
    Ok(objects)
}

/// Whether `session` can see private objects: some session of this application has signed in.
pub fn visibility(session: &Session) -> Result<Visibility, HostError> {
    let state = session.get_session_info().map_err(token_error)?.session_state();
    Ok(match state {
        SessionState::RoUser | SessionState::RwUser => Visibility::SignedIn,
        _ => Visibility::Public,
    })
}

/// A handle's number. CK_OBJECT_HANDLE is a CK_ULONG: 64 bits on Linux and macOS, but 32 on
/// Windows, where the conversion is real (the lint only sees the 64-bit build).
#[allow(clippy::useless_conversion)]
pub fn handle_value(handle: ObjectHandle) -> u64 {
    u64::from(handle.handle())
}

impl TokenModule {
    /// The card model of the token in `slot`, from what a read-only session sees (public
    /// objects, unless this process has signed in elsewhere).
    pub fn inventory(&self, slot: Slot) -> Result<Inventory, HostError> {
        let session = self.pkcs11().open_ro_session(slot).map_err(token_error)?;
        let objects = read_objects(&session, &mut |handle| ObjectRef(handle_value(handle)))?;
        Ok(Inventory::new(&objects, visibility(&session)?))
    }
}

impl CryptokiCard {
    /// Every certificate and key the renewal's session can see (private keys only after login).
    pub(super) fn list_objects(&mut self) -> Result<Vec<CardObject>, HostError> {
        let mut seen = Vec::new();
        let objects = read_objects(&self.session, &mut |handle| {
            seen.push(handle);
            ObjectRef(handle_value(handle))
        })?;
        for handle in seen {
            self.remember(handle);
        }
        Ok(objects)
    }
}
