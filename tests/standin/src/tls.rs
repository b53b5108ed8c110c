//! HTTPS (not yet supported: `--tls` is refused with a clear message).

use std::path::Path;

/// Would make the TLS acceptor; refuses for now.
pub fn check_supported(_ca: &crate::ca::TestCa, _data: &Path) -> Result<(), String> {
    Err("--tls is not supported by this build yet".into())
}
