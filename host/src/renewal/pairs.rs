//! Labels of the objects a renewal makes: the pending label while the renewal runs, then the
//! label of the same kind in the pair it replaces. The grouping of objects into pairs is the
//! card model's (`token::inventory`).

use crate::certs::Role;
use crate::token::card::ObjectKind;
use crate::token::inventory::KeyGroup;
pub use crate::token::inventory::{is_pending, RENEWED_ROLES};
use crate::token::objects::PENDING_LABEL_PREFIX;

/// The label of a pending object of `role`.
pub fn pending_label(role: Role) -> String {
    format!("{PENDING_LABEL_PREFIX} {}", role.as_str())
}

/// The label a renewed object of `kind` takes: the label of the same kind in the pair it
/// replaces, so middleware and users see the names they know.
pub fn final_label(old: Option<&KeyGroup>, kind: ObjectKind, role: Role) -> String {
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
