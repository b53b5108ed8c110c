//! A fault injector around any [`Card`]: makes the k-th operation fail, as a token error or as a
//! pulled card, can make the token report passcode states SoftHSM never reaches
//! (`FINAL_TRY`, `LOCKED`), and can make it lack a key algorithm (a mechanism list without it).
//!
//! Tests use it to prove the journal's promise for every k: whatever step fails, recovery leaves
//! at least one complete working pair and no orphan objects. The binary never wraps its card.

use super::algorithm::{KeyAlgorithm, PublicKey, Signature};
use super::card::{Card, CardObject, KeyPairRefs, NewCertificate, ObjectRef, TokenState};
use super::PinState;
use crate::protocol::{ErrorCode, HostError};
use cryptoki::types::AuthPin;
use std::sync::{Arc, Mutex};

/// The operations a [`FaultyCard`] has seen, shared so a test can read it after the card has
/// moved into a renewal.
#[derive(Debug, Clone, Default)]
pub struct OpLog(Arc<Mutex<Vec<&'static str>>>);

impl OpLog {
    /// The operation names so far, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.lock().map(|ops| ops.clone()).unwrap_or_default()
    }

    fn push(&self, name: &'static str) {
        if let Ok(mut ops) = self.0.lock() {
            ops.push(name);
        }
    }
}

/// How the chosen operation fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// That one operation returns `TOKEN_ERROR`; later ones work.
    Error,
    /// The card is pulled before that operation: it and every later one return `CARD_REMOVED`.
    CardRemoved,
}

/// Which operation fails (1-based: `k = 1` is the first call through the seam).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailAt {
    /// The operation's number.
    pub k: usize,
    /// How it fails.
    pub kind: FaultKind,
}

/// A card whose operations can be made to fail.
pub struct FaultyCard<C> {
    inner: C,
    fail: Option<FailAt>,
    count: usize,
    removed: bool,
    ops: OpLog,
    pin_after_failed_login: Option<PinState>,
    pin_override: Option<PinState>,
    failing_call: Option<(&'static str, usize)>,
    lacks: Option<KeyAlgorithm>,
}

impl<C: Card> FaultyCard<C> {
    /// Wraps `inner`; with `fail = None` it only counts operations.
    pub fn new(inner: C, fail: Option<FailAt>) -> FaultyCard<C> {
        FaultyCard {
            inner,
            fail,
            count: 0,
            removed: false,
            ops: OpLog::default(),
            pin_after_failed_login: None,
            pin_override: None,
            failing_call: None,
            lacks: None,
        }
    }

    /// The token cannot make keys of `algorithm` (its mechanism list lacks them).
    pub fn lacking(mut self, algorithm: KeyAlgorithm) -> Self {
        self.lacks = Some(algorithm);
        self
    }

    /// The `n`-th call of operation `name` (1-based) returns `TOKEN_ERROR`; others work.
    pub fn failing_call(mut self, name: &'static str, n: usize) -> Self {
        self.failing_call = Some((name, n));
        self
    }

    /// After a failed login, the token reports `state` (what a real card does on its last tries).
    pub fn with_pin_after_failed_login(mut self, state: PinState) -> Self {
        self.pin_after_failed_login = Some(state);
        self
    }

    /// The token reports `state` from the start (e.g. a locked passcode).
    pub fn with_pin_state(mut self, state: PinState) -> Self {
        self.pin_override = Some(state);
        self
    }

    /// A handle on the log of operations called, in order.
    pub fn log(&self) -> OpLog {
        self.ops.clone()
    }

    /// Whether the injected fault has fired.
    pub fn fired(&self) -> bool {
        self.fail.is_some_and(|f| self.count >= f.k)
    }

    /// The wrapped card.
    pub fn into_inner(self) -> C {
        self.inner
    }

    fn step(&mut self, name: &'static str) -> Result<(), HostError> {
        self.count += 1;
        self.ops.push(name);
        if let Some((failing, n)) = self.failing_call {
            if failing == name && self.ops.names().iter().filter(|o| **o == name).count() == n {
                return Err(HostError::new(
                    ErrorCode::TokenError,
                    format!("The card failed: {name} returned CKR_FUNCTION_FAILED (injected)."),
                ));
            }
        }
        if self.removed {
            return Err(removed(name));
        }
        match self.fail {
            Some(FailAt { k, kind: FaultKind::Error }) if k == self.count => Err(HostError::new(
                ErrorCode::TokenError,
                format!("The card failed: {name} returned CKR_FUNCTION_FAILED (injected)."),
            )),
            Some(FailAt { k, kind: FaultKind::CardRemoved }) if k == self.count => {
                self.removed = true;
                Err(removed(name))
            }
            _ => Ok(()),
        }
    }
}

fn removed(name: &str) -> HostError {
    HostError::new(ErrorCode::CardRemoved, "The card was removed. Put it back and try again.")
        .with("pkcs11", format!("{name}: CKR_DEVICE_REMOVED (injected)"))
}

impl<C: Card> Card for FaultyCard<C> {
    fn token_state(&mut self) -> Result<TokenState, HostError> {
        self.step("token_state")?;
        let mut state = self.inner.token_state()?;
        if let Some(pin) = self.pin_override {
            state.pin = pin;
        }
        Ok(state)
    }

    fn login(&mut self, pin: Option<&AuthPin>) -> Result<(), HostError> {
        self.step("login")?;
        let result = self.inner.login(pin);
        if let (Err(error), Some(state)) = (&result, self.pin_after_failed_login) {
            if error.code == ErrorCode::PinIncorrect {
                self.pin_override = Some(state);
            }
        }
        result
    }

    fn objects(&mut self) -> Result<Vec<CardObject>, HostError> {
        self.step("objects")?;
        self.inner.objects()
    }

    fn can_make(&mut self, algorithm: KeyAlgorithm) -> Result<bool, HostError> {
        self.step("can_make")?;
        if self.lacks == Some(algorithm) {
            return Ok(false);
        }
        self.inner.can_make(algorithm)
    }

    fn generate_key_pair(
        &mut self,
        algorithm: KeyAlgorithm,
        id: &[u8],
        label: &str,
    ) -> Result<KeyPairRefs, HostError> {
        self.step("generate_key_pair")?;
        self.inner.generate_key_pair(algorithm, id, label)
    }

    fn public_key(&mut self, key: ObjectRef) -> Result<PublicKey, HostError> {
        self.step("public_key")?;
        self.inner.public_key(key)
    }

    fn sign(
        &mut self,
        key: ObjectRef,
        algorithm: KeyAlgorithm,
        message: &[u8],
    ) -> Result<Signature, HostError> {
        self.step("sign")?;
        self.inner.sign(key, algorithm, message)
    }

    fn write_certificate(&mut self, certificate: &NewCertificate) -> Result<ObjectRef, HostError> {
        self.step("write_certificate")?;
        self.inner.write_certificate(certificate)
    }

    fn read_certificate(&mut self, certificate: ObjectRef) -> Result<Vec<u8>, HostError> {
        self.step("read_certificate")?;
        self.inner.read_certificate(certificate)
    }

    fn set_label(&mut self, object: ObjectRef, label: &str) -> Result<(), HostError> {
        self.step("set_label")?;
        self.inner.set_label(object, label)
    }

    fn destroy(&mut self, object: ObjectRef) -> Result<(), HostError> {
        self.step("destroy")?;
        self.inner.destroy(object)
    }
}
