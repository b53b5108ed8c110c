//! `renewCancel` `{"renewalId"}`: removes the renewal's pending keys; the old pairs are not
//! touched. The renewal ends even if the card cannot be reached (recovery removes the keys at
//! the next sign-in).

use super::params;
use super::renew_complete::{renewal_id, take_renewal};
use crate::protocol::HostError;
use crate::renewal::Requested;
use serde_json::{json, Map, Value};

/// Handles `renewCancel`.
pub fn handle(open: &mut Option<Requested>, params: &Map<String, Value>) -> Result<Value, HostError> {
    params::only(params, &["renewalId"])?;
    let id = renewal_id(params)?;
    let renewal = take_renewal(open, &id)?;
    renewal.cancel()?;
    Ok(json!({"cancelled": true}))
}
