//! The card's objects grouped into pairs by CKA_ID: a certificate with its private and public
//! key. Recovery reads the journal from these groups; a renewal finds the current pair of each
//! role in them.

use crate::certs::{parse_certificate, CertificateInfo, Role};
use crate::token::card::{CardObject, ObjectKind};
use crate::token::keys::public_key_from_ec_point;
use crate::token::objects::PENDING_LABEL_PREFIX;
use p384::pkcs8::DecodePublicKey;

/// The label of a pending object of `role`.
pub fn pending_label(role: Role) -> String {
    format!("{PENDING_LABEL_PREFIX} {}", role.as_str())
}

/// Whether a label marks a pending object.
pub fn is_pending(label: &str) -> bool {
    label.starts_with(PENDING_LABEL_PREFIX)
}

/// Objects sharing one CKA_ID.
#[derive(Debug, Clone)]
pub struct Group {
    /// The shared CKA_ID.
    pub id: Vec<u8>,
    /// The certificate object, if any.
    pub certificate: Option<CardObject>,
    /// The certificate, parsed (when it parses).
    pub info: Option<CertificateInfo>,
    /// The private key object, if any (visible only after login).
    pub private: Option<CardObject>,
    /// The public key object, if any.
    pub public: Option<CardObject>,
}

impl Group {
    /// Some object of the group carries the pending label.
    pub fn pending(&self) -> bool {
        self.objects().any(|o| is_pending(&o.label))
    }

    /// The objects present, keys first and the certificate last: the order in which to relabel
    /// or destroy them, so that the certificate marks the group until the end.
    pub fn objects(&self) -> impl Iterator<Item = &CardObject> {
        [self.private.as_ref(), self.public.as_ref(), self.certificate.as_ref()].into_iter().flatten()
    }

    /// The certificate's role, when it parses.
    pub fn role(&self) -> Option<Role> {
        self.info.as_ref().map(|i| i.role)
    }

    /// Certificate, private key and public key are all there, and the public key object holds
    /// the certificate's (P-384) key.
    pub fn complete(&self) -> bool {
        let (Some(info), Some(_), Some(public)) = (&self.info, &self.private, &self.public) else {
            return false;
        };
        let Ok(from_certificate) = p384::PublicKey::from_public_key_der(&info.public_key_der) else {
            return false;
        };
        public_key_from_ec_point(&public.value).is_ok_and(|key| key == from_certificate)
    }

    /// Orders groups by how new their certificate is (notAfter, then notBefore).
    pub fn newness(&self) -> Option<(time::OffsetDateTime, time::OffsetDateTime)> {
        self.info.as_ref().map(|i| (i.not_after, i.not_before))
    }
}

/// Groups `objects` by CKA_ID, in the order ids first appear.
pub fn groups(objects: &[CardObject]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for object in objects {
        let index = match groups.iter().position(|g| g.id == object.id) {
            Some(index) => index,
            None => {
                groups.push(Group {
                    id: object.id.clone(),
                    certificate: None,
                    info: None,
                    private: None,
                    public: None,
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[index];
        // A second object of the same class and id is left out of the group (and so never
        // touched): ids we create are random, so that is not ours.
        match object.kind {
            ObjectKind::Certificate if group.certificate.is_none() => {
                group.info = parse_certificate(&object.value).ok();
                group.certificate = Some(object.clone());
            }
            ObjectKind::PrivateKey if group.private.is_none() => group.private = Some(object.clone()),
            ObjectKind::PublicKey if group.public.is_none() => group.public = Some(object.clone()),
            _ => log::warn!("two {}s share one CKA_ID; leaving the second alone", object.kind.as_str()),
        }
    }
    groups
}

/// The roles a renewal renews: the two an NHS card carries.
pub const RENEWED_ROLES: [Role; 2] = [Role::Authentication, Role::Signing];

/// The working pair of each renewed role: the newest complete, non-pending group.
pub fn current_pairs(groups: &[Group]) -> Vec<(Role, &Group)> {
    RENEWED_ROLES
        .iter()
        .filter_map(|role| {
            groups
                .iter()
                .filter(|g| g.role() == Some(*role) && !g.pending() && g.complete())
                .max_by_key(|g| g.newness())
                .map(|g| (*role, g))
        })
        .collect()
}

/// The label a renewed object of `kind` takes: the label of the same kind in the pair it
/// replaces, so middleware and users see the names they know.
pub fn final_label(old: Option<&Group>, kind: ObjectKind, role: Role) -> String {
    let from_old = old.and_then(|g| match kind {
        ObjectKind::Certificate => g.certificate.as_ref(),
        ObjectKind::PrivateKey => g.private.as_ref().or(g.public.as_ref()),
        ObjectKind::PublicKey => g.public.as_ref().or(g.private.as_ref()),
    });
    match from_old {
        Some(object) if !is_pending(&object.label) && !object.label.is_empty() => object.label.clone(),
        _ => {
            let title = match role {
                Role::Authentication => "Authentication",
                Role::Signing => "Signing",
                Role::Other => "Other",
            };
            match kind {
                ObjectKind::Certificate => format!("{title} certificate"),
                _ => format!("{title} key"),
            }
        }
    }
}
