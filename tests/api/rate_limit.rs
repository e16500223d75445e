//! One request per second per session (GCRA, capacity 1), enforced in the session UpdateItem.

use api_tests::{Call, TestApp};
use futures::future::join_all;

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
