//! `cis-standin provision`: a SoftHSM token for a seeded user, made by the
//! test bed (`cis-testbed provision`, found by `cis_renew_testbed::testbed_bin`:
//! `$CIS_TESTBED_BIN` or next to this binary) with two P-384 key pairs and
//! certificates from this stand-in's CA, then registered in the records.

use std::path::PathBuf;
use std::process::Command;

use cis_renew_testbed::piv::{MgmtAlg, ProvisionedPiv};
use cis_renew_testbed::token::{CardSpec, CertSpec, ProvisionedCard};
use cis_renew_testbed::{testbed_bin, util};
use serde_json::{json, Value};

use crate::admin::cert_json;
use crate::ca::testbed_role;
use crate::cardadmin::keys;
use crate::enrol;
use crate::role::Role;
use crate::server::open_data;

/// Options of `provision`.
#[derive(Debug, Clone)]
pub struct ProvisionOptions {
    /// Data directory (database + CA).
    pub data: PathBuf,
    /// SoftHSM configuration file.
    pub softhsm_conf: PathBuf,
    /// Token label.
    pub label: String,
    /// User PIN.
    pub pin: String,
    /// Security officer PIN.
    pub so_pin: String,
    /// User handle or UUID.
    pub user: String,
    /// Days until the authentication certificate expires.
    pub auth_days: i64,
    /// Days until the signing certificate expires.
    pub sign_days: i64,
}

/// Provisions and registers the card; returns what to print.
pub fn run(opts: &ProvisionOptions) -> Result<Value, String> {
    let (store, ca) = open_data(&opts.data)?;
    let user = store
        .user_by_handle_or_uuid(&opts.user)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user {:?} (try alice, bob or carol)", opts.user))?;
    let spec = CardSpec {
        token_label: opts.label.clone(),
        user_pin: opts.pin.clone(),
        so_pin: opts.so_pin.clone(),
        subject: user.subject.clone(),
        certs: vec![
            CertSpec::expiring_in_days(testbed_role(Role::Authentication), opts.auth_days),
            CertSpec::expiring_in_days(testbed_role(Role::Signing), opts.sign_days),
        ],
        ca_certificate: false,
    };
    let input = serde_json::to_vec(&spec).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(testbed_bin().map_err(|e| e.to_string())?);
    cmd.args(["provision", "--spec-stdin", "--softhsm-conf"])
        .arg(&opts.softhsm_conf)
        .arg("--ca")
        .arg(ca.dir());
    let out = util::run(&mut cmd, Some(&input)).map_err(|e| e.to_string())?;
    let card: ProvisionedCard = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("unexpected `cis-testbed provision` output: {e}"))?;
    let ders: Vec<Vec<u8>> = card.certs.iter().map(|c| c.cert_der.clone()).collect();
    let registered =
        enrol::register_certificates(&store, &ca, &user, &card.token_serial, &card.token_label, &ders)
            .map_err(|e| e.to_string())?;
    let certs = store.current_certs(registered.id).map_err(|e| e.to_string())?;
    Ok(json!({
        "tokenSerial": card.token_serial,
        "tokenLabel": card.token_label,
        "softhsmConf": opts.softhsm_conf.display().to_string(),
        "user": { "handle": user.handle, "uuid": user.uuid, "name": user.name, "subject": user.subject },
        "caCert": ca.cert_pem_path().display().to_string(),
        "certificates": certs.iter().map(cert_json).collect::<Vec<_>>(),
    }))
}

/// Options of `provision --piv-card DIR`.
#[derive(Debug, Clone)]
pub struct PivProvisionOptions {
    /// Data directory (database + CA + master secret).
    pub data: PathBuf,
    /// The card directory to create.
    pub card: PathBuf,
    /// User handle or UUID.
    pub user: String,
    /// PIN.
    pub pin: String,
    /// Management-key algorithm.
    pub mgmt_alg: MgmtAlg,
    /// Key algorithm of both pairs (`p384`, `p256`, `rsa2048`).
    pub alg: String,
    /// Days until the authentication certificate expires.
    pub auth_days: i64,
    /// Days until the signing certificate expires.
    pub sign_days: i64,
}

/// Makes a PIV test card for a seeded user with `cis-testbed piv provision`: a random GUID,
/// the management key derived from this stand-in's master secret for that GUID, certificates
/// from this stand-in's CA; then registers it (card ID = the GUID in hex) as a PIV card.
pub fn run_piv(opts: &PivProvisionOptions) -> Result<Value, String> {
    let (store, ca) = open_data(&opts.data)?;
    let user = store
        .user_by_handle_or_uuid(&opts.user)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user {:?} (try alice, bob or carol)", opts.user))?;
    let mut guid = [0u8; 16];
    getrandom::fill(&mut guid).map_err(|e| e.to_string())?;
    guid[6] = (guid[6] & 0x0F) | 0x40;
    guid[8] = (guid[8] & 0x3F) | 0x80;
    let master = store.card_master_secret().map_err(|e| e.to_string())?;
    let key = keys::derive(&master, &guid, opts.mgmt_alg);
    let mut cmd = Command::new(testbed_bin().map_err(|e| e.to_string())?);
    cmd.args(["piv", "provision", "--json", "--card"])
        .arg(&opts.card)
        .arg("--ca")
        .arg(ca.dir())
        .args(["--mgmt-alg", opts.mgmt_alg.name(), "--mgmt-key", &util::hex(&key)])
        .args(["--guid", &util::hex(&guid), "--pin", &opts.pin, "--subject", &user.subject])
        .args(["--auth-days", &opts.auth_days.to_string(), "--sign-days", &opts.sign_days.to_string()])
        .args(["--alg", &opts.alg]);
    let out = util::run(&mut cmd, None).map_err(|e| e.to_string())?;
    let card: ProvisionedPiv = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("unexpected `cis-testbed piv provision` output: {e}"))?;
    let ders: Vec<Vec<u8>> = card.certs.iter().map(|c| c.cert_der.clone()).collect();
    let registered = enrol::register_certificates(&store, &ca, &user, &card.card_id, PIV_LABEL, &ders)
        .map_err(|e| e.to_string())?;
    store.register_piv_card(registered.id, opts.mgmt_alg.name(), &opts.alg).map_err(|e| e.to_string())?;
    let certs = store.current_certs(registered.id).map_err(|e| e.to_string())?;
    Ok(json!({
        "cardId": card.card_id,
        "tokenSerial": card.card_id,
        "tokenLabel": PIV_LABEL,
        "cardDir": card.card_dir.display().to_string(),
        "mgmtAlg": opts.mgmt_alg.name(),
        "keyAlg": opts.alg,
        "user": { "handle": user.handle, "uuid": user.uuid, "name": user.name, "subject": user.subject },
        "caCert": ca.cert_pem_path().display().to_string(),
        "certificates": certs.iter().map(cert_json).collect::<Vec<_>>(),
    }))
}

/// Options of `provision --schsm-card FILE`.
#[derive(Debug, Clone)]
pub struct SchsmProvisionOptions {
    /// The card file to create.
    pub card: PathBuf,
    /// Data directory (database + CA).
    pub data: PathBuf,
    /// User handle or UUID.
    pub user: String,
    /// User PIN.
    pub pin: String,
    /// Key algorithm of both pairs (`p384`, `p256`, `rsa2048`).
    pub alg: String,
    /// Days until the authentication certificate expires.
    pub auth_days: i64,
    /// Days until the signing certificate expires.
    pub sign_days: i64,
}

/// Makes a virtual SmartCard-HSM card file for a seeded user with `cis-testbed schsm
/// provision` (through OpenSC, certificates from this stand-in's CA) and registers it under
/// the token serial OpenSC reports, so the dashboard finds it by that serial.
pub fn run_schsm(opts: &SchsmProvisionOptions) -> Result<Value, String> {
    let (store, ca) = open_data(&opts.data)?;
    let user = store
        .user_by_handle_or_uuid(&opts.user)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user {:?} (try alice, bob or carol)", opts.user))?;
    let mut cmd = Command::new(testbed_bin().map_err(|e| e.to_string())?);
    cmd.args(["schsm", "provision", "--json", "--card"])
        .arg(&opts.card)
        .arg("--ca")
        .arg(ca.dir())
        .args(["--pin", &opts.pin, "--subject", &user.subject, "--alg", &opts.alg])
        .args(["--auth-days", &opts.auth_days.to_string(), "--sign-days", &opts.sign_days.to_string()]);
    let out = util::run(&mut cmd, None).map_err(|e| e.to_string())?;
    let card: ProvisionedCard = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("unexpected `cis-testbed schsm provision` output: {e}"))?;
    let ders: Vec<Vec<u8>> = card.certs.iter().map(|c| c.cert_der.clone()).collect();
    let registered =
        enrol::register_certificates(&store, &ca, &user, &card.token_serial, &card.token_label, &ders)
            .map_err(|e| e.to_string())?;
    let certs = store.current_certs(registered.id).map_err(|e| e.to_string())?;
    Ok(json!({
        "tokenSerial": card.token_serial,
        "tokenLabel": card.token_label,
        "cardFile": opts.card.display().to_string(),
        "keyAlg": opts.alg,
        "user": { "handle": user.handle, "uuid": user.uuid, "name": user.name, "subject": user.subject },
        "caCert": ca.cert_pem_path().display().to_string(),
        "certificates": certs.iter().map(cert_json).collect::<Vec<_>>(),
    }))
}

/// The label PIV cards are registered with (the dashboard shows it like a token label).
pub const PIV_LABEL: &str = "PIV card";
