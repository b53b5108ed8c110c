//! The vpcd side of vsmartcard's virtual-card protocol: a TCP connection on which each message
//! is a 2-byte big-endian length and a body. A 1-byte body is a control code (0 power off,
//! 1 power on, 2 reset, 4 send the ATR); a longer one is a command APDU, answered by the
//! response APDU.
//!
//! Written here rather than taken from the `vpicc` crate for one reason: latency. vpcd writes
//! each message in two pieces, and with delayed ACKs on our side every APDU waited ~40 ms for
//! the kernel; TCP_NODELAY plus TCP_QUICKACK before every read remove that.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::linux::net::TcpStreamExt;

use crate::card::Card;

/// vpcd's port for the first reader; reader `n` is this + `n`.
pub const DEFAULT_PORT: u16 = 35963;

/// The ATR vicc's iso7816 card sends (the test bed knows cards by it).
const ATR: [u8; 11] = [0x3b, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xff, 0x01, 0x00, 0x0b];

/// Serves `card` on a vpcd connection until vpcd closes it (pcscd stopped).
pub fn serve<T: piv_authenticator::Client + Clone>(addr: &str, card: &mut Card<T>) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connecting to vpcd at {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
    log::info!("connected to vpcd at {addr}");
    loop {
        // The kernel turns quick ACKs off again by itself; ask before every read.
        let _ = stream.set_quickack(true);
        let mut len = [0u8; 2];
        match stream.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                log::info!("vpcd closed the connection");
                return Ok(());
            }
            Err(e) => return Err(format!("reading from vpcd: {e}")),
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut msg).map_err(|e| format!("reading from vpcd: {e}"))?;
        let reply = match msg[..] {
            [] => return Err("vpcd sent an empty message".into()),
            [0] | [2] => {
                card.power_cycle();
                continue;
            }
            [1] => continue,
            [4] => ATR.to_vec(),
            [code] => return Err(format!("vpcd sent an unknown control code {code}")),
            _ => card.execute(&msg),
        };
        let mut out = Vec::with_capacity(reply.len() + 2);
        // Responses are at most 65538 bytes (65536 + SW); the card chunks them below that.
        out.extend_from_slice(&(reply.len() as u16).to_be_bytes());
        out.extend_from_slice(&reply);
        stream.write_all(&out).map_err(|e| format!("writing to vpcd: {e}"))?;
    }
}
