//! X.509 for the card: what a certificate says (subject, validity, role), and when it may be
//! renewed.

pub mod chain;
pub mod csr;
pub mod info;
pub mod pkcs7;
pub mod renewed;
pub mod window;

pub use info::{parse_certificate, CertificateInfo, Role};
pub use window::{
    assess_card, assess_certificate, CardEligibility, Eligibility, NotRenewableReason, PinGate,
};
