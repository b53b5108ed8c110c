//! `cis-testbed piv provision`: makes a PIV test card in a directory, over the card's own
//! APDUs (as a card-management system would), with no reader involved.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::card::StdioCard;
use super::mgmt::{MgmtAlg, DEFAULT_MGMT_KEY};
use super::{session, KeyAlg, Slot, DEFAULT_PIN, DEFAULT_PUK, MARKER};
use crate::ca::{cert_info, subject_der, CertInfo, IssueRequest, Role, TestCa};
use crate::error::{Error, Result};
use crate::token::CertSpec;
use crate::util::{b64, hex, random_bytes};

/// What to put on a PIV card.
#[derive(Debug, Clone)]
pub struct PivSpec {
    /// The PIN ("passcode"), 6-8 characters.
    pub pin: String,
    /// The PUK, 6-8 characters.
    pub puk: String,
    /// The management key's algorithm.
    pub mgmt_alg: MgmtAlg,
    /// The management key.
    pub mgmt_key: Vec<u8>,
    /// The certificates' subject, RFC 4514.
    pub subject: String,
    /// The authentication (9A) and signing (9C) certificates' validity; roles must be one
    /// authentication and one signing.
    pub certs: Vec<CertSpec>,
    /// The key algorithm of both pairs.
    pub alg: KeyAlg,
    /// The CHUID's GUID; `None` = random (RFC 4122 version 4).
    pub guid: Option<[u8; 16]>,
}

impl PivSpec {
    /// The factory PIN, PUK and 3DES management key, the default subject, P-384 pairs and
    /// certificates expiring in `auth_days` / `sign_days`.
    pub fn new(auth_days: i64, sign_days: i64) -> PivSpec {
        PivSpec {
            pin: DEFAULT_PIN.into(),
            puk: DEFAULT_PUK.into(),
            mgmt_alg: MgmtAlg::Tdes,
            mgmt_key: DEFAULT_MGMT_KEY.to_vec(),
            subject: crate::token::DEFAULT_SUBJECT.into(),
            certs: vec![
                CertSpec::expiring_in_days(Role::Authentication, auth_days),
                CertSpec::expiring_in_days(Role::Signing, sign_days),
            ],
            alg: KeyAlg::P384,
            guid: None,
        }
    }
}

/// One slot's certificate as provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PivCert {
    /// `9a` or `9c`.
    pub slot: Slot,
    /// Its role.
    pub role: Role,
    /// The certificate, DER (base64 in JSON).
    #[serde(with = "b64")]
    pub cert_der: Vec<u8>,
    /// The certificate's facts.
    pub info: CertInfo,
}

/// A provisioned PIV card; also what the card directory's `piv-card.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionedPiv {
    /// Always `piv`: what `insert N --card DIR` looks for.
    pub kind: String,
    /// The card directory.
    pub card_dir: PathBuf,
    /// The CHUID GUID, lower-case hex: the card identifier (`token.serial` in the host).
    pub card_id: String,
    /// The management key's algorithm (the key itself is not written anywhere).
    pub mgmt_alg: MgmtAlg,
    /// The pairs' key algorithm.
    pub key_alg: KeyAlg,
    /// 9A then 9C.
    pub certs: Vec<PivCert>,
}

impl ProvisionedPiv {
    /// Reads a card directory's `piv-card.json`.
    pub fn load(dir: &Path) -> Result<ProvisionedPiv> {
        let path = dir.join(MARKER);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::io(
                format!("reading {} (make the card with `cis-testbed piv provision`)", path.display()),
                e,
            )
        })?;
        serde_json::from_str(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
    }
}

/// Makes a PIV card in `dir` (which must not hold one yet): CHUID with GUID, a key pair
/// generated on the card and a certificate from `ca` in 9A and in 9C, then PIN, PUK and
/// management key; then checks, after a power cycle, that the new management key
/// authenticates and the certificates read back.
pub fn provision(dir: &Path, ca: &TestCa, spec: &PivSpec) -> Result<ProvisionedPiv> {
    if dir.join("ifs.bin").exists() || dir.join(MARKER).exists() {
        return Err(Error::Invalid(format!("{} already holds a card; use a new directory", dir.display())));
    }
    let validity = |role: Role| {
        spec.certs
            .iter()
            .find(|c| c.role == role)
            .ok_or_else(|| Error::Invalid(format!("the spec has no {role:?} certificate")))
    };
    let subject = subject_der(&spec.subject)?;
    if spec.mgmt_key.len() != spec.mgmt_alg.key_len() {
        return Err(Error::Invalid(format!(
            "a {} management key has {} bytes (--mgmt-key with {} hex digits), not {}",
            spec.mgmt_alg,
            spec.mgmt_alg.key_len(),
            2 * spec.mgmt_alg.key_len(),
            spec.mgmt_key.len()
        )));
    }
    let guid = match spec.guid {
        Some(g) => g,
        None => {
            let mut g: [u8; 16] = random_bytes()?;
            g[6] = (g[6] & 0x0F) | 0x40;
            g[8] = (g[8] & 0x3F) | 0x80;
            g
        }
    };

    let mut card = StdioCard::open(dir)?;
    session::select(&mut card)?;
    session::mutual_auth(&mut card, MgmtAlg::Tdes, &DEFAULT_MGMT_KEY)?;
    session::put_chuid(&mut card, &guid)?;
    let mut certs = Vec::new();
    for slot in Slot::ALL {
        let role = slot.role();
        let v = validity(role)?;
        let (spki, point) = session::generate(&mut card, slot, spec.alg)?;
        let request = IssueRequest {
            subject_der: subject.clone(),
            // The CA takes a P-384 point, or a SubjectPublicKeyInfo for other algorithms.
            public_key_sec1: if spec.alg == KeyAlg::P384 { point.unwrap_or_default() } else { spki },
            role,
            not_before: v.not_before,
            not_after: v.not_after,
            serial: None,
        };
        let der = ca.issue(&request)?;
        session::put_certificate(&mut card, slot, &der)?;
        certs.push(PivCert { slot, role, info: cert_info(&der)?, cert_der: der });
    }
    if spec.pin != DEFAULT_PIN {
        session::change_reference(&mut card, 0x80, DEFAULT_PIN, &spec.pin)?;
    }
    if spec.puk != DEFAULT_PUK {
        session::change_reference(&mut card, 0x81, DEFAULT_PUK, &spec.puk)?;
    }
    if spec.mgmt_alg != MgmtAlg::Tdes || spec.mgmt_key != DEFAULT_MGMT_KEY {
        session::set_mgmt_key(&mut card, spec.mgmt_alg, &spec.mgmt_key)?;
    }

    // A fresh session, as the next user of the card gets: what was set must hold.
    card.reset()?;
    session::select(&mut card)?;
    session::mutual_auth(&mut card, spec.mgmt_alg, &spec.mgmt_key)
        .map_err(|e| Error::Invalid(format!("after provisioning, the new management key: {e}")))?;
    if session::chuid_guid(&mut card)? != guid {
        return Err(Error::Invalid("the CHUID did not keep its GUID".into()));
    }
    for c in &certs {
        if session::get_certificate(&mut card, c.slot)?.as_deref() != Some(&c.cert_der[..]) {
            return Err(Error::Invalid(format!("the {} certificate did not read back", c.slot)));
        }
    }
    card.close()?;

    let made = ProvisionedPiv {
        kind: "piv".into(),
        card_dir: dir.canonicalize().map_err(|e| Error::io(format!("resolving {}", dir.display()), e))?,
        card_id: hex(&guid),
        mgmt_alg: spec.mgmt_alg,
        key_alg: spec.alg,
        certs,
    };
    let json =
        serde_json::to_string_pretty(&made).map_err(|e| Error::Invalid(format!("encoding {MARKER}: {e}")))?;
    let marker = dir.join(MARKER);
    std::fs::write(&marker, json + "\n")
        .map_err(|e| Error::io(format!("writing {}", marker.display()), e))?;
    Ok(made)
}
