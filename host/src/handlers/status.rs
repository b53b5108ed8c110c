//! `status`: the readers, the managed reader, and the card in it with its certificates and
//! whether they may be renewed. Answers at once in every case: no service, no readers, no card.

use super::params;
use crate::certs::window::PinGate;
use crate::certs::{assess_card, assess_certificate, parse_certificate, CertificateInfo, Eligibility};
use crate::config::CardBackend;
use crate::protocol::HostError;
use crate::readers::{ReaderInfo, Readers};
use crate::renewal::pairs::RENEWED_ROLES;
use crate::renewal::recovery::looks_interrupted;
use crate::services::Services;
use crate::token::objects::PENDING_LABEL_PREFIX;
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

/// Handles `status`.
pub fn handle(services: &Services, params: &Map<String, Value>) -> Result<Value, HostError> {
    params::only(params, &[])?;
    let report = status(services)?;
    serde_json::to_value(report)
        .map_err(|e| HostError::new(crate::protocol::ErrorCode::InternalError, e.to_string()))
}

/// Reads readers and the managed card now.
pub fn status(services: &Services) -> Result<StatusReport, HostError> {
    let readers = Readers::connect()?.list()?;
    status_for_readers(services, &readers)
}

/// Builds the report for readers already listed (the watcher has them in hand).
pub fn status_for_readers(services: &Services, readers: &[ReaderInfo]) -> Result<StatusReport, HostError> {
    let names: Vec<&str> = readers.iter().map(|r| r.name.as_str()).collect();
    let managed = services.reader_rule().pick(&names);
    let mut report = StatusReport {
        readers: readers
            .iter()
            .enumerate()
            .map(|(i, r)| ReaderEntry {
                name: r.name.clone(),
                card_present: r.card_present,
                managed: Some(i) == managed,
            })
            .collect(),
        managed_reader: managed.map(|i| readers[i].name.clone()),
        reason: None,
        card: None,
    };
    let reader = match managed {
        None if readers.is_empty() => return Ok(report.without_card("NO_READERS")),
        None => return Ok(report.without_card("NO_MANAGED_READER")),
        Some(i) => &readers[i],
    };
    if !reader.card_present {
        return Ok(report.without_card("NO_CARD"));
    }
    match piv_card(services, reader)? {
        PivProbe::Card(card) => {
            report.card = Some(*card);
            return Ok(report);
        }
        PivProbe::NoToken => return Ok(report.without_card("NO_TOKEN")),
        PivProbe::NotPiv => {}
    }
    let module = services.token()?;
    let Some(slot) = module.slot_for_reader(&reader.name, services.config.slot_map.get(&reader.name))? else {
        return Ok(report.without_card("NO_TOKEN"));
    };
    let summary = module.summary(slot)?;
    let stored = module.certificates(slot)?;
    let labelled: Vec<(String, Vec<u8>)> = stored.iter().map(|s| (s.label.clone(), s.der.clone())).collect();
    // This host's own open renewal has pending keys too; those are not an interruption.
    let interrupted =
        !services.renewal_open() && looks_interrupted(module.pending_public_objects(slot)?, &labelled);
    let parsed: Vec<CertificateInfo> = stored
        .into_iter()
        .filter(|stored| !stored.label.starts_with(PENDING_LABEL_PREFIX))
        .filter_map(|stored| match parse_certificate(&stored.der) {
            Ok(info) => Some(info),
            Err(e) => {
                log::warn!("skipping unreadable certificate object: {e}");
                None
            }
        })
        .collect();
    let mut certificates = newest_per_role(parsed);
    certificates.sort_by_key(|c| c.role);
    let mut card = card_report(reader, &summary, &certificates, services.config.renewal_window_days);
    card.interrupted = interrupted;
    report.card = Some(card);
    Ok(report)
}

enum PivProbe {
    Card(Box<CardReport>),
    NoToken,
    NotPiv,
}

/// The card as a PIV card, when the configured backend allows and the card answers SELECT.
fn piv_card(services: &Services, reader: &ReaderInfo) -> Result<PivProbe, HostError> {
    if services.config.card_backend == CardBackend::Pkcs11 {
        return Ok(PivProbe::NotPiv);
    }
    let inventory = match crate::piv::inventory::read(&reader.name) {
        Ok(Some(inventory)) => inventory,
        Ok(None) if services.config.card_backend == CardBackend::Piv => return Ok(PivProbe::NoToken),
        Ok(None) => return Ok(PivProbe::NotPiv),
        // This host's own PIV renewal holds the card exclusively.
        Err(crate::piv::PivError::Pcsc(pcsc::Error::SharingViolation)) if services.renewal_open() => {
            return Err(HostError::new(
                crate::protocol::ErrorCode::Busy,
                "The card is being renewed; its status is shown when the renewal ends.",
            ))
        }
        Err(e) if services.config.card_backend == CardBackend::Piv => return Err(e.into()),
        Err(e) => {
            log::debug!("PIV probe failed ({e}); trying PKCS#11");
            return Ok(PivProbe::NotPiv);
        }
    };
    Ok(PivProbe::Card(Box::new(piv_report(services, reader, &inventory))))
}

/// The status of a PIV card from its inventory.
pub fn piv_report(
    services: &Services,
    reader: &ReaderInfo,
    inventory: &crate::piv::inventory::Inventory,
) -> CardReport {
    let parsed: Vec<CertificateInfo> = inventory
        .certificates
        .iter()
        .filter_map(|(slot, der)| match parse_certificate(der) {
            Ok(info) => Some(info),
            Err(e) => {
                log::warn!("skipping the unreadable certificate in slot {}: {e}", slot.as_str());
                None
            }
        })
        .collect();
    let mut certificates = newest_per_role(parsed);
    certificates.sort_by_key(|c| c.role);
    let mut card =
        card_report(reader, &inventory.summary(), &certificates, services.config.renewal_window_days);
    card.card_admin = true;
    card.pin_tries_left = inventory.tries_left();
    if !services.renewal_open() {
        card.remaining = crate::piv::journal::remaining(inventory);
        card.interrupted = !card.remaining.is_empty();
    }
    card
}

/// Keeps one certificate per renewed role, the newest: a renewal interrupted after the new
/// pair was installed but before the old one was retired leaves two, and the new one is the
/// working pair. Certificates of other roles are all kept.
pub fn newest_per_role(certificates: Vec<CertificateInfo>) -> Vec<CertificateInfo> {
    let mut kept: Vec<CertificateInfo> = Vec::with_capacity(certificates.len());
    for certificate in certificates {
        if !RENEWED_ROLES.contains(&certificate.role) {
            kept.push(certificate);
            continue;
        }
        match kept.iter_mut().find(|k| k.role == certificate.role) {
            Some(existing)
                if (certificate.not_after, certificate.not_before)
                    > (existing.not_after, existing.not_before) =>
            {
                *existing = certificate
            }
            Some(_) => {}
            None => kept.push(certificate),
        }
    }
    kept
}

impl StatusReport {
    fn without_card(mut self, reason: &'static str) -> StatusReport {
        self.reason = Some(reason);
        self
    }
}

fn card_report(
    reader: &ReaderInfo,
    summary: &TokenSummary,
    certificates: &[CertificateInfo],
    window: u32,
) -> CardReport {
    let now = OffsetDateTime::now_utc();
    let gate = PinGate {
        locked: summary.pin == PinState::Locked,
        not_initialized: summary.pin == PinState::NotInitialized,
    };
    let verdict = assess_card(now, certificates, window, gate);
    CardReport {
        reader: reader.name.clone(),
        atr: reader.atr.as_deref().map(hex_upper).unwrap_or_default(),
        token: TokenEntry {
            label: summary.label.clone(),
            serial: summary.serial.clone(),
            manufacturer: summary.manufacturer.clone(),
            model: summary.model.clone(),
        },
        pin: summary.pin.as_str(),
        pin_pad: summary.pin_pad,
        pin_length: PinLength { min: summary.pin_min, max: summary.pin_max },
        certificates: certificates
            .iter()
            .map(|c| CertificateEntry {
                role: c.role.as_str(),
                subject: c.subject.clone(),
                issuer: c.issuer.clone(),
                serial: c.serial.clone(),
                not_before: rfc3339(c.not_before),
                not_after: rfc3339(c.not_after),
                days_left: (c.not_after - now).whole_days(),
                renewable: assess_certificate(now, c.not_after, window) == Eligibility::Due,
            })
            .collect(),
        renewable: verdict.renewable,
        reason: verdict.reason.map(|r| r.as_str()),
        renewable_from: verdict.renewable_from.map(rfc3339),
        interrupted: false,
        remaining: Vec::new(),
        card_admin: false,
        pin_tries_left: None,
    }
}

/// RFC 3339 in UTC, e.g. `2027-01-09T12:00:00Z`.
pub fn rfc3339(instant: OffsetDateTime) -> String {
    instant.format(&Rfc3339).unwrap_or_else(|_| instant.unix_timestamp().to_string())
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
