//! The test bed's integration tests: one binary, one module per area (ripgrep's layout).
//!
//! They need root (namespaces, bind mounts), pcscd, vsmartcard and SoftHSM installed
//! (`scripts/install-deps.sh`), and the `cis-testbed` binary, which cargo builds for them.

mod cli;
mod piv;
mod readers;
mod schsm;
mod tokens;
