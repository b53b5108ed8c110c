//! CSRF: state-changing requests need the session's token.

use crate::util::{meta, tag_with_id, Server};

#[test]
fn select_without_token_is_forbidden_and_changes_nothing() {
    let s = Server::start();
    s.add_card("alice", "CSRF1", 45, 45);
    let mut b = s.signed_in();
    let r = b.post_form("/smartcard/select", &[("card", "CSRF1")]);
    assert_eq!(r.status, 403);
    assert!(tag_with_id(&r.body, "csrf-error").is_some());
    let page = b.get("/smartcard?card=CSRF1");
    assert!(page.body.contains(r#"data-card-serial="CSRF1" data-selected="false""#));
}

#[test]
fn select_with_wrong_or_foreign_token_is_forbidden() {
    let s = Server::start();
    s.add_card("alice", "CSRF2", 45, 45);
    let mut a = s.signed_in();
    let mut other = s.signed_in();
    let foreign = other.csrf();
    assert_ne!(foreign, a.csrf(), "each session has its own token");
    for token in ["wrong", "", foreign.as_str()] {
        let r = a.post_form("/smartcard/select", &[("card", "CSRF2"), ("csrf_token", token)]);
        assert_eq!(r.status, 403, "token {token:?}");
    }
}

#[test]
fn select_accepts_the_token_in_the_header() {
    let s = Server::start();
    s.add_card("alice", "CSRF3", 45, 45);
    let mut b = s.signed_in();
    let csrf = b.csrf();
    let r = b.request(
        "POST",
        "/smartcard/select",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("X-CSRF-Token", &csrf)],
        Some(b"card=CSRF3"),
    );
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/smartcard?card=CSRF3"));
}

#[test]
fn signout_without_token_is_forbidden_and_keeps_the_session() {
    let s = Server::start();
    let mut b = s.signed_in();
    assert_eq!(b.post_form("/signout", &[]).status, 403);
    assert_eq!(b.get("/home").status, 200);
}

#[test]
fn every_signed_in_page_exposes_the_session_token() {
    let s = Server::start();
    s.add_card("alice", "CSRF4", 45, 45);
    let mut b = s.signed_in();
    let token = b.csrf();
    for path in [
        "/home",
        "/smartcard",
        "/smartcard?card=CSRF4",
        "/smartcard/certificates?card=CSRF4",
        "/smartcard/unlock?card=CSRF4",
        "/smartcard/cancel?card=CSRF4",
    ] {
        let page = b.get(path);
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(meta(&page.body, "csrf-token").as_deref(), Some(token.as_str()), "{path}");
    }
}
