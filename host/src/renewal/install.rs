//! Installing checked certificates without ever losing the working pair:
//!
//! 1. `install`: write each new certificate with the pending label and its key pair's CKA_ID,
//!    then read it back and compare (n of m). A failure here leaves the renewal open with the
//!    certificates written so far ([`Interrupted::StillOpen`]): `renewComplete` can be retried
//!    with the same CA answer, and nothing issued is thrown away;
//! 2. `relabel`: give the new keys, then the new certificate, their final labels;
//! 3. `retireOld`: destroy the old keys, then the old certificate.
//!
//! Until step 2 ends the old pairs are the working pairs; from then on the new ones are, and an
//! interruption leaves two pairs of which recovery retires the older. A failing step runs
//! recovery on the spot (see [`super::recovery`]): if that finishes the renewal the caller gets
//! success, otherwise the original error, and the card keeps its old pairs.

use super::pairs::{final_label, pending_label};
use super::recovery;
use super::steps::{reach, ProgressSink, Step};
use super::verify::Verified;
use super::{RenewalId, Requested, RoleRenewal};
use crate::certs::info::Role;
use crate::protocol::{ErrorCode, HostError};
use crate::token::card::{BoxedCard, Card, NewCertificate, ObjectKind, ObjectRef};
use crate::token::inventory::{Inventory, Visibility};

/// New certificates written and everything relabelled: the new pairs are the working pairs.
pub struct Installed {
    card: BoxedCard,
    id: RenewalId,
    roles: Vec<RoleRenewal>,
}

/// The renewal is complete; dropping this closes the session (and so signs out).
pub struct Done {
    /// How the renewal ended.
    pub finished_by_recovery: bool,
}

/// What a failed install or retire step came to.
pub enum Interrupted {
    /// Writing or reading back a certificate failed before anything was relabelled: the
    /// renewal is still open, with the certificates written so far kept pending, and
    /// `install` may be tried again with the same certificates.
    StillOpen(Box<Requested>, HostError),
    /// Recovery finished the renewal after the step failed: the new pairs are in place.
    FinishedByRecovery(Done),
    /// The renewal did not complete; the card keeps (or got back) the old pairs, or recovery
    /// will sort it out at the next sign-in.
    Failed(HostError),
}

impl Requested {
    /// Writes the checked certificates and makes the new pairs the working pairs.
    pub fn install(mut self, proof: Verified, progress: ProgressSink<'_>) -> Result<Installed, Interrupted> {
        if proof.renewal() != &self.id {
            return Err(Interrupted::Failed(HostError::new(
                ErrorCode::InternalError,
                "certificates checked for another renewal",
            )));
        }
        if let Err(error) = write_all(&mut *self.card, &self.roles, &mut self.written, &proof, progress) {
            if error.code == ErrorCode::CardRemoved {
                // The session went with the card: nothing can be retried on it. What was
                // written stays pending for recovery at the next sign-in.
                return Err(Interrupted::Failed(error));
            }
            log::warn!(
                "renewal {} could not store a certificate ({}); it stays open",
                self.id.as_str(),
                error.code
            );
            return Err(Interrupted::StillOpen(Box::new(self), error));
        }
        let written: Vec<ObjectRef> = self.written.iter().flatten().copied().collect();
        match relabel(&mut *self.card, &self.roles, &written) {
            Ok(()) => Ok(Installed { card: self.card, id: self.id, roles: self.roles }),
            Err(error) => Err(salvage(&mut *self.card, &self.id, &self.roles, error)),
        }
    }
}

/// Writes each role's certificate with the pending label and reads it back; a role whose
/// certificate an earlier try wrote and read back is checked again, not written twice. A
/// failure names the role and the step, and says the renewal can be finished by trying again.
fn write_all(
    card: &mut dyn Card,
    roles: &[RoleRenewal],
    written: &mut [Option<ObjectRef>],
    proof: &Verified,
    progress: ProgressSink<'_>,
) -> Result<(), HostError> {
    let total = roles.len();
    for (i, (role, certificate)) in roles.iter().zip(proof.certificates()).enumerate() {
        reach(progress, Step::Install, Some((i + 1, total)));
        let name = role.new.role;
        if let Some(object) = written[i] {
            if card.read_certificate(object).map_err(|e| failed(e, name, READ_BACK))? == certificate.der() {
                continue;
            }
            // Another answer than the first try's: replace the pending certificate.
            card.destroy(object).map_err(|e| failed(e, name, WRITE))?;
            written[i] = None;
        }
        let object = card
            .write_certificate(&NewCertificate {
                id: role.new.id.clone(),
                label: pending_label(name),
                der: certificate.der().to_vec(),
                subject: certificate.info().subject_der.clone(),
                issuer: certificate.issuer_der().to_vec(),
                serial: certificate.serial_der().to_vec(),
            })
            .map_err(|e| failed(e, name, WRITE))?;
        written[i] = Some(object);
        if card.read_certificate(object).map_err(|e| failed(e, name, READ_BACK))? != certificate.der() {
            return Err(failed(
                HostError::new(ErrorCode::TokenError, "the card stored a different certificate"),
                name,
                READ_BACK,
            ));
        }
    }
    Ok(())
}

/// The `step` of a failed certificate store: writing it, or reading it back.
const WRITE: &str = "writeCertificate";
const READ_BACK: &str = "readBackCertificate";

/// A certificate store that failed, in words that name the role and what to do. A pulled card
/// keeps its own error (nothing can be retried on the session it took with it).
fn failed(error: HostError, role: Role, step: &str) -> HostError {
    if error.code == ErrorCode::CardRemoved {
        return error;
    }
    let what = if step == WRITE { "store" } else { "read back" };
    let detail = match error.extra.get("pkcs11").and_then(|v| v.as_str()) {
        Some(call) => call.to_string(),
        None => error.message.trim_end_matches('.').to_string(),
    };
    let mut out = HostError::new(
        error.code,
        format!(
            "The card could not {what} the new {} certificate ({}). The certificates issued are \
             kept and the old ones still work: try again to finish the renewal.",
            role.as_str(),
            detail
        ),
    )
    .with("role", role.as_str())
    .with("step", step);
    for (key, value) in error.extra {
        out = out.with(&key, value);
    }
    out
}

/// Gives the new keys, then the new certificates, their final labels.
fn relabel(card: &mut dyn Card, roles: &[RoleRenewal], written: &[ObjectRef]) -> Result<(), HostError> {
    // Progress carries no event for this step; the kill hook still sees it.
    reach(&mut |_| {}, Step::Relabel, None);
    for (role, certificate) in roles.iter().zip(written) {
        let old = Some(&role.old.group);
        let objects = [
            (role.new.keys.private, ObjectKind::PrivateKey),
            (role.new.keys.public, ObjectKind::PublicKey),
            (*certificate, ObjectKind::Certificate),
        ];
        for (object, kind) in objects {
            card.set_label(object, &final_label(old, kind, role.new.role))?;
        }
    }
    Ok(())
}

impl Installed {
    /// Destroys the old pairs (keys first, then the certificate).
    pub fn retire_old(mut self, progress: ProgressSink<'_>) -> Result<Done, Interrupted> {
        reach(progress, Step::RetireOld, None);
        for role in &self.roles {
            for object in role.old.group.objects() {
                if let Err(error) = self.card.destroy(object.handle) {
                    return Err(salvage(&mut *self.card, &self.id, &self.roles, error));
                }
            }
        }
        reach(progress, Step::Done, None);
        Ok(Done { finished_by_recovery: false })
    }
}

/// After a failed step: runs recovery with the session still open, then says whether the new
/// pairs ended up as the working pairs.
fn salvage(card: &mut dyn Card, id: &RenewalId, roles: &[RoleRenewal], error: HostError) -> Interrupted {
    log::warn!("renewal {} step failed ({}); recovering now", id.as_str(), error.code);
    if let Err(recovery_error) = recovery::recover(card) {
        log::warn!(
            "recovery after the failure failed too ({}); it runs again at the next sign-in",
            recovery_error.code
        );
        return Interrupted::Failed(error);
    }
    let finished = match card.objects() {
        Ok(objects) => {
            let inventory = Inventory::new(&objects, Visibility::SignedIn);
            let current = inventory.working_pairs();
            roles.iter().all(|r| current.iter().any(|p| p.role == r.new.role && p.group.id == r.new.id))
        }
        Err(_) => false,
    };
    if finished {
        log::info!("recovery finished the renewal");
        Interrupted::FinishedByRecovery(Done { finished_by_recovery: true })
    } else {
        Interrupted::Failed(error)
    }
}
