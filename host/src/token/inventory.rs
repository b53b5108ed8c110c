//! The card model: one picture of a card, used by `status`, by `renewBegin`'s preparation and
//! by recovery, so that they can never disagree about what the card holds.
//!
//! An [`Inventory`] is the card's objects grouped by identifier (PKCS#11: CKA_ID) into
//! [`KeyGroup`]s. Each group knows its key algorithm ([`KeyAlgorithm`]), its certificate and that
//! certificate's [`Role`], whether its public and private keys are there ([`Presence`]), and
//! whether it is pending (an unfinished renewal's). From the groups come the working pair per
//! role ([`Inventory::working_pairs`]: the newest complete, non-pending group of the role),
//! whether the card shows an interrupted renewal ([`Inventory::interrupted`]), and the one
//! eligibility rule ([`Inventory::eligibility`]).
//!
//! Only authentication and signing certificates ([`RENEWED_ROLES`]) take part: CA certificates
//! and any other certificate on the card never make it renewable and never block it.
//!
//! Before sign-in a token hides its private keys, so an inventory built from public objects
//! ([`Visibility::Public`]) cannot confirm them: a group whose certificate and public key (or,
//! when the middleware shows no public-key object, certificate and identifier) agree is taken to
//! have its private key, and [`Inventory::unconfirmed`] says so. After sign-in
//! ([`Visibility::SignedIn`]) a missing private key is known to be missing. Both views therefore
//! give the same answer for every card whose pairs are whole, which is every card the tests
//! build; a card whose certificate lost its key is the one shape sign-in can change.
//!
//! # Feeding it from a backend
//! A backend lists what the card holds as [`CardObject`]s and calls [`Inventory::new`]:
//! - one object per certificate, public key and private key, with `id` the identifier that
//!   ties a certificate to its key (PKCS#11: CKA_ID; PIV: the slot, e.g. `[0x9A]`, `[0x9C]`);
//! - `value` = the certificate's DER for certificates;
//! - `public_key` = the key read from the token for public keys (PIV: from the certificate or
//!   the GENERATE answer, or leave the public-key object out: matching then falls back to the
//!   identifier and the certificate);
//! - `algorithm` = the key's algorithm where the token tells it (private keys);
//! - `label` = the object's label; labels starting with [`PENDING_LABEL_PREFIX`] mark a pending
//!   object (a backend without labels keeps its own journal and never sets it);
//! - `handle` = whatever the backend needs to act on the object later.
//!
//! With [`Visibility::SignedIn`] when private keys are visible (PIV: always, as slot contents
//! are known without the PIN), the same eligibility rule applies unchanged.

use super::algorithm::{KeyAlgorithm, PublicKey};
use super::card::{CardObject, ObjectKind};
use crate::certs::window::PinGate;
use crate::certs::{assess_card, parse_certificate, CardEligibility, CertificateInfo, Role};
use time::OffsetDateTime;

/// Labels of objects an unfinished renewal left behind start with this; they are not part of
/// the card's working pair until the renewal completes.
pub const PENDING_LABEL_PREFIX: &str = "cis-renew pending";

/// The roles a renewal renews: the two an NHS card carries.
pub const RENEWED_ROLES: [Role; 2] = [Role::Authentication, Role::Signing];

/// Whether a label marks a pending object.
pub fn is_pending(label: &str) -> bool {
    label.starts_with(PENDING_LABEL_PREFIX)
}

/// What the objects an inventory was built from could show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Public objects only (before sign-in): a private key not listed may still exist.
    Public,
    /// Every object (after sign-in): a private key not listed does not exist.
    SignedIn,
}

/// Whether a group's private key is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Listed.
    Present,
    /// Not listed, and private objects were visible.
    Absent,
    /// Not listed, but private objects were hidden (before sign-in).
    Unconfirmed,
}

/// A fact about the card that only sign-in can confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unconfirmed {
    /// The private key of the group with this identifier is assumed to be there.
    PrivateKey {
        /// The group's identifier.
        id: Vec<u8>,
        /// The role of the working pair it belongs to.
        role: Role,
    },
}

/// Objects sharing one identifier: a certificate with its key pair.
#[derive(Debug, Clone)]
pub struct KeyGroup {
    /// The shared identifier (CKA_ID).
    pub id: Vec<u8>,
    /// The certificate object, if any.
    pub certificate: Option<CardObject>,
    /// The certificate, parsed (when it parses).
    pub info: Option<CertificateInfo>,
    /// The certificate's public key (when the host knows its algorithm).
    pub certificate_key: Option<PublicKey>,
    /// The private key object, if listed.
    pub private: Option<CardObject>,
    /// The public key object, if any.
    pub public: Option<CardObject>,
    /// Whether the private key is there.
    pub private_key: Presence,
}

impl KeyGroup {
    fn empty(id: Vec<u8>, visibility: Visibility) -> KeyGroup {
        KeyGroup {
            id,
            certificate: None,
            info: None,
            certificate_key: None,
            private: None,
            public: None,
            private_key: match visibility {
                Visibility::Public => Presence::Unconfirmed,
                Visibility::SignedIn => Presence::Absent,
            },
        }
    }

    /// Some object of the group carries the pending label.
    pub fn pending(&self) -> bool {
        self.objects().any(|o| is_pending(&o.label))
    }

    /// The objects present, keys first and the certificate last: the order in which to relabel
    /// or destroy them, so that the certificate marks the group until the end.
    pub fn objects(&self) -> impl Iterator<Item = &CardObject> {
        [self.private.as_ref(), self.public.as_ref(), self.certificate.as_ref()].into_iter().flatten()
    }

    /// The certificate's role, when it parses (`Other` for CA and other certificates).
    pub fn role(&self) -> Option<Role> {
        self.info.as_ref().map(|i| i.role)
    }

    /// The key pair's algorithm: the certificate's key, else the public key object's, else
    /// what the private key object says.
    pub fn algorithm(&self) -> Option<KeyAlgorithm> {
        self.certificate_key
            .as_ref()
            .map(PublicKey::algorithm)
            .or_else(|| self.public.as_ref().and_then(|p| p.public_key.as_ref()).map(PublicKey::algorithm))
            .or_else(|| self.private.as_ref().and_then(|p| p.algorithm))
    }

    /// The certificate is for this group's key: its key equals the public key object's, or,
    /// where the middleware shows no (readable) public key, the identifier ties them; and a
    /// private key that names its algorithm names the certificate's.
    pub fn key_matches_certificate(&self) -> bool {
        let Some(certificate_key) = &self.certificate_key else {
            return false;
        };
        let public_agrees = match self.public.as_ref().and_then(|p| p.public_key.as_ref()) {
            Some(public) => public == certificate_key,
            None => true,
        };
        let private_agrees = match self.private.as_ref().and_then(|p| p.algorithm) {
            Some(algorithm) => algorithm == certificate_key.algorithm(),
            None => true,
        };
        public_agrees && private_agrees
    }

    /// Certificate and private key are there (or, before sign-in, not known to be missing) and
    /// belong together.
    pub fn complete(&self) -> bool {
        self.info.is_some() && self.private_key != Presence::Absent && self.key_matches_certificate()
    }

    /// Orders groups by how new their certificate is (notAfter, then notBefore).
    pub fn newness(&self) -> Option<(OffsetDateTime, OffsetDateTime)> {
        self.info.as_ref().map(|i| (i.not_after, i.not_before))
    }
}

/// The card's objects, grouped; see the module docs.
#[derive(Debug, Clone)]
pub struct Inventory {
    groups: Vec<KeyGroup>,
    visibility: Visibility,
}

/// One role's working pair.
#[derive(Debug, Clone, Copy)]
pub struct WorkingPair<'i> {
    /// The role.
    pub role: Role,
    /// Its group.
    pub group: &'i KeyGroup,
}

impl WorkingPair<'_> {
    /// Its certificate (a working pair always has one).
    pub fn info(&self) -> Option<&CertificateInfo> {
        self.group.info.as_ref()
    }
}

impl Inventory {
    /// Groups `objects` by identifier, in the order identifiers first appear.
    pub fn new(objects: &[CardObject], visibility: Visibility) -> Inventory {
        let mut groups: Vec<KeyGroup> = Vec::new();
        for object in objects {
            let index = match groups.iter().position(|g| g.id == object.id) {
                Some(index) => index,
                None => {
                    groups.push(KeyGroup::empty(object.id.clone(), visibility));
                    groups.len() - 1
                }
            };
            let group = &mut groups[index];
            // A second object of the same class and id is left out of the group (and so never
            // touched): ids we create are random, so that is not ours.
            match object.kind {
                ObjectKind::Certificate if group.certificate.is_none() => {
                    group.info = match parse_certificate(&object.value) {
                        Ok(info) => Some(info),
                        Err(e) => {
                            log::warn!("skipping unreadable certificate object: {e}");
                            None
                        }
                    };
                    group.certificate_key =
                        group.info.as_ref().and_then(|i| PublicKey::from_spki_der(&i.public_key_der));
                    group.certificate = Some(object.clone());
                }
                ObjectKind::PrivateKey if group.private.is_none() => {
                    group.private = Some(object.clone());
                    group.private_key = Presence::Present;
                }
                ObjectKind::PublicKey if group.public.is_none() => group.public = Some(object.clone()),
                _ => {
                    log::warn!("two {}s share one identifier; leaving the second alone", object.kind.as_str())
                }
            }
        }
        Inventory { groups, visibility }
    }

    /// Every group.
    pub fn groups(&self) -> &[KeyGroup] {
        &self.groups
    }

    /// Whether private objects were visible.
    pub fn visibility(&self) -> Visibility {
        self.visibility
    }

    /// The group with identifier `id`.
    pub fn group(&self, id: &[u8]) -> Option<&KeyGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// The working pair of each renewed role that has one: the newest complete, non-pending
    /// group of the role. Authentication first.
    pub fn working_pairs(&self) -> Vec<WorkingPair<'_>> {
        RENEWED_ROLES
            .iter()
            .filter_map(|role| {
                self.groups
                    .iter()
                    .filter(|g| g.role() == Some(*role) && !g.pending() && g.complete())
                    .max_by_key(|g| g.newness())
                    .map(|group| WorkingPair { role: *role, group })
            })
            .collect()
    }

    /// Certificates that are neither pending nor authentication/signing (CA certificates and
    /// others): shown, never renewed, never counted.
    pub fn other_certificates(&self) -> Vec<&CertificateInfo> {
        self.groups
            .iter()
            .filter(|g| !g.pending())
            .filter_map(|g| g.info.as_ref())
            .filter(|i| !RENEWED_ROLES.contains(&i.role))
            .collect()
    }

    /// Whether the card shows an unfinished renewal: a pending object, or two non-pending
    /// certificates of one renewed role and subject (the old pair outlived its successor).
    pub fn interrupted(&self) -> bool {
        if self.groups.iter().any(KeyGroup::pending) {
            return true;
        }
        let infos: Vec<&CertificateInfo> = self
            .groups
            .iter()
            .filter_map(|g| g.info.as_ref())
            .filter(|i| RENEWED_ROLES.contains(&i.role))
            .collect();
        infos
            .iter()
            .enumerate()
            .any(|(i, a)| infos[i + 1..].iter().any(|b| a.role == b.role && a.subject_der == b.subject_der))
    }

    /// Facts the working pairs rest on that sign-in has yet to confirm.
    pub fn unconfirmed(&self) -> Vec<Unconfirmed> {
        self.working_pairs()
            .into_iter()
            .filter(|p| p.group.private_key == Presence::Unconfirmed)
            .map(|p| Unconfirmed::PrivateKey { id: p.group.id.clone(), role: p.role })
            .collect()
    }

    /// The one eligibility rule: the card may be renewed when a working pair is due, none has
    /// expired, and the passcode can be used (see [`assess_card`]).
    pub fn eligibility(&self, now: OffsetDateTime, window_days: u32, pin: PinGate) -> CardEligibility {
        let infos: Vec<CertificateInfo> =
            self.working_pairs().iter().filter_map(|p| p.info().cloned()).collect();
        assess_card(now, &infos, window_days, pin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::card::ObjectRef;

    fn object(kind: ObjectKind, id: u8, label: &str) -> CardObject {
        CardObject {
            handle: ObjectRef(u64::from(id) * 10 + kind as u64),
            kind,
            id: vec![id],
            label: label.into(),
            value: Vec::new(),
            public_key: None,
            algorithm: None,
        }
    }

    #[test]
    fn private_key_presence_follows_visibility() {
        let objects = [object(ObjectKind::PublicKey, 1, "k")];
        let public = Inventory::new(&objects, Visibility::Public);
        assert_eq!(public.groups()[0].private_key, Presence::Unconfirmed);
        let signed_in = Inventory::new(&objects, Visibility::SignedIn);
        assert_eq!(signed_in.groups()[0].private_key, Presence::Absent);
        let with_key = [object(ObjectKind::PublicKey, 1, "k"), object(ObjectKind::PrivateKey, 1, "k")];
        assert_eq!(Inventory::new(&with_key, Visibility::Public).groups()[0].private_key, Presence::Present);
    }

    #[test]
    fn pending_label_marks_the_group_interrupted() {
        let objects = [object(ObjectKind::PublicKey, 1, "cis-renew pending signing")];
        let inventory = Inventory::new(&objects, Visibility::Public);
        assert!(inventory.groups()[0].pending());
        assert!(inventory.interrupted());
        assert!(inventory.working_pairs().is_empty());
        assert!(!Inventory::new(&[object(ObjectKind::PublicKey, 1, "Signing key")], Visibility::Public)
            .interrupted());
    }
}
