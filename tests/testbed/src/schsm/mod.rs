//! A virtual SmartCard-HSM: a card that OpenSC's `sc-hsm` driver drives over APDUs through a
//! vpcd reader, so the host can be tested on real middleware (`opensc-pkcs11.so`): the slot is
//! the reader, pulling the card fails what is in flight, and the card counts wrong PINs.
//!
//! - [`applet`]: the commands (see its table), keys from [`keys`], memory in [`state`] (a JSON
//!   card file, written on every change).
//! - [`vpcd`]: the reader connection. The card runs as `cis-testbed schsm run` inside the
//!   test bed's pcscd network namespace ([`crate::Pcscd::insert_schsm`]); ending that process
//!   removes the card.
//! - [`Faults`]: fail the n-th APDU with a status word, fail the n-th write that starts a file
//!   of a kind (e.g. the n-th certificate), tear before or after the n-th APDU, memory full,
//!   key-generation delay.
//! - [`provision`]: a card with two working pairs, made through OpenSC's PKCS#11 as a card
//!   management system would (C_InitToken, C_InitPIN, C_GenerateKeyPair, C_CreateObject), so
//!   the card holds exactly what OpenSC itself writes.

pub mod apdu;
pub mod applet;
pub mod keys;
pub mod p11;
pub mod state;
pub mod tlv;
pub mod vpcd;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use applet::{Faults, AID};
pub use keys::KeyAlg;
pub use p11::SchsmSpec;
pub use state::CardState;

use crate::error::{Error, Result};
use crate::readers::{Pcscd, READERS};
use crate::token::{ProvisionedCard, TokenContents};
use crate::util::{random_bytes, run, testbed_bin};
use crate::TestCa;

/// OpenSC's PKCS#11 module on Debian 12 (x86-64).
pub const OPENSC_MODULE: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
/// The SmartCard-HSM's factory SO PIN (16 hex digits), used when none is given.
pub const DEFAULT_SO_PIN: &str = "3537363231383830";
/// The token label `schsm provision` gives the card.
pub const DEFAULT_LABEL: &str = "cis-renew test card";

/// A test-only OpenSC configuration: only the SmartCard-HSM driver, no file or PIN caching
/// (a cache would hide what the card holds and which APDUs a renewal needs).
pub const OPENSC_CONF: &str = "app default {\n\tcard_drivers = sc-hsm;\n\
    \tframework pkcs15 {\n\t\tuse_file_caching = no;\n\t\tuse_pin_caching = false;\n\t}\n}\n";

/// Writes [`OPENSC_CONF`] to `dir/opensc.conf` and returns its path (for `OPENSC_CONF`).
pub fn write_opensc_conf(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("opensc.conf");
    std::fs::write(&path, OPENSC_CONF).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(path)
}

/// Writes a factory-fresh card file (not initialized) with a random serial.
pub fn blank_card(path: &Path) -> Result<CardState> {
    let n: [u8; 4] = random_bytes()?;
    let serial = format!("UT{:08}", u32::from_be_bytes(n) % 100_000_000);
    let card = CardState::blank(&serial);
    card.save(path)?;
    Ok(card)
}

/// Makes a new card file at `card` with two key pairs generated on the card and certificates
/// from `ca`, all through OpenSC's PKCS#11 module: starts a private pcscd, inserts the card,
/// runs `cis-testbed schsm p11-provision` as a child (OpenSC and libpcsclite read their
/// settings once per process), then stops everything. Takes about a second for EC keys.
pub fn provision(card: &Path, ca: &TestCa, spec: &SchsmSpec) -> Result<ProvisionedCard> {
    p11::check_so_pin(&spec.card.so_pin)?;
    blank_card(card)?;
    let mut bed = Pcscd::start()?;
    bed.insert_schsm(1, card, &Faults::default())?;
    let mut cmd = Command::new(testbed_bin()?);
    cmd.args(["schsm", "p11-provision", "--reader", READERS[1], "--ca"]).arg(ca.dir());
    bed.configure_opensc(&mut cmd);
    let input = serde_json::to_vec(spec).map_err(|e| Error::Invalid(format!("card spec: {e}")))?;
    let out = run(&mut cmd, Some(&input));
    bed.stop();
    serde_json::from_slice(&out?.stdout)
        .map_err(|e| Error::Invalid(format!("unexpected `cis-testbed schsm p11-provision` output: {e}")))
}

/// Everything on the card in `bed`'s reader `reader`, seen through OpenSC after a user login,
/// with each pair checked. Runs `cis-testbed schsm p11-inspect` as a child.
pub fn inspect(bed: &Pcscd, reader: usize, user_pin: &str) -> Result<TokenContents> {
    let name =
        READERS.get(reader).ok_or_else(|| Error::Invalid(format!("reader {reader} does not exist")))?;
    let mut cmd = Command::new(testbed_bin()?);
    cmd.args(["schsm", "p11-inspect", "--reader", name, "--pin", user_pin]);
    bed.configure_opensc(&mut cmd);
    let out = run(&mut cmd, None)?;
    serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Invalid(format!("unexpected `cis-testbed schsm p11-inspect` output: {e}")))
}

/// The card process: serves the card file to vpcd on `port` until removed.
pub fn run_card(card: &Path, port: u16, faults: Faults, apdu_log: Option<&Path>) -> Result<()> {
    let mut applet = applet::Applet::open(card, faults)?;
    vpcd::serve(&mut applet, port, apdu_log)
}
