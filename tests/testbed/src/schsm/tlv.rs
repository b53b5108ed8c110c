//! BER-TLV as the SmartCard-HSM uses it: one- and two-byte tags (`7F21`, `5F29`), definite
//! lengths up to three bytes.

/// One data object: its tag (one or two bytes, as a number) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag, e.g. `0x7F21` or `0x86`.
    pub tag: u16,
    /// The value bytes.
    pub value: &'a [u8],
}

/// Splits `data` into its top-level data objects; `None` if it is not well formed.
pub fn parse(mut data: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (tag, rest) = read_tag(data)?;
        let (len, rest) = read_len(rest)?;
        if rest.len() < len {
            return None;
        }
        out.push(Tlv { tag, value: &rest[..len] });
        data = &rest[len..];
    }
    Some(out)
}

/// The value of the first data object with `tag` among `objects`.
pub fn find<'a>(objects: &[Tlv<'a>], tag: u16) -> Option<&'a [u8]> {
    objects.iter().find(|t| t.tag == tag).map(|t| t.value)
}

fn read_tag(data: &[u8]) -> Option<(u16, &[u8])> {
    let first = *data.first()?;
    if first & 0x1F == 0x1F {
        // Two-byte tag; the SmartCard-HSM uses no longer ones.
        let second = *data.get(1)?;
        Some((u16::from(first) << 8 | u16::from(second), &data[2..]))
    } else {
        Some((u16::from(first), &data[1..]))
    }
}

fn read_len(data: &[u8]) -> Option<(usize, &[u8])> {
    let first = *data.first()?;
    match first {
        0..=0x7F => Some((usize::from(first), &data[1..])),
        0x81 => Some((usize::from(*data.get(1)?), &data[2..])),
        0x82 => Some(((usize::from(*data.get(1)?) << 8) | usize::from(*data.get(2)?), &data[3..])),
        _ => None,
    }
}

/// Encodes one data object.
pub fn encode(tag: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 5);
    if tag > 0xFF {
        out.extend_from_slice(&tag.to_be_bytes());
    } else {
        out.push(tag as u8);
    }
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xFF {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(value);
    out
}

/// Encodes a constructed data object from already encoded children.
pub fn nest(tag: u16, children: &[Vec<u8>]) -> Vec<u8> {
    encode(tag, &children.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_long_tags_and_lengths() {
        let inner = encode(0x86, &[4u8; 200]);
        let outer = nest(0x7F49, &[encode(0x06, &[1, 2]), inner]);
        let top = parse(&outer).unwrap();
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].tag, 0x7F49);
        let kids = parse(top[0].value).unwrap();
        assert_eq!(find(&kids, 0x06), Some(&[1u8, 2][..]));
        assert_eq!(find(&kids, 0x86).map(<[u8]>::len), Some(200));
    }

    #[test]
    fn rejects_truncated_objects() {
        assert!(parse(&[0x53, 0x05, 1, 2]).is_none());
        assert!(parse(&[0x7F]).is_none());
    }
}
