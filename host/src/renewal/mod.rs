//! The renewal as a state machine, in the style of rustls' handshake: each state is a struct,
//! each transition consumes it, and installing certificates takes a [`verify::Verified`] proof
//! that only [`Requested::verify`] can make.
//!
//! ```text
//! Opened --sign_in--> SignedIn --prepare (recovery, eligibility)--> Ready
//!   --generate_keys--> KeysMade --build_requests--> Requested
//!   Requested --verify--> Verified;  Requested + Verified --install--> Installed
//!   Installed --retire_old--> Done;  Requested --cancel--> (pending keys removed)
//! ```
//!
//! The card is the journal ([`recovery`]): new objects carry the pending label until they are
//! complete and checked, and old objects go only after the new pair is in place. A step that
//! fails takes the renewal with it after a best-effort clean-up; whatever the clean-up could not
//! do, recovery finishes at the next sign-in.

pub mod install;
pub mod pairs;
pub mod recovery;
pub mod steps;
pub mod verify;

use crate::certs::csr::{build_request, RequestSigner};
use crate::certs::window::PinGate;
use crate::certs::{CertificateInfo, Role};
use crate::protocol::{ErrorCode, HostError};
use crate::token::algorithm::{KeyAlgorithm, PublicKey, Signature};
use crate::token::card::{BoxedCard, Card, KeyPairRefs, ObjectRef};
use crate::token::inventory::{Inventory, KeyGroup, Visibility};
use crate::token::keys::new_key_id;
use crate::token::session::sign_in;
use cryptoki::types::AuthPin;
use pairs::pending_label;
use steps::{reach, ProgressSink, Step};
use time::OffsetDateTime;

/// A renewal's id on the wire: 128 random bits, hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalId(String);

impl RenewalId {
    fn new() -> Result<RenewalId, HostError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| {
            HostError::new(ErrorCode::InternalError, format!("no randomness for an id ({e})"))
        })?;
        Ok(RenewalId(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The id as sent to the browser.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a renewal needs from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Days before expiry from which a certificate may be renewed.
    pub window_days: u32,
    /// The algorithm of the new keys.
    pub new_key_algorithm: KeyAlgorithm,
}

/// The working pair a role has now, which the renewal replaces.
#[derive(Debug, Clone)]
pub struct OldPair {
    /// Its role.
    pub role: Role,
    /// Its objects and certificate.
    pub group: KeyGroup,
}

impl OldPair {
    /// The current certificate.
    pub fn info(&self) -> Result<&CertificateInfo, HostError> {
        self.group
            .info
            .as_ref()
            .ok_or_else(|| HostError::new(ErrorCode::InternalError, "current pair without a certificate"))
    }
}

/// A key pair made on the card for one role.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Its role.
    pub role: Role,
    /// Its CKA_ID.
    pub id: Vec<u8>,
    /// Its objects.
    pub keys: KeyPairRefs,
    /// Its public key, as the card reported it.
    pub public: PublicKey,
}

/// A card session, not signed in yet.
pub struct Opened {
    card: BoxedCard,
    settings: Settings,
    final_try_confirmed: bool,
}

/// Signed in.
pub struct SignedIn {
    card: BoxedCard,
    settings: Settings,
}

/// Signed in, journal clean, card renewable; the pairs to replace are known.
pub struct Ready {
    card: BoxedCard,
    old: Vec<OldPair>,
    algorithm: KeyAlgorithm,
}

/// New key pairs on the card (pending).
pub struct KeysMade {
    card: BoxedCard,
    old: Vec<OldPair>,
    new: Vec<NewKey>,
}

/// One role's part of a renewal.
#[derive(Debug, Clone)]
pub struct RoleRenewal {
    /// The pair being replaced.
    pub old: OldPair,
    /// The new key pair.
    pub new: NewKey,
    /// The request, DER.
    pub csr: Vec<u8>,
}

/// Requests made; waiting for certificates (or a cancel). Holds the signed-in session, so the
/// user types the passcode once.
pub struct Requested {
    id: RenewalId,
    card: BoxedCard,
    roles: Vec<RoleRenewal>,
    /// Per role, the pending certificate object already written and read back (a failed
    /// `renewComplete` keeps them, so a retry with the same CA answer does not write twice).
    written: Vec<Option<ObjectRef>>,
}

impl Opened {
    /// A renewal on `card`.
    pub fn new(card: BoxedCard, settings: Settings) -> Opened {
        Opened { card, settings, final_try_confirmed: false }
    }

    /// The holder confirmed that a wrong passcode at the final try locks the card
    /// (`confirmFinalTry`); without it, sign-in at the final try is refused with `PIN_FINAL_TRY`.
    pub fn final_try_confirmed(mut self, confirmed: bool) -> Opened {
        self.final_try_confirmed = confirmed;
        self
    }

    /// Signs in (see [`crate::token::session::sign_in`]).
    pub fn sign_in(
        mut self,
        pin: Option<&AuthPin>,
        progress: ProgressSink<'_>,
    ) -> Result<SignedIn, HostError> {
        reach(progress, Step::Login, None);
        sign_in(&mut *self.card, pin, self.final_try_confirmed)?;
        Ok(SignedIn { card: self.card, settings: self.settings })
    }
}

impl SignedIn {
    /// Checks that the card can make the new keys, finishes or rolls back any interrupted
    /// renewal, then checks that the card may be renewed now (the card model's one rule,
    /// [`Inventory::eligibility`]) and finds the pair of each role.
    pub fn prepare(mut self, now: OffsetDateTime) -> Result<Ready, HostError> {
        let algorithm = self.settings.new_key_algorithm;
        // Before recovery, the first step that may change the card.
        if !self.card.can_make(algorithm)? {
            return Err(HostError::new(
                ErrorCode::KeyAlgorithmUnsupported,
                format!(
                    "This card cannot make {} keys. Nothing on the card was changed.",
                    algorithm.describe()
                ),
            )
            .with("keyAlgorithm", algorithm.name()));
        }
        let mut inventory = Inventory::new(&self.card.objects()?, Visibility::SignedIn);
        let plan = recovery::plan(&inventory);
        if !plan.is_empty() {
            recovery::execute(&mut *self.card, &plan)?;
            inventory = Inventory::new(&self.card.objects()?, Visibility::SignedIn);
        }
        let verdict = inventory.eligibility(
            now,
            self.settings.window_days,
            PinGate { locked: false, not_initialized: false },
        );
        if let Some(reason) = verdict.reason {
            let mut error =
                HostError::new(ErrorCode::NotRenewable, reason.describe()).with("reason", reason.as_str());
            if !plan.is_empty() {
                // The card held an interrupted renewal, now finished or undone.
                error = error.with("recovered", true);
            }
            return Err(error);
        }
        let old: Vec<OldPair> = inventory
            .working_pairs()
            .into_iter()
            .map(|pair| OldPair { role: pair.role, group: pair.group.clone() })
            .collect();
        Ok(Ready { card: self.card, old, algorithm })
    }
}

impl Ready {
    /// The pairs that will be replaced.
    pub fn old(&self) -> &[OldPair] {
        &self.old
    }

    /// Generates one key pair per role on the card (of the configured algorithm), with a new
    /// CKA_ID and the pending label. On failure the keys made so far are removed (best effort).
    ///
    /// `stopped` is asked before each key and after the last: when it says yes (a cancel came
    /// while the token worked), the keys made so far are removed and the answer is
    /// `CANCELLED`, leaving the old pairs working.
    pub fn generate_keys(
        mut self,
        progress: ProgressSink<'_>,
        stopped: &dyn Fn() -> bool,
    ) -> Result<KeysMade, HostError> {
        let total = self.old.len();
        let mut new: Vec<NewKey> = Vec::with_capacity(total);
        for (i, old) in self.old.iter().enumerate() {
            if stopped() {
                abandon(&mut *self.card, &new.iter().map(|k| k.keys).collect::<Vec<_>>());
                return Err(cancelled());
            }
            reach(progress, Step::GenerateKey, Some((i + 1, total)));
            match make_key(&mut *self.card, self.algorithm, old.role) {
                Ok(key) => new.push(key),
                Err((error, half_made)) => {
                    let mut made: Vec<KeyPairRefs> = new.iter().map(|k| k.keys).collect();
                    made.extend(half_made);
                    abandon(&mut *self.card, &made);
                    return Err(error);
                }
            }
        }
        if stopped() {
            abandon(&mut *self.card, &new.iter().map(|k| k.keys).collect::<Vec<_>>());
            return Err(cancelled());
        }
        Ok(KeysMade { card: self.card, old: self.old, new })
    }
}

/// The answer to a renewal stopped while it began.
pub fn cancelled() -> HostError {
    HostError::new(
        ErrorCode::Cancelled,
        "The renewal was cancelled. The card keeps its current certificates.",
    )
}

/// Generates one key pair; on failure also returns the pair's objects if they exist.
fn make_key(
    card: &mut dyn Card,
    algorithm: KeyAlgorithm,
    role: Role,
) -> Result<NewKey, (HostError, Option<KeyPairRefs>)> {
    let id = new_key_id().map_err(|e| (e, None))?;
    let keys = card.generate_key_pair(algorithm, &id, &pending_label(role)).map_err(|e| (e, None))?;
    let public = card.public_key(keys.public).map_err(|e| (e, Some(keys)))?;
    if public.algorithm() != algorithm {
        let error = HostError::new(
            ErrorCode::TokenError,
            format!(
                "The card made a {} key when asked for {}.",
                public.algorithm().describe(),
                algorithm.describe()
            ),
        );
        return Err((error, Some(keys)));
    }
    Ok(NewKey { role, id, keys, public })
}

/// Destroys new keys (best effort: what fails here, recovery removes at the next sign-in).
fn abandon(card: &mut dyn Card, keys: &[KeyPairRefs]) {
    for pair in keys {
        for object in [pair.private, pair.public] {
            if let Err(e) = card.destroy(object) {
                log::warn!("could not remove a pending key ({}); recovery will at the next sign-in", e.code);
                return;
            }
        }
    }
}

/// The card, signing with one of its new keys.
struct CardSigner<'c> {
    card: &'c mut dyn Card,
    key: ObjectRef,
    public: PublicKey,
}

impl RequestSigner for CardSigner<'_> {
    fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    fn sign(&mut self, message: &[u8]) -> Result<Signature, HostError> {
        self.card.sign(self.key, self.public.algorithm(), message)
    }
}

impl KeysMade {
    /// Builds one request per role, signed on the card and verified before it is kept.
    pub fn build_requests(mut self, progress: ProgressSink<'_>) -> Result<Requested, HostError> {
        let total = self.new.len();
        let mut roles = Vec::with_capacity(total);
        for (i, (old, new)) in self.old.iter().zip(&self.new).enumerate() {
            reach(progress, Step::BuildRequest, Some((i + 1, total)));
            let built = old.info().and_then(|info| {
                let mut signer =
                    CardSigner { card: &mut *self.card, key: new.keys.private, public: new.public.clone() };
                build_request(&info.subject_der, old.role, &mut signer)
            });
            match built {
                Ok(csr) => roles.push(RoleRenewal { old: old.clone(), new: new.clone(), csr }),
                Err(error) => {
                    abandon(&mut *self.card, &self.new.iter().map(|k| k.keys).collect::<Vec<_>>());
                    return Err(error);
                }
            }
        }
        let id = match RenewalId::new() {
            Ok(id) => id,
            Err(error) => {
                abandon(&mut *self.card, &self.new.iter().map(|k| k.keys).collect::<Vec<_>>());
                return Err(error);
            }
        };
        let written = vec![None; roles.len()];
        Ok(Requested { id, card: self.card, roles, written })
    }
}

impl Requested {
    /// The renewal's id.
    pub fn id(&self) -> &RenewalId {
        &self.id
    }

    /// One entry per role: the requests to send to the CA.
    pub fn roles(&self) -> &[RoleRenewal] {
        &self.roles
    }

    /// Removes the pending keys; the old pairs are untouched.
    /// Also removes certificates a failed `renewComplete` wrote for them (keys first, the
    /// certificate last, as recovery orders it).
    pub fn cancel(mut self) -> Result<(), HostError> {
        for (role, written) in self.roles.iter().zip(&self.written) {
            for object in
                [Some(role.new.keys.private), Some(role.new.keys.public), *written].into_iter().flatten()
            {
                self.card.destroy(object)?;
            }
        }
        Ok(())
    }
}
