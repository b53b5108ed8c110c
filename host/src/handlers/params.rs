//! Parameter checks shared by handlers: the exact set of members, with their types.

use crate::protocol::message::truncate;
use crate::protocol::HostError;
use serde_json::{Map, Value};

/// Fails when `params` has a member not in `allowed`.
pub fn only(params: &Map<String, Value>, allowed: &[&str]) -> Result<(), HostError> {
    match params.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(HostError::bad_request(format!("Unknown parameter '{}'.", truncate(key)))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rejects_unknown_members_by_name() {
        let mut params = Map::new();
        assert!(only(&params, &[]).is_ok());
        params.insert("pin".into(), Value::from("1"));
        assert!(only(&params, &["pin"]).is_ok());
        let error = only(&params, &["renewalId"]).expect_err("unknown");
        assert!(error.message.contains("'pin'"));
    }
}
