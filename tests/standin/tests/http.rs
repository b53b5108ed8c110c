//! HTTP tests against the real `cis-standin` binary: each test starts its own
//! server on a free port with a fresh data directory (see `http/util.rs`).

#[path = "http/util.rs"]
mod util;

#[path = "http/admin.rs"]
mod admin;
#[path = "http/card_admin.rs"]
mod card_admin;
#[path = "http/csrf.rs"]
mod csrf;
#[path = "http/est_csrattrs.rs"]
mod est_csrattrs;
#[path = "http/est_happy.rs"]
mod est_happy;
#[path = "http/est_refusals.rs"]
mod est_refusals;
#[path = "http/pages.rs"]
mod pages;
#[path = "http/provision.rs"]
mod provision;
#[path = "http/session.rs"]
mod session;
#[path = "http/tls.rs"]
mod tls;
