//! Recovery: the card is the journal. Objects of an unfinished renewal carry the pending label
//! (`cis-renew pending <role>`) and a fresh CKA_ID; an old pair that outlived its successor
//! shares a role and subject with a newer complete pair. [`plan`] reads that state and says
//! what to do; [`recover`] does it. See docs/renewal.md for the reasoning.
//!
//! - A pending group that has its certificate, which parses and matches its key pair (both
//!   keys present), is **rolled forward**: its objects take their final labels (keys first, the
//!   certificate last). A new key whose certificate is on the card is never destroyed.
//! - A pending group without a fitting certificate (keys made, no answer stored yet) is
//!   **rolled back**: its objects are destroyed. So a renewal interrupted between writing the
//!   first and the second certificate ends with the first role renewed and the second keeping
//!   its old pair; the next renewal renews it.
//! - Then, per role, every group with the same subject that is older than the newest complete
//!   pair is **retired** (keys first, the certificate last, so the certificate keeps marking
//!   what is left if this is interrupted too).
//!
//! Every action follows the same order as a renewal itself, so recovery interrupted at any
//! point leaves a state that recovery handles again. Private keys are visible only after login:
//! without it recovery could mistake a complete new pair for a broken one, so it runs only on a
//! signed-in card ([`crate::renewal::SignedIn`]), and the status only reports that the card
//! looks interrupted ([`Inventory::interrupted`]).

use super::pairs::{final_label, is_pending, RENEWED_ROLES};
use crate::certs::Role;
use crate::protocol::HostError;
use crate::token::card::{Card, ObjectKind, ObjectRef};
use crate::token::inventory::{Inventory, KeyGroup as Group, Visibility};

/// One step of recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Give an object its final label.
    Relabel {
        /// The object.
        object: ObjectRef,
        /// Its class (for logs).
        kind: ObjectKind,
        /// The new label.
        label: String,
    },
    /// Destroy an object.
    Destroy {
        /// The object.
        object: ObjectRef,
        /// Its class (for logs).
        kind: ObjectKind,
    },
}

/// What recovery will do, and what it means.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The steps, in order.
    pub actions: Vec<Action>,
    /// CKA_IDs of pending pairs that will become the working pairs.
    pub rolled_forward: Vec<Vec<u8>>,
    /// CKA_IDs of pending groups that will be removed.
    pub rolled_back: Vec<Vec<u8>>,
    /// CKA_IDs of old pairs that will be retired.
    pub retired: Vec<Vec<u8>>,
}

impl Plan {
    /// Nothing to do: the card is clean.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// Reads the journal from a signed-in card's model. Given a model built from public objects
/// only it plans nothing: without the private keys it could take a complete pair for a broken
/// one.
pub fn plan(inventory: &Inventory) -> Plan {
    plan_with(inventory, true)
}

/// [`plan`], or with `finish` false a plan that undoes every pending group even when it could
/// be finished (for middleware that cannot relabel what it read back from the card).
fn plan_with(inventory: &Inventory, finish: bool) -> Plan {
    if inventory.visibility() != Visibility::SignedIn {
        return Plan::default();
    }
    let groups = inventory.groups();
    let mut plan = Plan::default();
    let mut forward: Vec<&Group> = Vec::new();
    // A pending group whose certificate is on the card and fits its key pair is a finished
    // install of that role: it is rolled forward, so recovery never destroys a new key whose
    // certificate is on the card (the CA issued it; throwing it away would leave the sponsor
    // to start again). A pending group without its certificate (keys made, requests sent, no
    // answer stored) is rolled back. Either way every role keeps a working pair. With `finish`
    // false (the middleware cannot relabel) every pending group is rolled back.
    for group in groups.iter().filter(|g| g.pending()) {
        if finish && group.complete() && group.role().is_some_and(|r| RENEWED_ROLES.contains(&r)) {
            forward.push(group);
        } else {
            plan.rolled_back.push(group.id.clone());
            plan.actions.extend(group.objects().map(|o| Action::Destroy { object: o.handle, kind: o.kind }));
        }
    }
    for group in &forward {
        let role = group.role().unwrap_or(Role::Other);
        let old = same_subject_older(groups, group, true).into_iter().max_by_key(|g| g.newness());
        plan.rolled_forward.push(group.id.clone());
        for object in group.objects().filter(|o| is_pending(&o.label)) {
            let label = final_label(old, object.kind, role);
            plan.actions.push(Action::Relabel { object: object.handle, kind: object.kind, label });
        }
    }
    // After rolling forward, the forwarded groups count as working pairs.
    for role in RENEWED_ROLES {
        let forwarded = |g: &Group| forward.iter().any(|f| f.id == g.id);
        // On equal validity (certificates issued within the same second) the pair being rolled
        // forward counts as the newer one.
        let newest = groups
            .iter()
            .filter(|g| g.role() == Some(role) && g.complete() && (!g.pending() || forwarded(g)))
            .max_by_key(|g| (g.newness(), forwarded(g)));
        let Some(newest) = newest else { continue };
        for old in same_subject_older(groups, newest, forwarded(newest)) {
            plan.retired.push(old.id.clone());
            plan.actions.extend(old.objects().map(|o| Action::Destroy { object: o.handle, kind: o.kind }));
        }
    }
    plan
}

/// Non-pending groups with `newer`'s role and subject whose certificate is older: strictly, or
/// equally old when `newer` is a renewal being rolled forward.
fn same_subject_older<'g>(groups: &'g [Group], newer: &Group, newer_is_renewal: bool) -> Vec<&'g Group> {
    let (Some(info), Some(newness)) = (&newer.info, newer.newness()) else {
        return Vec::new();
    };
    groups
        .iter()
        .filter(|g| g.id != newer.id && !g.pending())
        .filter(|g| {
            g.info.as_ref().is_some_and(|i| i.role == info.role && i.subject_der == info.subject_der)
                && g.newness().is_some_and(|n| n < newness || (newer_is_renewal && n == newness))
        })
        .collect()
}

/// Runs recovery on a signed-in card. Returns what was done.
pub fn recover(card: &mut dyn Card) -> Result<Plan, HostError> {
    let inventory = Inventory::new(&card.objects()?, Visibility::SignedIn);
    let plan = plan(&inventory);
    execute(card, &plan)?;
    Ok(plan)
}

fn is_label_read_only(error: &HostError) -> bool {
    error.extra.get("reason").and_then(|r| r.as_str()) == Some(crate::token::write::LABEL_READ_ONLY)
}

/// Carries out a plan, in order.
pub fn execute(card: &mut dyn Card, plan: &Plan) -> Result<(), HostError> {
    if plan.is_empty() {
        return Ok(());
    }
    log::info!(
        "recovering an interrupted renewal: {} pair(s) forward, {} group(s) back, {} old pair(s) retired",
        plan.rolled_forward.len(),
        plan.rolled_back.len(),
        plan.retired.len()
    );
    for action in &plan.actions {
        let done = match action {
            Action::Relabel { object, label, .. } => card.set_label(*object, label),
            Action::Destroy { object, .. } => card.destroy(*object),
        };
        match done {
            Err(error) if !plan.rolled_forward.is_empty() && is_label_read_only(&error) => {
                // The middleware cannot give the new objects their final labels (OpenSC, for
                // objects it read back after a re-insertion): the renewal cannot be finished,
                // so it is undone. The old pairs are all still there (they are retired only
                // after every relabel), so the card keeps a working pair per role.
                log::warn!(
                    "the card's middleware cannot relabel the new pairs; undoing the interrupted renewal"
                );
                let inventory = Inventory::new(&card.objects()?, Visibility::SignedIn);
                return execute(card, &plan_with(&inventory, false));
            }
            other => other?,
        }
    }
    Ok(())
}
