//! Any frame payload through request parsing and dispatch, with no card and no PC/SC service:
//! every payload is answered, nothing panics.
#![no_main]

use cis_renew_host::config::Config;
use cis_renew_host::controller::Controller;
use cis_renew_host::protocol::Outbox;
use cis_renew_host::services::Services;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

fn services() -> Arc<Services> {
    static SERVICES: OnceLock<Arc<Services>> = OnceLock::new();
    SERVICES
        .get_or_init(|| {
            // No PC/SC service and no PKCS#11 module: the fuzzer explores the input paths only.
            std::env::set_var("PCSCLITE_CSOCK_NAME", "/nonexistent/cis-renew-fuzz/pcscd.comm");
            let config = Config { pkcs11_module: "/nonexistent/libpkcs11.so".into(), ..Config::default() };
            Arc::new(Services::new(config))
        })
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let (outbox, writer) = Outbox::start(std::io::sink());
    let mut controller = Controller::new(services(), outbox);
    controller.handle_frame(data);
    drop(controller);
    writer.close();
});
