//! `GET /v1/me`: everything about the session's identity, in one DynamoDB round trip.

use api_tests::{Call, TestApp};
use serde_json::json;
use shared::storage::records::PartnershipType;

#[tokio::test]
async fn me_shows_the_organization_partnership_key_and_session() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    let created = t
        .call(Call::create_session(t.organization_key(), &key))
        .await;
    let token = created.body["_data"][0]["session_token"].as_str().unwrap();
    let response = t.call(Call::me(token)).await;
    assert_eq!(response.status, 200, "{}", response.body);
    let me = &response.body["_data"][0];
    assert_eq!(
        me["organization"],
        json!({ "id": t.org.org_id, "name": "Test Partner AB" })
    );
    assert_eq!(
        me["partnership"],
        json!({
            "id": t.partnership_id(PartnershipType::Mssp), "name": "Test MSSP", "type": "mssp",
            "skus": ["SNS", "DA", "WAS", "CS", "PAT"],
        })
    );
    assert_eq!(me["api_key"]["name"], "Billing sync");
    assert_eq!(me["api_key"]["prefix"], &key[..8]);
    assert!(
        me["api_key"]["id"]
            .as_str()
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok())
    );
    assert_eq!(
        me["scopes"],
        json!(["me:read", "mssp-report:read", "customers:read"])
    );
    assert_eq!(
        me["session"],
        json!({ "expires_at": "2026-11-22T21:30:45Z", "ip_locked": true, "ip": "203.0.113.10" })
    );
    assert_eq!(
        response.body["_links"]["self"]["href"],
        "http://api.example.com/v1/me"
    );
    assert!(
        !response.body.to_string().contains(&key[8..]),
        "the secret must never be shown again"
    );
}

#[tokio::test]
async fn me_costs_exactly_one_dynamodb_call() {
    let t = TestApp::spawn().await;
    let token = t.session_from("203.0.113.10").await;
    let before = t.app.store.calls();
    assert_eq!(t.call(Call::me(&token)).await.status, 200);
    assert_eq!(t.app.store.calls() - before, 1);
    // Refusals cost the same single call.
    let before = t.app.store.calls();
    t.call(Call::me(&token)).await.assert_error(429, 12002);
    assert_eq!(t.app.store.calls() - before, 1);
}

/// The address counter, the key lookup, the slots, the claim (with the key counter).
#[tokio::test]
async fn session_creation_costs_four_dynamodb_calls() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    let before = t.app.store.calls();
    assert_eq!(
        t.call(Call::create_session(t.organization_key(), &key))
            .await
            .status,
        201
    );
    assert_eq!(t.app.store.calls() - before, 4);
}

#[tokio::test]
async fn unknown_expired_and_ended_sessions_get_401() {
    let t = TestApp::spawn().await;
    t.call(Call::me(api_tests::fixtures::UNKNOWN_SESSION))
        .await
        .assert_error(401, 11001);
    let token = t.session_from("203.0.113.10").await;
    assert_eq!(t.call(Call::end_session(&token)).await.status, 200);
    t.call(Call::me(&token)).await.assert_error(401, 11001);
}
