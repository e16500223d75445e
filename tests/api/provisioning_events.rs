//! Provisioning events: every account and subscription change, read from the table's
//! stream in DynamoDB Local exactly as the local server reads it, becomes exactly its events
//! (`shared::partner_data::provisioning::events`); nothing else does, and a retried batch sends nothing
//! twice.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use api_tests::{Call, Partner, TestApp, dynamodb_endpoint, usage_record};
use local_server::streams::{EventLog, StreamFollower, local_streams_client};
use serde_json::{Value, json};
use shared::partner_data::provisioning::events::{ProvisioningEvent, Publisher};
use shared::storage::records::PartnershipType::Mssp;

/// The table's stream, followed from its start.
struct Stream {
    follower: StreamFollower,
    log: EventLog,
    seen: usize,
}

impl Stream {
    async fn of(t: &TestApp) -> Self {
        let client = local_streams_client(&dynamodb_endpoint());
        Self {
            follower: StreamFollower::new(&t.app, client).await.unwrap(),
            log: EventLog::new(None),
            seen: 0,
        }
    }

    /// The events delivered since the last call.
    async fn new_events(&mut self, t: &TestApp) -> Vec<ProvisioningEvent> {
        self.follower.poll(&t.app, &self.log).await.unwrap();
        let all = self.log.events();
        let new = all[self.seen..].to_vec();
        self.seen = all.len();
        new
    }
}

fn kinds(events: &[ProvisioningEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

/// The API's view without what only the API adds.
fn fields(view: &Value) -> Value {
    let mut view = view.clone();
    if let Some(map) = view.as_object_mut() {
        map.remove("_links");
        map.remove("active");
    }
    view
}

fn as_value(map: &Option<serde_json::Map<String, Value>>) -> Value {
    map.clone().map(Value::Object).unwrap_or(Value::Null)
}

async fn create_account(p: &Partner<'_>) -> Value {
    p.expect(
        201,
        Call::new("POST", "/v1/accounts").json(&json!({ "name": "Acme AB", "country": "SE" })),
    )
    .await
}

fn subscription(start: &str, end: &str) -> Value {
    json!({ "sku": "DA", "quantity": 25, "start_date": start, "end_date": end })
}

#[tokio::test]
async fn every_provisioning_route_produces_exactly_its_events() {
    let t = TestApp::spawn().await;
    let mut stream = Stream::of(&t).await;
    let p = t.partner(Mssp, &["accounts:write"]).await;
    // Organizations, keys and sessions were written: none of them is an event.
    assert_eq!(kinds(&stream.new_events(&t).await), Vec::<&str>::new());

    let account = create_account(&p).await;
    let id = account["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/accounts/{id}");
    let created = stream.new_events(&t).await;
    assert_eq!(kinds(&created), ["account.created"]);
    let event = &created[0];
    assert_eq!(as_value(&event.new), fields(&account));
    assert_eq!(event.old, None);
    assert_eq!(event.sequence, 1);
    assert_eq!(event.account_id, id);
    assert_eq!(event.organization_id, t.org.org_id);
    assert_eq!(event.partnership_id, t.partnership_id(Mssp));
    assert_eq!(event.occurred_at, account["created_at"]);

    let renamed = p
        .expect(
            200,
            Call::new("PATCH", &path).json(&json!({ "name": "Acme Group AB" })),
        )
        .await;
    let updated = stream.new_events(&t).await;
    assert_eq!(kinds(&updated), ["account.updated"]);
    assert_eq!(as_value(&updated[0].old), fields(&account));
    assert_eq!(as_value(&updated[0].new), fields(&renamed));
    assert_eq!(updated[0].sequence, 2);

    let replaced = p
        .expect(
            200,
            Call::new("PUT", &path)
                .json(&json!({ "name": "Acme Group AB", "state": "paying", "country": "NO" })),
        )
        .await;
    let updated = stream.new_events(&t).await;
    assert_eq!(kinds(&updated), ["account.updated"]);
    assert_eq!(as_value(&updated[0].new), fields(&replaced));

    let subs = format!("{path}/subscriptions");
    let sub = p
        .expect(
            201,
            Call::new("POST", &subs).json(&subscription("2026-01-01", "2026-12-31")),
        )
        .await;
    let sub_id = sub["id"].as_str().unwrap().to_owned();
    let sub_path = format!("/v1/subscriptions/{sub_id}");
    let added = stream.new_events(&t).await;
    assert_eq!(kinds(&added), ["subscription.created"]);
    assert_eq!(added[0].subscription_id.as_deref(), Some(sub_id.as_str()));
    assert_eq!(as_value(&added[0].new), fields(&sub));
    assert_eq!(added[0].old, None);

    let changed = p
        .expect(
            200,
            Call::new("PATCH", &sub_path).json(&json!({ "quantity": 40 })),
        )
        .await;
    let updated = stream.new_events(&t).await;
    assert_eq!(kinds(&updated), ["subscription.updated"]);
    assert_eq!(as_value(&updated[0].old), fields(&sub));
    assert_eq!(as_value(&updated[0].new), fields(&changed));

    let replaced = p
        .expect(
            200,
            Call::new("PUT", &sub_path).json(&subscription("2026-01-01", "2026-11-30")),
        )
        .await;
    let updated = stream.new_events(&t).await;
    assert_eq!(kinds(&updated), ["subscription.updated"]);
    assert_eq!(as_value(&updated[0].new), fields(&replaced));

    // Refused writes change nothing and tell nobody.
    p.call(Call::new("PATCH", &path).json(&json!({ "state": "archivedx" })))
        .await
        .assert_error(400, 11400);
    p.call(Call::new("POST", &subs).json(&subscription("2026-12-31", "2026-01-01")))
        .await
        .assert_error(400, 11400);
    // Usage ingestion changes the account's derived fields only: no event.
    assert_eq!(
        t.ingest(&[usage_record(&id, "DA", "2026-11-20", 12)]).await,
        Vec::<usize>::new()
    );
    assert_eq!(kinds(&stream.new_events(&t).await), Vec::<&str>::new());

    p.expect(200, Call::new("DELETE", &sub_path)).await;
    let removed = stream.new_events(&t).await;
    assert_eq!(kinds(&removed), ["subscription.deleted"]);
    assert_eq!(as_value(&removed[0].old), fields(&replaced));
    assert_eq!(removed[0].new, None);

    p.expect(200, Call::new("DELETE", &path)).await;
    let deleted = stream.new_events(&t).await;
    assert_eq!(kinds(&deleted), ["account.deleted"]);
    assert_eq!(deleted[0].new, None);
    assert_eq!(deleted[0].old.as_ref().unwrap()["country"], "NO");

    // One account's events: distinct ids, sequences that only grow.
    let all = stream.log.events();
    let sequences: Vec<u64> = all.iter().map(|e| e.sequence).collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    let mut ids: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len());
}

/// Refuses the events whose type is `refused`, `times` times; records every attempt.
struct FlakyBus {
    log: EventLog,
    refused: &'static str,
    times: AtomicUsize,
    attempts: Mutex<Vec<String>>,
}

impl Publisher for FlakyBus {
    async fn publish(&self, events: &[ProvisioningEvent]) -> Vec<Result<(), String>> {
        let mut outcomes = Vec::new();
        let mut accepted = Vec::new();
        for event in events {
            self.attempts.lock().unwrap().push(event.kind.clone());
            let refuse = event.kind == self.refused
                && self
                    .times
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
            if refuse {
                outcomes.push(Err("ThrottlingException: rate exceeded".into()));
            } else {
                accepted.push(event.clone());
                outcomes.push(Ok(()));
            }
        }
        self.log.publish(&accepted).await;
        outcomes
    }
}

#[tokio::test]
async fn a_retried_batch_sends_nothing_twice() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, &["accounts:write"]).await;
    let account = create_account(&p).await;
    let path = format!("/v1/accounts/{}", account["id"].as_str().unwrap());
    // Two subscriptions that have ended: deleting the account then deletes them too, so
    // one stream record carries three events.
    for end in ["2025-06-30", "2025-12-31"] {
        p.expect(
            201,
            Call::new("POST", &format!("{path}/subscriptions"))
                .json(&subscription("2025-01-01", end)),
        )
        .await;
    }
    p.expect(200, Call::new("DELETE", &path)).await;

    let bus = FlakyBus {
        log: EventLog::new(None),
        refused: "account.deleted",
        // More than one record's attempts: the first delivery of the batch fails.
        times: AtomicUsize::new(3),
        attempts: Mutex::default(),
    };
    let mut follower = StreamFollower::new(&t.app, local_streams_client(&dynamodb_endpoint()))
        .await
        .unwrap();
    assert!(
        follower.poll(&t.app, &bus).await.is_err(),
        "the batch failed"
    );
    let before_retry = kinds(&bus.log.events()).len();
    follower.poll(&t.app, &bus).await.unwrap();
    let delivered = bus.log.events();
    assert_eq!(
        kinds(&delivered),
        [
            "account.created",
            "subscription.created",
            "subscription.created",
            "subscription.deleted",
            "subscription.deleted",
            "account.deleted",
        ]
    );
    // Evidence of the retries: account.deleted was offered four times (three refused),
    // everything else once.
    let attempts = bus.attempts.lock().unwrap().clone();
    assert_eq!(
        attempts.iter().filter(|k| *k == "account.deleted").count(),
        4
    );
    assert_eq!(attempts.len(), delivered.len() + 3);
    assert_eq!(before_retry, 5);

    // The whole stream handed again (a replay from its start): nothing goes out twice.
    let mut replay = StreamFollower::new(&t.app, local_streams_client(&dynamodb_endpoint()))
        .await
        .unwrap();
    replay.poll(&t.app, &bus).await.unwrap();
    assert_eq!(bus.log.events().len(), delivered.len());
}
