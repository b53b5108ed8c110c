//! vpcd's socket protocol (vsmartcard): the card is a TCP client of the virtual reader. Every
//! message is a 2-byte big-endian length and a payload; a 1-byte payload is a control message
//! (0 power off, 1 power on, 2 reset, 4 "send the ATR"), anything else is a command APDU,
//! answered with the response APDU. Closing the connection removes the card.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use super::applet::{Action, Applet};
use crate::error::{Error, Result};

/// The ATR of a SmartCard-HSM 4K (JCOP 3), so OpenSC's ATR table names the driver at once.
pub const ATR: [u8; 24] = [
    0x3B, 0xFE, 0x18, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x45, 0x80, 0x31, 0x81, 0x54, 0x48, 0x53, 0x4D, 0x31,
    0x73, 0x80, 0x21, 0x40, 0x81, 0x07, 0xFA,
];

/// ATR as lower-case hex, as PC/SC status reports show it.
pub const ATR_HEX: &str = "3bfe1800008131fe458031815448534d31738021408107fa";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to vpcd on `127.0.0.1:port` and serves the card until vpcd closes the
/// connection or a tear fault removes the card. Each APDU is appended to `apdu_log`
/// (`N CLA INS P1 P2 length -> SW time-in-card`), never its data (it may hold the PIN).
pub fn serve(applet: &mut Applet, port: u16, apdu_log: Option<&Path>) -> Result<()> {
    let mut stream = connect(port)?;
    stream.set_nodelay(true).map_err(|e| Error::io("setting TCP_NODELAY", e))?;
    let mut log = match apdu_log {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| Error::io(format!("opening {}", p.display()), e))?,
        ),
        None => None,
    };
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).is_err() {
            return Ok(()); // vpcd went away
        }
        // vpcd writes the length and the payload in two segments: its Nagle wait for our
        // ACK of the first met our delayed ACK, and every message cost ~45 ms. Setting
        // quick-ACK sends the ACK now; Linux drops the mode by itself, so set it each time.
        let _ = socket2::SockRef::from(&stream).set_tcp_quickack(true);
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut msg).map_err(|e| Error::io("reading from vpcd", e))?;
        match msg.as_slice() {
            [0] | [1] | [2] => applet.reset(),
            [4] => send(&mut stream, &ATR)?,
            [_] => {} // unknown control message: ignore, as vicc does
            apdu => {
                let started = Instant::now();
                let action = applet.handle(apdu);
                let took = started.elapsed();
                let status = match &action {
                    Action::Answer(r) => format!("{:04X}", r.sw),
                    Action::Tear => "torn".to_string(),
                };
                if let Some(f) = log.as_mut() {
                    let head: Vec<String> = apdu.iter().take(4).map(|b| format!("{b:02X}")).collect();
                    let _ = writeln!(
                        f,
                        "{} {} {} -> {status} {:.3}ms",
                        applet.count(),
                        head.join(" "),
                        apdu.len(),
                        took.as_secs_f64() * 1000.0
                    );
                }
                match action {
                    Action::Answer(r) => send(&mut stream, &r.to_bytes())?,
                    Action::Tear => return Ok(()),
                }
            }
        }
    }
}

fn connect(port: u16) -> Result<TcpStream> {
    let start = Instant::now();
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => return Ok(s),
            Err(e) if start.elapsed() > CONNECT_TIMEOUT => {
                return Err(Error::io(format!("connecting to vpcd on port {port}"), e))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn send(stream: &mut TcpStream, payload: &[u8]) -> Result<()> {
    let len =
        u16::try_from(payload.len()).map_err(|_| Error::Invalid("response too long for vpcd".into()))?;
    let mut msg = len.to_be_bytes().to_vec();
    msg.extend_from_slice(payload);
    stream.write_all(&msg).map_err(|e| Error::io("writing to vpcd", e))
}
