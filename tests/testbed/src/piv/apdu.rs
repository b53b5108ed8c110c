//! APDUs and BER-TLV as PIV uses them (SP 800-73-4 part 2), and a transport-neutral exchange
//! that follows 61xx with GET RESPONSE.

use crate::error::{Error, Result};

/// Something that carries one command APDU to a card and brings back the response APDU.
pub trait Transport {
    /// Sends `apdu`; returns the response including SW1 SW2.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>>;
}

/// A status word.
pub type Sw = u16;

/// Success.
pub const SW_OK: Sw = 0x9000;

/// A command APDU: short form when it fits, extended otherwise.
pub fn command(ins: u8, p1: u8, p2: u8, data: &[u8]) -> Vec<u8> {
    let mut apdu = vec![0x00, ins, p1, p2];
    if data.is_empty() {
        apdu.push(0x00);
    } else if data.len() <= 255 {
        apdu.push(data.len() as u8);
        apdu.extend_from_slice(data);
        apdu.push(0x00);
    } else {
        apdu.push(0x00);
        apdu.extend_from_slice(&(data.len() as u16).to_be_bytes());
        apdu.extend_from_slice(data);
        apdu.extend_from_slice(&[0x00, 0x00]);
    }
    apdu
}

/// Sends `apdu`, fetching the rest of the answer while the card says 61xx; returns the data
/// and the final status word.
pub fn exchange(card: &mut dyn Transport, apdu: &[u8]) -> Result<(Vec<u8>, Sw)> {
    let mut data = Vec::new();
    let mut response = card.transmit(apdu)?;
    loop {
        let n = response.len();
        if n < 2 {
            return Err(Error::Invalid(format!("the card answered {n} bytes, not a response APDU")));
        }
        let sw = u16::from_be_bytes([response[n - 2], response[n - 1]]);
        data.extend_from_slice(&response[..n - 2]);
        if sw >> 8 != 0x61 {
            return Ok((data, sw));
        }
        response = card.transmit(&[0x00, 0xC0, 0x00, 0x00, sw as u8])?;
    }
}

/// Like [`exchange`], but any status other than 9000 is an error naming `what`.
pub fn expect_ok(card: &mut dyn Transport, apdu: &[u8], what: &str) -> Result<Vec<u8>> {
    match exchange(card, apdu)? {
        (data, SW_OK) => Ok(data),
        (_, sw) => Err(Error::Invalid(format!("{what}: the card answered {sw:04X}"))),
    }
}

/// One TLV: tag (1-2 bytes as PIV uses them), BER length, value.
pub fn tlv(tag: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    if tag > 0xFF {
        out.extend_from_slice(&tag.to_be_bytes());
    } else {
        out.push(tag as u8);
    }
    let n = value.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n <= 0xFF {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.push(0x82);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    }
    out.extend_from_slice(value);
    out
}

/// The TLVs in `data`, in order, as (tag, value).
pub fn parse_tlvs(mut data: &[u8]) -> Result<Vec<(u16, &[u8])>> {
    let bad = || Error::Invalid("malformed BER-TLV from the card".to_string());
    let mut out = Vec::new();
    while !data.is_empty() {
        let (tag, rest) = match data {
            [a, b, rest @ ..] if a & 0x1F == 0x1F => (u16::from_be_bytes([*a, *b]), rest),
            [a, rest @ ..] => (u16::from(*a), rest),
            [] => return Err(bad()),
        };
        let (len, rest) = match rest {
            [n, rest @ ..] if *n < 0x80 => (usize::from(*n), rest),
            [0x81, n, rest @ ..] => (usize::from(*n), rest),
            [0x82, a, b, rest @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), rest),
            _ => return Err(bad()),
        };
        if rest.len() < len {
            return Err(bad());
        }
        out.push((tag, &rest[..len]));
        data = &rest[len..];
    }
    Ok(out)
}

/// The value of the first TLV tagged `tag` in `data`.
pub fn find(data: &[u8], tag: u16) -> Result<Option<&[u8]>> {
    Ok(parse_tlvs(data)?.into_iter().find(|(t, _)| *t == tag).map(|(_, v)| v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_lengths_round_trip_in_all_three_forms() {
        for n in [0usize, 5, 127, 128, 255, 256, 1500] {
            let value = vec![0xAB; n];
            let encoded = [tlv(0x7C, &value), tlv(0x7F49, b"x")].concat();
            let parsed = parse_tlvs(&encoded).unwrap_or_default();
            assert_eq!(parsed, vec![(0x7C, &value[..]), (0x7F49, &b"x"[..])], "length {n}");
        }
    }

    #[test]
    fn truncated_tlv_is_an_error() {
        assert!(parse_tlvs(&[0x53, 0x05, 1, 2]).is_err());
        assert!(parse_tlvs(&[0x53, 0x82, 0x01]).is_err());
    }

    #[test]
    fn long_data_makes_an_extended_apdu() {
        let short = command(0xDB, 0x3F, 0xFF, &[1; 10]);
        assert_eq!(&short[..5], &[0x00, 0xDB, 0x3F, 0xFF, 10]);
        let long = command(0xDB, 0x3F, 0xFF, &[1; 300]);
        assert_eq!(&long[4..7], &[0x00, 0x01, 0x2C]);
        assert_eq!(long.len(), 4 + 3 + 300 + 2);
    }
}
