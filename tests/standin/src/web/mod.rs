//! The dashboard web pages: routes, sessions, HTML and static assets.

pub mod assets;
pub mod auth;
pub mod html;
pub mod pages;
pub mod session;

use axum::routing::{get, post};
use axum::Router;

use crate::app::AppState;
use pages::{home, services, signin, smartcard};

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::root))
        .route("/signin", get(signin::show).post(signin::submit))
        .route("/signout", post(signin::signout))
        .route("/home", get(home::show))
        .route("/smartcard", get(smartcard::show))
        .route("/smartcard/select", post(smartcard::select))
        .route("/smartcard/deselect", post(smartcard::deselect))
        .route("/smartcard/certificates", get(services::certificates))
        .route("/smartcard/unlock", get(services::unlock))
        .route("/smartcard/cancel", get(services::cancel))
        .route("/static/cis.css", get(assets::css))
        .route("/static/cis.js", get(assets::js))
}
