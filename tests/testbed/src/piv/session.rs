//! The PIV commands the test bed sends (SP 800-73-4 part 2, plus Yubico's SET MANAGEMENT KEY,
//! which the PIV test card implements): over any [`Transport`].

use super::apdu::{self, command, expect_ok, find, tlv, Transport};
use super::mgmt::MgmtAlg;
use super::{KeyAlg, Slot, PIV_AID};
use crate::error::{Error, Result};
use crate::util::random_bytes;

/// SELECT the PIV application.
pub fn select(card: &mut dyn Transport) -> Result<()> {
    expect_ok(card, &command(0xA4, 0x04, 0x00, &PIV_AID), "SELECT of the PIV application").map(|_| ())
}

/// Mutual authentication with the management key: the card's witness is decrypted and
/// returned with our challenge, and the card's answer to the challenge is checked.
pub fn mutual_auth(card: &mut dyn Transport, alg: MgmtAlg, key: &[u8]) -> Result<()> {
    let witness_request = tlv(0x7C, &tlv(0x80, &[]));
    let reply =
        expect_ok(card, &command(0x87, alg.id(), 0x9B, &witness_request), "GENERAL AUTHENTICATE (witness)")?;
    let witness = dynamic_auth(&reply, 0x80)?;
    let decrypted = alg.decrypt_block(key, &witness)?;
    let challenge = random_block(alg)?;
    let answer = tlv(0x7C, &[tlv(0x80, &decrypted), tlv(0x81, &challenge)].concat());
    let (reply, sw) = apdu::exchange(card, &command(0x87, alg.id(), 0x9B, &answer))?;
    if sw != apdu::SW_OK {
        return Err(Error::Invalid(format!(
            "the card refused the management key ({sw:04X}): wrong key or algorithm {alg}"
        )));
    }
    let response = dynamic_auth(&reply, 0x82)?;
    if response != alg.encrypt_block(key, &challenge)? {
        return Err(Error::Invalid("the card's answer to our challenge is wrong".into()));
    }
    Ok(())
}

/// A random block for `alg` (a challenge).
pub fn random_block(alg: MgmtAlg) -> Result<Vec<u8>> {
    let bytes: [u8; 16] = random_bytes()?;
    Ok(bytes[..alg.block_len()].to_vec())
}

/// The value of `tag` inside a Dynamic Authentication Template (`7C`).
pub fn dynamic_auth(reply: &[u8], tag: u16) -> Result<Vec<u8>> {
    let template =
        find(reply, 0x7C)?.ok_or_else(|| Error::Invalid("no 7C template in the card's answer".into()))?;
    find(template, tag)?
        .map(<[u8]>::to_vec)
        .ok_or_else(|| Error::Invalid(format!("no {tag:02X} in the card's 7C template")))
}

/// GENERATE ASYMMETRIC KEY PAIR in `slot`; returns the public key as a DER
/// SubjectPublicKeyInfo and, for EC keys, the SEC1 point.
pub fn generate(card: &mut dyn Transport, slot: Slot, alg: KeyAlg) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    let template = tlv(0xAC, &tlv(0x80, &[alg.piv_id()]));
    let what = format!("GENERATE {alg:?} in slot {slot}");
    let reply = expect_ok(card, &command(0x47, 0x00, slot.key_ref(), &template), &what)?;
    let key = find(&reply, 0x7F49)?.ok_or_else(|| Error::Invalid(format!("{what}: no 7F49 public key")))?;
    let missing = |tag: u16| Error::Invalid(format!("{what}: no {tag:02X} in the public key"));
    match alg {
        KeyAlg::P256 | KeyAlg::P384 => {
            let point = find(key, 0x86)?.ok_or_else(|| missing(0x86))?.to_vec();
            Ok((ec_spki(alg, &point), Some(point)))
        }
        KeyAlg::Rsa2048 => {
            let n = find(key, 0x81)?.ok_or_else(|| missing(0x81))?;
            let e = find(key, 0x82)?.ok_or_else(|| missing(0x82))?;
            Ok((rsa_spki(n, e), None))
        }
    }
}

/// PUT DATA of `slot`'s certificate object (uncompressed, as SP 800-73-4 table 15 has it).
pub fn put_certificate(card: &mut dyn Transport, slot: Slot, cert_der: &[u8]) -> Result<()> {
    let object = [tlv(0x70, cert_der), tlv(0x71, &[0x00]), tlv(0xFE, &[])].concat();
    put_data(card, &slot.cert_object(), &object, &format!("PUT DATA of the {slot} certificate"))
}

/// GET DATA of `slot`'s certificate; `None` when the object is empty.
pub fn get_certificate(card: &mut dyn Transport, slot: Slot) -> Result<Option<Vec<u8>>> {
    let (data, sw) = apdu::exchange(card, &command(0xCB, 0x3F, 0xFF, &tlv(0x5C, &slot.cert_object())))?;
    match sw {
        apdu::SW_OK => {}
        0x6A82 => return Ok(None),
        sw => return Err(Error::Invalid(format!("GET DATA of the {slot} certificate: {sw:04X}"))),
    }
    let object =
        find(&data, 0x53)?.ok_or_else(|| Error::Invalid("no 53 in the certificate object".into()))?;
    Ok(find(object, 0x70)?.map(<[u8]>::to_vec))
}

/// The FASC-N in our CHUIDs: the test value piv-authenticator's own default CHUID carries
/// (agency code 9999, an all-nines credential), so no real agency is named.
const FASC_N: [u8; 25] = [
    0xD4, 0xE7, 0x39, 0xD8, 0x21, 0x08, 0x6C, 0x10, 0x84, 0x21, 0x0D, 0x83, 0x60, 0xD8, 0x21, 0x08, 0x42,
    0x10, 0x84, 0x21, 0x80, 0x42, 0x10, 0xC3, 0xF3,
];

/// PUT DATA of the CHUID with `guid` (SP 800-73-4 table 9: FASC-N, GUID, expiration date,
/// an empty issuer signature, error detection code).
pub fn put_chuid(card: &mut dyn Transport, guid: &[u8; 16]) -> Result<()> {
    let object =
        [tlv(0x30, &FASC_N), tlv(0x34, guid), tlv(0x35, b"20401231"), tlv(0x3E, &[]), tlv(0xFE, &[])]
            .concat();
    put_data(card, &[0x5F, 0xC1, 0x02], &object, "PUT DATA of the CHUID")
}

/// The CHUID's GUID (the card identifier).
pub fn chuid_guid(card: &mut dyn Transport) -> Result<[u8; 16]> {
    let data = expect_ok(
        card,
        &command(0xCB, 0x3F, 0xFF, &tlv(0x5C, &[0x5F, 0xC1, 0x02])),
        "GET DATA of the CHUID",
    )?;
    let chuid = find(&data, 0x53)?.ok_or_else(|| Error::Invalid("no 53 in the CHUID".into()))?;
    let guid = find(chuid, 0x34)?.ok_or_else(|| Error::Invalid("no GUID in the CHUID".into()))?;
    guid.try_into().map_err(|_| Error::Invalid(format!("the CHUID's GUID has {} bytes, not 16", guid.len())))
}

fn put_data(card: &mut dyn Transport, tag: &[u8], object: &[u8], what: &str) -> Result<()> {
    let data = [tlv(0x5C, tag), tlv(0x53, object)].concat();
    expect_ok(card, &command(0xDB, 0x3F, 0xFF, &data), what).map(|_| ())
}

/// CHANGE REFERENCE DATA of the PIN (`80`) or PUK (`81`).
pub fn change_reference(card: &mut dyn Transport, reference: u8, old: &str, new: &str) -> Result<()> {
    let name = if reference == 0x80 { "PIN" } else { "PUK" };
    let data = [padded(old, name)?, padded(new, name)?].concat();
    expect_ok(card, &command(0x24, 0x00, reference, &data), &format!("changing the {name}")).map(|_| ())
}

/// VERIFY of the PIN; `Err` says the status (63Cx: tries left).
pub fn verify_pin(card: &mut dyn Transport, pin: &str) -> Result<()> {
    expect_ok(card, &command(0x20, 0x00, 0x80, &padded(pin, "PIN")?), "VERIFY").map(|_| ())
}

/// A PIN or PUK as the card takes it: 6-8 ASCII characters padded with FF to 8 bytes.
fn padded(value: &str, name: &str) -> Result<Vec<u8>> {
    if !(6..=8).contains(&value.len()) || !value.is_ascii() {
        return Err(Error::Invalid(format!("a PIV {name} has 6 to 8 ASCII characters")));
    }
    let mut out = value.as_bytes().to_vec();
    out.resize(8, 0xFF);
    Ok(out)
}

/// Sets the management key (Yubico's SET MANAGEMENT KEY `00 FF FF FF`, which the PIV test
/// card implements; SP 800-73-4 leaves key loading to the card maker). Needs a management
/// login in this session.
pub fn set_mgmt_key(card: &mut dyn Transport, alg: MgmtAlg, key: &[u8]) -> Result<()> {
    if key.len() != alg.key_len() {
        return Err(Error::Invalid(format!(
            "a {alg} management key has {} bytes, not {}",
            alg.key_len(),
            key.len()
        )));
    }
    let data = [&[alg.id(), 0x9B, key.len() as u8][..], key].concat();
    match apdu::exchange(card, &command(0xFF, 0xFF, 0xFF, &data))? {
        (_, apdu::SW_OK) => Ok(()),
        (_, sw) if !matches!(alg, MgmtAlg::Tdes | MgmtAlg::Aes256) => Err(Error::Invalid(format!(
            "the PIV test card refused a {alg} management key ({sw:04X}): it supports 3des and aes256"
        ))),
        (_, sw) => Err(Error::Invalid(format!("setting the management key: the card answered {sw:04X}"))),
    }
}

fn ec_spki(alg: KeyAlg, point: &[u8]) -> Vec<u8> {
    const EC_PUBLIC_KEY: [u8; 7] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    const P256: [u8; 8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    const P384: [u8; 5] = [0x2B, 0x81, 0x04, 0x00, 0x22];
    let curve: &[u8] = if alg == KeyAlg::P256 { &P256 } else { &P384 };
    let algorithm = tlv(0x30, &[tlv(0x06, &EC_PUBLIC_KEY), tlv(0x06, curve)].concat());
    tlv(0x30, &[algorithm, tlv(0x03, &[&[0u8][..], point].concat())].concat())
}

fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    const RSA_ENCRYPTION: [u8; 9] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
    let int = |v: &[u8]| {
        let v = &v[v.iter().position(|b| *b != 0).unwrap_or(v.len().saturating_sub(1))..];
        let body =
            if v.first().is_some_and(|b| b & 0x80 != 0) { [&[0u8][..], v].concat() } else { v.to_vec() };
        tlv(0x02, &body)
    };
    let key = tlv(0x30, &[int(n), int(e)].concat());
    let algorithm = tlv(0x30, &[tlv(0x06, &RSA_ENCRYPTION), tlv(0x05, &[])].concat());
    tlv(0x30, &[algorithm, tlv(0x03, &[&[0u8][..], &key[..]].concat())].concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_cert::der::Decode;
    use x509_cert::spki::SubjectPublicKeyInfoOwned;

    #[test]
    fn built_public_keys_parse_as_subject_public_key_info() {
        let ec = ec_spki(KeyAlg::P384, &[4; 97]);
        let parsed = SubjectPublicKeyInfoOwned::from_der(&ec).map(|s| s.algorithm.oid.to_string());
        assert_eq!(parsed.ok().as_deref(), Some("1.2.840.10045.2.1"));
        let rsa = rsa_spki(&[0xC1; 256], &[0x01, 0x00, 0x01]);
        let parsed = SubjectPublicKeyInfoOwned::from_der(&rsa).map(|s| s.algorithm.oid.to_string());
        assert_eq!(parsed.ok().as_deref(), Some("1.2.840.113549.1.1.1"));
    }

    #[test]
    fn pins_outside_six_to_eight_characters_are_refused() {
        assert!(padded("12345", "PIN").is_err());
        assert!(padded("123456789", "PIN").is_err());
        assert_eq!(padded("123456", "PIN").ok(), Some(vec![b'1', b'2', b'3', b'4', b'5', b'6', 0xFF, 0xFF]));
    }
}
