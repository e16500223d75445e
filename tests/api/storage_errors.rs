//! DynamoDB failures that DynamoDB Local cannot produce, with `aws-smithy-mocks`:
//! transaction conflicts are retried; service failures become a 500 that says nothing
//! about the cause; keys BatchGetItem leaves unprocessed are asked for again.

use std::sync::Arc;

use api_tests::{Call, T0, app_with, fixtures};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::error::{InternalServerError, TransactionCanceledException};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use shared::access::credentials::{Credential, CredentialKind};
use shared::platform::clock::ManualClock;
use shared::storage::Store;
use shared::storage::records::{ApiKeyRecord, KeyStatus, Partnership, PartnershipType};

fn fixture_key_item() -> std::collections::HashMap<String, AttributeValue> {
    let record = ApiKeyRecord {
        key_id: "k1".into(),
        org_id: "o1".into(),
        org_name: "Org".into(),
        organization_key_hash: api_tests::test_pepper()
            .hash(&Credential::parse(CredentialKind::OrganizationKey, fixtures::ORG_KEY).unwrap())
            .0,
        partnership: Partnership {
            id: "p1".into(),
            name: "MSSP".into(),
            kind: PartnershipType::Mssp,
            skus: vec!["SNS".into()],
        },
        name: "Key".into(),
        prefix: "hsp_WwVc".into(),
        scopes: vec!["me:read".into(), "mssp-report:read".into()],
        allowed_origins: vec![],
        cors_origins: Vec::new(),
        status: KeyStatus::Active,
        created_at_ms: T0,
        expires_at_ms: None,
        access_version: 0,
    };
    serde_dynamo::to_item(&record).unwrap()
}

/// TransactWriteItems cancelled with `code` on the slot claim.
fn cancelled(code: &str) -> TransactWriteItemsError {
    TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder()
            .cancellation_reasons(CancellationReason::builder().code(code).build())
            .cancellation_reasons(CancellationReason::builder().code("None").build())
            .build(),
    )
}

/// An app whose table holds the fixture key and no sessions, and whose slot claims are
/// answered by `claim` (the address counter always counts).
fn app_with_claims(claim: &aws_smithy_mocks::Rule) -> (shared::App, aws_smithy_mocks::Rule) {
    let counted = mock!(Client::update_item)
        .sequence()
        .output(|| aws_sdk_dynamodb::operation::update_item::UpdateItemOutput::builder().build())
        .repeatedly()
        .build();
    let get_key = mock!(Client::get_item).then_output(|| {
        GetItemOutput::builder()
            .set_item(Some(fixture_key_item()))
            .build()
    });
    let no_slots = mock!(Client::query)
        .sequence()
        .output(|| QueryOutput::builder().build())
        .repeatedly()
        .build();
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        [&counted, &get_key, &no_slots, claim]
    );
    (
        app_with(Store::new(client, "mocked"), Arc::new(ManualClock::at(T0))),
        no_slots,
    )
}

#[tokio::test]
async fn a_transaction_conflict_on_the_slot_is_retried() {
    let claim = mock!(Client::transact_write_items)
        .sequence()
        .error(|| cancelled("TransactionConflict"))
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let (app, slot_queries) = app_with_claims(&claim);
    let response = Call::create_session(fixtures::ORG_KEY, fixtures::OPEN_KEY)
        .send(&app)
        .await;
    assert_eq!(response.status, 201, "{}", response.body);
    assert_eq!(claim.num_calls(), 2);
    assert_eq!(slot_queries.num_calls(), 2);
}

#[tokio::test]
async fn endless_slot_contention_is_a_503_with_retry_after() {
    let claim = mock!(Client::transact_write_items)
        .sequence()
        .error(|| cancelled("ConditionalCheckFailed"))
        .repeatedly()
        .build();
    let (app, _) = app_with_claims(&claim);
    let response = Call::create_session(fixtures::ORG_KEY, fixtures::OPEN_KEY)
        .send(&app)
        .await;
    response.assert_error(503, 10101);
    assert_eq!(response.retry_after_ms(), 1000);
    assert_eq!(response.header("retry-after"), Some("1"));
    assert_eq!(claim.num_calls(), 12);
}

#[tokio::test]
async fn a_dynamodb_failure_is_a_500_without_details() {
    let failing = mock!(Client::update_item)
        .sequence()
        .error(|| {
            UpdateItemError::InternalServerError(
                InternalServerError::builder()
                    .message("disk on fire at node 7")
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_dynamodb, [&failing]);
    let app = app_with(Store::new(client, "mocked"), Arc::new(ManualClock::at(T0)));
    let response = Call::me(fixtures::SESSION_TOKEN).send(&app).await;
    response.assert_error(500, 10100);
    assert!(!response.body.to_string().contains("disk on fire"));
    assert!(!response.body.to_string().contains("DynamoDB"));
}

#[tokio::test]
async fn keys_batch_get_item_leaves_unprocessed_are_read_again_for_the_session_list() {
    // A real session item, from DynamoDB Local.
    let t = api_tests::TestApp::spawn().await;
    let token = t.session_from("192.0.2.10").await;
    let hash = t.session_hash(&token);
    let key = shared::storage::keys::session(&hash);
    let stored = t.stored_item(key.clone()).await.unwrap();
    // DynamoDB under load: the first answer leaves the key unprocessed.
    let table = "mocked";
    let key_map = std::collections::HashMap::from([
        ("pk".to_owned(), AttributeValue::S(key.pk)),
        ("sk".to_owned(), AttributeValue::S(key.sk)),
    ]);
    let unprocessed = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
        .keys(key_map)
        .build()
        .unwrap();
    let batch = mock!(Client::batch_get_item)
        .sequence()
        .output(move || {
            BatchGetItemOutput::builder()
                .unprocessed_keys(table, unprocessed.clone())
                .build()
        })
        .output(move || {
            BatchGetItemOutput::builder()
                .responses(table, vec![stored.clone()])
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_dynamodb, [&batch]);
    let store = Store::new(client, table);
    let sessions = store
        .sessions_by_hash(std::slice::from_ref(&hash.0))
        .await
        .unwrap();
    assert_eq!(
        batch.num_calls(),
        2,
        "the unprocessed key is asked for again"
    );
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].locked_to, "192.0.2.10");
}

/// An app whose every TransactWriteItems is answered by `rule`.
fn app_with_transactions(rule: &aws_smithy_mocks::Rule) -> shared::App {
    let client = mock_client!(aws_sdk_dynamodb, [rule]);
    app_with(Store::new(client, "mocked"), Arc::new(ManualClock::at(T0)))
}

fn organization() -> shared::storage::records::OrganizationRecord {
    shared::storage::records::OrganizationRecord {
        org_id: "6f1c2a52-3b1d-4c44-9a55-0d2f3c4b5a61".into(),
        name: "Org".into(),
        partnerships: vec![Partnership {
            id: "p1".into(),
            name: "MSSP".into(),
            kind: PartnershipType::Mssp,
            skus: vec!["SNS".into()],
        }],
        organization_key: Some(fixtures::ORG_KEY.into()),
        api_access_enabled_at_ms: Some(T0),
        created_at_ms: T0,
    }
}

fn key_spec() -> shared::access::api_keys::ApiKeySpec {
    shared::access::api_keys::ApiKeySpec {
        name: "Billing sync".into(),
        partnership_id: "p1".into(),
        optional_scopes: Vec::new(),
        allowed_origins: Vec::new(),
        allow_any_origin: true,
        cors_origins: Vec::new(),
        expires_at_ms: None,
        share_with: shared::access::sharing::Recipients::none(),
    }
}

/// Every transaction cancelled by another one.
fn always_conflicting() -> aws_smithy_mocks::Rule {
    mock!(Client::transact_write_items)
        .sequence()
        .error(|| cancelled("TransactionConflict"))
        .repeatedly()
        .build()
}

#[tokio::test]
async fn a_transaction_conflict_on_key_creation_is_retried_then_a_503() {
    let conflicted_twice = mock!(Client::transact_write_items)
        .sequence()
        .error(|| cancelled("TransactionConflict"))
        .times(2)
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let app = app_with_transactions(&conflicted_twice);
    let created = shared::access::api_keys::create_key(
        &app,
        &organization(),
        key_spec(),
        &api_tests::test_actor(),
    )
    .await;
    assert!(created.is_ok(), "{:?}", created.err());
    assert_eq!(conflicted_twice.num_calls(), 3);

    let always = always_conflicting();
    let app = app_with_transactions(&always);
    let err = shared::access::api_keys::create_key(
        &app,
        &organization(),
        key_spec(),
        &api_tests::test_actor(),
    )
    .await
    .unwrap_err();
    assert_eq!((err.status().as_u16(), err.code()), (503, 10101));
    assert_eq!(err.retry_after_ms(), Some(1000));
}

#[tokio::test]
async fn a_transaction_conflict_on_account_creation_is_retried_then_a_503() {
    let account: shared::storage::records::AccountRecord = serde_json::from_value(serde_json::json!({
        "account_id": "0b7f9a3e-4c1d-4e8a-9f2b-6d5c4b3a2918", "org_id": "o", "partnership_id": "p1",
        "created_at_ms": T0, "name": "Acme", "state": "trial", "trial_ends_at": null,
        "country": "SE", "updated_at_ms": T0, "revision": 1,
    }))
    .unwrap();
    let conflicted_once = mock!(Client::transact_write_items)
        .sequence()
        .error(|| cancelled("TransactionConflict"))
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let app = app_with_transactions(&conflicted_once);
    app.store.create_account(&account).await.unwrap();
    assert_eq!(conflicted_once.num_calls(), 2);

    let always = always_conflicting();
    let app = app_with_transactions(&always);
    let err = shared::ApiError::internal(app.store.create_account(&account).await.unwrap_err());
    assert_eq!((err.status().as_u16(), err.code()), (503, 10101));
    assert_eq!(always.num_calls(), 5);
    // A refusal that is not contention stays a server error.
    let taken = mock!(Client::transact_write_items)
        .sequence()
        .error(|| cancelled("ConditionalCheckFailed"))
        .build();
    let app = app_with_transactions(&taken);
    let err = shared::ApiError::internal(app.store.create_account(&account).await.unwrap_err());
    assert_eq!(err.code(), 10100);
}
