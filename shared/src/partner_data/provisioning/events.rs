//! Provisioning events: every committed change to an account or its subscriptions, read
//! from the table's stream (new and old images), becomes events for the security platform
//! (`account.created|updated|deleted`, `subscription.created|updated|deleted`) with the new
//! and old state, the partnership, an id that is the same however often the change is
//! delivered, and the account's `revision` as a per-account `sequence` to order them by.
//! Items other than accounts produce nothing, and neither does a change of an account's
//! derived fields alone (usage ingestion leaves `revision` as it was).
//!
//! Delivery is at least once from the stream; each event id is marked delivered (a TTL item)
//! once the bus took it, so a retried batch sends only what did not go out.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_dynamo::Item;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{account_fields, subscription_fields};
use crate::App;
use crate::platform::batch::{BatchResponse, ItemFailure};
use crate::platform::clock::iso8601;
use crate::storage::keys;
use crate::storage::records::{AccountRecord, AccountState, StateChange, SubscriptionRecord};

/// The `source` of every event on the bus.
pub const SOURCE: &str = "partner-portal.provisioning";
/// Attempts to hand one record's events to the bus before the record is reported failed.
const PUBLISH_ATTEMPTS: u32 = 3;

/// A DynamoDB Streams batch as Lambda delivers it (and the local server builds it).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StreamEvent {
    #[serde(rename = "Records")]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StreamRecord {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    #[serde(rename = "eventName")]
    pub event_name: String,
    pub dynamodb: StreamChange,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StreamChange {
    #[serde(rename = "Keys")]
    pub keys: Item,
    #[serde(rename = "NewImage", default, skip_serializing_if = "Option::is_none")]
    pub new_image: Option<Item>,
    #[serde(rename = "OldImage", default, skip_serializing_if = "Option::is_none")]
    pub old_image: Option<Item>,
    #[serde(rename = "SequenceNumber")]
    pub sequence_number: String,
    /// Seconds since the epoch (when the change was written).
    #[serde(
        rename = "ApproximateCreationDateTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub approximate_creation: Option<f64>,
}

/// One event as the platform receives it (the `detail` of the EventBridge entry; its
/// `detail-type` is `type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisioningEvent {
    /// Stable across retries: derived from the account, the sequence, the type and the
    /// subscription.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The account's revision after the change; events of one account order by it.
    pub sequence: u64,
    pub occurred_at: String,
    pub organization_id: String,
    pub partnership_id: String,
    pub account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// The state after the change (`null` on deletion).
    pub new: Option<Map<String, Value>>,
    /// The state before it (`null` on creation).
    pub old: Option<Map<String, Value>>,
}

/// Where events go: EventBridge when deployed, `.local/events.log` locally.
pub trait Publisher {
    /// Publishes `events`; one outcome per event, in order (`Err` with the cause).
    fn publish(
        &self,
        events: &[ProvisioningEvent],
    ) -> impl std::future::Future<Output = Vec<Result<(), String>>> + Send;
}

/// The events of one stream record (none for items that are not accounts).
pub fn events_of(record: &StreamRecord) -> Result<Vec<ProvisioningEvent>, String> {
    let sort_key = match record.dynamodb.keys.clone().into_inner().get("sk") {
        Some(serde_dynamo::AttributeValue::S(sk)) => sk.clone(),
        _ => return Ok(Vec::new()),
    };
    if !sort_key.starts_with(keys::ACCOUNT_PREFIX) {
        return Ok(Vec::new());
    }
    let decode = |image: &Option<Item>| -> Result<Option<AccountRecord>, String> {
        image
            .clone()
            .map(|item| {
                serde_dynamo::from_item::<_, ProvisionedAccount>(item)
                    .map(ProvisionedAccount::into_record)
                    .map_err(|e| format!("account image: {e}"))
            })
            .transpose()
    };
    let new = decode(&record.dynamodb.new_image)?;
    let old = decode(&record.dynamodb.old_image)?;
    let deleted_at_ms = record
        .dynamodb
        .approximate_creation
        .map(|seconds| (seconds * 1000.0) as i64);
    Ok(match (record.event_name.as_str(), old, new) {
        ("INSERT", None, Some(new)) => changes(None, Some(&new), new.revision, new.updated_at_ms),
        ("MODIFY", Some(old), Some(new)) if old.revision != new.revision => {
            changes(Some(&old), Some(&new), new.revision, new.updated_at_ms)
        }
        ("REMOVE", Some(old), None) => changes(
            Some(&old),
            None,
            old.revision.saturating_add(1),
            deleted_at_ms.unwrap_or(old.updated_at_ms),
        ),
        // A change of derived fields only, or a record without the images we need.
        _ => Vec::new(),
    })
}

/// The provisioned part of an account image: what events say (the derived fields, which
/// usage ingestion writes, are not read).
#[derive(Deserialize)]
struct ProvisionedAccount {
    account_id: String,
    org_id: String,
    partnership_id: String,
    created_at_ms: i64,
    name: String,
    state: AccountState,
    trial_ends_at: Option<chrono::NaiveDate>,
    country: String,
    updated_at_ms: i64,
    revision: u64,
    #[serde(default)]
    state_history: Vec<StateChange>,
    #[serde(default)]
    subscriptions: BTreeMap<String, SubscriptionRecord>,
}

impl ProvisionedAccount {
    fn into_record(self) -> AccountRecord {
        AccountRecord {
            account_id: self.account_id,
            org_id: self.org_id,
            partnership_id: self.partnership_id,
            created_at_ms: self.created_at_ms,
            name: self.name,
            state: self.state,
            trial_ends_at: self.trial_ends_at,
            country: self.country,
            updated_at_ms: self.updated_at_ms,
            revision: self.revision,
            state_history: self.state_history,
            subscriptions: self.subscriptions,
            derived_seq: 0,
            engagement: None,
            levels: None,
            usage_months: Default::default(),
            month_lists: Default::default(),
        }
    }
}

/// The events between two states of one account (either may be absent).
fn changes(
    old: Option<&AccountRecord>,
    new: Option<&AccountRecord>,
    sequence: u64,
    at_ms: i64,
) -> Vec<ProvisioningEvent> {
    let Some(account) = new.or(old) else {
        return Vec::new();
    };
    let event = |kind: &str,
                 subscription_id: Option<&str>,
                 old: Option<Map<String, Value>>,
                 new: Option<Map<String, Value>>| {
        ProvisioningEvent {
            id: event_id(&account.account_id, sequence, kind, subscription_id),
            kind: kind.to_owned(),
            sequence,
            occurred_at: iso8601(at_ms),
            organization_id: account.org_id.clone(),
            partnership_id: account.partnership_id.clone(),
            account_id: account.account_id.clone(),
            subscription_id: subscription_id.map(str::to_owned),
            new,
            old,
        }
    };
    let mut events = Vec::new();
    let old_fields = old.map(account_fields);
    let new_fields = new.map(account_fields);
    let account_kind = match (&old_fields, &new_fields) {
        (None, Some(_)) => Some("account.created"),
        (Some(_), None) => Some("account.deleted"),
        // Every write stamps `updated_at`; a subscription change alone is no account change.
        (Some(before), Some(after)) if without_stamp(before) != without_stamp(after) => {
            Some("account.updated")
        }
        _ => None,
    };
    // Created: the account before its subscriptions; deleted: after them.
    if let Some(kind @ ("account.created" | "account.updated")) = account_kind {
        events.push(event(kind, None, old_fields.clone(), new_fields.clone()));
    }
    let ids: BTreeSet<&String> = old
        .iter()
        .chain(new.iter())
        .flat_map(|a| a.subscriptions.keys())
        .collect();
    for id in ids {
        let before = old
            .and_then(|a| a.subscriptions.get(id))
            .map(|s| subscription_fields(&account.account_id, s));
        let after = new
            .and_then(|a| a.subscriptions.get(id))
            .map(|s| subscription_fields(&account.account_id, s));
        let kind = match (&before, &after) {
            (None, Some(_)) => "subscription.created",
            (Some(_), None) => "subscription.deleted",
            (Some(b), Some(a)) if b != a => "subscription.updated",
            _ => continue,
        };
        events.push(event(kind, Some(id), before, after));
    }
    if account_kind == Some("account.deleted") {
        events.push(event("account.deleted", None, old_fields, None));
    }
    events
}

fn without_stamp(fields: &Map<String, Value>) -> Map<String, Value> {
    let mut fields = fields.clone();
    fields.remove("updated_at");
    fields
}

/// A UUID-shaped digest of what identifies the event.
fn event_id(account_id: &str, sequence: u64, kind: &str, subscription_id: Option<&str>) -> String {
    let digest = Sha256::digest(format!(
        "{account_id}/{sequence}/{kind}/{}",
        subscription_id.unwrap_or_default()
    ));
    let hex = hex::encode(&digest[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Delivers a batch in order. A record whose events could not all be published (after
/// retries) or marked is reported, and the records after it are not tried: the stream
/// hands them again from that record, in order (`ReportBatchItemFailures`).
pub async fn deliver(app: &App, publisher: &impl Publisher, batch: &StreamEvent) -> BatchResponse {
    for record in &batch.records {
        if let Err(cause) = deliver_record(app, publisher, record).await {
            tracing::error!(
                sequence_number = %record.dynamodb.sequence_number,
                error = %cause,
                "provisioning events not delivered; the stream retries from this record"
            );
            return BatchResponse {
                batch_item_failures: vec![ItemFailure {
                    item_identifier: record.dynamodb.sequence_number.clone(),
                }],
            };
        }
    }
    BatchResponse::default()
}

async fn deliver_record(
    app: &App,
    publisher: &impl Publisher,
    record: &StreamRecord,
) -> Result<(), String> {
    let events = events_of(record)?;
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    let delivered = app
        .store
        .delivered_events(&ids)
        .await
        .map_err(|e| e.to_string())?;
    let mut pending: Vec<ProvisioningEvent> = events
        .into_iter()
        .filter(|e| !delivered.contains(&e.id))
        .collect();
    for attempt in 0..PUBLISH_ATTEMPTS {
        if pending.is_empty() {
            break;
        }
        if attempt > 0 {
            crate::storage::backoff(attempt as usize).await;
        }
        let outcomes = publisher.publish(&pending).await;
        let mut published = Vec::new();
        let mut failed = Vec::new();
        for (event, outcome) in pending.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => published.push(event.id),
                Err(cause) => {
                    tracing::warn!(event_id = %event.id, error = %cause, "event not published");
                    failed.push(event);
                }
            }
        }
        app.store
            .mark_events_delivered(&published, app.clock.now_ms())
            .await
            .map_err(|e| e.to_string())?;
        pending = failed;
    }
    match pending.len() {
        0 => Ok(()),
        n => Err(format!("{n} events were refused by the bus")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_fixed_for_what_identifies_the_event() {
        // A consumer deduplicates by id: a change of this derivation would make every
        // redelivered event look new.
        assert_eq!(
            event_id(
                "0b7f9a3e-4c1d-4e8a-9f2b-6d5c4b3a2918",
                3,
                "subscription.updated",
                Some("s1")
            ),
            event_id(
                "0b7f9a3e-4c1d-4e8a-9f2b-6d5c4b3a2918",
                3,
                "subscription.updated",
                Some("s1")
            ),
        );
        assert_eq!(
            event_id(
                "0b7f9a3e-4c1d-4e8a-9f2b-6d5c4b3a2918",
                1,
                "account.created",
                None
            ),
            "8edea739-5ebc-6dab-708b-e826aef78b87"
        );
        assert_ne!(
            event_id("a", 1, "account.created", None),
            event_id("a", 2, "account.created", None)
        );
    }
}
