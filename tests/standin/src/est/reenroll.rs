//! The renewal rules of `simplereenroll`, in order: a valid P-384 CSR; one
//! role; a card the stand-in knows whose current certificate of that role has
//! the CSR's subject; one renewal per role; the renewal window; then issue.

use axum::http::StatusCode;

use super::refusal::Refusal;
use crate::app::App;
use crate::ca::{self, IssueRequest};
use crate::certinfo::CertInfo;
use crate::clock::{self, DAY};
use crate::csr;
use crate::role::Role;
use crate::store::{CertRecord, NewAudit, NewCert};
use crate::web::session::Session;

/// Clock skew allowance put before the issued certificate's start.
const BACKDATE_SECONDS: i64 = 300;

/// A certificate handed out.
#[derive(Debug)]
pub struct Issued {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Its serial, hex.
    pub serial: String,
    /// True when this repeats an earlier answer to a retried request.
    pub repeated: bool,
}

/// Runs the rules for one request; fills `audit` with what becomes known.
pub fn reenroll(
    app: &App,
    session: &Session,
    csr_der: &[u8],
    path_role: Option<Role>,
    now: i64,
    audit: &mut NewAudit,
) -> Result<Issued, Refusal> {
    let csr = csr::check(csr_der)?;
    audit.subject = Some(csr.subject.clone());
    let role = pick_role(csr.role, path_role)?;
    audit.role = Some(role.as_str().to_owned());

    let current = find_current(app, session, &csr.subject_der, &csr.subject, role)?;
    let card = app
        .store
        .card_by_id(current.card_id)
        .map_err(Refusal::internal)?
        .ok_or_else(|| Refusal::internal("card of a certificate is missing"))?;
    audit.card_serial = Some(card.serial.clone());

    let window = app.policy.window_days;
    let window_opens = current.not_after - window * DAY;
    if current.source == "renewed" && now < window_opens {
        if current.public_key == csr.public_key_sec1 {
            return Ok(Issued { der: current.der.clone(), serial: current.serial.clone(), repeated: true });
        }
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "already-renewed",
            format!(
                "The {role} certificate of card {card} was already renewed on {date} \
                 (serial {serial}); one request per role.",
                card = card.serial,
                date = clock::long_date(current.created_at),
                serial = current.serial
            ),
        ));
    }
    if current.public_key == csr.public_key_sec1 {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "key-reused",
            "The CSR reuses the key of the current certificate; renewal needs a new key made on the card.",
        ));
    }
    if now >= current.not_after {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "expired",
            format!(
                "The {role} certificate of card {card} expired on {date}; an expired certificate \
                 cannot be renewed, the card needs new certificates from the registration authority.",
                card = card.serial,
                date = clock::long_date(current.not_after)
            ),
        ));
    }
    if now < window_opens || now < current.not_before {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-due",
            format!(
                "The {role} certificate of card {card} expires on {expiry} and is not due for \
                 renewal until {opens} ({window} days before expiry).",
                card = card.serial,
                expiry = clock::long_date(current.not_after),
                opens = clock::long_date(window_opens)
            ),
        ));
    }

    let der = ca::issue(
        &app.ca,
        &IssueRequest {
            subject_der: csr.subject_der.clone(),
            public_key_sec1: csr.public_key_sec1.clone(),
            role,
            not_before: now - BACKDATE_SECONDS,
            not_after: now + app.policy.validity_days * DAY,
        },
    )
    .map_err(Refusal::internal)?;
    let info = CertInfo::parse(&der).map_err(Refusal::internal)?;
    app.store.record_renewal(&current, &NewCert { info: &info, role }, session.sponsor_id).map_err(|e| {
        match e {
            crate::store::StoreError::NotFound(_) => Refusal::new(
                StatusCode::CONFLICT,
                "already-renewed",
                format!("The {role} certificate was renewed by another request just now."),
            ),
            other => Refusal::internal(other),
        }
    })?;
    Ok(Issued { serial: info.serial, der, repeated: false })
}

fn pick_role(from_csr: Option<Role>, from_path: Option<Role>) -> Result<Role, Refusal> {
    match (from_csr, from_path) {
        (Some(a), Some(b)) if a != b => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "role-mismatch",
            format!("The CSR's key usage asks for {a} but the URL says {b}."),
        )),
        (Some(r), _) | (None, Some(r)) => Ok(r),
        (None, None) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "role-missing",
            "Say which certificate this renews: put keyUsage digitalSignature (authentication) \
             or nonRepudiation (signing) in the CSR's extensionRequest, or post to \
             /.well-known/est/authentication/simplereenroll or /.well-known/est/signing/simplereenroll.",
        )),
    }
}

/// The current certificate this request renews.
fn find_current(
    app: &App,
    session: &Session,
    subject_der: &[u8],
    subject: &str,
    role: Role,
) -> Result<CertRecord, Refusal> {
    let mut candidates = app.store.current_certs_by_subject(subject_der, role).map_err(Refusal::internal)?;
    if candidates.len() > 1 {
        // Several cards of the same person: the one the sponsor selected wins.
        let selected =
            session.selected_card.as_deref().and_then(|s| app.store.card_by_serial(s).ok().flatten());
        if let Some(card) = selected {
            candidates.retain(|c| c.card_id == card.id);
        }
    }
    match candidates.len() {
        1 => Ok(candidates.remove(0)),
        0 => Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-subject",
            format!(
                "No card known to the stand-in has a current {role} certificate with subject \
                 \"{subject}\"; the CSR subject must be copied from the card's certificate."
            ),
        )),
        n => Err(Refusal::new(
            StatusCode::CONFLICT,
            "ambiguous-card",
            format!(
                "{n} cards have a current {role} certificate with this subject; select the card \
                 on Manage Smartcard first."
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    //! The rules, driven directly with CSRs built by `x509-cert`'s
    //! `RequestBuilder` (the library the host uses), and a clock we choose.

    use std::str::FromStr;

    use der::{Decode, Encode};
    use p384::ecdsa::{DerSignature, SigningKey};
    use p384::elliptic_curve::Generate;
    use x509_cert::builder::{Builder, RequestBuilder};
    use x509_cert::name::Name;

    use super::*;
    use crate::app::Policy;
    use crate::store::{Store, User};
    use crate::web::session::Sessions;

    struct Fixture {
        _dir: tempfile::TempDir,
        app: App,
        session: Session,
        user: User,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db.sqlite3")).expect("store");
        let ca = ca::open(&dir.path().join("ca")).expect("ca");
        let sessions = Sessions::default();
        let session = sessions.create(1, "sponsor1", "Sam Sponsor").expect("session");
        let user = store.user_by_handle_or_uuid("alice").expect("query").expect("alice");
        let app = App {
            store,
            ca,
            sessions,
            policy: Policy::default(),
            admin_token: "t".into(),
            secure_cookies: false,
            cacerts_b64: String::new(),
        };
        Fixture { _dir: dir, app, session, user }
    }

    fn point(key: &SigningKey) -> Vec<u8> {
        key.verifying_key().to_sec1_point(false).as_bytes().to_vec()
    }

    fn subject_der(f: &Fixture) -> Vec<u8> {
        Name::from_str(&f.user.subject).and_then(|n| n.to_der()).expect("subject")
    }

    /// Registers card `serial` whose `role` certificate is for `key` and
    /// expires `days` after `now`; returns nothing (the store has it).
    fn card_with(f: &Fixture, serial: &str, role: Role, key: &SigningKey, now: i64, days: i64) {
        let (not_before, not_after) = crate::enrol::validity_for(now, days);
        let der = ca::issue(
            &f.app.ca,
            &IssueRequest {
                subject_der: subject_der(f),
                public_key_sec1: point(key),
                role,
                not_before,
                not_after,
            },
        )
        .expect("issue");
        crate::enrol::register_certificates(&f.app.store, &f.app.ca, &f.user, serial, "L", &[der])
            .expect("register");
    }

    fn csr(f: &Fixture, key: &SigningKey, role: Option<Role>) -> Vec<u8> {
        let name = Name::from_der(&subject_der(f)).expect("name");
        let mut b = RequestBuilder::new(name).expect("builder");
        if let Some(r) = role {
            b.add_extension(&r.key_usage()).expect("key usage");
        }
        b.build::<_, DerSignature>(key).expect("csr").to_der().expect("der")
    }

    fn run(f: &Fixture, der: &[u8], now: i64) -> Result<Issued, Refusal> {
        reenroll(&f.app, &f.session, der, None, now, &mut NewAudit::default())
    }

    #[test]
    fn reenroll_issues_for_a_due_certificate_from_a_rust_built_csr() {
        let f = fixture();
        let now = clock::now();
        card_with(&f, "C1", Role::Authentication, &SigningKey::generate(), now, 45);
        let new_key = SigningKey::generate();
        let issued = run(&f, &csr(&f, &new_key, Some(Role::Authentication)), now).expect("issued");
        let info = CertInfo::parse(&issued.der).expect("cert");
        assert_eq!(info.public_key_sec1, point(&new_key));
        assert_eq!(info.subject_der, subject_der(&f));
        assert_eq!(info.role, Some(Role::Authentication));
        assert_eq!(info.not_after, now + 730 * DAY);
        assert!(!issued.repeated);
    }

    #[test]
    fn reenroll_refuses_the_current_key() {
        let f = fixture();
        let now = clock::now();
        let old = SigningKey::generate();
        card_with(&f, "C2", Role::Signing, &old, now, 45);
        let r = run(&f, &csr(&f, &old, Some(Role::Signing)), now).expect_err("refused");
        assert_eq!((r.status, r.code), (StatusCode::UNPROCESSABLE_ENTITY, "key-reused"));
    }

    #[test]
    fn reenroll_window_edges() {
        let f = fixture();
        let now = clock::now();
        card_with(&f, "C3", Role::Authentication, &SigningKey::generate(), now, 90);
        let der = csr(&f, &SigningKey::generate(), Some(Role::Authentication));
        // One second before the window opens: not due; at expiry: expired; inside: issued.
        let opens = now; // 90 days before notAfter
        assert_eq!(run(&f, &der, opens - 1).expect_err("early").code, "not-due");
        assert_eq!(run(&f, &der, now + 90 * DAY).expect_err("late").code, "expired");
        assert!(run(&f, &der, opens).is_ok(), "the window's first second is inside");
    }

    #[test]
    fn reenroll_role_rules() {
        let f = fixture();
        let now = clock::now();
        card_with(&f, "C4", Role::Authentication, &SigningKey::generate(), now, 45);
        let key = SigningKey::generate();
        let bare = csr(&f, &key, None);
        assert_eq!(run(&f, &bare, now).expect_err("no role").code, "role-missing");
        let labelled =
            reenroll(&f.app, &f.session, &bare, Some(Role::Authentication), now, &mut NewAudit::default());
        assert!(labelled.is_ok());
        // The card has no current signing certificate with this subject.
        let sign = csr(&f, &SigningKey::generate(), Some(Role::Signing));
        assert_eq!(run(&f, &sign, now).expect_err("no signing cert").code, "unknown-subject");
    }

    #[test]
    fn reenroll_fills_the_audit_record() {
        let f = fixture();
        let now = clock::now();
        card_with(&f, "C5", Role::Signing, &SigningKey::generate(), now, 300);
        let mut audit = NewAudit::default();
        let der = csr(&f, &SigningKey::generate(), Some(Role::Signing));
        let r = reenroll(&f.app, &f.session, &der, None, now, &mut audit).expect_err("not due");
        assert_eq!(r.code, "not-due");
        assert_eq!(audit.card_serial.as_deref(), Some("C5"));
        assert_eq!(audit.role.as_deref(), Some("signing"));
        assert!(audit.subject.as_deref().is_some_and(|s| s.contains("Alice Example")));
    }
}
