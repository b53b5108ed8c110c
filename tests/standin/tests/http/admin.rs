//! The admin JSON API: token required, read views.

use crate::util::Server;

#[test]
fn admin_api_needs_the_token() {
    let s = Server::start();
    let mut b = s.browser();
    for path in ["/admin/api/cards", "/admin/api/issued", "/admin/api/audit", "/admin/api/users"] {
        assert_eq!(b.get(path).status, 401, "{path}");
        let r = b.request("GET", path, &[("Authorization", "Bearer wrong")], None);
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.json()["error"], "admin-token");
    }
    let r = b.request("POST", "/admin/api/cards", &[("Content-Type", "application/json")], Some(b"{}"));
    assert_eq!(r.status, 401);
}

#[test]
fn admin_token_can_be_fixed_and_lists_seeded_users() {
    let s = Server::start_with(&["--admin-token", "fixed-token-1"]);
    assert_eq!(s.admin_token, "fixed-token-1");
    let users = s.admin_get("/admin/api/users");
    let uuids: Vec<&str> =
        users.as_array().expect("array").iter().filter_map(|u| u["uuid"].as_str()).collect();
    assert_eq!(uuids, ["555000000001", "555000000002", "555000000003"]);
}

#[test]
fn admin_create_card_validates_input() {
    let s = Server::start();
    let mut b = s.browser();
    let auth = format!("Bearer {}", s.admin_token);
    let post = |b: &mut crate::util::Browser, body: &str| {
        b.request(
            "POST",
            "/admin/api/cards",
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            Some(body.as_bytes()),
        )
    };
    assert_eq!(post(&mut b, r#"{"user":"zed","authDays":1,"signDays":1}"#).status, 404);
    assert_eq!(post(&mut b, r#"{"user":"alice"}"#).status, 400);
    assert_eq!(post(&mut b, "not json").status, 400);
    let ok = post(&mut b, r#"{"user":"alice","authDays":10,"signDays":-5,"label":"Demo"}"#);
    assert_eq!(ok.status, 201, "{}", ok.body);
    let card = ok.json();
    assert_eq!(card["label"], "Demo");
    assert_eq!(card["serial"].as_str().map(str::len), Some(16), "random token-like serial");
    let listed = s.admin_get("/admin/api/cards");
    assert_eq!(listed[0]["serial"], card["serial"]);
    assert_eq!(listed[0]["user"]["handle"], "alice");
}

#[test]
fn ready_line_and_data_survive_a_restart() {
    let s = Server::start_with(&["--validity-days", "365", "--window-days", "30"]);
    assert_eq!(s.ready["ready"], true);
    assert_eq!(s.ready["windowDays"], 30);
    assert_eq!(s.ready["validityDays"], 365);
    assert!(s.url.starts_with("http://127.0.0.1:"));
    s.add_card("bob", "KEEP1", 45, 45);
    let ca_before = std::fs::read(&s.ca_cert).expect("ca");
    let again = Server::start_in(s.stop(), &[]);
    assert_eq!(std::fs::read(&again.ca_cert).expect("ca"), ca_before, "CA reused");
    assert_eq!(again.admin_get("/admin/api/cards")[0]["serial"], "KEEP1");
}
