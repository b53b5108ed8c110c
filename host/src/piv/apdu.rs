//! The PIV commands the host sends (SP 800-73-4 part 2, section 3), as short APDUs.
//!
//! Data longer than 255 bytes goes out with command chaining (CLA bit 0x10 on all but the last
//! part); answers longer than 256 bytes come back with `61 xx` and GET RESPONSE. Both are done
//! by [`super::transport`]; this module only builds commands and reads status words.

use super::tlv::{push, tlv};
use super::{AdminAlgorithm, KeyAlgorithm, Slot};

/// The PIV application identifier (NIST RID + PIX, version 01 00).
pub const PIV_AID: [u8; 11] = [0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00];
/// Key reference of the card-management key.
pub const MANAGEMENT_KEY: u8 = 0x9B;
/// Key reference of the PIV Card Application PIN.
pub const APPLICATION_PIN: u8 = 0x80;
/// The CHUID object's tag.
pub const CHUID_TAG: [u8; 3] = [0x5F, 0xC1, 0x02];
/// The longest data one short APDU carries.
pub const MAX_SHORT_DATA: usize = 255;
/// The PIV PIN is padded with FF to this length.
pub const PIN_BLOCK: usize = 8;

/// One command APDU (header, data, and whether an answer is expected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte (chaining sets bit 0x10 on the parts).
    pub cla: u8,
    /// Instruction.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data (may be longer than one APDU; the transport chains it).
    pub data: Vec<u8>,
    /// Ask for an answer (Le = 00).
    pub expects_data: bool,
}

impl Command {
    fn new(ins: u8, p1: u8, p2: u8, data: Vec<u8>, expects_data: bool) -> Command {
        Command { cla: 0x00, ins, p1, p2, data, expects_data }
    }

    /// The short APDUs that carry this command: one, or a chain when the data is long.
    pub fn encode(&self) -> Vec<Vec<u8>> {
        if self.data.is_empty() {
            let mut apdu = vec![self.cla, self.ins, self.p1, self.p2];
            if self.expects_data {
                apdu.push(0x00);
            }
            return vec![apdu];
        }
        let parts: Vec<&[u8]> = self.data.chunks(MAX_SHORT_DATA).collect();
        let last = parts.len() - 1;
        parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let cla = if i < last { self.cla | 0x10 } else { self.cla };
                let mut apdu = vec![cla, self.ins, self.p1, self.p2, part.len() as u8];
                apdu.extend_from_slice(part);
                if i == last && self.expects_data {
                    apdu.push(0x00);
                }
                apdu
            })
            .collect()
    }
}

/// SELECT the PIV application by its full AID (some cards refuse the 5-byte prefix).
pub fn select() -> Command {
    Command::new(0xA4, 0x04, 0x00, PIV_AID.to_vec(), true)
}

/// GET DATA of the object with `tag` (`5C` tag list).
pub fn get_data(tag: &[u8]) -> Command {
    Command::new(0xCB, 0x3F, 0xFF, tlv(&[0x5C], tag), true)
}

/// PUT DATA of the object with `tag`; `value` is the object's content (inside tag 53).
pub fn put_data(tag: &[u8], value: &[u8]) -> Command {
    let mut data = tlv(&[0x5C], tag);
    push(&[0x53], value, &mut data);
    Command::new(0xDB, 0x3F, 0xFF, data, false)
}

/// VERIFY with no data: asks the PIN state without spending a try.
pub fn pin_status() -> Command {
    Command::new(0x20, 0x00, APPLICATION_PIN, Vec::new(), false)
}

/// VERIFY the PIN, padded with FF to 8 bytes. The caller wipes the returned command.
pub fn verify_pin(pin: &[u8]) -> Command {
    let mut block = vec![0xFF; PIN_BLOCK];
    block[..pin.len().min(PIN_BLOCK)].copy_from_slice(&pin[..pin.len().min(PIN_BLOCK)]);
    Command::new(0x20, 0x00, APPLICATION_PIN, block, false)
}

/// GENERAL AUTHENTICATE, first step of mutual authentication: ask for the card's witness.
pub fn admin_witness(algorithm: AdminAlgorithm) -> Command {
    Command::new(0x87, algorithm.p1(), MANAGEMENT_KEY, tlv(&[0x7C], &tlv(&[0x80], &[])), true)
}

/// GENERAL AUTHENTICATE, second step: the decrypted witness and the service's challenge.
pub fn admin_respond(algorithm: AdminAlgorithm, witness: &[u8], challenge: &[u8]) -> Command {
    let inner = [tlv(&[0x80], witness), tlv(&[0x81], challenge)].concat();
    Command::new(0x87, algorithm.p1(), MANAGEMENT_KEY, tlv(&[0x7C], &inner), true)
}

/// GENERATE ASYMMETRIC KEY PAIR in `slot`.
pub fn generate(slot: Slot, algorithm: KeyAlgorithm) -> Command {
    let template = tlv(&[0xAC], &tlv(&[0x80], &[algorithm.p1()]));
    Command::new(0x47, 0x00, slot.key_reference(), template, true)
}

/// GENERAL AUTHENTICATE: sign `input` (a digest for EC, a padded block for RSA) with `slot`.
pub fn sign(slot: Slot, algorithm: KeyAlgorithm, input: &[u8]) -> Command {
    let inner = [tlv(&[0x82], &[]), tlv(&[0x81], input)].concat();
    Command::new(0x87, algorithm.p1(), slot.key_reference(), tlv(&[0x7C], &inner), true)
}

/// GET RESPONSE for the `61 xx` the card sent.
pub fn get_response(available: u8) -> Vec<u8> {
    vec![0x00, 0xC0, 0x00, 0x00, available]
}

/// What a status word means to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 9000.
    Ok,
    /// 61xx: more answer bytes wait (xx = how many, 00 = 256 or more).
    MoreData(u8),
    /// 63Cx: verification failed, x tries left.
    TriesLeft(u8),
    /// 6983: the PIN is blocked.
    Blocked,
    /// 6982: security status not satisfied.
    SecurityNotSatisfied,
    /// 6A82 / 6A88: no such file or object.
    NotFound,
    /// 6A80: incorrect data.
    BadData,
    /// 6A86: incorrect P1/P2 (e.g. an algorithm the key does not have).
    BadParameters,
    /// 6985: conditions of use not satisfied.
    ConditionsNotSatisfied,
    /// Anything else.
    Other(u16),
}

impl Status {
    /// Classifies `sw1 sw2`.
    pub fn from_sw(sw1: u8, sw2: u8) -> Status {
        match (sw1, sw2) {
            (0x90, 0x00) => Status::Ok,
            (0x61, n) => Status::MoreData(n),
            (0x63, n) if n & 0xF0 == 0xC0 => Status::TriesLeft(n & 0x0F),
            (0x69, 0x83) => Status::Blocked,
            (0x69, 0x82) => Status::SecurityNotSatisfied,
            (0x69, 0x85) => Status::ConditionsNotSatisfied,
            (0x6A, 0x82) | (0x6A, 0x88) => Status::NotFound,
            (0x6A, 0x80) => Status::BadData,
            (0x6A, 0x86) => Status::BadParameters,
            (a, b) => Status::Other(u16::from(a) << 8 | u16::from(b)),
        }
    }

    /// The status word as four hex digits, for logs and messages.
    pub fn hex(self) -> String {
        let sw = match self {
            Status::Ok => 0x9000,
            Status::MoreData(n) => 0x6100 | u16::from(n),
            Status::TriesLeft(n) => 0x63C0 | u16::from(n),
            Status::Blocked => 0x6983,
            Status::SecurityNotSatisfied => 0x6982,
            Status::NotFound => 0x6A82,
            Status::BadData => 0x6A80,
            Status::BadParameters => 0x6A86,
            Status::ConditionsNotSatisfied => 0x6985,
            Status::Other(sw) => sw,
        };
        format!("{sw:04X}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        text.split_whitespace().map(|b| u8::from_str_radix(b, 16).expect("hex")).collect()
    }

    #[test]
    fn commands_encode_as_sp_800_73_4_shows() {
        let cases: Vec<(&str, Command, &str)> = vec![
            ("select", select(), "00 A4 04 00 0B A0 00 00 03 08 00 00 10 00 01 00 00"),
            ("chuid", get_data(&CHUID_TAG), "00 CB 3F FF 05 5C 03 5F C1 02 00"),
            ("cert 9a", get_data(&Slot::Authentication.object_tag()), "00 CB 3F FF 05 5C 03 5F C1 05 00"),
            ("cert 9c", get_data(&Slot::Signature.object_tag()), "00 CB 3F FF 05 5C 03 5F C1 0A 00"),
            ("pin state", pin_status(), "00 20 00 80"),
            ("verify", verify_pin(b"123456"), "00 20 00 80 08 31 32 33 34 35 36 FF FF"),
            ("witness 3des", admin_witness(AdminAlgorithm::Tdes), "00 87 03 9B 04 7C 02 80 00 00"),
            ("witness aes256", admin_witness(AdminAlgorithm::Aes256), "00 87 0C 9B 04 7C 02 80 00 00"),
            (
                "respond",
                admin_respond(AdminAlgorithm::Tdes, &[1; 8], &[2; 8]),
                "00 87 03 9B 16 7C 14 80 08 01 01 01 01 01 01 01 01 81 08 02 02 02 02 02 02 02 02 00",
            ),
            (
                "generate p384",
                generate(Slot::Authentication, KeyAlgorithm::P384),
                "00 47 00 9A 05 AC 03 80 01 14 00",
            ),
            (
                "generate p256",
                generate(Slot::Signature, KeyAlgorithm::P256),
                "00 47 00 9C 05 AC 03 80 01 11 00",
            ),
            (
                "generate rsa",
                generate(Slot::Signature, KeyAlgorithm::Rsa2048),
                "00 47 00 9C 05 AC 03 80 01 07 00",
            ),
            (
                "sign p256",
                sign(Slot::Authentication, KeyAlgorithm::P256, &[7; 4]),
                "00 87 11 9A 0A 7C 08 82 00 81 04 07 07 07 07 00",
            ),
            ("put", put_data(&[0x5F, 0xC1, 0x05], &[0xAA]), "00 DB 3F FF 08 5C 03 5F C1 05 53 01 AA"),
        ];
        for (name, command, expected) in cases {
            assert_eq!(command.encode(), vec![hex(expected)], "{name}");
        }
    }

    #[test]
    fn verify_pin_pads_to_eight_bytes() {
        assert_eq!(verify_pin(b"12345678").data, b"12345678");
        assert_eq!(verify_pin(b"1234").data, hex("31 32 33 34 FF FF FF FF"));
    }

    #[test]
    fn long_data_is_chained_in_255_byte_parts() {
        let command = put_data(&[0x5F, 0xC1, 0x05], &vec![0x11; 600]);
        let total = command.data.len();
        let parts = command.encode();
        assert_eq!(parts.len(), total.div_ceil(MAX_SHORT_DATA));
        for (i, part) in parts.iter().enumerate() {
            let last = i == parts.len() - 1;
            assert_eq!(part[0], if last { 0x00 } else { 0x10 }, "part {i} class");
            assert_eq!(&part[1..4], &[0xDB, 0x3F, 0xFF]);
            assert_eq!(part[4] as usize, part.len() - 5, "part {i} Lc (no Le on PUT DATA)");
        }
        let joined: Vec<u8> = parts.iter().flat_map(|p| p[5..].to_vec()).collect();
        assert_eq!(joined, command.data);
        let signed = sign(Slot::Signature, KeyAlgorithm::Rsa2048, &[0x01; 256]).encode();
        assert_eq!(signed.len(), 2);
        assert_eq!(*signed[1].last().expect("le"), 0x00, "Le only on the last part");
    }

    #[test]
    fn status_words_are_classified() {
        let cases = [
            ((0x90, 0x00), Status::Ok),
            ((0x61, 0x10), Status::MoreData(0x10)),
            ((0x63, 0xC2), Status::TriesLeft(2)),
            ((0x63, 0xC0), Status::TriesLeft(0)),
            ((0x63, 0x00), Status::Other(0x6300)),
            ((0x69, 0x83), Status::Blocked),
            ((0x69, 0x82), Status::SecurityNotSatisfied),
            ((0x6A, 0x82), Status::NotFound),
            ((0x6A, 0x80), Status::BadData),
            ((0x6A, 0x86), Status::BadParameters),
            ((0x6D, 0x00), Status::Other(0x6D00)),
        ];
        for ((sw1, sw2), expected) in cases {
            let status = Status::from_sw(sw1, sw2);
            assert_eq!(status, expected, "{sw1:02X}{sw2:02X}");
            assert_eq!(status.hex(), format!("{sw1:02X}{sw2:02X}"));
        }
    }
}
