//! BER-TLV as PIV uses it (SP 800-73-4 part 2, appendix A): tags of one to three bytes,
//! definite lengths of one to three bytes. Only what the host sends and reads.

/// A parse failure: the bytes are not the TLV the card should have sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvError(pub &'static str);

/// Encodes a definite length: short form below 0x80, else `81 xx` or `82 xx xx`.
pub fn encode_length(length: usize, out: &mut Vec<u8>) {
    match length {
        0..=0x7F => out.push(length as u8),
        0x80..=0xFF => out.extend([0x81, length as u8]),
        // PIV objects stay far below 64 KiB; larger is a caller bug, so cap rather than wrap.
        _ => {
            let capped = length.min(0xFFFF);
            out.extend([0x82, (capped >> 8) as u8, capped as u8]);
        }
    }
}

/// Appends `tag`, the length of `value`, and `value`.
pub fn push(tag: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(tag);
    encode_length(value.len(), out);
    out.extend_from_slice(value);
}

/// `tag` with `value`, as a new vector.
pub fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tag.len() + 4 + value.len());
    push(tag, value, &mut out);
    out
}

/// One element: its tag bytes and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    /// The tag, as encoded (one to three bytes).
    pub tag: &'a [u8],
    /// The value.
    pub value: &'a [u8],
}

/// Reads the first element of `input`; returns it and the rest.
pub fn read(input: &[u8]) -> Result<(Element<'_>, &[u8]), TlvError> {
    let first = *input.first().ok_or(TlvError("empty TLV"))?;
    let mut tag_len = 1;
    if first & 0x1F == 0x1F {
        // Subsequent tag bytes while bit 8 is set.
        loop {
            let byte = *input.get(tag_len).ok_or(TlvError("tag runs past the end"))?;
            tag_len += 1;
            if byte & 0x80 == 0 {
                break;
            }
            if tag_len >= 3 {
                return Err(TlvError("tag longer than three bytes"));
            }
        }
    }
    let (length, length_len) = match *input.get(tag_len).ok_or(TlvError("missing length"))? {
        short @ 0..=0x7F => (short as usize, 1),
        0x81 => (*input.get(tag_len + 1).ok_or(TlvError("length runs past the end"))? as usize, 2),
        0x82 => {
            let high = *input.get(tag_len + 1).ok_or(TlvError("length runs past the end"))? as usize;
            let low = *input.get(tag_len + 2).ok_or(TlvError("length runs past the end"))? as usize;
            (high << 8 | low, 3)
        }
        _ => return Err(TlvError("unsupported length form")),
    };
    let start = tag_len + length_len;
    let end = start.checked_add(length).ok_or(TlvError("length overflows"))?;
    let value = input.get(start..end).ok_or(TlvError("value runs past the end"))?;
    Ok((Element { tag: &input[..tag_len], value }, &input[end..]))
}

/// Every element of `input`, in order; fails if anything is left over that is not TLV.
pub fn elements(mut input: &[u8]) -> Result<Vec<Element<'_>>, TlvError> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (element, rest) = read(input)?;
        out.push(element);
        input = rest;
    }
    Ok(out)
}

/// The value of the first element with `tag` among `input`'s elements.
pub fn find<'a>(input: &'a [u8], tag: &[u8]) -> Result<Option<&'a [u8]>, TlvError> {
    Ok(elements(input)?.into_iter().find(|e| e.tag == tag).map(|e| e.value))
}

/// The value of `outer` when `input` is exactly one element with that tag.
pub fn unwrap<'a>(input: &'a [u8], outer: &[u8], what: &'static str) -> Result<&'a [u8], TlvError> {
    let (element, rest) = read(input)?;
    if element.tag != outer || !rest.is_empty() {
        return Err(TlvError(what));
    }
    Ok(element.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_length_uses_the_shortest_form() {
        let cases: [(usize, &[u8]); 6] = [
            (0, &[0x00]),
            (0x7F, &[0x7F]),
            (0x80, &[0x81, 0x80]),
            (0xFF, &[0x81, 0xFF]),
            (0x100, &[0x82, 0x01, 0x00]),
            (0x1234, &[0x82, 0x12, 0x34]),
        ];
        for (length, expected) in cases {
            let mut out = Vec::new();
            encode_length(length, &mut out);
            assert_eq!(out, expected, "{length}");
        }
    }

    #[test]
    fn read_round_trips_tags_of_each_size() {
        let long = vec![0xAB; 300];
        let cases: [(&[u8], &[u8]); 5] = [
            (&[0x80], &[]),
            (&[0x53], &[1, 2, 3]),
            (&[0x7F, 0x49], &[0x86, 0x01, 0x04]),
            (&[0x5F, 0xC1, 0x05], &long),
            (&[0x7C], &long[..0x80]),
        ];
        for (tag, value) in cases {
            let mut bytes = tlv(tag, value);
            bytes.extend([0x90, 0x00]);
            let (element, rest) = read(&bytes).expect("read");
            assert_eq!(element.tag, tag);
            assert_eq!(element.value, value);
            assert_eq!(rest, [0x90, 0x00]);
        }
    }

    #[test]
    fn read_rejects_truncated_and_odd_input() {
        let cases: [(&[u8], &str); 7] = [
            (&[], "empty TLV"),
            (&[0x5F], "tag runs past the end"),
            (&[0x5F, 0xC1, 0x85, 0x01], "tag longer than three bytes"),
            (&[0x53], "missing length"),
            (&[0x53, 0x82, 0x01], "length runs past the end"),
            (&[0x53, 0x84, 0, 0, 0, 1], "unsupported length form"),
            (&[0x53, 0x03, 0x01], "value runs past the end"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(read(bytes).expect_err("bad"), TlvError(expected), "{bytes:02X?}");
        }
    }

    #[test]
    fn find_and_unwrap_pick_the_right_element() {
        let inner = [tlv(&[0x80], &[1]), tlv(&[0x81], &[2, 2]), tlv(&[0x82], &[])].concat();
        let outer = tlv(&[0x7C], &inner);
        let value = unwrap(&outer, &[0x7C], "not 7C").expect("7C");
        assert_eq!(find(value, &[0x81]).expect("tlv"), Some(&[2u8, 2][..]));
        assert_eq!(find(value, &[0x82]).expect("tlv"), Some(&[][..]));
        assert_eq!(find(value, &[0x83]).expect("tlv"), None);
        assert_eq!(unwrap(&outer, &[0x53], "not 53"), Err(TlvError("not 53")));
        let mut trailing = outer.clone();
        trailing.push(0);
        assert_eq!(unwrap(&trailing, &[0x7C], "trailing"), Err(TlvError("trailing")));
    }
}
