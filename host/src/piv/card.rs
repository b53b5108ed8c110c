//! The PIV card's operations, one function per command, each taking the [`Exchange`] of the
//! transaction it runs in. Answers are checked for the shape SP 800-73-4 gives them.

use super::apdu::{self, Status, CHUID_TAG};
use super::tlv::{self, find, unwrap};
use super::transport::Exchange;
use super::{AdminAlgorithm, KeyAlgorithm, PivError, Slot};
use crate::token::algorithm::PublicKey;
use zeroize::{Zeroize, Zeroizing};

/// The PIN state, from VERIFY with no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinStatus {
    /// Verified in this card session already.
    Verified,
    /// Not verified; this many tries are left.
    TriesLeft(u8),
    /// Blocked: the PUK (or a card-management system) must unblock it.
    Blocked,
}

fn refused(command: &'static str, status: Status) -> PivError {
    PivError::Refused { command, sw: status.hex() }
}

fn malformed(_: tlv::TlvError) -> PivError {
    PivError::Malformed("TLV")
}

/// SELECT the PIV application; [`PivError::NotPiv`] when the card has none.
pub fn select(x: &mut Exchange<'_>) -> Result<(), PivError> {
    select_outcome(x.send(&apdu::select())?.status)
}

/// What SELECT's status word says. A card that answers anything but success has no PIV
/// application this host can use (6A82 is the usual word; 6D00, 6E00, 6A86, 6999 and
/// warnings such as 6283, a terminated application, come from other cards): `NotPiv`, which
/// under `cardBackend: auto` hands the card to PKCS#11.
pub fn select_outcome(status: Status) -> Result<(), PivError> {
    match status {
        Status::Ok => Ok(()),
        _ => Err(PivError::NotPiv),
    }
}

/// The object with `tag` (the value inside its `53`), or `None` when the card has none.
fn get_object(x: &mut Exchange<'_>, tag: &[u8]) -> Result<Option<Vec<u8>>, PivError> {
    let response = x.send(&apdu::get_data(tag))?;
    match response.status {
        Status::Ok if response.data.is_empty() => Ok(None),
        Status::Ok => Ok(Some(
            unwrap(&response.data, &[0x53], "object not in a 53 container")
                .map_err(|e| PivError::Malformed(e.0))?
                .to_vec(),
        )),
        Status::NotFound => Ok(None),
        other => Err(refused("GET DATA", other)),
    }
}

/// The card's GUID from the CHUID (tag 34), or `None` when it has no CHUID.
pub fn guid(x: &mut Exchange<'_>) -> Result<Option<Vec<u8>>, PivError> {
    let Some(chuid) = get_object(x, &CHUID_TAG)? else { return Ok(None) };
    let guid =
        find(&chuid, &[0x34]).map_err(malformed)?.ok_or(PivError::Malformed("CHUID without a GUID"))?;
    if guid.len() != 16 {
        return Err(PivError::Malformed("GUID is not 16 bytes"));
    }
    Ok(Some(guid.to_vec()))
}

/// The certificate in `slot` (DER), or `None` when the slot has none.
pub fn certificate(x: &mut Exchange<'_>, slot: Slot) -> Result<Option<Vec<u8>>, PivError> {
    let Some(object) = get_object(x, &slot.object_tag())? else { return Ok(None) };
    let Some(der) = find(&object, &[0x70]).map_err(malformed)? else { return Ok(None) };
    // CertInfo (71) bit 0 set means a gzip-compressed certificate; the host never writes those.
    if find(&object, &[0x71])
        .map_err(malformed)?
        .is_some_and(|info| info.first().is_some_and(|b| b & 0x01 != 0))
    {
        return Err(PivError::Malformed("compressed certificate"));
    }
    Ok((!der.is_empty()).then(|| der.to_vec()))
}

/// The PIN state, without spending a try.
pub fn pin_status(x: &mut Exchange<'_>) -> Result<PinStatus, PivError> {
    match x.send(&apdu::pin_status())?.status {
        Status::Ok => Ok(PinStatus::Verified),
        Status::TriesLeft(0) | Status::Blocked => Ok(PinStatus::Blocked),
        Status::TriesLeft(n) => Ok(PinStatus::TriesLeft(n)),
        other => Err(refused("VERIFY", other)),
    }
}

/// VERIFY the PIN (6 to 8 bytes).
pub fn verify_pin(x: &mut Exchange<'_>, pin: &[u8]) -> Result<(), PivError> {
    let mut command = apdu::verify_pin(pin);
    let status = x.send(&command).map(|r| r.status);
    command.data.zeroize();
    match status? {
        Status::Ok => Ok(()),
        Status::TriesLeft(0) | Status::Blocked => Err(PivError::PinBlocked),
        Status::TriesLeft(tries) => Err(PivError::WrongPin { tries }),
        other => Err(refused("VERIFY", other)),
    }
}

/// The first step of mutual authentication with 9B: the card's (encrypted) witness, trying
/// each algorithm in [`AdminAlgorithm::PROBE_ORDER`] until the card takes one.
pub fn admin_witness(x: &mut Exchange<'_>) -> Result<(AdminAlgorithm, Vec<u8>), PivError> {
    for algorithm in AdminAlgorithm::PROBE_ORDER {
        let response = x.send(&apdu::admin_witness(algorithm))?;
        match response.status {
            Status::Ok => {
                let inner = unwrap(&response.data, &[0x7C], "witness not in 7C")
                    .map_err(|e| PivError::Malformed(e.0))?;
                let witness =
                    find(inner, &[0x80]).map_err(malformed)?.ok_or(PivError::Malformed("no witness (80)"))?;
                if witness.len() != algorithm.block_len() {
                    return Err(PivError::Malformed("witness is not one block"));
                }
                return Ok((algorithm, witness.to_vec()));
            }
            Status::BadParameters | Status::BadData => continue,
            other => return Err(refused("GENERAL AUTHENTICATE (witness)", other)),
        }
    }
    Err(PivError::NoAdminAlgorithm)
}

/// The second step: the decrypted witness and the service's challenge in, the card's
/// encrypted challenge out. A card that finds the witness wrong refuses: [`PivError::CardAuthFailed`].
pub fn admin_respond(
    x: &mut Exchange<'_>,
    algorithm: AdminAlgorithm,
    witness: &[u8],
    challenge: &[u8],
) -> Result<Vec<u8>, PivError> {
    let response = x.send(&apdu::admin_respond(algorithm, witness, challenge))?;
    match response.status {
        Status::Ok => {
            let inner = unwrap(&response.data, &[0x7C], "response not in 7C")
                .map_err(|e| PivError::Malformed(e.0))?;
            let answer =
                find(inner, &[0x82]).map_err(malformed)?.ok_or(PivError::Malformed("no response (82)"))?;
            Ok(answer.to_vec())
        }
        // Cards differ: 6A80 (wrong data), 6982 (not authenticated), 63 00 (failed), 6985
        // (no witness pending).
        Status::BadData
        | Status::SecurityNotSatisfied
        | Status::ConditionsNotSatisfied
        | Status::Other(0x6300) => Err(PivError::CardAuthFailed),
        other => Err(refused("GENERAL AUTHENTICATE (mutual)", other)),
    }
}

/// GENERATE a new key pair in `slot`; the old key there is gone from now on.
pub fn generate(x: &mut Exchange<'_>, slot: Slot, algorithm: KeyAlgorithm) -> Result<PublicKey, PivError> {
    let response = x.send(&apdu::generate(slot, algorithm))?;
    match response.status {
        Status::Ok => {}
        Status::BadData | Status::BadParameters => return Err(PivError::AlgorithmUnsupported(algorithm)),
        other => return Err(refused("GENERATE ASYMMETRIC KEY PAIR", other)),
    }
    let template = unwrap(&response.data, &[0x7F, 0x49], "public key not in 7F49")
        .map_err(|e| PivError::Malformed(e.0))?;
    let field = |tag: u8, what: &'static str| -> Result<&[u8], PivError> {
        find(template, &[tag]).map_err(malformed)?.ok_or(PivError::Malformed(what))
    };
    match algorithm {
        KeyAlgorithm::P384 => p384::PublicKey::from_sec1_bytes(field(0x86, "no EC point (86)")?)
            .map(PublicKey::P384)
            .map_err(|_| PivError::Malformed("not a P-384 point")),
        KeyAlgorithm::P256 => p256::PublicKey::from_sec1_bytes(field(0x86, "no EC point (86)")?)
            .map(PublicKey::P256)
            .map_err(|_| PivError::Malformed("not a P-256 point")),
        KeyAlgorithm::Rsa2048 => {
            let n = field(0x81, "no modulus (81)")?;
            let e = field(0x82, "no exponent (82)")?;
            PublicKey::from_rsa_attributes(n, e).map_err(|_| PivError::Malformed("not an RSA key"))
        }
    }
}

/// Signs `input` with `slot`'s key: a digest of the key's size for EC (the answer is a DER
/// ECDSA signature), a padded block for RSA (the answer is the raw RSA result).
pub fn sign(
    x: &mut Exchange<'_>,
    slot: Slot,
    algorithm: KeyAlgorithm,
    input: &[u8],
) -> Result<Vec<u8>, PivError> {
    let response = x.send(&apdu::sign(slot, algorithm, input))?;
    match response.status {
        Status::Ok => {
            let inner = unwrap(&response.data, &[0x7C], "signature not in 7C")
                .map_err(|e| PivError::Malformed(e.0))?;
            let signature =
                find(inner, &[0x82]).map_err(malformed)?.ok_or(PivError::Malformed("no signature (82)"))?;
            Ok(signature.to_vec())
        }
        Status::SecurityNotSatisfied => {
            Err(refused("GENERAL AUTHENTICATE (sign): PIN not verified", Status::SecurityNotSatisfied))
        }
        other => Err(refused("GENERAL AUTHENTICATE (sign)", other)),
    }
}

/// PUT DATA of `slot`'s certificate object: the certificate, uncompressed, and an empty LRC.
pub fn put_certificate(x: &mut Exchange<'_>, slot: Slot, der: &[u8]) -> Result<(), PivError> {
    let object = [tlv::tlv(&[0x70], der), tlv::tlv(&[0x71], &[0x00]), tlv::tlv(&[0xFE], &[])].concat();
    match x.send(&apdu::put_data(&slot.object_tag(), &object))?.status {
        Status::Ok => Ok(()),
        other => Err(refused("PUT DATA", other)),
    }
}

/// The PIN as bytes, checked for PIV's 6-8 characters before the card sees it.
pub fn pin_bytes(pin: &str) -> Result<Zeroizing<Vec<u8>>, crate::protocol::HostError> {
    let bytes = Zeroizing::new(pin.as_bytes().to_vec());
    if !(6..=8).contains(&bytes.len()) {
        return Err(crate::protocol::HostError::new(
            crate::protocol::ErrorCode::PinInvalid,
            "The passcode must have 6 to 8 characters.",
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_outcome_is_not_piv_for_every_refusal() {
        assert!(select_outcome(Status::Ok).is_ok());
        for sw in [0x6A82u16, 0x6A88, 0x6D00, 0x6E00, 0x6A86, 0x6999, 0x6283, 0x6F00, 0x6982] {
            let status = Status::from_sw((sw >> 8) as u8, sw as u8);
            assert!(matches!(select_outcome(status), Err(PivError::NotPiv)), "{sw:04X}");
        }
    }
}
