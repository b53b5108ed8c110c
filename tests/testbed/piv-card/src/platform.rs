//! The trussed platform and service runner the card runs on.
//!
//! trussed's `virt` module gives a platform whose RNG has a fixed seed ([42; 32]: every card
//! would make the same keys) and a runner whose service thread wakes every 1 ms to look for a
//! request, which made a `status` take 1.8 s. Here the RNG is seeded from the OS, and the
//! service runs inside the client's syscall on the same thread ("call thyself"), so a request
//! is answered as soon as it is made.

use std::cell::RefCell;
use std::rc::Rc;

use rand_chacha::ChaCha8Rng;
use rand_core::{OsRng, RngCore as _, SeedableRng as _};
use trussed::backend::{BackendId, Dispatch};
use trussed::pipe::{ServiceEndpoint, TrussedChannel};
use trussed::types::CoreContext;
use trussed::virt::{Store, UserInterface};
use trussed::{ClientImplementation, Service};

/// `trussed::virt::Platform` with an OS-seeded RNG.
pub struct Platform<'a> {
    rng: ChaCha8Rng,
    store: Store<'a>,
    ui: UserInterface,
}

impl<'a> Platform<'a> {
    /// A platform over `store` with a fresh random seed.
    pub fn new(store: Store<'a>) -> Self {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        Self { rng: ChaCha8Rng::from_seed(seed), store, ui: UserInterface::new() }
    }
}

impl<'a> trussed::Platform for Platform<'a> {
    type R = ChaCha8Rng;
    type S = Store<'a>;
    type UI = UserInterface;
    fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }
    fn store(&self) -> Store<'a> {
        self.store
    }
    fn user_interface(&mut self) -> &mut UserInterface {
        &mut self.ui
    }
}

struct Inner<'a, D: Dispatch> {
    service: Service<Platform<'a>, D>,
    endpoints: Vec<ServiceEndpoint<'a, D::BackendId, D::Context>>,
}

/// A syscall that runs the service on the caller's thread.
pub struct Syscall<'a, D: Dispatch>(Rc<RefCell<Inner<'a, D>>>);

impl<D: Dispatch> trussed::platform::Syscall for Syscall<'_, D> {
    fn syscall(&mut self) {
        let mut inner = self.0.borrow_mut();
        let Inner { service, endpoints } = &mut *inner;
        service.process(endpoints);
    }
}

/// The client an app gets: requests are served synchronously.
pub type Client<'a, D> = ClientImplementation<'a, Syscall<'a, D>, D>;

/// Makes the service and one client named `client_id` over `channel`.
pub fn client<'a, D>(
    platform: Platform<'a>,
    dispatch: D,
    channel: &'a TrussedChannel,
    client_id: &str,
    backends: &'static [BackendId<D::BackendId>],
) -> Client<'a, D>
where
    D: Dispatch,
    D::Context: Default,
{
    // Splitting a fresh channel cannot fail.
    let (requester, responder) = channel.split().expect("a fresh trussed channel splits");
    let context = CoreContext::new(client_id.try_into().expect("a short client id"));
    let inner = Inner {
        service: Service::with_dispatch(platform, dispatch),
        endpoints: vec![ServiceEndpoint::new(responder, context, backends)],
    };
    ClientImplementation::new(requester, Syscall(Rc::new(RefCell::new(inner))), None)
}
