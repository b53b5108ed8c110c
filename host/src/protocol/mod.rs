//! The native-messaging protocol: length-prefixed frames, typed requests, replies and events,
//! and the stable error codes the extension shares (see `docs/protocol.md`).

pub mod error;
pub mod frame;
pub mod message;
pub mod outbox;

pub use error::{ErrorCode, HostError};
pub use message::{Request, RequestId};
pub use outbox::Outbox;

/// Protocol version announced in the hello frame; bumped on incompatible changes.
pub const PROTOCOL_VERSION: u32 = 1;
