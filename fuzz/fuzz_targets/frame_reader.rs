//! Any byte stream through the frame reader: never panics, never allocates past the limit, and
//! every frame it returns is within the limit.
#![no_main]

use cis_renew_host::protocol::frame::{read_frame, FrameError};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    loop {
        match read_frame(&mut input, LIMIT) {
            Ok(payload) => assert!(payload.len() <= LIMIT),
            Err(FrameError::Eof) | Err(FrameError::Truncated) | Err(FrameError::TooLarge(_)) => break,
            Err(FrameError::Io(e)) => panic!("reading a slice cannot fail: {e}"),
        }
    }
});
