//! Objects stored on the token: certificates for the status (public objects: no login
//! needed), and every certificate and key for a renewal's journal.

use super::card::{CardObject, CryptokiCard, ObjectKind};
use super::{token_error, TokenModule};
use crate::protocol::HostError;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass};
use cryptoki::slot::Slot;

/// A certificate object as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCertificate {
    /// CKA_ID, which links it to its key pair.
    pub id: Vec<u8>,
    /// CKA_LABEL.
    pub label: String,
    /// CKA_VALUE: the DER certificate.
    pub der: Vec<u8>,
}

impl TokenModule {
    /// Every X.509 certificate on the token.
    pub fn certificates(&self, slot: Slot) -> Result<Vec<StoredCertificate>, HostError> {
        let session = self.pkcs11().open_ro_session(slot).map_err(token_error)?;
        let template =
            [Attribute::Class(ObjectClass::CERTIFICATE), Attribute::CertificateType(CertificateType::X_509)];
        let handles = session.find_objects(&template).map_err(token_error)?;
        let mut certificates = Vec::with_capacity(handles.len());
        for handle in handles {
            let attributes = session
                .get_attributes(handle, &[AttributeType::Id, AttributeType::Label, AttributeType::Value])
                .map_err(token_error)?;
            let mut certificate = StoredCertificate { id: Vec::new(), label: String::new(), der: Vec::new() };
            for attribute in attributes {
                match attribute {
                    Attribute::Id(id) => certificate.id = id,
                    Attribute::Label(label) => {
                        certificate.label = String::from_utf8_lossy(&label).into_owned()
                    }
                    Attribute::Value(der) => certificate.der = der,
                    _ => {}
                }
            }
            certificates.push(certificate);
        }
        Ok(certificates)
    }
}

/// Labels of objects an unfinished renewal left behind start with this; they are not part of
/// the card's working pair until the renewal completes.
pub const PENDING_LABEL_PREFIX: &str = "cis-renew pending";

impl CryptokiCard {
    /// Every X.509 certificate and key the session can see (private keys only after login). Keys
    /// of any type are listed, so an old RSA pair can be retired too (its public key has no
    /// CKA_EC_POINT; the token skips that attribute).
    pub(super) fn list_objects(&mut self) -> Result<Vec<CardObject>, HostError> {
        let searches = [
            (
                ObjectKind::Certificate,
                vec![
                    Attribute::Class(ObjectClass::CERTIFICATE),
                    Attribute::CertificateType(CertificateType::X_509),
                ],
                AttributeType::Value,
            ),
            (ObjectKind::PublicKey, vec![Attribute::Class(ObjectClass::PUBLIC_KEY)], AttributeType::EcPoint),
            (
                ObjectKind::PrivateKey,
                vec![Attribute::Class(ObjectClass::PRIVATE_KEY)],
                // Nothing to read from a private key beyond its id and label.
                AttributeType::Id,
            ),
        ];
        let mut objects = Vec::new();
        for (kind, template, value_type) in searches {
            let handles = self.session.find_objects(&template).map_err(token_error)?;
            for handle in handles {
                let attributes = self
                    .session
                    .get_attributes(handle, &[AttributeType::Id, AttributeType::Label, value_type])
                    .map_err(token_error)?;
                let mut object = CardObject {
                    handle: self.remember(handle),
                    kind,
                    id: Vec::new(),
                    label: String::new(),
                    value: Vec::new(),
                };
                for attribute in attributes {
                    match attribute {
                        Attribute::Id(id) => object.id = id,
                        Attribute::Label(label) => {
                            object.label = String::from_utf8_lossy(&label).into_owned()
                        }
                        Attribute::Value(value) | Attribute::EcPoint(value) => object.value = value,
                        _ => {}
                    }
                }
                objects.push(object);
            }
        }
        Ok(objects)
    }
}

impl TokenModule {
    /// How many public objects carry the pending label: leftovers of an interrupted renewal
    /// that the status can see without a login.
    pub fn pending_public_objects(&self, slot: Slot) -> Result<usize, HostError> {
        let session = self.pkcs11().open_ro_session(slot).map_err(token_error)?;
        let mut count = 0;
        for class in [ObjectClass::CERTIFICATE, ObjectClass::PUBLIC_KEY] {
            for handle in session.find_objects(&[Attribute::Class(class)]).map_err(token_error)? {
                let attributes =
                    session.get_attributes(handle, &[AttributeType::Label]).map_err(token_error)?;
                if attributes.iter().any(
                    |a| matches!(a, Attribute::Label(l) if l.starts_with(PENDING_LABEL_PREFIX.as_bytes())),
                ) {
                    count += 1;
                }
            }
        }
        Ok(count)
    }
}
