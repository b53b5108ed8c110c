//! Sign-in and session rules.

use crate::util::{assert_ids, Server};

#[test]
fn home_without_session_redirects_to_signin() {
    let s = Server::start();
    let r = s.browser().get("/home");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/signin?next=%2Fhome"));
}

#[test]
fn root_redirects_to_signin_then_home() {
    let s = Server::start();
    assert_eq!(s.browser().get("/").header("location"), Some("/signin"));
    assert_eq!(s.signed_in().get("/").header("location"), Some("/home"));
}

#[test]
fn signin_wrong_password_is_refused_without_a_session() {
    let s = Server::start();
    let mut b = s.browser();
    let r = b.sign_in("sponsor1", "wrong-password");
    assert_eq!(r.status, 401);
    assert_ids(&r.body, &["signin-error", "signin-form"]);
    assert!(r.body.contains("The username or password is not right."));
    assert!(!b.cookies.contains_key("cis_session"));
    assert_eq!(b.get("/home").status, 303, "still signed out");
}

#[test]
fn signin_unknown_user_is_refused_like_a_wrong_password() {
    let s = Server::start();
    let r = s.browser().sign_in("nobody", "sponsor1-demo");
    assert_eq!(r.status, 401);
    assert!(r.body.contains("The username or password is not right."));
}

#[test]
fn signin_without_form_token_is_forbidden() {
    let s = Server::start();
    let mut b = s.browser();
    let r = b.post_form("/signin", &[("username", "sponsor1"), ("password", "sponsor1-demo")]);
    assert_eq!(r.status, 403);
    assert!(!b.cookies.contains_key("cis_session"));
}

#[test]
fn signin_sets_a_strict_httponly_session_cookie() {
    let s = Server::start();
    let mut b = s.browser();
    let r = b.sign_in("sponsor1", "sponsor1-demo");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/home"));
    let cookie = r
        .header_all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("cis_session="))
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "no Secure over plain HTTP: {cookie}");
    let home = b.get("/home");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Sam Sponsor"));
}

#[test]
fn signin_follows_local_next_only() {
    let s = Server::start();
    let r = s.browser().sign_in_next("sponsor2", "sponsor2-demo", "/smartcard?card=X");
    assert_eq!(r.header("location"), Some("/smartcard?card=X"));
    let r = s.browser().sign_in_next("sponsor2", "sponsor2-demo", "//evil.example/");
    assert_eq!(r.header("location"), Some("/home"));
}

#[test]
fn signout_ends_the_session() {
    let s = Server::start();
    let mut b = s.signed_in();
    let old_cookie = b.cookies.get("cis_session").cloned().expect("cookie");
    let csrf = b.csrf();
    let r = b.post_form("/signout", &[("csrf_token", &csrf)]);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/signin"));
    assert_eq!(b.get("/home").status, 303);
    // The old cookie value is dead on the server too, not only deleted in the browser.
    let mut replay = s.browser();
    replay.cookies.insert("cis_session".into(), old_cookie);
    assert_eq!(replay.get("/home").status, 303);
}

#[test]
fn post_without_session_is_unauthorised() {
    let s = Server::start();
    let r = s.browser().post_form("/smartcard/select", &[("card", "X"), ("csrf_token", "t")]);
    assert_eq!(r.status, 401);
    assert_ids(&r.body, &["not-signed-in"]);
}

#[test]
fn forged_session_cookie_is_not_a_session() {
    let s = Server::start();
    let mut b = s.browser();
    b.cookies.insert("cis_session".into(), "made-up".into());
    assert_eq!(b.get("/home").status, 303);
}
