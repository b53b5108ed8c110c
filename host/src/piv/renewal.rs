//! A renewal on a PIV card, authorised by the renewal service's card-management key.
//!
//! ```text
//! begin (renewBegin): SELECT, card check, witness  ->  AwaitingAdmin
//! admin (renewAdmin): mutual auth, VERIFY, per slot GENERATE (or reuse the journal's key),
//!                     CSRs signed on the card        ->  Requested
//! complete (renewComplete): certificates checked, PUT DATA, read back  ->  done
//! ```
//!
//! The renewal holds an exclusive PC/SC connection from `begin` to its end, so no other
//! program can use the admin rights the service granted, and it resets the card when it lets
//! go, so those rights (and the verified PIN) end with it. Each command's card work runs in one
//! PC/SC transaction. Nothing on the card changes before the service's answer to the witness
//! is accepted; from then on the journal ([`super::journal`]) records each slot's progress.

use super::card::{self, PinStatus};
use super::inventory::Inventory;
use super::journal::{self, Journal, SlotStage};
use super::transport::{Connection, Counters, Exchange};
use super::{AdminAlgorithm, KeyAlgorithm, PivError, Slot};
use crate::certs::chain::is_ca;
use crate::certs::csr::{build_request, RequestSigner};
use crate::certs::renewed::{check_renewed, not_configured, TrustPolicy};
use crate::certs::{parse_certificate, CertificateInfo};
use crate::protocol::{ErrorCode, HostError};
use crate::renewal::steps::{reach, ProgressSink, Step};
use crate::renewal::verify::CLOCK_SKEW;
use crate::token::algorithm::{prehashed_input, PublicKey, Signature};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use time::OffsetDateTime;
use x509_cert::der::Decode;
use x509_cert::Certificate;
use zeroize::Zeroizing;

/// The certificate a slot holds now, which the renewal replaces.
#[derive(Debug, Clone)]
pub struct OldCertificate {
    /// Its slot.
    pub slot: Slot,
    /// Parsed.
    pub info: CertificateInfo,
    /// As stored, DER.
    pub der: Vec<u8>,
}

/// One slot's new key and request.
#[derive(Debug, Clone)]
pub struct SlotRequest {
    /// The slot.
    pub slot: Slot,
    /// The certificate being replaced.
    pub old: CertificateInfo,
    /// Its DER (the trust policy compares the new one with it).
    pub old_der: Vec<u8>,
    /// The new key.
    pub public: PublicKey,
    /// The request, DER.
    pub csr: Vec<u8>,
}

enum Stage {
    /// The card's witness went out; the service's answer has not come back.
    AwaitingAdmin { witness: Vec<u8> },
    /// The card accepted the service; the passcode is still to be verified.
    Authenticated { witness: Vec<u8>, challenge: Vec<u8>, response: Vec<u8> },
    /// Keys made and requests signed.
    Requested { response: Vec<u8>, requests: Vec<SlotRequest> },
}

/// An open PIV renewal.
pub struct PivRenewal {
    id: String,
    card_id: String,
    guid: Vec<u8>,
    algorithm: AdminAlgorithm,
    connection: Option<Connection>,
    old: Vec<OldCertificate>,
    tries_left: Option<u8>,
    /// The new keys' algorithm.
    key_algorithm: KeyAlgorithm,
    stage: Stage,
    /// Keeps other host processes off this card while the renewal is open.
    lock: Option<crate::token::lock::CardLock>,
}

/// What `renewAdmin` hands over.
#[derive(Debug)]
pub struct AdminParams {
    /// The witness, decrypted by the service.
    pub witness: Vec<u8>,
    /// The service's challenge to the card.
    pub challenge: Vec<u8>,
    /// The passcode.
    pub pin: Zeroizing<Vec<u8>>,
    /// The user knows this is the passcode's last try.
    pub confirm_final_try: bool,
}

fn new_id() -> Result<String, HostError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| HostError::new(ErrorCode::InternalError, format!("no randomness for an id ({e})")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn log_use(command: &str, before: Counters) {
    let used = before.since();
    log::info!("piv {command}: {} APDUs, card {:.2} ms", used.apdus, used.card_time.as_secs_f64() * 1000.0);
}

impl PivRenewal {
    /// Starts a renewal of the certificates in `slots` of the card `inventory` describes: takes
    /// the card exclusively and asks it for its witness. Nothing on the card changes.
    pub fn begin(
        reader: &str,
        inventory: &Inventory,
        old: Vec<OldCertificate>,
        key_algorithm: KeyAlgorithm,
    ) -> Result<PivRenewal, HostError> {
        let before = Counters::now();
        let mut connection = Connection::open(reader, true)?.with_fault_from_env();
        let outcome = connection.step(|x| {
            card::select(x)?;
            // The card in the reader must be the one status described.
            if card::guid(x)?.as_deref() != Some(inventory.guid.as_slice()) {
                return Err(PivError::Removed);
            }
            card::admin_witness(x)
        });
        log_use("renewBegin", before);
        let (algorithm, witness) = match outcome {
            Ok(found) => found,
            Err(e) => {
                connection.release(true);
                return Err(e.into());
            }
        };
        Ok(PivRenewal {
            id: new_id()?,
            card_id: inventory.card_id(),
            guid: inventory.guid.clone(),
            algorithm,
            connection: Some(connection),
            old,
            tries_left: inventory.tries_left(),
            key_algorithm,
            stage: Stage::AwaitingAdmin { witness },
            lock: None,
        })
    }

    /// Holds `lock` for as long as the renewal is open.
    pub fn with_lock(mut self, lock: Option<crate::token::lock::CardLock>) -> PivRenewal {
        self.lock = lock;
        self
    }

    /// The renewal's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The card identifier (GUID hex).
    pub fn card_id(&self) -> &str {
        &self.card_id
    }

    /// The `renewBegin` result.
    pub fn begin_result(&self) -> serde_json::Value {
        let witness = match &self.stage {
            Stage::AwaitingAdmin { witness } => BASE64.encode(witness),
            _ => String::new(),
        };
        serde_json::json!({
            "renewalId": self.id,
            "cardAdmin": {"algorithm": self.algorithm.as_str(), "cardId": self.card_id, "witness": witness},
        })
    }

    /// Whether keys on the card have been replaced (the renewal can no longer be undone).
    pub fn keys_replaced(&self) -> bool {
        matches!(self.stage, Stage::Requested { .. })
    }

    /// Completes the mutual authentication, verifies the passcode, makes the keys and the
    /// requests. A wrong passcode leaves the renewal open (the card stays authenticated).
    pub fn admin(
        &mut self,
        params: AdminParams,
        progress: ProgressSink<'_>,
    ) -> Result<serde_json::Value, HostError> {
        let block = self.algorithm.block_len();
        if params.witness.len() != block || params.challenge.len() != block {
            return Err(HostError::bad_request(format!(
                "'witness' and 'challenge' must be {block} bytes for {}.",
                self.algorithm.as_str()
            )));
        }
        if let Stage::Requested { .. } = self.stage {
            return Err(HostError::new(
                ErrorCode::Busy,
                "The keys and requests of this renewal are made already.",
            ));
        }
        if let Stage::Authenticated { witness, challenge, .. } = &self.stage {
            if *witness != params.witness || *challenge != params.challenge {
                return Err(HostError::bad_request(
                    "A retry must repeat the same 'witness' and 'challenge'.",
                ));
            }
        }
        if self.tries_left == Some(1) && !params.confirm_final_try {
            return Err(HostError::new(
                ErrorCode::PinFinalTry,
                "One passcode try is left; a wrong passcode now locks the card.",
            )
            .with("triesLeft", 1));
        }
        let before = Counters::now();
        let outcome = self.admin_on_card(&params, progress);
        log_use("renewAdmin", before);
        match outcome {
            Ok(()) => {}
            Err(PivError::WrongPin { tries }) => {
                self.tries_left = Some(tries);
                return Err(PivError::WrongPin { tries }.into());
            }
            Err(PivError::PinBlocked) => {
                self.tries_left = Some(0);
                return Err(PivError::PinBlocked.into());
            }
            Err(e) => return Err(e.into()),
        }
        let Stage::Requested { response, requests } = &self.stage else {
            return Err(HostError::new(ErrorCode::InternalError, "renewal did not reach its requests"));
        };
        let requests: Vec<serde_json::Value> = requests
            .iter()
            .map(|r| {
                serde_json::json!({
                    "role": r.slot.role().as_str(),
                    "subject": r.old.subject,
                    "csr": BASE64.encode(&r.csr),
                })
            })
            .collect();
        Ok(serde_json::json!({"response": BASE64.encode(response), "requests": requests}))
    }

    fn admin_on_card(&mut self, params: &AdminParams, progress: ProgressSink<'_>) -> Result<(), PivError> {
        let connection = self.connection.as_mut().ok_or(PivError::Removed)?;
        let algorithm = self.algorithm;
        let card_id = self.card_id.clone();
        let old = self.old.clone();
        let key_algorithm = self.key_algorithm;
        let mut stage = std::mem::replace(&mut self.stage, Stage::AwaitingAdmin { witness: Vec::new() });
        let result = connection.step(|x| {
            let response = match &stage {
                Stage::AwaitingAdmin { .. } => {
                    let response = card::admin_respond(x, algorithm, &params.witness, &params.challenge)?;
                    stage = Stage::Authenticated {
                        witness: params.witness.clone(),
                        challenge: params.challenge.clone(),
                        response: response.clone(),
                    };
                    response
                }
                Stage::Authenticated { response, .. } => response.clone(),
                Stage::Requested { .. } => return Err(PivError::Malformed("renewal already requested")),
            };
            reach(progress, Step::Login, None);
            card::verify_pin(x, &params.pin)?;
            let requests = make_requests(x, &card_id, &old, &params.pin, key_algorithm, progress)?;
            stage = Stage::Requested { response, requests };
            Ok(())
        });
        self.stage = stage;
        result
    }

    /// Checks the returned certificates (key, subject, validity, role, chain where anchors are
    /// configured) and writes them to their slots, reading each back. On a failed check nothing
    /// changed and the renewal stays open.
    pub fn complete(
        &mut self,
        certificates: &[Vec<u8>],
        trust: &TrustPolicy,
        now: OffsetDateTime,
        progress: ProgressSink<'_>,
    ) -> Result<(), HostError> {
        let Stage::Requested { requests, .. } = &self.stage else {
            return Err(HostError::new(
                ErrorCode::UnknownRenewal,
                "This renewal has no requests yet: send renewAdmin first.",
            ));
        };
        reach(progress, Step::Verify, None);
        let checked = check_certificates(requests, certificates, trust, now)?;
        let card_id = self.card_id.clone();
        let connection = self.connection.as_mut().ok_or(HostError::from(PivError::Removed))?;
        let before = Counters::now();
        let outcome = connection.step(|x| {
            let mut journal = journal::load(&card_id).unwrap_or_default();
            for (i, (slot, der)) in checked.iter().enumerate() {
                reach(progress, Step::Install, Some((i + 1, checked.len())));
                card::put_certificate(x, *slot, der)?;
                if card::certificate(x, *slot)?.as_deref() != Some(der.as_slice()) {
                    return Err(PivError::Malformed("certificate read back differs"));
                }
                let public = journal.slot(*slot).and_then(|e| e.public_key.clone());
                journal.set(*slot, SlotStage::Installed, public);
                journal::save(&card_id, &journal);
            }
            Ok(())
        });
        log_use("renewComplete", before);
        outcome?;
        journal::remove(&card_id);
        self.release();
        reach(progress, Step::Done, None);
        Ok(())
    }

    /// The roles whose new certificate is not on the card yet (after keys were replaced).
    pub fn remaining(&self) -> Vec<&'static str> {
        match &self.stage {
            Stage::Requested { requests, .. } => requests.iter().map(|r| r.slot.role().as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// Lets go of the card (reset: no admin rights or verified PIN stay behind).
    pub fn release(&mut self) {
        if let Some(connection) = self.connection.take() {
            connection.release(true);
        }
        self.lock = None;
    }

    /// The card's GUID.
    pub fn guid(&self) -> &[u8] {
        &self.guid
    }
}

impl Drop for PivRenewal {
    fn drop(&mut self) {
        self.release();
    }
}

/// The card signing a request with a slot's new key; 9C is "PIN always", so the PIN is
/// verified right before its signature.
struct PivSigner<'a, 'c> {
    x: &'a mut Exchange<'c>,
    slot: Slot,
    algorithm: KeyAlgorithm,
    public: PublicKey,
    pin: &'a [u8],
    error: Option<PivError>,
}

/// EMSA-PKCS1-v1_5 (RFC 8017 section 9.2): `00 01 FF..FF 00 || DigestInfo`, the block a PIV
/// card signs with raw RSA.
fn pkcs1_block(digest_info: &[u8], length: usize) -> Option<Vec<u8>> {
    let padding = length.checked_sub(digest_info.len() + 3).filter(|n| *n >= 8)?;
    let mut block = vec![0x00, 0x01];
    block.extend(std::iter::repeat_n(0xFF, padding));
    block.push(0x00);
    block.extend_from_slice(digest_info);
    Some(block)
}

impl RequestSigner for PivSigner<'_, '_> {
    fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    fn sign(&mut self, message: &[u8]) -> Result<Signature, HostError> {
        let model = self.algorithm.model();
        let signed = (|| {
            if self.slot == Slot::Signature {
                card::verify_pin(self.x, self.pin)?;
            }
            let mut input = prehashed_input(model, message);
            if self.algorithm == KeyAlgorithm::Rsa2048 {
                input =
                    pkcs1_block(&input, 256).ok_or(PivError::Malformed("digest too long for RSA-2048"))?;
            }
            card::sign(self.x, self.slot, self.algorithm, &input)
        })();
        let answer = signed.map_err(|e| {
            self.error = Some(e.clone());
            HostError::from(e)
        })?;
        let unreadable = |e: String| {
            HostError::new(ErrorCode::TokenError, format!("The card's signature could not be read ({e})."))
        };
        // EC answers are DER (SP 800-73-4 part 2, A.4); RSA answers the raw block.
        match self.algorithm {
            KeyAlgorithm::P384 => p384::ecdsa::Signature::from_der(&answer)
                .map(Signature::P384)
                .map_err(|e| unreadable(e.to_string())),
            KeyAlgorithm::P256 => p256::ecdsa::Signature::from_der(&answer)
                .map(Signature::P256)
                .map_err(|e| unreadable(e.to_string())),
            KeyAlgorithm::Rsa2048 => Signature::from_raw(model, &answer),
        }
    }
}

fn spki_base64(public: &PublicKey) -> Option<String> {
    public.to_spki_der().ok().map(|der| BASE64.encode(der))
}

fn journal_key(journal: &Journal, slot: Slot, algorithm: KeyAlgorithm) -> Option<PublicKey> {
    let entry = journal.slot(slot).filter(|e| e.stage == SlotStage::Generated)?;
    let der = BASE64.decode(entry.public_key.as_deref()?).ok()?;
    PublicKey::from_spki_der(&der).filter(|key| key.algorithm() == algorithm.model())
}

/// For each slot: reuse the key an interrupted renewal made (its request must verify against
/// the journal's key, which proves the key is still there), else GENERATE a new one; then the
/// request, signed on the card.
fn make_requests(
    x: &mut Exchange<'_>,
    card_id: &str,
    old: &[OldCertificate],
    pin: &[u8],
    algorithm: KeyAlgorithm,
    progress: ProgressSink<'_>,
) -> Result<Vec<SlotRequest>, PivError> {
    let mut journal = journal::load(card_id)
        .unwrap_or_else(|| Journal { algorithm: algorithm.as_str().into(), ..Journal::default() });
    let mut requests = Vec::with_capacity(old.len());
    let total = old.len();
    for (i, certificate) in old.iter().enumerate() {
        let slot = certificate.slot;
        let count = Some((i + 1, total));
        if let Some(public) = journal_key(&journal, slot, algorithm) {
            reach(progress, Step::BuildRequest, count);
            match sign_request(x, slot, algorithm, public.clone(), &certificate.info, pin) {
                Ok(csr) => {
                    log::info!("piv: slot {} keeps the key an interrupted renewal made", slot.as_str());
                    requests.push(SlotRequest {
                        slot,
                        old: certificate.info.clone(),
                        old_der: certificate.der.clone(),
                        public,
                        csr,
                    });
                    continue;
                }
                // The key there is not the journal's (or the card failed): make a new one.
                Err(PivError::Removed) | Err(PivError::Injected(_)) => return Err(PivError::Removed),
                Err(e) => {
                    log::info!("piv: slot {} key is not the journal's ({e}); generating", slot.as_str())
                }
            }
        }
        reach(progress, Step::GenerateKey, count);
        journal.set(slot, SlotStage::Generating, None);
        journal::save(card_id, &journal);
        let public = card::generate(x, slot, algorithm)?;
        journal.set(slot, SlotStage::Generated, spki_base64(&public));
        journal::save(card_id, &journal);
        reach(progress, Step::BuildRequest, count);
        let csr = sign_request(x, slot, algorithm, public.clone(), &certificate.info, pin)?;
        requests.push(SlotRequest {
            slot,
            old: certificate.info.clone(),
            old_der: certificate.der.clone(),
            public,
            csr,
        });
    }
    Ok(requests)
}

fn sign_request(
    x: &mut Exchange<'_>,
    slot: Slot,
    algorithm: KeyAlgorithm,
    public: PublicKey,
    old: &CertificateInfo,
    pin: &[u8],
) -> Result<Vec<u8>, PivError> {
    let mut signer = PivSigner { x, slot, algorithm, public, pin, error: None };
    match build_request(&old.subject_der, slot.role(), &mut signer) {
        Ok(csr) => Ok(csr),
        Err(error) => Err(signer
            .error
            .take()
            .unwrap_or(PivError::Refused { command: "certificate request", sw: error.message })),
    }
}

/// Matches each returned certificate to a request: same key, same subject, valid now, the
/// slot's role, then the trust policy against the certificate it replaces (chain to an
/// anchor, not a CA, outlives the old one, same usages and issuer: `certs::renewed`, as for
/// PKCS#11 cards). CA certificates in the answer are allowed. No anchors: nothing passes.
fn check_certificates(
    requests: &[SlotRequest],
    certificates: &[Vec<u8>],
    trust: &TrustPolicy,
    now: OffsetDateTime,
) -> Result<Vec<(Slot, Vec<u8>)>, HostError> {
    if trust.anchors.is_empty() {
        return Err(not_configured());
    }
    let mismatch = |m: String| HostError::new(ErrorCode::CertificateMismatch, m);
    let invalid = |m: String| HostError::new(ErrorCode::CertificateInvalid, m);
    let intermediates: Vec<Certificate> =
        certificates.iter().filter_map(|der| Certificate::from_der(der).ok()).filter(is_ca).collect();
    let mut found: Vec<Option<Vec<u8>>> = vec![None; requests.len()];
    for (index, der) in certificates.iter().enumerate() {
        let number = index + 1;
        let info = parse_certificate(der)
            .map_err(|e| invalid(format!("Certificate {number} could not be read: {e}.")))?;
        let parsed = Certificate::from_der(der)
            .map_err(|e| invalid(format!("Certificate {number} could not be read: {e}.")))?;
        let key = PublicKey::from_spki_der(&info.public_key_der);
        let Some(at) = key.and_then(|key| requests.iter().position(|r| r.public == key)) else {
            if is_ca(&parsed) {
                continue;
            }
            return Err(mismatch(format!(
                "Certificate {number} ({}) is for a key this renewal did not make.",
                info.subject
            )));
        };
        let request = &requests[at];
        let role = request.slot.role().as_str();
        if found[at].is_some() {
            return Err(mismatch(format!("Two certificates were returned for the {role} key.")));
        }
        if info.subject_der != request.old.subject_der {
            return Err(mismatch(format!(
                "The new {role} certificate is for '{}', not '{}'.",
                info.subject, request.old.subject
            )));
        }
        if info.not_after <= now {
            return Err(invalid(format!("The new {role} certificate has expired.")));
        }
        if info.not_before > now + CLOCK_SKEW {
            return Err(invalid(format!("The new {role} certificate is not valid yet.")));
        }
        if info.role != request.slot.role() {
            return Err(invalid(format!(
                "The new certificate for the {role} key has the key usage of {}.",
                info.role.certificate_phrase()
            )));
        }
        check_renewed(&parsed, &request.old_der, role, &intermediates, trust, now)?;
        found[at] = Some(der.clone());
    }
    requests
        .iter()
        .zip(found)
        .map(|(request, der)| {
            der.map(|der| (request.slot, der)).ok_or_else(|| {
                mismatch(format!(
                    "No certificate was returned for the new {} key.",
                    request.slot.role().as_str()
                ))
            })
        })
        .collect()
}

/// The PIN state a renewal starts from, for `PIN_FINAL_TRY` and `PIN_LOCKED` before any try.
pub fn refuse_pin_state(pin: PinStatus) -> Result<(), HostError> {
    match pin {
        PinStatus::Blocked | PinStatus::TriesLeft(0) => Err(PivError::PinBlocked.into()),
        _ => Ok(()),
    }
}
