//! `watch` and `unwatch`: reader and managed-card changes as events, until the stream closes.
//!
//! Events (tied to the `watch` request's id):
//! - `readers` `{"readers":[...]}` when a reader appears, goes, or a card goes in or out of any reader;
//! - `card` `{"status": <status result>}` when the managed reader's card changes;
//! - `error` `{"error": {...}}` when PC/SC goes away (the watcher keeps trying).

use super::params;
use super::status::{status_for_readers, ReaderEntry};
use crate::protocol::message::event;
use crate::protocol::{HostError, Outbox, RequestId};
use crate::readers::watch::{Snapshot, WatchUpdate, Watcher};
use crate::readers::ReaderInfo;
use crate::services::Services;
use crate::worker::RenewalObserver;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Starts a watcher that reports to `outbox` under `id`.
pub fn start(
    services: Arc<Services>,
    id: RequestId,
    outbox: Outbox,
    params: &Map<String, Value>,
    renewal: RenewalObserver,
) -> Result<Watcher, HostError> {
    params::only(params, &[])?;
    let mut last_readers: Option<Vec<(String, bool)>> = None;
    let mut last_managed: Option<Option<Snapshot>> = None;
    Watcher::spawn(move |update| match update {
        WatchUpdate::Readers(snapshots) => {
            let readers: Vec<ReaderInfo> = snapshots.iter().map(|s| s.reader.clone()).collect();
            let names: Vec<&str> = readers.iter().map(|r| r.name.as_str()).collect();
            let managed_index = services.reader_rule().pick(&names);
            let shape: Vec<(String, bool)> =
                readers.iter().map(|r| (r.name.clone(), r.card_present)).collect();
            if last_readers.as_ref() != Some(&shape) {
                let entries = ReaderEntry::list(&readers, managed_index);
                let mut fields = Map::new();
                fields.insert("readers".into(), json!(entries));
                outbox.send(event(&id, "readers", fields));
                last_readers = Some(shape);
            }
            let managed = managed_index.map(|i| snapshots[i].clone());
            if last_managed.as_ref() != Some(&managed) {
                let mut fields = Map::new();
                match status_for_readers(&services, &readers, renewal.renewal_under_way()) {
                    Ok(report) => fields.insert("status".into(), json!(report)),
                    Err(e) => fields.insert("error".into(), e.to_json()),
                };
                outbox.send(event(&id, "card", fields));
                last_managed = Some(managed);
            }
        }
        WatchUpdate::Unavailable(error) => {
            log::warn!("watch: {}", error.code);
            let mut fields = Map::new();
            fields.insert("error".into(), error.to_json());
            outbox.send(event(&id, "error", fields));
            last_readers = None;
            last_managed = None;
        }
    })
}
