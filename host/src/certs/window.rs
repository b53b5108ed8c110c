//! The renewal window: a certificate may be renewed when it expires within the window (90 days
//! by default) and has not expired. A card may be renewed when at least one certificate is due
//! and none has expired (an expired certificate needs a registration authority in person).

use super::info::CertificateInfo;
use time::{Duration, OffsetDateTime};

/// Where one certificate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eligibility {
    /// Within the window: may be renewed now.
    Due,
    /// Too early: may be renewed from this instant.
    NotDue {
        /// Start of the window.
        from: OffsetDateTime,
    },
    /// Already expired.
    Expired,
}

/// Assesses one certificate at `now`. Expiry exactly now counts as expired; exactly `window`
/// ahead counts as due.
pub fn assess_certificate(now: OffsetDateTime, not_after: OffsetDateTime, window_days: u32) -> Eligibility {
    let left = not_after - now;
    let window = Duration::days(i64::from(window_days));
    if left <= Duration::ZERO {
        Eligibility::Expired
    } else if left <= window {
        Eligibility::Due
    } else {
        Eligibility::NotDue { from: not_after - window }
    }
}

/// Why a card cannot be renewed; the names are a contract with the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRenewableReason {
    /// The card holds no certificate.
    NoCertificates,
    /// No certificate is within the window yet.
    NotDue,
    /// A certificate has expired: renewal needs a registration authority in person.
    Expired,
    /// The passcode is blocked: unlock the card first.
    PinLocked,
    /// The card's passcode was never set.
    PinNotInitialized,
}

impl NotRenewableReason {
    /// The reason on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            NotRenewableReason::NoCertificates => "NO_CERTIFICATES",
            NotRenewableReason::NotDue => "NOT_DUE",
            NotRenewableReason::Expired => "EXPIRED",
            NotRenewableReason::PinLocked => "PIN_LOCKED",
            NotRenewableReason::PinNotInitialized => "PIN_NOT_INITIALIZED",
        }
    }

    /// A sentence for people.
    pub fn describe(self) -> &'static str {
        match self {
            NotRenewableReason::NoCertificates => "The card holds no certificates.",
            NotRenewableReason::NotDue => "No certificate on the card is due for renewal yet.",
            NotRenewableReason::Expired => {
                "A certificate on the card has expired; the user must see a registration authority in person."
            }
            NotRenewableReason::PinLocked => "The card's passcode is locked; unlock the card first.",
            NotRenewableReason::PinNotInitialized => "The card's passcode has not been set.",
        }
    }
}

/// Where a whole card stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardEligibility {
    /// Whether Renew Certificate may be offered.
    pub renewable: bool,
    /// Why not, when not.
    pub reason: Option<NotRenewableReason>,
    /// When the card becomes renewable, for `NOT_DUE`.
    pub renewable_from: Option<OffsetDateTime>,
}

/// PIN facts that gate renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinGate {
    /// The PIN is blocked.
    pub locked: bool,
    /// The PIN was never set.
    pub not_initialized: bool,
}

/// Assesses a card: certificate facts first (they don't change by unlocking), then the PIN.
pub fn assess_card(
    now: OffsetDateTime,
    certificates: &[CertificateInfo],
    window_days: u32,
    pin: PinGate,
) -> CardEligibility {
    let not_renewable =
        |reason, renewable_from| CardEligibility { renewable: false, reason: Some(reason), renewable_from };
    if certificates.is_empty() {
        return not_renewable(NotRenewableReason::NoCertificates, None);
    }
    let verdicts: Vec<Eligibility> =
        certificates.iter().map(|c| assess_certificate(now, c.not_after, window_days)).collect();
    if verdicts.contains(&Eligibility::Expired) {
        return not_renewable(NotRenewableReason::Expired, None);
    }
    if !verdicts.contains(&Eligibility::Due) {
        let earliest = verdicts
            .iter()
            .filter_map(|v| match v {
                Eligibility::NotDue { from } => Some(*from),
                _ => None,
            })
            .min();
        return not_renewable(NotRenewableReason::NotDue, earliest);
    }
    if pin.not_initialized {
        return not_renewable(NotRenewableReason::PinNotInitialized, None);
    }
    if pin.locked {
        return not_renewable(NotRenewableReason::PinLocked, None);
    }
    CardEligibility { renewable: true, reason: None, renewable_from: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::Role;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-25 12:00:00 UTC);
    const OPEN: PinGate = PinGate { locked: false, not_initialized: false };

    fn certificate(not_after: OffsetDateTime) -> CertificateInfo {
        CertificateInfo {
            role: Role::Authentication,
            subject: "CN=Test".into(),
            issuer: "CN=CA".into(),
            subject_der: Vec::new(),
            serial: "01".into(),
            not_before: not_after - Duration::days(730),
            not_after,
            public_key_der: Vec::new(),
        }
    }

    #[test]
    fn assess_certificate_at_the_window_edges() {
        let cases = [
            (Duration::days(90), Eligibility::Due),
            (
                Duration::days(90) + Duration::seconds(1),
                Eligibility::NotDue { from: NOW + Duration::seconds(1) },
            ),
            (Duration::days(45), Eligibility::Due),
            (Duration::seconds(1), Eligibility::Due),
            (Duration::ZERO, Eligibility::Expired),
            (-Duration::seconds(1), Eligibility::Expired),
        ];
        for (left, expected) in cases {
            assert_eq!(assess_certificate(NOW, NOW + left, 90), expected, "left {left}");
        }
    }

    #[test]
    fn assess_certificate_uses_configured_window() {
        assert_eq!(
            assess_certificate(NOW, NOW + Duration::days(31), 30),
            Eligibility::NotDue { from: NOW + Duration::days(1) }
        );
        assert_eq!(assess_certificate(NOW, NOW + Duration::days(30), 30), Eligibility::Due);
    }

    #[test]
    fn assess_card_reasons_in_order() {
        let due = certificate(NOW + Duration::days(45));
        let later = certificate(NOW + Duration::days(400));
        let expired = certificate(NOW - Duration::seconds(1));
        let locked = PinGate { locked: true, not_initialized: false };
        let cases: Vec<(Vec<CertificateInfo>, PinGate, Option<NotRenewableReason>)> = vec![
            (vec![], OPEN, Some(NotRenewableReason::NoCertificates)),
            (vec![due.clone(), due.clone()], OPEN, None),
            (vec![due.clone(), later.clone()], OPEN, None),
            (vec![later.clone(), later.clone()], OPEN, Some(NotRenewableReason::NotDue)),
            (vec![due.clone(), expired.clone()], OPEN, Some(NotRenewableReason::Expired)),
            (vec![expired.clone()], locked, Some(NotRenewableReason::Expired)),
            (vec![due.clone()], locked, Some(NotRenewableReason::PinLocked)),
            (vec![later.clone()], locked, Some(NotRenewableReason::NotDue)),
            (
                vec![due.clone()],
                PinGate { locked: false, not_initialized: true },
                Some(NotRenewableReason::PinNotInitialized),
            ),
        ];
        for (certificates, pin, reason) in cases {
            let verdict = assess_card(NOW, &certificates, 90, pin);
            assert_eq!(verdict.reason, reason, "{certificates:?} {pin:?}");
            assert_eq!(verdict.renewable, reason.is_none());
        }
    }

    #[test]
    fn assess_card_not_due_gives_earliest_window_start() {
        let soon = certificate(NOW + Duration::days(100));
        let later = certificate(NOW + Duration::days(400));
        let verdict = assess_card(NOW, &[later, soon], 90, OPEN);
        assert_eq!(verdict.renewable_from, Some(NOW + Duration::days(10)));
    }
}
