//! One handler per command. Each checks its params first, then acts, and returns a value or a
//! [`HostError`]; only the controller writes frames.

pub mod params;
pub mod piv_renewal;
pub mod renew_admin;
pub mod renew_begin;
pub mod renew_cancel;
pub mod renew_complete;
pub mod status;
pub mod watch;
