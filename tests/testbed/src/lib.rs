//! cis-renew's test bed: virtual readers and cards, SoftHSM tokens and a test CA.
//!
//! - [`Pcscd`]: a private pcscd with two vpcd readers ([`READERS`]); vicc cards go in and out.
//! - [`SoftHsm`], [`provision`], [`inspect`]: a SoftHSM token per test, provisioned like a
//!   smartcard with an authentication and a signing key pair and certificates.
//! - [`TestCa`]: a P-384 software CA that issues those certificates.
//! - [`piv`]: the PIV test card (`cis-piv-card`): provisioning, insertion, independent checks.
//! - [`schsm`]: a virtual SmartCard-HSM that OpenSC drives over APDUs in a vpcd reader.
//!
//! Parts that need process-global state (libpcsclite's socket name, SoftHSM's config) run in a
//! child `cis-testbed` process; see [`testbed_bin`] for how it is found.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ca;
pub mod error;
pub mod piv;
pub mod probe;
pub mod readers;
pub mod schsm;
pub mod token;
pub mod util;

pub use ca::{cert_info, subject_der, CertInfo, IssueRequest, Role, TestCa};
pub use error::{Error, Result};
pub use probe::ReaderStatus;
pub use readers::{Pcscd, READERS};
pub use token::{
    inspect, provision, CardSpec, CertSpec, PairAlgorithm, PairCheck, ProvisionedCard, ProvisionedCert,
    SoftHsm, TokenContents, TokenObject, SOFTHSM_MODULE,
};
pub use util::testbed_bin;
