//! piv-authenticator as an APDU card: ISO 7816-4 command chaining (CLA bit 5), response
//! chaining (61xx + GET RESPONSE), a power cycle that clears the login state, and the short
//! SELECT that yubico-piv-tool sends.

use iso7816::{command::CommandView, Command, Status};
use piv_authenticator::{Authenticator, Client, Options};

const BUF: usize = 8192;
/// The PIV application's AID (SP 800-73-4 part 1, 2.2), with version.
const PIV_AID: [u8; 11] = [0xA0, 0, 0, 3, 8, 0, 0, 0x10, 0, 1, 0];

/// The card: the PIV application plus the transport-level state a real card keeps.
pub struct Card<T> {
    client: T,
    options: Options,
    app: Authenticator<T>,
    chained: Option<Command<BUF>>,
    pending: Vec<u8>,
}

impl<T: Client + Clone> Card<T> {
    /// A card over `client`; its persistent state is whatever the client's store holds.
    pub fn new(client: T, options: Options) -> Self {
        let app = Authenticator::new(client.clone(), options.clone());
        Self { client, options, app, chained: None, pending: Vec::new() }
    }

    /// A power cycle: piv-authenticator keeps PIN *and management-key* verification for the
    /// life of the `Authenticator`, so a new one is built (a later session would otherwise
    /// inherit the previous one's rights).
    pub fn power_cycle(&mut self) {
        self.chained = None;
        self.pending.clear();
        self.app = Authenticator::new(self.client.clone(), self.options.clone());
    }

    /// Answers one command APDU with a response APDU (data + SW1 SW2).
    pub fn execute(&mut self, apdu: &[u8]) -> Vec<u8> {
        let expanded;
        let apdu = match full_select(apdu) {
            Some(full) => {
                expanded = full;
                &expanded[..]
            }
            None => apdu,
        };
        let view = match CommandView::try_from(apdu) {
            Ok(v) => v,
            Err(e) => {
                log::warn!("malformed APDU ({e:?})");
                return status(Status::WrongLength);
            }
        };
        let ins: u8 = view.instruction().into();
        let max = if view.extended { 65536 } else { 256 };
        let le = match view.expected() {
            0 => max,
            n => n.min(max),
        };

        if ins == 0xC0 && self.chained.is_none() {
            if self.pending.is_empty() {
                return status(Status::ConditionsOfUseNotSatisfied);
            }
            return self.chunk(le);
        }
        self.pending.clear();

        if view.class().chain().not_the_last() {
            let appended = match self.chained.as_mut() {
                None => view.to_owned().map(|c| self.chained = Some(c)).is_ok(),
                Some(c) => c.extend_from_command_view(view).is_ok(),
            };
            if !appended {
                self.chained = None;
                return status(Status::WrongLength);
            }
            return status(Status::Success);
        }

        let merged;
        let command = match self.chained.take() {
            Some(mut c) => {
                if c.extend_from_command_view(view).is_err() {
                    return status(Status::WrongLength);
                }
                merged = c;
                merged.as_view()
            }
            None => view,
        };

        let mut reply = heapless::Vec::<u8, BUF>::new();
        match self.app.respond(command, reply.as_mut_view()) {
            Ok(()) => {
                self.pending = reply.to_vec();
                self.chunk(le)
            }
            Err(sw) => status(sw),
        }
    }

    /// Up to `le` bytes of the pending response, then 9000 or 61xx if more remain.
    fn chunk(&mut self, le: usize) -> Vec<u8> {
        let n = le.min(self.pending.len());
        let mut out: Vec<u8> = self.pending.drain(..n).collect();
        if self.pending.is_empty() {
            out.extend_from_slice(&[0x90, 0x00]);
        } else {
            out.extend_from_slice(&[0x61, self.pending.len().min(255) as u8]);
        }
        out
    }
}

fn status(sw: Status) -> Vec<u8> {
    let sw: [u8; 2] = sw.into();
    sw.to_vec()
}

/// yubico-piv-tool selects with a 5-byte prefix of the AID; piv-authenticator wants at least
/// 9 bytes (6A82 otherwise). A SELECT by a 5-8 byte prefix becomes a SELECT of the full AID.
fn full_select(apdu: &[u8]) -> Option<Vec<u8>> {
    let lc = *apdu.get(4)? as usize;
    let is_prefix = apdu.len() >= 5 + lc
        && apdu[..4] == [0x00, 0xA4, 0x04, 0x00]
        && (5..9).contains(&lc)
        && PIV_AID.starts_with(&apdu[5..5 + lc]);
    is_prefix.then(|| [&[0x00, 0xA4, 0x04, 0x00, 11][..], &PIV_AID, &[0x00]].concat())
}
