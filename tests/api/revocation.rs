//! Revocation wins against the holder of a leaked key: the key's state change commits
//! first (no new session of the key can be claimed from then on), then its sessions end one
//! by one, each guarding only its own slot — so a revoke, rotate or disable completes while
//! the holder creates and ends sessions in a loop, and answers only once none of them can
//! make a request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use api_tests::{Call, T0, TestApp, TestResponse, app_with, fixtures};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::{Value, json};
use shared::platform::clock::ManualClock;
use shared::storage::Store;
use shared::storage::records::{KeyRecord, KeyStatus, Partnership, PartnershipType, SlotRecord};

/// How the holder of the leaked key fared.
#[derive(Default)]
struct Holder {
    created: AtomicU64,
    ended: AtomicU64,
    /// Sessions still held (created, not yet ended) when the loop stopped.
    held: std::sync::Mutex<Vec<String>>,
    /// Session creations refused (the key no longer opens sessions).
    refused: AtomicU64,
}

/// Creates and ends sessions with `key` until `stop`, from its own instance.
async fn create_and_end_in_a_loop(
    app: shared::App,
    org_key: String,
    key: String,
    ip: String,
    stop: Arc<AtomicBool>,
    holder: Arc<Holder>,
) {
    while !stop.load(Ordering::SeqCst) {
        let created = Call::create_session(&org_key, &key)
            .from_ip(&ip)
            .send(&app)
            .await;
        match created.status {
            201 => {
                holder.created.fetch_add(1, Ordering::SeqCst);
                let token = created.body["_data"][0]["session_token"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                if stop.load(Ordering::SeqCst) {
                    holder.held.lock().unwrap().push(token);
                    break;
                }
                let ended = Call::end_session(&token).from_ip(&ip).send(&app).await;
                if ended.status == 200 {
                    holder.ended.fetch_add(1, Ordering::SeqCst);
                } else {
                    // Ended by the revocation meanwhile: 401 for its holder.
                    ended.assert_error(401, 11001);
                }
            }
            401 => {
                created.assert_error(401, 11001);
                holder.refused.fetch_add(1, Ordering::SeqCst);
            }
            // All five slots taken by the loop's own sessions for a moment.
            429 | 503 => {}
            other => panic!("session creation answered {other}: {}", created.body),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Change {
    Revoke,
    Rotate,
    Disable,
}

/// Three instances of the key's holder loop; a fourth is the admin's.
async fn the_change_completes_against_a_session_loop(change: Change) {
    let t = TestApp::spawn().await;
    let key_body = json!({
        "name": "Leaked",
        "partnership_id": t.partnership_id(PartnershipType::Mssp),
        "allow_any_origin": true,
    });
    let created = t
        .call(t.admin("POST", "/v1/admin/keys").json(&key_body))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let key = created.body["_data"][0]["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_id = created.body["_data"][0]["id"].as_str().unwrap().to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let holder = Arc::new(Holder::default());
    let mut loops: Vec<_> = (0..3)
        .map(|i| {
            tokio::spawn(create_and_end_in_a_loop(
                t.instance(),
                t.organization_key().to_owned(),
                key.clone(),
                format!("203.0.113.{}", 10 + i),
                Arc::clone(&stop),
                Arc::clone(&holder),
            ))
        })
        .collect();
    // Let the loop run before the admin acts (a loop that stopped has panicked: show why).
    while holder.created.load(Ordering::SeqCst) < 10 {
        if let Some(stopped) = loops.iter().position(tokio::task::JoinHandle::is_finished) {
            loops.remove(stopped).await.unwrap();
            panic!("a loop stopped before the change");
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let admin = t.instance();
    let call = match change {
        Change::Revoke => t.admin("POST", &format!("/v1/admin/keys/{key_id}/revoke")),
        Change::Rotate => t.admin("POST", &format!("/v1/admin/keys/{key_id}/rotate")),
        Change::Disable => t.admin("DELETE", "/v1/admin/api-access"),
    };
    let created_before = holder.created.load(Ordering::SeqCst);
    let answer = call.send(&admin).await;
    let created_during = holder.created.load(Ordering::SeqCst) - created_before;
    assert!(
        answer.status == 200 || answer.status == 201,
        "{change:?}: {} {}",
        answer.status,
        answer.body
    );
    // From the answer on, the key opens no session and none of its sessions works.
    let after = Call::create_session(t.organization_key(), &key)
        .from_ip("203.0.113.99")
        .send(&admin)
        .await;
    assert_eq!(after.status, 401, "{change:?}: {}", after.body);
    stop.store(true, Ordering::SeqCst);
    for handle in loops {
        handle.await.unwrap();
    }
    let held = holder.held.lock().unwrap().clone();
    for (i, token) in held.iter().enumerate() {
        t.clock.advance_ms(1000);
        let me = Call::me(token)
            .from_ip(&format!("203.0.113.{}", 10 + i))
            .send(&admin)
            .await;
        assert_eq!(me.status, 401, "{change:?}: a held session still works");
    }
    let sessions = t.call(t.admin("GET", "/v1/admin/sessions")).await;
    assert_eq!(sessions.body["_data"], json!([]), "{change:?}");
    // Evidence the holder's loop ran against the change: sessions were created and
    // ended throughout, and after the change committed its creations were refused.
    let (created, ended, refused) = (
        holder.created.load(Ordering::SeqCst),
        holder.ended.load(Ordering::SeqCst),
        holder.refused.load(Ordering::SeqCst),
    );
    println!(
        "{change:?}: holder created {created} sessions ({created_during} while the change ran), ended {ended}, refused {refused}"
    );
    assert!(created >= 10 && ended >= 5, "{created} {ended}");
    assert!(
        refused >= 1,
        "the holder's loop kept running after the change"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_completes_while_the_key_holder_loops_sessions() {
    the_change_completes_against_a_session_loop(Change::Revoke).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_completes_while_the_key_holder_loops_sessions() {
    the_change_completes_against_a_session_loop(Change::Rotate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disabling_api_access_completes_while_the_key_holder_loops_sessions() {
    the_change_completes_against_a_session_loop(Change::Disable).await;
}

fn key_record() -> KeyRecord {
    KeyRecord {
        key_id: "0b7f2a4e-8c1d-4e5f-9a6b-7c8d9e0f1a2b".into(),
        key_hash: "ab".repeat(32),
        name: "Leaked".into(),
        partnership: Partnership {
            id: "p1".into(),
            name: "MSSP".into(),
            kind: PartnershipType::Mssp,
            skus: vec!["SNS".into()],
        },
        scopes: vec!["me:read".into(), "mssp-report:read".into()],
        allowed_origins: vec![],
        allow_any_origin: true,
        cors_origins: Vec::new(),
        prefix: "hsp_WwVc".into(),
        status: KeyStatus::Active,
        created_at_ms: T0,
        expires_at_ms: None,
        last_rotated_at_ms: None,
        rotation_due: false,
        last_used_at_ms: None,
        revoked_at_ms: None,
        revoked_reason: None,
        replaced_by: None,
        rotated_from: None,
        access_version: 0,
    }
}

/// GetItem rules: the admin's membership (of organization `o1`), then the key record.
fn admin_and_key_reads(record: &KeyRecord) -> (aws_smithy_mocks::Rule, aws_smithy_mocks::Rule) {
    let membership = mock!(Client::get_item)
        .match_requests(|r| {
            matches!(r.key().and_then(|k| k.get("pk")), Some(AttributeValue::S(pk)) if pk.starts_with("ADMIN#"))
        })
        .then_output(|| {
            let membership = shared::storage::records::AdminMembership {
                issuer: api_tests::ADMIN_ISSUER.into(),
                subject: api_tests::admin_subject("o1"),
                org_id: "o1".into(),
                role: shared::storage::records::AdminRole::Admin,
                email: None,
                added_at_ms: T0,
                added_by: "test".into(),
            };
            GetItemOutput::builder()
                .set_item(Some(serde_dynamo::to_item(&membership).unwrap()))
                .build()
        });
    let key = mock!(Client::get_item).then_output({
        let record = record.clone();
        move || {
            GetItemOutput::builder()
                .set_item(Some(serde_dynamo::to_item(&record).unwrap()))
                .build()
        }
    });
    (membership, key)
}

fn slot_item(number: u8, key_id: &str) -> std::collections::HashMap<String, AttributeValue> {
    let slot = SlotRecord {
        session_hash: format!("{number:02}").repeat(32),
        session_id: format!("session-{number}"),
        api_key_id: key_id.into(),
        locked_to: fixtures::CLIENT_IP.into(),
        expires_at_ms: T0 + 60_000,
        ttl_epoch_seconds: 0,
    };
    let mut item: std::collections::HashMap<String, AttributeValue> =
        serde_dynamo::to_item(&slot).unwrap();
    item.insert("sk".into(), AttributeValue::S(format!("SLOT#{number}")));
    item
}

fn cancelled(codes: &[&str]) -> TransactWriteItemsError {
    let mut error = TransactionCanceledException::builder();
    for code in codes {
        error = error.cancellation_reasons(CancellationReason::builder().code(*code).build());
    }
    TransactWriteItemsError::TransactionCanceledException(error.build())
}

/// Revokes `key_record()` through the admin API against mocks: the admin's membership and
/// the key record are read, the slot Query answers `slots` (slot number, and whether its
/// session is of the revoked key), and `writes` answers every transaction.
async fn revoke_against_mocks(
    slots: &[(u8, bool)],
    writes: &aws_smithy_mocks::Rule,
) -> TestResponse {
    let record = key_record();
    let (membership, get_record) = admin_and_key_reads(&record);
    let items: Vec<_> = slots
        .iter()
        .map(|(number, ours)| {
            slot_item(*number, if *ours { &record.key_id } else { "another-key" })
        })
        .collect();
    // Queries of the organization's partition, told apart by the sort-key prefix they ask.
    let asks_for = |prefix: &'static str| {
        move |query: &aws_sdk_dynamodb::operation::query::QueryInput| {
            query.expression_attribute_values().is_some_and(|values| {
                values
                    .values()
                    .any(|v| v.as_s().is_ok_and(|s| s.starts_with(prefix)))
            })
        }
    };
    let slot_query = mock!(Client::query)
        .match_requests(asks_for("SLOT#"))
        .then_output(move || {
            QueryOutput::builder()
                .set_items(Some(items.clone()))
                .build()
        });
    // No key of this organization is shared.
    let share_query = mock!(Client::query)
        .match_requests(asks_for("SHARE#"))
        .then_output(|| QueryOutput::builder().build());
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        [&membership, &get_record, &slot_query, &share_query, writes]
    );
    let app = app_with(Store::new(client, "mocked"), Arc::new(ManualClock::at(T0)));
    Call::new("POST", &format!("/v1/admin/keys/{}/revoke", record.key_id))
        .as_admin("o1")
        .send(&app)
        .await
}

/// Injected conflicts on every session's own transaction: each is retried until it goes
/// through, and the revocation answers with both sessions ended.
#[tokio::test]
async fn conflicts_while_ending_the_sessions_are_retried_until_done() {
    let ok = || TransactWriteItemsOutput::builder().build();
    let writes = mock!(Client::transact_write_items)
        .sequence()
        .output(ok) // phase one: the key revoked
        .error(|| cancelled(&["TransactionConflict", "None"]))
        .times(3)
        .output(ok) // slot 1's session ended
        .error(|| cancelled(&["None", "TransactionConflict"]))
        .times(2)
        .output(ok) // slot 4's session ended
        .build();
    let answer = revoke_against_mocks(&[(1, true), (3, false), (4, true)], &writes).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["_data"][0]["status"], "revoked");
    assert_eq!(answer.body["_data"][0]["sessions_ended"], 2);
    assert_eq!(writes.num_calls(), 1 + 4 + 3);
}

/// A session that ended by itself between the read of the slots and its end (the holder
/// logged out) is not counted, and its slot is not touched twice.
#[tokio::test]
async fn a_session_the_holder_ended_meanwhile_is_skipped() {
    let writes = mock!(Client::transact_write_items)
        .sequence()
        .output(|| TransactWriteItemsOutput::builder().build())
        .error(|| cancelled(&["ConditionalCheckFailed", "ConditionalCheckFailed"]))
        .build();
    let answer = revoke_against_mocks(&[(2, true)], &writes).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["_data"][0]["sessions_ended"], 0);
    assert_eq!(writes.num_calls(), 2);
}

/// A session claimed under the key's old allowed origins after an edit committed is
/// refused its slot: the claim requires the access version its creator read.
#[tokio::test]
async fn a_claim_under_settings_edited_meanwhile_is_refused() {
    let t = TestApp::spawn().await;
    let key_body = json!({
        "name": "Edited",
        "partnership_id": t.partnership_id(PartnershipType::Mssp),
        "allowed_origins": ["203.0.113.0/24"],
    });
    let created = t
        .call(t.admin("POST", "/v1/admin/keys").json(&key_body))
        .await;
    let id = created.body["_data"][0]["id"].as_str().unwrap().to_owned();
    // The lookup as a session creation read it before the edit.
    let secret = created.body["_data"][0]["api_key"].as_str().unwrap();
    let hash = t.app.pepper.hash(
        &shared::access::credentials::Credential::parse(
            shared::access::credentials::CredentialKind::ApiKey,
            secret,
        )
        .unwrap(),
    );
    let read_before = t.app.store.api_key(&hash).await.unwrap().unwrap();
    assert_eq!(read_before.access_version, 0);
    let edited = t
        .call(
            t.admin("PATCH", &format!("/v1/admin/keys/{id}"))
                .json(&json!({ "allowed_origins": ["198.51.100.7"] })),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    let read_after = t.app.store.api_key(&hash).await.unwrap().unwrap();
    assert_eq!(read_after.access_version, 1);
    // A claim carrying the version read before the edit is refused; the current one works.
    for (version, expected) in [
        (0, shared::storage::ClaimOutcome::KeyNotActive),
        (1, shared::storage::ClaimOutcome::Claimed),
    ] {
        let (hash, session, audit) = stale_session(&t, &read_before);
        let outcome = t
            .app
            .store
            .claim_slot(
                T0,
                &hash,
                &session,
                version,
                &api_tests::unlimited_counter(&session.api_key.id),
                &audit,
            )
            .await
            .unwrap();
        assert_eq!(outcome, expected, "claim under version {version}");
    }
    assert_eq!(t.live_slots().await, 1);
    // Through the API, the old origin no longer opens a session.
    Call::create_session(t.organization_key(), secret)
        .from_ip("203.0.113.5")
        .send(&t.app)
        .await
        .assert_error(403, 12003);
}

/// A session record (and its audit entry) as session creation would claim it.
fn stale_session(
    t: &TestApp,
    key: &shared::storage::records::ApiKeyRecord,
) -> (
    shared::access::credentials::CredentialHash,
    shared::storage::records::SessionRecord,
    shared::storage::records::AuditRecord,
) {
    let token = shared::access::credentials::Credential::generate(
        shared::access::credentials::CredentialKind::SessionToken,
    )
    .unwrap();
    let record = shared::storage::records::SessionRecord {
        session_id: uuid::Uuid::new_v4().to_string(),
        org_id: key.org_id.clone(),
        org_name: key.org_name.clone(),
        partnership: key.partnership.clone(),
        api_key: shared::storage::records::ApiKeySummary {
            id: key.key_id.clone(),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
        },
        scopes: key.scopes.clone(),
        locked_to: "203.0.113.5".into(),
        origin_hosts: None,
        cors_origins: Vec::new(),
        slot: 0,
        created_at_ms: T0,
        expires_at_ms: T0 + 3_600_000,
        next_allowed_ms: T0,
        last_used_at_ms: None,
        ttl_epoch_seconds: 0,
    };
    let audit = shared::access::audit::entry(
        T0,
        "api_key:x",
        "session.created",
        "session:x".into(),
        None,
        Value::Null,
    );
    (t.app.pepper.hash(&token), record, audit)
}

/// A key creation or rotation read while API access was enabled, committing after it was
/// disabled, is refused: no key outlives the disable.
#[tokio::test]
async fn keys_created_or_rotated_against_disabled_access_are_refused() {
    let t = TestApp::spawn().await;
    let spec = || shared::access::api_keys::ApiKeySpec {
        name: "Late".into(),
        partnership_id: t.partnership_id(PartnershipType::Mssp),
        optional_scopes: vec![],
        allowed_origins: vec![],
        allow_any_origin: true,
        cors_origins: Vec::new(),
        expires_at_ms: None,
        share_with: shared::access::sharing::Recipients::none(),
    };
    let actor = api_tests::test_actor();
    let (_, existing) = shared::access::api_keys::create_key(&t.app, &t.org, spec(), &actor)
        .await
        .unwrap();
    let read_while_enabled = t.org.clone();
    let disabled = t.call(t.admin("DELETE", "/v1/admin/api-access")).await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    let created =
        shared::access::api_keys::create_key(&t.app, &read_while_enabled, spec(), &actor).await;
    assert!(
        matches!(created, Err(shared::platform::error::ApiError::Conflict(_))),
        "{created:?}"
    );
    let rotated = shared::access::api_keys::rotate_key(
        &t.app,
        &read_while_enabled,
        &existing.key_id,
        0,
        &shared::access::sharing::Recipients::none(),
        &actor,
    )
    .await;
    assert!(matches!(
        rotated,
        Err(shared::platform::error::ApiError::Conflict(_))
    ));
    let keys = t.app.store.key_records(&t.org.org_id).await.unwrap();
    assert_eq!(keys.len(), 1, "nothing was created");
    assert_eq!(keys[0].status, KeyStatus::Revoked);
    // Re-enabled, with a new organization key: a creation read before still fails.
    let enabled = t.call(t.admin("POST", "/v1/admin/api-access")).await;
    assert_eq!(enabled.status, 201, "{}", enabled.body);
    let created =
        shared::access::api_keys::create_key(&t.app, &read_while_enabled, spec(), &actor).await;
    assert!(matches!(
        created,
        Err(shared::platform::error::ApiError::Conflict(_))
    ));
}

/// Logout deletes the session, frees its slot and is in the audit trail, all at once.
#[tokio::test]
async fn logout_is_one_audited_transaction() {
    let t = TestApp::spawn().await;
    let token = t.session_from(fixtures::CLIENT_IP).await;
    assert_eq!(t.live_slots().await, 1);
    t.clock.advance_ms(1000);
    let ended = Call::end_session(&token)
        .from_ip(fixtures::CLIENT_IP)
        .send(&t.app)
        .await;
    assert_eq!(ended.status, 200, "{}", ended.body);
    assert_eq!(t.live_slots().await, 0);
    let trail = t.call(t.admin("GET", "/v1/admin/audit")).await;
    let newest = &trail.body["_data"][0];
    assert_eq!(newest["action"], "session.ended");
    assert_eq!(newest["ip"], fixtures::CLIENT_IP);
    assert!(newest["actor"].as_str().unwrap().starts_with("api_key:"));
    // Ended once: the same token again is unknown, and nothing more is recorded.
    Call::end_session(&token)
        .from_ip(fixtures::CLIENT_IP)
        .send(&t.app)
        .await
        .assert_error(401, 11001);
    let again = t.call(t.admin("GET", "/v1/admin/audit")).await;
    assert_eq!(again.body["_meta"]["total"], trail.body["_meta"]["total"]);
}
