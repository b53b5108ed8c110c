//! What every handler needs: the configuration and the lazily loaded PKCS#11 module. The
//! renewal's state is not here: the card worker owns it (`crate::worker`).

use crate::config::Config;
use crate::protocol::HostError;
use crate::readers::ReaderRule;
use crate::token::TokenModule;
use std::sync::{Arc, Mutex};

/// Shared by the controller, the handlers and the watcher thread.
pub struct Services {
    /// The validated configuration.
    pub config: Config,
    token: Mutex<Option<Arc<TokenModule>>>,
}

impl Services {
    /// Services over a configuration; nothing is loaded yet, so start-up stays fast.
    pub fn new(config: Config) -> Services {
        Services { config, token: Mutex::new(None) }
    }

    /// The PKCS#11 module, loaded on first use. A failed load is retried next time, because IT
    /// may install the middleware while the browser is open.
    pub fn token(&self) -> Result<Arc<TokenModule>, HostError> {
        let mut slot = self.token.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(module) = slot.as_ref() {
            return Ok(module.clone());
        }
        let module = Arc::new(TokenModule::load(&self.config.pkcs11_module)?);
        *slot = Some(module.clone());
        Ok(module)
    }

    /// The rule that picks the managed reader.
    pub fn reader_rule(&self) -> ReaderRule {
        ReaderRule::from_config(self.config.managed_reader.as_deref())
    }
}
