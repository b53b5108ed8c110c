//! Start-up as a native-messaging host: load the config, check the caller, say hello, serve.

use crate::caller::Caller;
use crate::config::Config;
use crate::controller::Controller;
use crate::logging;
use crate::protocol::message::{hello, reply_error};
use crate::protocol::{ErrorCode, HostError, Outbox, RequestId};
use crate::services::Services;
use std::sync::Arc;

/// Runs the host for a browser; returns the process exit code.
pub fn run_native_host(args: &[String]) -> i32 {
    let (outbox, writer) = Outbox::start(std::io::stdout());
    let code = match start(args) {
        Ok(services) => {
            outbox.send(hello());
            let mut controller = Controller::new(services, outbox.clone());
            controller.serve(&mut std::io::stdin().lock());
            0
        }
        Err(error) => {
            log::error!("refused to start: {error}");
            outbox.send(reply_error(&RequestId::null(), &error));
            1
        }
    };
    writer.close();
    code
}

fn start(args: &[String]) -> Result<Arc<Services>, HostError> {
    let (config, source) = match Config::load() {
        Ok(loaded) => loaded,
        Err(error) => {
            // Log where support staff will look, even though the config could not say where.
            logging::init(&Config::default());
            return Err(error);
        }
    };
    logging::init(&config);
    log::info!("cis-renew-host {} started; config: {source:?}", env!("CARGO_PKG_VERSION"));
    let caller = Caller::from_args(args);
    match &caller {
        Some(caller) if caller.is_allowed(&config.allowed_origins) => {
            log::info!("caller {}", caller.identity());
            Ok(Arc::new(Services::new(config)))
        }
        Some(caller) => Err(HostError::new(
            ErrorCode::OriginNotAllowed,
            format!("The extension {} is not allowed to use this host.", caller.identity()),
        )),
        None => Err(HostError::new(
            ErrorCode::OriginNotAllowed,
            "No calling extension was named. Browsers start this host; people can run 'cis-renew-host help'.",
        )),
    }
}
