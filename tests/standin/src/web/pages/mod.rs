//! The dashboard's pages, one module per page group.

pub mod home;
pub mod service_menu;
pub mod services;
pub mod signin;
pub mod smartcard;

use crate::clock;

/// `valid`, `due` (within the renewal window) or `expired`.
pub fn cert_status(not_after: i64, now: i64, window_days: i64) -> &'static str {
    if now >= not_after {
        "expired"
    } else if now >= not_after - window_days * clock::DAY {
        "due"
    } else {
        "valid"
    }
}

/// The tag shown beside an expiry date.
pub fn status_tag(status: &str) -> &'static str {
    match status {
        "expired" => r#" <strong class="tag expired">Expired</strong>"#,
        "due" => r#" <strong class="tag warning">Due for renewal</strong>"#,
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_status_splits_at_window_and_expiry() {
        let d = clock::DAY;
        assert_eq!(cert_status(100 * d, 0, 90), "valid");
        assert_eq!(cert_status(100 * d, 10 * d, 90), "due");
        assert_eq!(cert_status(100 * d, 100 * d, 90), "expired");
    }
}
