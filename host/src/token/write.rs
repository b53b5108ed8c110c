//! Writing to the card: certificate objects created, read back, relabelled, and objects
//! destroyed. The renewal decides the order (see `renewal::install`); these are single steps.

use super::card::{CryptokiCard, NewCertificate, ObjectRef};
use super::token_error;
use crate::protocol::{ErrorCode, HostError};
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass};

/// The `reason` of a TOKEN_ERROR from a relabel the middleware cannot do (see
/// [`CryptokiCard::relabel`]); recovery then undoes the renewal instead of finishing it.
pub const LABEL_READ_ONLY: &str = "LABEL_READ_ONLY";

impl CryptokiCard {
    pub(super) fn create_certificate(
        &mut self,
        certificate: &NewCertificate,
    ) -> Result<ObjectRef, HostError> {
        let template = [
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Value(certificate.der.clone()),
            Attribute::Id(certificate.id.clone()),
            Attribute::Subject(certificate.subject.clone()),
            Attribute::Issuer(certificate.issuer.clone()),
            Attribute::SerialNumber(certificate.serial.clone()),
            Attribute::Label(certificate.label.as_bytes().to_vec()),
        ];
        let handle = self.session.create_object(&template).map_err(token_error)?;
        Ok(self.remember(handle))
    }

    pub(super) fn read_certificate_value(&mut self, certificate: ObjectRef) -> Result<Vec<u8>, HostError> {
        let handle = self.handle(certificate)?;
        let attributes = self.session.get_attributes(handle, &[AttributeType::Value]).map_err(token_error)?;
        attributes
            .into_iter()
            .find_map(|a| match a {
                Attribute::Value(der) => Some(der),
                _ => None,
            })
            .ok_or_else(|| HostError::new(ErrorCode::TokenError, "The card did not return the certificate."))
    }

    pub(super) fn relabel(&mut self, object: ObjectRef, label: &str) -> Result<(), HostError> {
        let handle = self.handle(object)?;
        self.session.update_attributes(handle, &[Attribute::Label(label.as_bytes().to_vec())]).map_err(|e| {
            // OpenSC relabels only objects it made since it last read the card: the ones it
            // read back (after a re-insertion, or in another process) have no PKCS#15
            // directory entry to rewrite, and C_SetAttributeValue gives CKR_ARGUMENTS_BAD.
            let read_only = matches!(
                e,
                cryptoki::error::Error::Pkcs11(
                    cryptoki::error::RvError::ArgumentsBad | cryptoki::error::RvError::AttributeReadOnly,
                    _
                )
            );
            let error = token_error(e);
            if read_only {
                error.with("reason", LABEL_READ_ONLY)
            } else {
                error
            }
        })
    }

    pub(super) fn destroy_object(&mut self, object: ObjectRef) -> Result<(), HostError> {
        let handle = self.handle(object)?;
        self.session.destroy_object(handle).map_err(token_error)?;
        self.handles.remove(&object.0);
        Ok(())
    }
}
