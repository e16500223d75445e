//! Creating and ending sessions; the exact five-session cap.

use api_tests::{Call, T0, TestApp};
use futures::future::join_all;
use shared::access::sessions::SESSION_LIFETIME_MS;

#[tokio::test]
async fn a_session_is_created_locked_to_the_client_address() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    let response = t
        .call(Call::create_session(t.organization_key(), &key).from_ip("198.51.100.4"))
        .await;
    assert_eq!(response.status, 201, "{}", response.body);
    let session = &response.body["_data"][0];
    assert!(
        session["session_token"]
            .as_str()
            .unwrap()
            .starts_with("pps_")
    );
    assert_eq!(session["expires_at"], "2026-11-22T21:30:45Z");
    assert_eq!(session["ip_locked"], true);
    assert_eq!(session["ip"], "198.51.100.4");
    assert_eq!(
        session["scopes"],
        serde_json::json!(["me:read", "mssp-report:read", "customers:read"])
    );
    assert_eq!(
        response.body["_links"]["me"]["href"],
        "http://api.example.com/v1/me"
    );
    assert!(response.body["_meta"]["request_id"].as_str().is_some());
    assert!(response.body["_meta"].get("warnings").is_none());
    assert_eq!(t.live_slots().await, 1);
}

#[tokio::test]
async fn the_organizer_key_field_name_is_accepted() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    let body = serde_json::json!({ "organizer_key": t.organization_key(), "api_key": key });
    let response = t
        .call(Call::new("POST", "/v1/auth/session").json(&body))
        .await;
    assert_eq!(response.status, 201, "{}", response.body);
}

#[tokio::test]
async fn fifty_concurrent_creations_give_exactly_five_sessions() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    let calls = (0..50).map(|_| t.call(Call::create_session(t.organization_key(), &key)));
    let responses = join_all(calls).await;
    let created = responses.iter().filter(|r| r.status == 201).count();
    let refused: Vec<_> = responses.iter().filter(|r| r.status == 429).collect();
    let others: Vec<String> = responses
        .iter()
        .filter(|r| r.status != 201 && r.status != 429)
        .map(|r| r.body.to_string())
        .collect();
    assert_eq!((created, refused.len()), (5, 45), "{others:?}");
    for response in refused {
        response.assert_error(429, 12001);
        // All five sessions were created at T0, so the earliest expires an hour later.
        assert_eq!(response.retry_after_ms(), 3_600_000);
        assert_eq!(response.header("retry-after"), Some("3600"));
    }
    assert_eq!(t.live_slots().await, 5);
}

#[tokio::test]
async fn the_sixth_session_waits_for_the_earliest_to_expire() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    for _ in 0..5 {
        assert_eq!(
            t.call(Call::create_session(t.organization_key(), &key))
                .await
                .status,
            201
        );
        t.clock.advance_ms(60_000);
    }
    let refused = t
        .call(Call::create_session(t.organization_key(), &key))
        .await;
    refused.assert_error(429, 12001);
    // The first session (created at T0) expires at T0 + 1 h; the clock is at T0 + 5 min.
    assert_eq!(refused.retry_after_ms(), 3_600_000 - 300_000);
    t.clock.set_ms(T0 + SESSION_LIFETIME_MS - 1);
    t.call(Call::create_session(t.organization_key(), &key))
        .await
        .assert_error(429, 12001);
    t.clock.set_ms(T0 + SESSION_LIFETIME_MS);
    let created = t
        .call(Call::create_session(t.organization_key(), &key))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
}

#[tokio::test]
async fn an_expired_session_still_stored_frees_its_slot() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    let tokens = t.fill_slots(&key).await;
    t.clock.advance_ms(SESSION_LIFETIME_MS);
    // The table has no TTL: all five sessions are still stored, and all have expired.
    for token in &tokens {
        assert!(
            t.stored_item(shared::storage::keys::session(&t.session_hash(token)))
                .await
                .is_some()
        );
        t.call(Call::me(token)).await.assert_error(401, 11002);
    }
    for _ in 0..5 {
        assert_eq!(
            t.call(Call::create_session(t.organization_key(), &key))
                .await
                .status,
            201
        );
    }
    t.call(Call::create_session(t.organization_key(), &key))
        .await
        .assert_error(429, 12001);
}

#[tokio::test]
async fn ending_a_session_frees_its_slot_at_once() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    let tokens = t.fill_slots(&key).await;
    t.call(Call::create_session(t.organization_key(), &key))
        .await
        .assert_error(429, 12001);
    let ended = t.call(Call::end_session(&tokens[2])).await;
    assert_eq!(ended.status, 200, "{}", ended.body);
    assert_eq!(ended.body["_data"], serde_json::json!([]));
    assert_eq!(t.live_slots().await, 4);
    assert_eq!(
        t.call(Call::create_session(t.organization_key(), &key))
            .await
            .status,
        201
    );
    t.call(Call::me(&tokens[2])).await.assert_error(401, 11001);
    t.call(Call::end_session(&tokens[2]))
        .await
        .assert_error(401, 11001);
}

#[tokio::test]
async fn ending_a_session_is_never_rate_limited() {
    let t = TestApp::spawn().await;
    let token = t.session_from("203.0.113.10").await;
    assert_eq!(t.call(Call::me(&token)).await.status, 200);
    t.call(Call::me(&token)).await.assert_error(429, 12002);
    assert_eq!(t.call(Call::end_session(&token)).await.status, 200);
    assert_eq!(t.live_slots().await, 0);
}

#[tokio::test]
async fn a_session_cannot_be_ended_from_another_address() {
    let t = TestApp::spawn().await;
    let token = t.session_from("203.0.113.10").await;
    t.call(Call::end_session(&token).from_ip("198.51.100.1"))
        .await
        .assert_error(403, 12004);
    assert_eq!(t.live_slots().await, 1);
    assert_eq!(t.call(Call::me(&token)).await.status, 200);
}

#[tokio::test]
async fn an_expired_session_cannot_be_ended_or_used() {
    let t = TestApp::spawn().await;
    let token = t.session_from("203.0.113.10").await;
    t.clock.advance_ms(SESSION_LIFETIME_MS);
    t.call(Call::me(&token)).await.assert_error(401, 11002);
    t.call(Call::end_session(&token))
        .await
        .assert_error(401, 11002);
}

#[tokio::test]
async fn a_wrong_key_pair_is_refused_without_a_session() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    let other = TestApp::spawn().await;
    // Right API key, another organization's key (same format, never issued here).
    t.call(Call::create_session(other.organization_key(), &key))
        .await
        .assert_error(401, 11001);
    t.call(Call::create_session(
        t.organization_key(),
        api_tests::fixtures::UNKNOWN_KEY,
    ))
    .await
    .assert_error(401, 11001);
    assert_eq!(t.live_slots().await, 0);
}

#[tokio::test]
async fn an_expired_key_gets_no_session_and_sessions_end_with_their_key() {
    let t = TestApp::spawn().await;
    let expiring = t.api_key_with(&[], Some(T0 + 600_000)).await;
    let response = t
        .call(Call::create_session(t.organization_key(), &expiring))
        .await;
    assert_eq!(response.status, 201);
    assert_eq!(
        response.body["_data"][0]["expires_at"],
        "2026-11-22T20:40:45Z"
    );
    let token = response.body["_data"][0]["session_token"]
        .as_str()
        .unwrap()
        .to_owned();
    t.clock.advance_ms(600_000);
    t.call(Call::me(&token)).await.assert_error(401, 11002);
    t.call(Call::create_session(t.organization_key(), &expiring))
        .await
        .assert_error(401, 11002);
}
