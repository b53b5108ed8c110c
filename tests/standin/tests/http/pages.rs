//! Every page renders the elements the leaflet names, under the ids the
//! README promises.

use crate::util::{assert_ids, attr_value, meta, tag_with_id, Server};

#[test]
fn signin_page_has_the_form() {
    let s = Server::start();
    let r = s.browser().get("/signin");
    assert_eq!(r.status, 200);
    assert_ids(&r.body, &["signin-form", "username", "password", "signin-button", "main-content"]);
    assert!(r.body.contains(r#"<body data-page="signin">"#));
    assert!(meta(&r.body, "csrf-token").is_none(), "no session, no CSRF meta");
    assert!(r
        .header("content-security-policy")
        .is_some_and(|c| c.contains("frame-src 'self' chrome-extension:")));
}

#[test]
fn home_has_manage_smartcard() {
    let s = Server::start();
    let r = s.signed_in().get("/home");
    assert_ids(&r.body, &["manage-smartcard", "signed-in-as", "signout-form", "signout-button"]);
    assert_eq!(attr_value(&r.body, r#"id="manage-smartcard""#, "href").as_deref(), Some("/smartcard"));
    assert!(r.body.contains(">Manage Smartcard</a>"));
    assert_eq!(meta(&r.body, "est-base").as_deref(), Some("/.well-known/est"));
    assert_eq!(meta(&r.body, "sponsor").as_deref(), Some("sponsor1"));
}

#[test]
fn manage_smartcard_without_card_asks_for_it_and_lists_cards() {
    let s = Server::start();
    s.add_card("bob", "LIST1", 45, 45);
    let r = s.signed_in().get("/smartcard");
    assert_eq!(r.status, 200);
    assert!(r.body.contains(r#"data-page="manage-smartcard""#));
    assert_ids(
        &r.body,
        &["reader-prompt", "card-lookup-form", "card-serial", "card-lookup-button", "known-cards"],
    );
    assert!(r.body.contains("second smartcard reader"));
    assert!(r.body.contains(r#"<tr data-card-serial="LIST1">"#));
    assert!(r.body.contains("Bob Example"));
    assert!(tag_with_id(&r.body, "smartcard-details").is_none());
}

#[test]
fn manage_smartcard_shows_smartcard_details_of_the_card() {
    let s = Server::start();
    s.add_card("alice", "DET1", 45, 400);
    s.add_card("alice", "DET2", 400, 400);
    let r = s.signed_in().get("/smartcard?card=DET1");
    assert_eq!(r.status, 200);
    assert_ids(
        &r.body,
        &[
            "smartcard-details",
            "smartcard-details-heading",
            "user-details",
            "user-name",
            "user-uuid",
            "user-job-role",
            "user-organisation",
            "card-list",
            "selected-card",
            "select-service",
            "service-menu",
            "service-unlock",
            "service-cancel",
            "service-view-certificates",
        ],
    );
    assert!(r.body.contains(">Smartcard Details</h2>"));
    assert!(r.body.contains(r#"<dd id="user-uuid">555000000001</dd>"#));
    let details = tag_with_id(&r.body, "smartcard-details").expect("details");
    assert!(
        details.contains(r#"data-card-serial="DET1""#)
            && details.contains(r#"data-user-uuid="555000000001""#)
    );
    // Both of Alice's cards are listed; the one in the reader is marked.
    assert!(r.body.contains(r#"data-card-serial="DET1" data-selected="false" data-in-reader="true""#));
    assert!(r.body.contains(r#"data-card-serial="DET2" data-selected="false" data-in-reader="false""#));
    assert_eq!(r.body.matches(r#"class="card-select-button"#).count(), 2);
    // Expiry cells: authentication due in 45 days, signing not due.
    assert!(r.body.contains(r#"data-cert-role="authentication""#));
    assert!(r.body.contains(r#"data-status="due""#) && r.body.contains(r#"data-status="valid""#));
    // Select Service is disabled until a card is selected; the menu is a hidden ARIA menu.
    let button = tag_with_id(&r.body, "select-service").expect("button");
    assert!(button.contains("disabled") && button.contains(r#"aria-haspopup="menu""#));
    assert!(
        button.contains(r#"aria-controls="service-menu""#) && button.contains(r#"aria-expanded="false""#)
    );
    let menu = tag_with_id(&r.body, "service-menu").expect("menu");
    assert!(menu.contains(r#"role="menu""#) && menu.contains("hidden"));
    assert_eq!(r.body.matches(r#"role="menuitem""#).count(), 3);
    assert!(!r.body.contains("Renew Certificate"), "Renew Certificate is the extension's to add");
    assert!(tag_with_id(&r.body, "deselect-card").is_none());
}

#[test]
fn select_then_deselect_a_card() {
    let s = Server::start();
    s.add_card("alice", "SEL1", 45, 45);
    let mut b = s.signed_in();
    let csrf = b.csrf();
    let r = b.post_form("/smartcard/select", &[("csrf_token", &csrf), ("card", "SEL1"), ("return", "SEL1")]);
    assert_eq!(r.status, 303);
    let page = b.get("/smartcard?card=SEL1");
    assert!(page.body.contains(
        r#"data-card-serial="SEL1" data-selected="true" data-in-reader="true" aria-current="true""#
    ));
    let selected = tag_with_id(&page.body, "selected-card").expect("selected-card");
    assert!(selected.contains(r#"data-card-serial="SEL1""#));
    assert_ids(&page.body, &["deselect-card"]);
    assert!(!tag_with_id(&page.body, "select-service").expect("button").contains("disabled"));
    assert!(tag_with_id(&page.body, "service-menu").expect("menu").contains(r#"data-card-serial="SEL1""#));
    assert!(page.body.contains(r#"href="/smartcard/certificates?card=SEL1""#));

    let r = b.post_form("/smartcard/deselect", &[("csrf_token", &csrf), ("return", "SEL1")]);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/smartcard?card=SEL1"));
    let page = b.get("/smartcard?card=SEL1");
    assert!(page.body.contains(r#"data-selected="false""#));
    assert!(tag_with_id(&page.body, "deselect-card").is_none());
    assert!(tag_with_id(&page.body, "select-service").expect("button").contains("disabled"));
}

#[test]
fn select_unknown_card_is_not_found() {
    let s = Server::start();
    let mut b = s.signed_in();
    let csrf = b.csrf();
    let r = b.post_form("/smartcard/select", &[("csrf_token", &csrf), ("card", "NOPE")]);
    assert_eq!(r.status, 404);
}

#[test]
fn unknown_card_serial_says_so() {
    let s = Server::start();
    let r = s.signed_in().get("/smartcard?card=NOSUCHCARD");
    assert_eq!(r.status, 404);
    let alert = tag_with_id(&r.body, "card-not-found").expect("alert");
    assert!(alert.contains(r#"role="alert""#) && alert.contains(r#"data-card-serial="NOSUCHCARD""#));
}

#[test]
fn card_serial_is_escaped() {
    let s = Server::start();
    let r = s.signed_in().get("/smartcard?card=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    assert_eq!(r.status, 404);
    assert!(!r.body.contains("<script>alert(1)"));
    assert!(r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[test]
fn service_pages_render_for_a_card() {
    let s = Server::start();
    s.add_card("carol", "SVC1", -1, 45);
    let mut b = s.signed_in();
    let r = b.get("/smartcard/certificates?card=SVC1");
    assert_eq!(r.status, 200);
    assert!(r.body.contains(r#"data-page="view-certificates""#));
    assert_ids(&r.body, &["certificate-list", "certificates-card", "back-to-smartcard"]);
    assert!(
        r.body.contains(r#"<tr data-cert-role="authentication""#)
            && r.body.contains(r#"<tr data-cert-role="signing""#)
    );
    assert!(r.body.contains(r#"data-status="expired""#), "auth expired yesterday");
    for (path, id) in [
        ("/smartcard/unlock?card=SVC1", "unlock-smartcard-notice"),
        ("/smartcard/cancel?card=SVC1", "cancel-smartcard-notice"),
    ] {
        let r = b.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert!(tag_with_id(&r.body, id).expect(id).contains(r#"data-card-serial="SVC1""#));
    }
    assert_eq!(b.get("/smartcard/certificates?card=NOPE").status, 404);
}

#[test]
fn service_pages_need_a_session() {
    let s = Server::start();
    let r = s.browser().get("/smartcard/certificates?card=A");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/signin?next=%2Fsmartcard%2Fcertificates%3Fcard%3DA"));
}

#[test]
fn static_assets_have_their_types() {
    let s = Server::start();
    let mut b = s.browser();
    let css = b.get("/static/cis.css");
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.body.contains("#005eb8"), "NHS blue");
    let js = b.get("/static/cis.js");
    assert_eq!(js.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert!(js.body.contains("service-menu"));
    assert_eq!(b.get("/no/such/page").status, 404);
}
