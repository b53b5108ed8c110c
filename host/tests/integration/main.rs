//! Integration tests: the real `cis-renew-host` binary, started as a browser starts it, against
//! the real test bed (pcscd + vpcd readers + vicc cards, SoftHSM tokens).
//!
//! One test binary with a module per area (as ripgrep does).

mod bed;
mod util;

mod cardshapes;
mod catalogue;
mod cli;
mod config;
mod lock;
mod opensc;
mod piv;
mod pki;
mod protocol;
mod recovery;
mod renewal;
mod status;
mod trust;
mod watch;
mod worker;
