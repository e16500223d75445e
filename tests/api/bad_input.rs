//! Every kind of bad input gets its documented status and error code in the envelope,
//! nothing is stored, and credential-shaped garbage is refused before any database call.

use api_tests::{Call, TestApp, fixtures};
use serde_json::json;

fn with_bad_checksum(credential: &str) -> String {
    let mut text = credential.to_owned();
    let last = text.pop().unwrap();
    text.push(if last == 'A' { 'B' } else { 'A' });
    text
}

#[tokio::test]
async fn bodies_that_are_missing_or_not_json_get_400() {
    let t = TestApp::spawn().await;
    let post = || Call::new("POST", "/v1/auth/session");
    t.call(post()).await.assert_error(400, 10003);
    t.call(post().header("content-type", "application/json"))
        .await
        .assert_error(400, 10003);
    t.call(
        post()
            .header("content-type", "application/json")
            .raw_body(b"  \n"),
    )
    .await
    .assert_error(400, 10003);
    t.call(
        post()
            .header("content-type", "application/json")
            .raw_body(b"{\"organization_key\":"),
    )
    .await
    .assert_error(400, 10003);
    t.call(
        post()
            .header("content-type", "application/json")
            .raw_body(b"\xff\xfe"),
    )
    .await
    .assert_error(400, 10003);
    t.call(post().json(&json!({ "api_key": fixtures::OPEN_KEY })))
        .await
        .assert_error(400, 10003);
    t.call(post().json(&json!({ "organization_key": null, "api_key": fixtures::OPEN_KEY })))
        .await
        .assert_error(400, 10003);
    assert_eq!(t.live_slots().await, 0);
}

#[tokio::test]
async fn wrong_shapes_and_unknown_fields_get_400_saying_which() {
    let t = TestApp::spawn().await;
    let post = |body| Call::new("POST", "/v1/auth/session").json(&body);
    let unknown = t.call(post(json!({ "organization_key": fixtures::ORG_KEY, "api_key": fixtures::OPEN_KEY, "scope": "x" }))).await;
    unknown.assert_error(400, 11400);
    assert!(
        unknown.body["additional_info"]["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `scope`")
    );
    t.call(post(json!([1, 2]))).await.assert_error(400, 11400);
    t.call(post(json!("text"))).await.assert_error(400, 11400);
    t.call(post(
        json!({ "organization_key": 7, "api_key": fixtures::OPEN_KEY }),
    ))
    .await
    .assert_error(400, 11400);
    let both = r#"{"organization_key":"a","organizer_key":"b","api_key":"c"}"#;
    let both = Call::new("POST", "/v1/auth/session")
        .header("content-type", "application/json")
        .raw_body(both.as_bytes());
    t.call(both).await.assert_error(400, 11400);
}

#[tokio::test]
async fn a_secret_sent_as_a_field_name_is_not_echoed() {
    let t = TestApp::spawn().await;
    let body = json!({ fixtures::OPEN_KEY: 1 });
    let response = t
        .call(Call::new("POST", "/v1/auth/session").json(&body))
        .await;
    response.assert_error(400, 11400);
    assert!(
        !response.body.to_string().contains(&fixtures::OPEN_KEY[4..]),
        "{}",
        response.body
    );
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_gets_415() {
    let t = TestApp::spawn().await;
    let body =
        json!({ "organization_key": fixtures::ORG_KEY, "api_key": fixtures::OPEN_KEY }).to_string();
    let call = |content_type: Option<&str>| {
        let call = Call::new("POST", "/v1/auth/session").raw_body(body.as_bytes());
        match content_type {
            Some(value) => call.header("content-type", value),
            None => call,
        }
    };
    t.call(call(None)).await.assert_error(415, 11401);
    t.call(call(Some("text/plain")))
        .await
        .assert_error(415, 11401);
    t.call(call(Some("application/x-www-form-urlencoded")))
        .await
        .assert_error(415, 11401);
    let ok = t.call(call(Some("application/json; charset=utf-8"))).await;
    assert_ne!(ok.status, 415, "{}", ok.body);
}

#[tokio::test]
async fn a_body_over_16_kib_gets_413() {
    let t = TestApp::spawn().await;
    let padding = "x".repeat(16 * 1024);
    let body = json!({ "organization_key": fixtures::ORG_KEY, "api_key": fixtures::OPEN_KEY, "p": padding });
    let response = t
        .call(Call::new("POST", "/v1/auth/session").json(&body))
        .await;
    response.assert_error(413, 12000);
    let exactly = vec![b' '; 16 * 1024];
    let at_limit = Call::new("POST", "/v1/auth/session")
        .header("content-type", "application/json")
        .raw_body(&exactly);
    t.call(at_limit).await.assert_error(400, 10003);
}

#[tokio::test]
async fn malformed_credentials_get_401_without_any_database_call() {
    let t = TestApp::spawn().await;
    let cases = [
        (fixtures::ORG_KEY.to_owned(), "hsp_short".to_owned()),
        (
            fixtures::ORG_KEY.to_owned(),
            with_bad_checksum(fixtures::OPEN_KEY),
        ),
        (fixtures::ORG_KEY.to_owned(), fixtures::ORG_KEY.to_owned()),
        (
            fixtures::ORG_KEY.to_owned(),
            fixtures::SESSION_TOKEN.to_owned(),
        ),
        (
            with_bad_checksum(fixtures::ORG_KEY),
            fixtures::OPEN_KEY.to_owned(),
        ),
        (fixtures::OPEN_KEY.to_owned(), fixtures::OPEN_KEY.to_owned()),
        ("".to_owned(), "".to_owned()),
        (
            format!("{} ", fixtures::ORG_KEY),
            fixtures::OPEN_KEY.to_owned(),
        ),
    ];
    let before = t.app.store.calls();
    for (organization_key, api_key) in cases {
        let response = t
            .call(Call::create_session(&organization_key, &api_key))
            .await;
        response.assert_error(401, 11001);
        assert!(!response.body.to_string().contains(&fixtures::OPEN_KEY[4..]));
    }
    for token in [
        with_bad_checksum(fixtures::SESSION_TOKEN),
        "pps_x".into(),
        fixtures::OPEN_KEY.into(),
        "pps_ü".into(),
    ] {
        t.call(Call::me(&token)).await.assert_error(401, 11001);
        t.call(Call::end_session(&token))
            .await
            .assert_error(401, 11001);
    }
    assert_eq!(t.app.store.calls(), before);
}

#[tokio::test]
async fn authorization_with_another_scheme_or_empty_gets_401_11000() {
    let t = TestApp::spawn().await;
    let token = fixtures::SESSION_TOKEN;
    let before = t.app.store.calls();
    for value in [
        format!("Bearer {token}"),
        "Session".into(),
        "Session ".into(),
        String::new(),
        token.to_owned(),
        format!("Basic {token}"),
    ] {
        let call = Call::get("/v1/me").header("authorization", &value);
        t.call(call).await.assert_error(401, 11000);
    }
    t.call(Call::get("/v1/me")).await.assert_error(401, 11000);
    t.call(Call::new("DELETE", "/v1/auth/session"))
        .await
        .assert_error(401, 11000);
    // The scheme is case-insensitive; a well-formed unknown token then reaches the database.
    t.call(Call::get("/v1/me").header(
        "authorization",
        &format!("session {}", fixtures::UNKNOWN_SESSION),
    ))
    .await
    .assert_error(401, 11001);
    assert_eq!(t.app.store.calls(), before + 1);
}

#[tokio::test]
async fn get_and_delete_take_no_body() {
    let t = TestApp::spawn().await;
    let call = Call::me(fixtures::SESSION_TOKEN).raw_body(b"{}");
    t.call(call).await.assert_error(400, 10003);
    let call = Call::end_session(fixtures::SESSION_TOKEN).raw_body(b"x");
    t.call(call).await.assert_error(400, 10003);
}

#[tokio::test]
async fn unknown_paths_get_404_and_wrong_methods_get_405() {
    let t = TestApp::spawn().await;
    for path in [
        "/",
        "/v1",
        "/v1/me/",
        "/v1/auth",
        "/v1/auth/session/extra",
        "/v2/me",
        "/V1/ME",
    ] {
        t.call(Call::get(path)).await.assert_error(404, 10000);
    }
    let response = t.call(Call::new("PUT", "/v1/auth/session")).await;
    response.assert_error(405, 10001);
    assert_eq!(response.header("allow"), Some("POST, DELETE"));
    for method in ["POST", "DELETE", "PATCH", "OPTIONS", "HEAD"] {
        let response = t.call(Call::new(method, "/v1/me")).await;
        response.assert_error(405, 10001);
        assert_eq!(response.header("allow"), Some("GET"));
    }
    t.call(Call::get("/v1/auth/session"))
        .await
        .assert_error(405, 10001);
}

#[tokio::test]
async fn odd_inputs_never_produce_a_server_error() {
    let t = TestApp::spawn().await;
    let bodies: [&[u8]; 8] = [
        b"null",
        b"{}",
        b"[]",
        b"0",
        b"{\"organization_key\":{}}",
        b"\"\\ud800\"",
        b"{\"a\":1e999}",
        &[0u8; 64],
    ];
    for body in bodies {
        let call = Call::new("POST", "/v1/auth/session")
            .header("content-type", "application/json")
            .raw_body(body);
        let response = t.call(call).await;
        assert!(
            response.status < 500 && response.status >= 400,
            "{body:?}: {}",
            response.body
        );
    }
    for path in ["/v1/me?x=%ff", "/%2e%2e/v1/me", "/v1/me#frag", "/v1//me"] {
        let response = t.call(Call::get(path)).await;
        assert!(response.status < 500, "{path}: {}", response.body);
    }
    let long = Call::get("/v1/me").header(
        "authorization",
        &format!("Session pps_{}", "a".repeat(8000)),
    );
    t.call(long).await.assert_error(401, 11001);
}
