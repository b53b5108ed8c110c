//! `status`: the readers, the managed reader, and the card in it with its certificates and
//! whether they may be renewed. Answers at once in every case: no service, no readers, no card.

use super::params;
use crate::certs::window::PinGate;
use crate::certs::{assess_certificate, CardEligibility, CertificateInfo, Eligibility};
use crate::config::CardBackend;
use crate::protocol::HostError;
use crate::readers::{ReaderInfo, Readers};
use crate::services::Services;
use crate::token::inventory::{Inventory, Unconfirmed, RENEWED_ROLES};
use crate::token::lock::{CardKey, CardLock};
use crate::token::{PinState, TokenSummary};
use serde::Serialize;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The `status` result.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    /// Every reader, in PC/SC order.
    pub readers: Vec<ReaderEntry>,
    /// The managed reader's name.
    pub managed_reader: Option<String>,
    /// Why `card` is null: `NO_READERS`, `NO_MANAGED_READER`, `NO_CARD` or `NO_TOKEN`.
    pub reason: Option<&'static str>,
    /// The card in the managed reader.
    pub card: Option<CardReport>,
}

/// One reader.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReaderEntry {
    /// Reader name.
    pub name: String,
    /// A card is in it.
    pub card_present: bool,
    /// It is the managed reader.
    pub managed: bool,
}

/// The card in the managed reader.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CardReport {
    /// Reader name.
    pub reader: String,
    /// ATR, upper-case hex.
    pub atr: String,
    /// Token identity.
    pub token: TokenEntry,
    /// Passcode state.
    pub pin: &'static str,
    /// The reader collects the passcode itself.
    pub pin_pad: bool,
    /// Passcode length limits.
    pub pin_length: PinLength,
    /// Certificates, authentication first.
    pub certificates: Vec<CertificateEntry>,
    /// Renew Certificate may be offered.
    pub renewable: bool,
    /// Why not.
    pub reason: Option<&'static str>,
    /// When it becomes renewable (RFC 3339), for `NOT_DUE`.
    pub renewable_from: Option<String>,
    /// The card holds leftovers of an interrupted renewal; the next `renewBegin` (after its
    /// login) finishes or undoes it. Only present when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// A renewal of this card is running in another program (another browser's host holds
    /// the card lock). Only present when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub renewal_elsewhere: bool,
    /// With `interrupted` on a PIV card: the roles whose new certificate is not on the card
    /// yet. Only present when not empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remaining: Vec<&'static str>,
    /// The renewal service authorises changes to this card with its card-management key (a
    /// PIV card): `renewBegin` takes no passcode, `renewAdmin` does. Only present when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub card_admin: bool,
    /// Passcode tries left, where the card says (PIV). Only present when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_tries_left: Option<u8>,
    /// Facts the answer rests on that only sign-in can confirm (before sign-in a token hides
    /// its private keys; the working pairs' keys are then assumed). Only present when not
    /// empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unconfirmed: Vec<UnconfirmedFact>,
}

/// One fact `status` could not confirm without sign-in.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnconfirmedFact {
    /// The working pair's role.
    pub role: &'static str,
    /// What is assumed: `privateKey` (the pair's private key is on the card).
    pub fact: &'static str,
}

/// Token identity.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TokenEntry {
    /// Label.
    pub label: String,
    /// Serial number.
    pub serial: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
}

/// Passcode length limits.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PinLength {
    /// Shortest.
    pub min: usize,
    /// Longest.
    pub max: usize,
}

/// One certificate.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CertificateEntry {
    /// `authentication`, `signing` or `other`.
    pub role: &'static str,
    /// Subject (RFC 4514).
    pub subject: String,
    /// Issuer (RFC 4514).
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// Whole days until expiry, rounded toward zero (so -1 once expired by a day).
    pub days_left: i64,
    /// Within the renewal window.
    pub renewable: bool,
}

/// Handles `status`; `own_renewal_under_way` comes from the card worker, which owns the
/// renewal.
pub fn handle(
    services: &Services,
    params: &Map<String, Value>,
    own_renewal_under_way: bool,
) -> Result<Value, HostError> {
    params::only(params, &[])?;
    let readers = Readers::connect()?.list()?;
    let report = status_for_readers(services, &readers, own_renewal_under_way)?;
    serde_json::to_value(report)
        .map_err(|e| HostError::new(crate::protocol::ErrorCode::InternalError, e.to_string()))
}

/// Reads readers and the managed card now, with no renewal of this host under way (the
/// command line, and `renewComplete` once the renewal is over).
pub fn status(services: &Services) -> Result<StatusReport, HostError> {
    let readers = Readers::connect()?.list()?;
    status_for_readers(services, &readers, false)
}

impl ReaderEntry {
    /// The entries for `readers`, marking the one at `managed` (shared by `status` and the
    /// watcher's `readers` event).
    pub fn list(readers: &[ReaderInfo], managed: Option<usize>) -> Vec<ReaderEntry> {
        readers
            .iter()
            .enumerate()
            .map(|(i, r)| ReaderEntry {
                name: r.name.clone(),
                card_present: r.card_present,
                managed: Some(i) == managed,
            })
            .collect()
    }
}

/// The card in the managed reader as the status sees it, before sign-in: what `renewBegin`
/// checks before it asks for the passcode.
pub struct ManagedCard {
    /// The reader.
    pub reader: ReaderInfo,
    /// The token's identity and passcode state.
    pub summary: TokenSummary,
    /// The card model from public objects.
    pub inventory: Inventory,
    /// A PIV card's own reading (GUID, slots, PIN tries), when the PIV backend drives it.
    pub piv: Option<crate::piv::inventory::Inventory>,
}

impl ManagedCard {
    /// The key of the cross-process card lock (`token::lock`).
    pub fn lock_key(&self) -> CardKey {
        CardKey::new(&self.summary.serial, &self.reader.name, self.reader.atr.as_deref().unwrap_or_default())
    }

    /// The passcode facts that gate renewal.
    pub fn pin_gate(&self) -> PinGate {
        PinGate {
            locked: self.summary.pin == PinState::Locked,
            not_initialized: self.summary.pin == PinState::NotInitialized,
        }
    }

    /// The card model's one eligibility rule, at `now`.
    pub fn eligibility(&self, now: OffsetDateTime, window_days: u32) -> CardEligibility {
        self.inventory.eligibility(now, window_days, self.pin_gate())
    }
}

/// Reads the managed card's model, or says why there is none (`NO_READERS`,
/// `NO_MANAGED_READER`, `NO_CARD`, `NO_TOKEN`). `own_renewal_under_way`: this host's card
/// worker has a renewal under way (a PIV renewal holds the card exclusively meanwhile).
pub fn managed_card(
    services: &Services,
    readers: &[ReaderInfo],
    own_renewal_under_way: bool,
) -> Result<Result<ManagedCard, &'static str>, HostError> {
    let names: Vec<&str> = readers.iter().map(|r| r.name.as_str()).collect();
    let reader = match services.reader_rule().pick(&names) {
        None if readers.is_empty() => return Ok(Err("NO_READERS")),
        None => return Ok(Err("NO_MANAGED_READER")),
        Some(i) => &readers[i],
    };
    if !reader.card_present {
        return Ok(Err("NO_CARD"));
    }
    match piv_card(services, reader, own_renewal_under_way)? {
        PivProbe::Card(piv) => {
            let summary = piv.summary();
            let inventory = piv.card_model();
            return Ok(Ok(ManagedCard { reader: reader.clone(), summary, inventory, piv: Some(*piv) }));
        }
        PivProbe::NoToken => return Ok(Err("NO_TOKEN")),
        PivProbe::NotPiv => {}
    }
    let module = services.token()?;
    let Some(slot) = module.slot_for_reader(&reader.name, services.config.slot_map.get(&reader.name))? else {
        return Ok(Err("NO_TOKEN"));
    };
    let summary = module.summary(slot)?;
    let inventory = module.inventory(slot)?;
    Ok(Ok(ManagedCard { reader: reader.clone(), summary, inventory, piv: None }))
}

#[derive(Debug)]
enum PivProbe {
    Card(Box<crate::piv::inventory::Inventory>),
    NoToken,
    NotPiv,
}

/// The card as a PIV card, when `cardBackend` allows and the card answers SELECT.
fn piv_card(
    services: &Services,
    reader: &ReaderInfo,
    own_renewal_under_way: bool,
) -> Result<PivProbe, HostError> {
    if services.config.card_backend == CardBackend::Pkcs11 {
        return Ok(PivProbe::NotPiv);
    }
    let read = read_piv_settled(&reader.name, own_renewal_under_way);
    probe_outcome(read, services.config.card_backend, own_renewal_under_way)
}

/// What a PIV probe came to. Only a card that refuses SELECT of the PIV application is not a
/// PIV card (PKCS#11 then, under `auto`). A PC/SC failure during the probe is reported as
/// such, never a quiet switch to PKCS#11, where the same card may show another shape (OpenSC's
/// PIV driver) or none. A card that answered SELECT but whose PIV objects this host cannot
/// read (no CHUID, an odd answer) is left to the PKCS#11 middleware under `auto`: that is a
/// property of the card, the same at every look.
fn probe_outcome(
    read: Result<Option<crate::piv::inventory::Inventory>, crate::piv::PivError>,
    backend: CardBackend,
    own_renewal_under_way: bool,
) -> Result<PivProbe, HostError> {
    use crate::piv::PivError;
    use crate::protocol::ErrorCode;
    match read {
        Ok(Some(inventory)) => Ok(PivProbe::Card(Box::new(inventory))),
        Ok(None) | Err(PivError::NotPiv) if backend == CardBackend::Piv => Ok(PivProbe::NoToken),
        Ok(None) | Err(PivError::NotPiv) => Ok(PivProbe::NotPiv),
        // This host's own PIV renewal holds the card exclusively.
        Err(PivError::Pcsc(pcsc::Error::SharingViolation)) if own_renewal_under_way => Err(HostError::new(
            ErrorCode::Busy,
            "The card is being renewed; its status is shown when the renewal ends.",
        )),
        Err(PivError::Pcsc(pcsc::Error::SharingViolation)) => Err(HostError::new(
            ErrorCode::Busy,
            "Another program is using the card. Close it, or wait until it is done, then try again.",
        )),
        Err(PivError::Removed | PivError::Injected(_)) => Err(HostError::new(
            ErrorCode::CardRemoved,
            "The card was removed or stopped answering while it was read. Put it in again and try again.",
        )),
        Err(PivError::Pcsc(e)) => Err(crate::readers::pcsc_error(e)),
        Err(e) if backend == CardBackend::Piv => Err(e.into()),
        Err(e) => {
            log::info!("the card answered SELECT of the PIV application but could not be read as PIV ({e}); using PKCS#11");
            Ok(PivProbe::NotPiv)
        }
    }
}

/// Reads the card as a PIV card. A sharing violation that is not this host's own renewal is
/// usually a host that just ended (pcscd frees its exclusive hold a moment later): wait for it
/// briefly rather than fall back to PKCS#11, where OpenSC's PIV driver would show the card in
/// another shape.
fn read_piv_settled(
    reader: &str,
    own_renewal_under_way: bool,
) -> Result<Option<crate::piv::inventory::Inventory>, crate::piv::PivError> {
    const TRIES: u32 = 10;
    let mut tries = 0;
    loop {
        match crate::piv::inventory::read(reader) {
            Err(crate::piv::PivError::Pcsc(pcsc::Error::SharingViolation))
                if !own_renewal_under_way && tries + 1 < TRIES =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// Builds the report for readers already listed (the watcher has them in hand).
/// `own_renewal_open`: this host has a renewal open on the card, so its pending objects are
/// work in progress, not an interruption.
pub fn status_for_readers(
    services: &Services,
    readers: &[ReaderInfo],
    own_renewal_open: bool,
) -> Result<StatusReport, HostError> {
    let names: Vec<&str> = readers.iter().map(|r| r.name.as_str()).collect();
    let managed = services.reader_rule().pick(&names);
    let mut report = StatusReport {
        readers: ReaderEntry::list(readers, managed),
        managed_reader: managed.map(|i| readers[i].name.clone()),
        reason: None,
        card: None,
    };
    let card = match managed_card(services, readers, own_renewal_open)? {
        Ok(card) => card,
        Err(reason) => return Ok(report.without_card(reason)),
    };
    let mut entry = card_report(&card, services.config.renewal_window_days);
    // Another host holding the card's lock is renewing it now: its pending objects are work
    // in progress there, not an interruption.
    entry.renewal_elsewhere = !own_renewal_open && CardLock::held_elsewhere(&card.lock_key());
    let idle = !own_renewal_open && !entry.renewal_elsewhere;
    entry.interrupted = idle && card.inventory.interrupted();
    if let Some(piv) = &card.piv {
        entry.card_admin = true;
        entry.pin_tries_left = piv.tries_left();
        if idle {
            entry.remaining = crate::piv::journal::remaining(piv);
            entry.interrupted = !entry.remaining.is_empty();
        }
    }
    report.card = Some(entry);
    Ok(report)
}

impl StatusReport {
    fn without_card(mut self, reason: &'static str) -> StatusReport {
        self.reason = Some(reason);
        self
    }
}

fn card_report(card: &ManagedCard, window: u32) -> CardReport {
    let now = OffsetDateTime::now_utc();
    let verdict = card.eligibility(now, window);
    let summary = &card.summary;
    // The working pairs (authentication first), then the certificates that are not renewed.
    let working = card.inventory.working_pairs();
    let shown: Vec<&CertificateInfo> =
        working.iter().filter_map(|p| p.info()).chain(card.inventory.other_certificates()).collect();
    CardReport {
        reader: card.reader.name.clone(),
        atr: card.reader.atr.as_deref().map(hex_upper).unwrap_or_default(),
        token: TokenEntry {
            label: summary.label.clone(),
            serial: summary.serial.clone(),
            manufacturer: summary.manufacturer.clone(),
            model: summary.model.clone(),
        },
        pin: summary.pin.as_str(),
        pin_pad: summary.pin_pad,
        pin_length: PinLength { min: summary.pin_min, max: summary.pin_max },
        certificates: shown
            .into_iter()
            .map(|c| CertificateEntry {
                role: c.role.as_str(),
                subject: c.subject.clone(),
                issuer: c.issuer.clone(),
                serial: c.serial.clone(),
                not_before: rfc3339(c.not_before),
                not_after: rfc3339(c.not_after),
                days_left: (c.not_after - now).whole_days(),
                renewable: RENEWED_ROLES.contains(&c.role)
                    && assess_certificate(now, c.not_after, window) == Eligibility::Due,
            })
            .collect(),
        renewable: verdict.renewable,
        reason: verdict.reason.map(|r| r.as_str()),
        renewable_from: verdict.renewable_from.map(rfc3339),
        interrupted: false,
        renewal_elsewhere: false,
        remaining: Vec::new(),
        card_admin: false,
        pin_tries_left: None,
        unconfirmed: card
            .inventory
            .unconfirmed()
            .into_iter()
            .map(|fact| match fact {
                Unconfirmed::PrivateKey { role, .. } => {
                    UnconfirmedFact { role: role.as_str(), fact: "privateKey" }
                }
            })
            .collect(),
    }
}

/// RFC 3339 in UTC, e.g. `2027-01-09T12:00:00Z`.
pub fn rfc3339(instant: OffsetDateTime) -> String {
    instant.format(&Rfc3339).unwrap_or_else(|_| instant.unix_timestamp().to_string())
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::piv::PivError;
    use crate::protocol::ErrorCode;

    /// What a PIV probe's read returned.
    type Read = Result<Option<crate::piv::inventory::Inventory>, PivError>;

    fn piv_card() -> crate::piv::inventory::Inventory {
        crate::piv::inventory::Inventory {
            guid: vec![7; 16],
            certificates: Vec::new(),
            pin: crate::piv::card::PinStatus::TriesLeft(3),
        }
    }

    /// Outcome of the probe under `auto`, as "piv", "pkcs11" or the error code.
    fn auto(read: Read) -> String {
        match probe_outcome(read, CardBackend::Auto, false) {
            Ok(PivProbe::Card(_)) => "piv".into(),
            Ok(PivProbe::NotPiv) => "pkcs11".into(),
            Ok(PivProbe::NoToken) => "NO_TOKEN".into(),
            Err(error) => error.code.as_str().into(),
        }
    }

    #[test]
    fn probe_falls_back_to_pkcs11_only_when_select_says_not_piv() {
        let refused = |command, sw: &str| Err(PivError::Refused { command, sw: sw.into() });
        let cases: Vec<(&str, Read, &str)> = vec![
            ("a PIV card", Ok(Some(piv_card())), "piv"),
            ("SELECT refused (read() gives None; see piv::card::select_outcome)", Ok(None), "pkcs11"),
            ("the card went away", Err(PivError::Removed), "CARD_REMOVED"),
            ("another program holds the card", Err(PivError::Pcsc(pcsc::Error::SharingViolation)), "BUSY"),
            ("pcscd stopped", Err(PivError::Pcsc(pcsc::Error::NoService)), "PCSC_UNAVAILABLE"),
            ("the reader failed", Err(PivError::Pcsc(pcsc::Error::ReaderUnavailable)), "PCSC_UNAVAILABLE"),
            ("a PIV card without a CHUID", Err(PivError::Malformed("PIV card without a CHUID")), "pkcs11"),
            ("GET DATA refused after SELECT", refused("GET DATA", "6982"), "pkcs11"),
        ];
        for (name, read, want) in cases {
            assert_eq!(auto(read), want, "{name}");
        }
    }

    #[test]
    fn probe_under_piv_backend_never_falls_back() {
        let outcome = |read: Read| match probe_outcome(read, CardBackend::Piv, false) {
            Ok(PivProbe::NoToken) => "NO_TOKEN".to_string(),
            Ok(other) => format!("{other:?}"),
            Err(error) => error.code.as_str().to_string(),
        };
        assert_eq!(outcome(Ok(None)), "NO_TOKEN");
        assert_eq!(outcome(Err(PivError::Malformed("PIV card without a CHUID"))), "TOKEN_ERROR");
        assert_eq!(outcome(Err(PivError::Removed)), "CARD_REMOVED");
    }

    #[test]
    fn probe_during_own_renewal_is_busy_with_its_own_words() {
        let error =
            probe_outcome(Err(PivError::Pcsc(pcsc::Error::SharingViolation)), CardBackend::Auto, true)
                .expect_err("busy");
        assert_eq!(error.code, ErrorCode::Busy);
        assert!(error.message.contains("being renewed"), "{}", error.message);
    }
}
