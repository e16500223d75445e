//! The four cases of DESIGN.md §4 (allowed origins × client address known), and origin
//! checks on later requests.

use api_tests::{Call, TestApp};

#[tokio::test]
async fn no_origins_and_a_known_address_lock_the_session_to_it() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    let created = t
        .call(Call::create_session(t.organization_key(), &key).from_ip("2001:db8::7"))
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["_data"][0]["ip_locked"], true);
    assert_eq!(created.body["_data"][0]["ip"], "2001:db8::7");
    let token = created.body["_data"][0]["session_token"].as_str().unwrap();
    assert_eq!(
        t.call(Call::me(token).from_ip("2001:db8::7")).await.status,
        200
    );
    t.clock.advance_ms(1000);
    t.call(Call::me(token).from_ip("2001:db8::8"))
        .await
        .assert_error(403, 12004);
}

#[tokio::test]
async fn no_origins_and_an_unknown_address_give_an_unlocked_session_with_a_warning() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    let created = t
        .call(Call::create_session(t.organization_key(), &key).from_unknown_address())
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["_data"][0]["ip_locked"], false);
    assert_eq!(created.body["_data"][0]["ip"], serde_json::Value::Null);
    let warnings = created.body["_meta"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].as_str().unwrap().contains("not locked"));
    let token = created.body["_data"][0]["session_token"].as_str().unwrap();
    assert_eq!(
        t.call(Call::me(token).from_ip("198.51.100.1")).await.status,
        200
    );
    t.clock.advance_ms(1000);
    assert_eq!(
        t.call(Call::me(token).from_ip("192.0.2.200")).await.status,
        200
    );
}

#[tokio::test]
async fn origins_and_a_matching_address_give_a_locked_session() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&["192.0.2.0/24", "partner.example"]).await;
    let created = t
        .call(Call::create_session(t.organization_key(), &key).from_ip("192.0.2.55"))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["_data"][0]["ip_locked"], true);
    let token = created.body["_data"][0]["session_token"].as_str().unwrap();
    assert_eq!(
        t.call(Call::me(token).from_ip("192.0.2.55")).await.status,
        200
    );
    t.clock.advance_ms(1000);
    // Inside the allowed range but not the address the session is locked to.
    t.call(Call::me(token).from_ip("192.0.2.56"))
        .await
        .assert_error(403, 12004);
}

#[tokio::test]
async fn origins_and_an_address_outside_them_are_refused_and_nothing_is_stored() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&["192.0.2.0/24", "partner.example"]).await;
    let refused = t
        .call(Call::create_session(t.organization_key(), &key).from_ip("198.51.100.9"))
        .await;
    refused.assert_error(403, 12003);
    let other_origin = Call::create_session(t.organization_key(), &key)
        .from_ip("198.51.100.9")
        .header("origin", "https://evil.example");
    t.call(other_origin).await.assert_error(403, 12003);
    assert_eq!(t.live_slots().await, 0);
}

#[tokio::test]
async fn origins_and_an_unknown_address_are_refused_and_nothing_is_stored() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&["192.0.2.0/24"]).await;
    let refused = t
        .call(Call::create_session(t.organization_key(), &key).from_unknown_address())
        .await;
    refused.assert_error(403, 12005);
    assert_eq!(t.live_slots().await, 0);
}

#[tokio::test]
async fn a_session_admitted_by_its_origin_host_must_keep_sending_it() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&["*.partner.example"]).await;
    let create = Call::create_session(t.organization_key(), &key)
        .header("origin", "https://billing.partner.example");
    let created = t.call(create).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let token = created.body["_data"][0]["session_token"].as_str().unwrap();
    t.call(Call::me(token)).await.assert_error(403, 12003);
    t.call(Call::me(token).header("origin", "https://partner.example"))
        .await
        .assert_error(403, 12003);
    // Refusals spent nothing: the first good request goes through at once.
    let ok = t
        .call(Call::me(token).header("referer", "https://app.billing.partner.example/x"))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}
