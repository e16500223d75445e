//! One request per second per session (GCRA, capacity 1), enforced in the session UpdateItem.

use api_tests::{Call, TestApp};
use futures::future::join_all;
use shared::platform::clock::Clock;

#[tokio::test]
async fn fifty_concurrent_requests_in_the_same_second_give_exactly_one_200() {
    let t = TestApp::spawn().await;
    let token = t.session_from("203.0.113.10").await;
    let responses = join_all((0..50).map(|_| t.call(Call::me(&token)))).await;
    let ok = responses.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1);
    for response in responses.iter().filter(|r| r.status != 200) {
        response.assert_error(429, 12002);
        // The clock stands still, so every refusal waits the full second.
        assert_eq!(response.retry_after_ms(), 1000);
        assert_eq!(response.header("retry-after"), Some("1"));
    }
}

/// The IETF RateLimit fields on every answer to a recognised session (its 404s and 429s
/// too): one request per 1-second window, none left, the window over in whole seconds.
#[tokio::test]
async fn session_answers_carry_the_ratelimit_fields() {
    let t = TestApp::spawn().await;
    let token = t.session_from("203.0.113.10").await;
    let fields = |r: &api_tests::TestResponse| {
        (
            r.header("ratelimit-policy").map(str::to_owned),
            r.header("ratelimit").map(str::to_owned),
        )
    };
    let policy = Some("\"session\";q=1;w=1".to_owned());
    let allowed = t.call(Call::me(&token)).await;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        fields(&allowed),
        (policy.clone(), Some("\"session\";r=0;t=1".into()))
    );
    t.clock.advance_ms(300);
    let refused = t.call(Call::me(&token)).await;
    refused.assert_error(429, 12002);
    assert_eq!(refused.retry_after_ms(), 700);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(
        fields(&refused),
        (policy.clone(), Some("\"session\";r=0;t=1".into()))
    );
    t.clock.advance_ms(700);
    let missing = t
        .call(Call::get(&format!("/v1/accounts/{}", uuid::Uuid::new_v4())).session(&token))
        .await;
    missing.assert_error(404, 11011);
    assert_eq!(fields(&missing).0, policy);

    // No session recognised, no session limit to report.
    let unknown = t.call(Call::me(api_tests::fixtures::UNKNOWN_SESSION)).await;
    unknown.assert_error(401, 11001);
    assert_eq!(fields(&unknown), (None, None));
    let created = t
        .call(Call::create_session(
            t.organization_key(),
            &t.api_key(&[]).await,
        ))
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(fields(&created), (None, None));
    let admin = t.call(t.admin("GET", "/v1/admin/keys")).await;
    assert_eq!(admin.status, 200);
    assert_eq!(fields(&admin), (None, None));
}

#[tokio::test]
async fn retry_after_is_the_time_left_until_the_next_allowed_request() {
    let t = TestApp::spawn().await;
    let token = t.session_from("203.0.113.10").await;
    assert_eq!(t.call(Call::me(&token)).await.status, 200);
    t.clock.advance_ms(300);
    let refused = t.call(Call::me(&token)).await;
    refused.assert_error(429, 12002);
    assert_eq!(refused.retry_after_ms(), 700);
    assert_eq!(refused.header("retry-after"), Some("1"));
    t.clock.advance_ms(699);
    assert_eq!(t.call(Call::me(&token)).await.retry_after_ms(), 1);
    t.clock.advance_ms(1);
    assert_eq!(t.call(Call::me(&token)).await.status, 200);
}

#[tokio::test]
async fn refused_requests_do_not_push_the_next_allowed_time() {
    let t = TestApp::spawn().await;
    let token = t.session_from("203.0.113.10").await;
    assert_eq!(t.call(Call::me(&token)).await.status, 200);
    for _ in 0..9 {
        t.clock.advance_ms(100);
        t.call(Call::me(&token)).await.assert_error(429, 12002);
    }
    t.clock.advance_ms(100);
    assert_eq!(t.call(Call::me(&token)).await.status, 200);
}

#[tokio::test]
async fn a_request_from_another_address_is_refused_and_spends_nothing() {
    let t = TestApp::spawn().await;
    let token = t.session_from("203.0.113.10").await;
    assert_eq!(t.call(Call::me(&token)).await.status, 200);
    t.clock.advance_ms(500);
    t.call(Call::me(&token).from_ip("198.51.100.66"))
        .await
        .assert_error(403, 12004);
    t.clock.advance_ms(500);
    // Exactly 1 s after the holder's last request: the intruder at the same instant is
    // refused, and the holder still gets through.
    t.call(Call::me(&token).from_ip("198.51.100.66"))
        .await
        .assert_error(403, 12004);
    let holder = t.call(Call::me(&token)).await;
    assert_eq!(holder.status, 200, "{}", holder.body);
}

#[tokio::test]
async fn a_request_with_an_unknown_address_is_refused_on_a_locked_session() {
    let t = TestApp::spawn().await;
    let token = t.session_from("203.0.113.10").await;
    t.call(Call::me(&token).from_unknown_address())
        .await
        .assert_error(403, 12004);
    assert_eq!(t.call(Call::me(&token)).await.status, 200);
}

/// Milliseconds from the test clock's time to the end of its minute.
fn rest_of_minute(t: &TestApp) -> u64 {
    let now = t.clock.now_ms();
    u64::try_from(60_000 - now.rem_euclid(60_000)).unwrap()
}

fn with_default_creation_limits(mut t: TestApp) -> TestApp {
    t.app.config.session_creates_per_key =
        shared::platform::config::DEFAULT_SESSION_CREATES_PER_KEY;
    t.app.config.session_creates_per_address =
        shared::platform::config::DEFAULT_SESSION_CREATES_PER_ADDRESS;
    t
}

async fn create(t: &TestApp, key: &str, ip: &str) -> api_tests::TestResponse {
    t.call(Call::create_session(t.organization_key(), key).from_ip(ip))
        .await
}

/// Creates and ends a session; the answer of the creation.
async fn create_and_end(t: &TestApp, key: &str, ip: &str) -> api_tests::TestResponse {
    let created = create(t, key, ip).await;
    if created.status == 201 {
        let token = created.body["_data"][0]["session_token"].as_str().unwrap();
        let ended = t.call(Call::end_session(token).from_ip(ip)).await;
        assert_eq!(ended.status, 200, "{}", ended.body);
    }
    created
}

#[tokio::test]
async fn an_api_key_creates_at_most_ten_sessions_a_minute() {
    let t = with_default_creation_limits(TestApp::spawn().await);
    let key = t.api_key(&[]).await;
    for i in 0..10 {
        let created = create_and_end(&t, &key, "203.0.113.10").await;
        assert_eq!(created.status, 201, "creation {i}: {}", created.body);
    }
    let refused = create(&t, &key, "203.0.113.11").await;
    refused.assert_error(429, 12008);
    assert_eq!(
        refused.body["additional_info"]["detail"],
        "at most 10 session creations a minute per API key; reuse the session you have (it lasts an hour)"
    );
    assert_eq!(refused.retry_after_ms(), rest_of_minute(&t));
    assert_eq!(t.live_slots().await, 0, "a refused creation holds no slot");
    let trail = t.call(t.admin("GET", "/v1/admin/audit?limit=100")).await;
    let limited: Vec<&serde_json::Value> = trail.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "session.creation_limited")
        .collect();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0]["detail"]["per_minute"], 10);
    // Another key of the same organization is not held back; the key is again next minute.
    let other = t.api_key(&[]).await;
    assert_eq!(create(&t, &other, "203.0.113.10").await.status, 201);
    t.clock
        .advance_ms(i64::try_from(rest_of_minute(&t)).unwrap());
    assert_eq!(create(&t, &key, "203.0.113.10").await.status, 201);
}

#[tokio::test]
async fn wrong_keys_count_against_the_client_address() {
    let t = with_default_creation_limits(TestApp::spawn().await);
    let key = t.api_key(&[]).await;
    let unknown = api_tests::fixtures::OPEN_KEY;
    for _ in 0..60 {
        create(&t, unknown, "198.51.100.66")
            .await
            .assert_error(401, 11001);
    }
    // The 61st attempt from that address is refused before its key is even looked at.
    let calls = t.app.store.calls();
    let refused = create(&t, &key, "198.51.100.66").await;
    refused.assert_error(429, 12008);
    assert_eq!(
        t.app.store.calls() - calls,
        1,
        "one UpdateItem, nothing else"
    );
    assert!(
        refused.body["additional_info"]["detail"]
            .as_str()
            .unwrap()
            .contains("60 session creations a minute per client address")
    );
    assert_eq!(refused.retry_after_ms(), rest_of_minute(&t));
    // Another address behind which the right integration runs is unaffected.
    assert_eq!(create(&t, &key, "203.0.113.10").await.status, 201);
}

/// Four Lambda instances create and end sessions with one key at once: exactly ten get
/// through in the minute, every other attempt is a failed condition answered 429 (12008).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_key_limit_is_exact_across_instances() {
    let t = with_default_creation_limits(TestApp::spawn().await);
    let key = t.api_key(&[]).await;
    let instances: Vec<TestApp> = (0..4)
        .map(|_| TestApp {
            app: t.instance(),
            clock: t.clock.clone(),
            org: t.org.clone(),
            notices: t.notices.clone(),
        })
        .collect();
    let runs = instances.iter().enumerate().map(|(i, instance)| {
        let key = key.clone();
        async move {
            let mut statuses = Vec::new();
            for _ in 0..6 {
                let created =
                    create_and_end(instance, &key, &format!("203.0.113.{}", 20 + i)).await;
                if created.status != 201 {
                    created.assert_error(429, 12008);
                }
                statuses.push(created.status);
            }
            statuses
        }
    });
    let statuses: Vec<u16> = join_all(runs).await.into_iter().flatten().collect();
    let created = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((created, refused), (10, 14), "{statuses:?}");
}
