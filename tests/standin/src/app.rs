//! The shared state every request handler sees.

use std::sync::Arc;

use crate::ca::TestCa;
use crate::est::csrattrs::KeyAlgorithm;
use crate::store::Store;
use crate::web::pages::service_menu::ServiceMenu;
use crate::web::session::Sessions;

/// Renewal rules and the dashboard's markup, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// A certificate may be renewed this many days before it expires.
    pub window_days: i64,
    /// Issued certificates are valid this many days.
    pub validity_days: i64,
    /// How Manage Smartcard draws Select Service (`--service-menu`).
    pub service_menu: ServiceMenu,
    /// The key algorithm EST `csrattrs` names (`--csr-key-algorithm`).
    pub csr_key_algorithm: KeyAlgorithm,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            window_days: 90,
            validity_days: 730,
            service_menu: ServiceMenu::default(),
            csr_key_algorithm: KeyAlgorithm::default(),
        }
    }
}

/// Everything the handlers share.
pub struct App {
    /// The records.
    pub store: Store,
    /// The CA that issues renewals.
    pub ca: TestCa,
    /// Signed-in sessions.
    pub sessions: Sessions,
    /// Renewal rules.
    pub policy: Policy,
    /// Bearer token for `/admin/api/*`.
    pub admin_token: String,
    /// Whether cookies get the `Secure` attribute (TLS).
    pub secure_cookies: bool,
    /// `/.well-known/est/cacerts` body, base64 PKCS#7, made once.
    pub cacerts_b64: String,
}

/// Handle to the shared state.
pub type AppState = Arc<App>;
