//! Starting the server: open the data directory (database + CA), build the
//! routes, bind 127.0.0.1, print the ready line, serve until SIGINT/SIGTERM.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;

use crate::app::{App, AppState, Policy};
use crate::store::Store;
use crate::web::html::message_page;
use crate::web::session::{random_token, Sessions};
use crate::{admin, ca, cardadmin, est, pkcs7, web};

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "standin.sqlite3";
/// Name of the CA directory inside the data directory.
pub const CA_DIR: &str = "ca";

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Holds the database and the CA.
    pub data: PathBuf,
    /// TCP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Renewal rules.
    pub policy: Policy,
    /// Admin API token; random if `None`.
    pub admin_token: Option<String>,
    /// Serve HTTPS with a certificate from the stand-in CA.
    pub tls: bool,
}

/// Opens (or creates) the data directory's database and CA.
pub fn open_data(data: &std::path::Path) -> Result<(Store, ca::TestCa), String> {
    std::fs::create_dir_all(data).map_err(|e| format!("{}: {e}", data.display()))?;
    let store = Store::open(&data.join(DB_FILE)).map_err(|e| e.to_string())?;
    let ca = ca::open(&data.join(CA_DIR)).map_err(|e| e.to_string())?;
    Ok((store, ca))
}

/// The whole application's routes.
pub fn router(app: AppState) -> Router {
    web::routes()
        .merge(est::routes())
        .merge(cardadmin::routes())
        .merge(admin::routes())
        .fallback(not_found)
        .layer(middleware::from_fn(log_request))
        .with_state(app)
}

async fn not_found() -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "not-found",
        "There is no page at this address.",
        None,
    )
}

async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    eprintln!("cis-standin: {method} {path} -> {}", resp.status().as_u16());
    resp.into_response()
}

/// Runs the server until a shutdown signal.
pub async fn serve(opts: ServeOptions) -> Result<(), String> {
    let (store, ca) = open_data(&opts.data)?;
    let cacerts = pkcs7::certs_only(&[&ca.cert_der()]).map_err(|e| e.to_string())?;
    let admin_token = match opts.admin_token {
        Some(t) => t,
        None => random_token().map_err(|e| e.to_string())?,
    };
    let tls = if opts.tls { Some(crate::tls::acceptor(&ca, &opts.data)?) } else { None };
    let ca_cert = ca.cert_pem_path();
    let app = Arc::new(App {
        store,
        ca,
        sessions: Sessions::default(),
        policy: opts.policy,
        admin_token: admin_token.clone(),
        secure_cookies: tls.is_some(),
        cacerts_b64: est::mime_base64(&cacerts),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port))
        .await
        .map_err(|e| format!("binding 127.0.0.1:{}: {e}", opts.port))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://127.0.0.1:{port}");
    let ready = json!({
        "ready": true,
        "url": url,
        "port": port,
        "tls": tls.is_some(),
        "tlsCert": tls.as_ref().map(|(_, pem)| pem.display().to_string()),
        "data": opts.data.display().to_string(),
        "caCert": ca_cert.display().to_string(),
        "estBase": format!("{url}/.well-known/est"),
        "adminToken": admin_token,
        "windowDays": opts.policy.window_days,
        "validityDays": opts.policy.validity_days,
        "pid": std::process::id(),
    });
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{ready}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    let routes = router(app);
    match tls {
        Some((acceptor, _)) => {
            let listener = crate::tls::TlsListener::start(listener, acceptor).map_err(|e| e.to_string())?;
            axum::serve(listener, routes).with_graceful_shutdown(shutdown()).await
        }
        None => axum::serve(listener, routes).with_graceful_shutdown(shutdown()).await,
    }
    .map_err(|e| e.to_string())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
