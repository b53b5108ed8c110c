//! A cloneable handle on the trussed client, so that a new `Authenticator` (fresh volatile
//! state, as after a real power cycle) can be built on every card reset.
use std::{cell::RefCell, rc::Rc, task::Poll};
use trussed_core::{
    api::{Reply, RequestVariant},
    serde_extensions::{Extension, ExtensionClient},
    ClientResult, Error, FutureResult, PollClient,
};

pub struct Shared<C>(pub Rc<RefCell<C>>);

impl<C> Clone for Shared<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<C: PollClient> PollClient for Shared<C> {
    fn request<Rq: RequestVariant>(&mut self, req: Rq) -> ClientResult<'_, Rq::Reply, Self> {
        // send via the inner client, then hand out a future that polls through us
        self.0.borrow_mut().request(req).map(|_| ())?;
        Ok(FutureResult::new(self))
    }
    fn poll(&mut self) -> Poll<Result<Reply, Error>> {
        self.0.borrow_mut().poll()
    }
}

impl<C: PollClient> trussed_core::CryptoClient for Shared<C> {}
impl<C: PollClient> trussed_core::FilesystemClient for Shared<C> {}
impl<C: PollClient> trussed_core::mechanisms::Tdes for Shared<C> {}

impl<E: Extension, C: ExtensionClient<E>> ExtensionClient<E> for Shared<C> {
    fn id() -> u8 {
        C::id()
    }
}
