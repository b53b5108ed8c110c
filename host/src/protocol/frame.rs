//! Frames: a u32 length in native byte order, then that many bytes of UTF-8 JSON.
//!
//! Reading never allocates more than the inbound limit, whatever length a frame claims.

use byteorder::{NativeEndian, ReadBytesExt, WriteBytesExt};
use std::io::{self, ErrorKind, Read, Write};

/// Largest frame accepted from the browser. Chrome caps host -> browser frames at 1 MiB; we hold
/// the browser to the same bound so a hostile length cannot make us allocate.
pub const MAX_INBOUND: usize = 1024 * 1024;
/// Largest frame we may send (Chrome drops the port on anything larger).
pub const MAX_OUTBOUND: usize = 1024 * 1024;

/// Why no frame could be read.
#[derive(Debug)]
pub enum FrameError {
    /// The stream ended cleanly between frames: the browser closed the port.
    Eof,
    /// The stream ended inside a frame.
    Truncated,
    /// The frame claims more than the inbound limit; the stream cannot be resynchronised.
    TooLarge(u64),
    /// Reading failed.
    Io(io::Error),
}

/// Reads one frame's payload.
pub fn read_frame<R: Read>(input: &mut R, limit: usize) -> Result<Vec<u8>, FrameError> {
    let mut length_bytes = [0u8; 4];
    let mut filled = 0;
    while filled < length_bytes.len() {
        match input.read(&mut length_bytes[filled..]) {
            Ok(0) if filled == 0 => return Err(FrameError::Eof),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let length = u64::from((&length_bytes[..]).read_u32::<NativeEndian>().map_err(FrameError::Io)?);
    if length > limit as u64 {
        return Err(FrameError::TooLarge(length));
    }
    let mut payload = Vec::with_capacity(length as usize);
    input.take(length).read_to_end(&mut payload).map_err(FrameError::Io)?;
    if (payload.len() as u64) < length {
        return Err(FrameError::Truncated);
    }
    Ok(payload)
}

/// Writes one frame and flushes, so the browser sees it at once.
pub fn write_frame<W: Write>(output: &mut W, payload: &[u8]) -> io::Result<()> {
    let length = u32::try_from(payload.len())
        .map_err(|_| io::Error::new(ErrorKind::InvalidInput, "frame longer than u32"))?;
    output.write_u32::<NativeEndian>(length)?;
    output.write_all(payload)?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_frame(&mut out, payload).expect("write to Vec");
        out
    }

    /// A reader that hands out one byte per call, like a pipe under load.
    struct OneByteAtATime(Vec<u8>, usize);
    impl Read for OneByteAtATime {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1 >= self.0.len() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[self.1];
            self.1 += 1;
            Ok(1)
        }
    }

    #[test]
    fn read_frame_round_trips_written_frame() {
        let bytes = framed(br#"{"id":1}"#);
        let got = read_frame(&mut &bytes[..], MAX_INBOUND).expect("frame");
        assert_eq!(got, br#"{"id":1}"#);
    }

    #[test]
    fn read_frame_split_byte_by_byte_reassembles() {
        let bytes = [framed(b"first"), framed(b"second")].concat();
        let mut input = OneByteAtATime(bytes, 0);
        assert_eq!(read_frame(&mut input, MAX_INBOUND).expect("1"), b"first");
        assert_eq!(read_frame(&mut input, MAX_INBOUND).expect("2"), b"second");
        assert!(matches!(read_frame(&mut input, MAX_INBOUND), Err(FrameError::Eof)));
    }

    #[test]
    fn read_frame_zero_length_is_empty_payload() {
        let bytes = framed(b"");
        assert_eq!(read_frame(&mut &bytes[..], MAX_INBOUND).expect("empty"), b"");
    }

    #[test]
    fn read_frame_exactly_at_limit_is_accepted() {
        let payload = vec![b'x'; MAX_INBOUND];
        let bytes = framed(&payload);
        assert_eq!(read_frame(&mut &bytes[..], MAX_INBOUND).expect("max").len(), MAX_INBOUND);
    }

    #[test]
    fn read_frame_one_over_limit_is_too_large_without_reading_payload() {
        let mut bytes = Vec::new();
        bytes.write_u32::<NativeEndian>(MAX_INBOUND as u32 + 1).expect("len");
        let result = read_frame(&mut &bytes[..], MAX_INBOUND);
        assert!(matches!(result, Err(FrameError::TooLarge(n)) if n == MAX_INBOUND as u64 + 1));
    }

    #[test]
    fn read_frame_claiming_u32_max_is_too_large() {
        let bytes = u32::MAX.to_ne_bytes();
        assert!(matches!(
            read_frame(&mut &bytes[..], MAX_INBOUND),
            Err(FrameError::TooLarge(n)) if n == u64::from(u32::MAX)
        ));
    }

    #[test]
    fn read_frame_cut_inside_length_or_payload_is_truncated() {
        let five = 5u32.to_ne_bytes();
        let cases: [Vec<u8>; 3] = [five[..1].to_vec(), five[..3].to_vec(), [&five[..], b"ab"].concat()];
        for case in cases {
            assert!(
                matches!(read_frame(&mut &case[..], MAX_INBOUND), Err(FrameError::Truncated)),
                "case {case:?}"
            );
        }
    }

    #[test]
    fn read_frame_on_empty_stream_is_eof() {
        assert!(matches!(read_frame(&mut &b""[..], MAX_INBOUND), Err(FrameError::Eof)));
    }
}
