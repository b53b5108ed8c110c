//! Command and response APDUs (ISO 7816-4), short and extended length.

/// A parsed command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte.
    pub cla: u8,
    /// Instruction.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data (empty when there is no Lc).
    pub data: Vec<u8>,
    /// Expected response length (`None`: no Le; 0 in the APDU means the maximum).
    pub le: Option<usize>,
}

impl Command {
    /// Parses the four APDU cases in short or extended form; `None` if malformed.
    pub fn parse(apdu: &[u8]) -> Option<Command> {
        let &[cla, ins, p1, p2] = apdu.first_chunk::<4>()?;
        let body = &apdu[4..];
        let mut cmd = Command { cla, ins, p1, p2, data: Vec::new(), le: None };
        match body.len() {
            0 => {}
            1 => cmd.le = Some(short_le(body[0])),
            _ if body[0] != 0 => {
                let lc = usize::from(body[0]);
                let rest = &body[1..];
                match rest.len().checked_sub(lc)? {
                    0 => {}
                    1 => cmd.le = Some(short_le(rest[lc])),
                    _ => return None,
                }
                cmd.data = rest[..lc].to_vec();
            }
            3 => cmd.le = Some(ext_le(body[1], body[2])),
            n if n > 3 => {
                let lc = (usize::from(body[1]) << 8) | usize::from(body[2]);
                let rest = &body[3..];
                match rest.len().checked_sub(lc)? {
                    0 => {}
                    2 => cmd.le = Some(ext_le(rest[lc], rest[lc + 1])),
                    _ => return None,
                }
                if lc == 0 {
                    return None;
                }
                cmd.data = rest[..lc].to_vec();
            }
            _ => return None,
        }
        Some(cmd)
    }
}

fn short_le(b: u8) -> usize {
    if b == 0 {
        256
    } else {
        usize::from(b)
    }
}

fn ext_le(hi: u8, lo: u8) -> usize {
    match (usize::from(hi) << 8) | usize::from(lo) {
        0 => 65536,
        n => n,
    }
}

/// Status words the card answers with.
pub mod sw {
    /// Success.
    pub const OK: u16 = 0x9000;
    /// End of file reached before Le bytes.
    pub const END_OF_FILE: u16 = 0x6282;
    /// Wrong PIN; the low nibble is added by the caller (`63Cx`: x tries left).
    pub const WRONG_PIN: u16 = 0x63C0;
    /// Memory failure / not enough memory in the file.
    pub const MEMORY_FULL: u16 = 0x6A84;
    /// Wrong length.
    pub const WRONG_LENGTH: u16 = 0x6700;
    /// Security status not satisfied (PIN not verified).
    pub const SECURITY_STATUS: u16 = 0x6982;
    /// Authentication method blocked (PIN locked).
    pub const BLOCKED: u16 = 0x6983;
    /// Conditions of use not satisfied.
    pub const CONDITIONS: u16 = 0x6985;
    /// Incorrect data.
    pub const WRONG_DATA: u16 = 0x6A80;
    /// Function not supported.
    pub const FUNC_NOT_SUPPORTED: u16 = 0x6A81;
    /// File or application not found.
    pub const NOT_FOUND: u16 = 0x6A82;
    /// Incorrect P1/P2.
    pub const WRONG_P1P2: u16 = 0x6A86;
    /// Referenced data not found.
    pub const REF_NOT_FOUND: u16 = 0x6A88;
    /// Instruction not supported.
    pub const INS_NOT_SUPPORTED: u16 = 0x6D00;
    /// Class not supported.
    pub const CLA_NOT_SUPPORTED: u16 = 0x6E00;
}

/// A response APDU: data and status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data.
    pub data: Vec<u8>,
    /// Status word.
    pub sw: u16,
}

impl Response {
    /// Data with 9000.
    pub fn ok(data: Vec<u8>) -> Response {
        Response { data, sw: sw::OK }
    }

    /// Only a status word.
    pub fn status(sw: u16) -> Response {
        Response { data: Vec::new(), sw }
    }

    /// The bytes sent back to the reader.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&self.sw.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_cases() {
        let c1 = Command::parse(&[0, 0x20, 0, 0x81]).unwrap();
        assert!(c1.data.is_empty() && c1.le.is_none());
        let c2 = Command::parse(&[0, 0x84, 0, 0, 0]).unwrap();
        assert_eq!(c2.le, Some(256));
        let c3 = Command::parse(&[0, 0x20, 0, 0x81, 2, 0x31, 0x32]).unwrap();
        assert_eq!((c3.data.as_slice(), c3.le), (&[0x31, 0x32][..], None));
        let c4 = Command::parse(&[0, 0xA4, 4, 0, 1, 0xE8, 0]).unwrap();
        assert_eq!((c4.data.as_slice(), c4.le), (&[0xE8][..], Some(256)));
        let c2e = Command::parse(&[0x80, 0x58, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(c2e.le, Some(65536));
        let c4e = Command::parse(&[0x80, 0x68, 1, 0x70, 0, 0, 2, 9, 9, 2, 0]).unwrap();
        assert_eq!((c4e.data.as_slice(), c4e.le), (&[9, 9][..], Some(512)));
    }

    #[test]
    fn rejects_bad_lengths() {
        assert!(Command::parse(&[0, 0x20, 0]).is_none());
        assert!(Command::parse(&[0, 0x20, 0, 0x81, 3, 1]).is_none());
        assert!(Command::parse(&[0, 0x20, 0, 0x81, 0, 0, 5, 1]).is_none());
    }
}
