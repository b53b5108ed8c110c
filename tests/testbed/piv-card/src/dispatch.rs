//! The trussed dispatcher piv-authenticator's `Client` needs: the core backend plus
//! trussed-auth-backend (PINs) and trussed-staging (chunked, wrap-key-to-file, hpke), and the
//! software RSA backend with the `rsa` feature.

use trussed::{
    backend::BackendId,
    serde_extensions::{ExtensionDispatch, ExtensionId},
    service::ServiceResources,
    types::Context,
    Platform,
};
use trussed_auth::AuthExtension;
use trussed_auth_backend::{AuthBackend, AuthContext, FilesystemLayout};
use trussed_chunked::ChunkedExtension;
use trussed_core::{
    api::{reply, request},
    types::Location,
    Error,
};
use trussed_hpke::HpkeExtension;
use trussed_staging::{StagingBackend, StagingContext};
use trussed_wrap_key_to_file::WrapKeyToFileExtension;

pub enum Backend {
    Auth,
    Staging,
    #[cfg(feature = "rsa")]
    Rsa,
}

pub enum Extension {
    Auth,
    Chunked,
    WrapKeyToFile,
    Hpke,
}

impl From<Extension> for u8 {
    fn from(e: Extension) -> u8 {
        match e {
            Extension::Auth => 0,
            Extension::Chunked => 1,
            Extension::WrapKeyToFile => 2,
            Extension::Hpke => 3,
        }
    }
}

impl TryFrom<u8> for Extension {
    type Error = Error;
    fn try_from(id: u8) -> Result<Self, Error> {
        Ok(match id {
            0 => Self::Auth,
            1 => Self::Chunked,
            2 => Self::WrapKeyToFile,
            3 => Self::Hpke,
            _ => return Err(Error::InternalError),
        })
    }
}

/// Backends tried in order for every request of the PIV client.
pub const BACKENDS: &[BackendId<Backend>] = &[
    BackendId::Custom(Backend::Auth),
    BackendId::Custom(Backend::Staging),
    #[cfg(feature = "rsa")]
    BackendId::Custom(Backend::Rsa),
    BackendId::Core,
];

pub struct Dispatch {
    auth: AuthBackend,
    staging: StagingBackend,
}

impl Default for Dispatch {
    fn default() -> Self {
        Self {
            auth: AuthBackend::new(Location::Internal, FilesystemLayout::V0),
            staging: StagingBackend::new(),
        }
    }
}

#[derive(Default)]
pub struct DispatchContext {
    auth: AuthContext,
    staging: StagingContext,
}

impl ExtensionDispatch for Dispatch {
    type BackendId = Backend;
    type Context = DispatchContext;
    type ExtensionId = Extension;

    // Core (non-extension) requests: only the RSA backend handles any (RSA keygen/sign/decrypt);
    // everything else falls through to BackendId::Core.
    #[cfg(feature = "rsa")]
    fn core_request<P: Platform>(
        &mut self,
        backend: &Backend,
        ctx: &mut Context<DispatchContext>,
        request: &trussed_core::api::Request,
        resources: &mut ServiceResources<P>,
    ) -> Result<trussed_core::api::Reply, Error> {
        match backend {
            Backend::Rsa => trussed::backend::Backend::request(
                &mut trussed_rsa_alloc::SoftwareRsa,
                &mut ctx.core,
                &mut (),
                request,
                resources,
            ),
            _ => Err(Error::RequestNotAvailable),
        }
    }

    fn extension_request<P: Platform>(
        &mut self,
        backend: &Backend,
        extension: &Extension,
        ctx: &mut Context<DispatchContext>,
        request: &request::SerdeExtension,
        resources: &mut ServiceResources<P>,
    ) -> Result<reply::SerdeExtension, Error> {
        let core = &mut ctx.core;
        match (backend, extension) {
            (Backend::Auth, Extension::Auth) => {
                trussed::serde_extensions::ExtensionImpl::<AuthExtension>::extension_request_serialized(
                    &mut self.auth,
                    core,
                    &mut ctx.backends.auth,
                    request,
                    resources,
                )
            }
            (Backend::Staging, Extension::Chunked) => {
                trussed::serde_extensions::ExtensionImpl::<ChunkedExtension>::extension_request_serialized(
                    &mut self.staging,
                    core,
                    &mut ctx.backends.staging,
                    request,
                    resources,
                )
            }
            (Backend::Staging, Extension::WrapKeyToFile) => trussed::serde_extensions::ExtensionImpl::<
                WrapKeyToFileExtension,
            >::extension_request_serialized(
                &mut self.staging,
                core,
                &mut ctx.backends.staging,
                request,
                resources,
            ),
            (Backend::Staging, Extension::Hpke) => {
                trussed::serde_extensions::ExtensionImpl::<HpkeExtension>::extension_request_serialized(
                    &mut self.staging,
                    core,
                    &mut ctx.backends.staging,
                    request,
                    resources,
                )
            }
            _ => Err(Error::RequestNotAvailable),
        }
    }
}

macro_rules! ext_id {
    ($ext:ty, $id:expr) => {
        impl ExtensionId<$ext> for Dispatch {
            type Id = Extension;
            const ID: Extension = $id;
        }
    };
}
ext_id!(AuthExtension, Extension::Auth);
ext_id!(ChunkedExtension, Extension::Chunked);
ext_id!(WrapKeyToFileExtension, Extension::WrapKeyToFile);
ext_id!(HpkeExtension, Extension::Hpke);
