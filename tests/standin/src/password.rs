//! Password hashing for the seeded sponsor accounts: PBKDF2-HMAC-SHA256 with a
//! random salt, stored as `pbkdf2-sha256$ITERATIONS$SALT$HASH` (base64).

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Iterations: modest, because the stand-in runs in debug builds in tests.
const ITERATIONS: u32 = 10_000;

/// Hashes a password with a fresh salt.
pub fn hash(password: &str) -> Result<String, getrandom::Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)?;
    let out = derive(password, &salt, ITERATIONS);
    Ok(format!("pbkdf2-sha256${ITERATIONS}${}${}", B64.encode(salt), B64.encode(out)))
}

/// Whether `password` matches a stored hash (false for malformed hashes).
pub fn verify(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(iter), Some(salt), Some(expected), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(iter), Ok(salt), Ok(expected)) = (iter.parse::<u32>(), B64.decode(salt), B64.decode(expected))
    else {
        return false;
    };
    if iter == 0 || expected.len() != 32 {
        return false;
    }
    derive(password, &salt, iter).ct_eq(&expected).into()
}

fn derive(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_accepts_right_and_refuses_wrong_password() {
        let stored = hash("correct horse").expect("hash");
        assert!(verify("correct horse", &stored));
        assert!(!verify("correct horsf", &stored));
    }

    #[test]
    fn verify_refuses_malformed_hashes() {
        for bad in ["", "plain", "pbkdf2-sha256$0$AA$AA", "md5$1$AA$AA", "pbkdf2-sha256$x$y$z"] {
            assert!(!verify("x", bad), "{bad}");
        }
    }
}
