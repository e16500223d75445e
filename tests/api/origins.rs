//! The four cases of DESIGN.md §4 (allowed origins × client address known), and origin
//! checks on later requests.

use api_tests::{Call, T0, TestApp};

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

/// `n` labels ending in `example.com`.
fn host_of_labels(n: usize) -> String {
    let mut labels = vec!["a"; n - 2];
    labels.extend(["example", "com"]);
    labels.join(".")
}

/// Origin hosts are capped at 32 labels and 253 characters: a host at the cap goes through
/// DynamoDB Local's hot path as usual; one label more is 403 (12003) before any database
/// call, for a valid session and for a forged token alike — never a 500.
#[tokio::test]
async fn origin_hosts_are_capped_before_the_database() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&["*.example.com"]).await;
    let at_cap = format!("https://{}", host_of_labels(32));
    let over = format!("https://{}", host_of_labels(33));
    let created = t
        .call(Call::create_session(t.organization_key(), &key).header("origin", &at_cap))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let token = created.body["_data"][0]["session_token"]
        .as_str()
        .unwrap()
        .to_owned();
    t.clock.advance_ms(1000);
    let me = t.call(Call::me(&token).header("origin", &at_cap)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    for (call, what) in [
        (Call::me(&token).header("origin", &over), "session"),
        (
            Call::me(api_tests::fixtures::UNKNOWN_SESSION).header("referer", &over),
            "forged token",
        ),
        (
            Call::create_session(t.organization_key(), &key).header("origin", &over),
            "session creation",
        ),
    ] {
        t.clock.advance_ms(1000);
        let before = t.app.store.calls();
        let refused = t.call(call).await;
        refused.assert_error(403, 12003);
        assert_eq!(t.app.store.calls(), before, "{what}: no database call");
    }
    // A forged token with a host at the cap reaches DynamoDB and is simply unknown.
    t.call(Call::me(api_tests::fixtures::UNKNOWN_SESSION).header("origin", &at_cap))
        .await
        .assert_error(401, 11001);
}

/// Why the cap: DynamoDB Local itself refuses the hot path's condition for the longest
/// host DNS allows (127 labels), with a ValidationException on the expression's size.
#[tokio::test]
async fn dynamodb_refuses_the_condition_of_an_uncapped_host() {
    let t = TestApp::spawn().await;
    let token = t.session_from("203.0.113.10").await;
    fn touch(patterns: &[String]) -> shared::storage::TouchRequest<'_> {
        shared::storage::TouchRequest {
            now_ms: T0 + 10_000,
            client_ip: Some("203.0.113.10"),
            origin_patterns: patterns,
            spacing_ms: 1000,
        }
    }
    let dns_longest = shared::access::origins::host_patterns(&vec!["a"; 127].join("."));
    let outcome = t
        .app
        .store
        .touch_session(&t.session_hash(&token), &touch(&dns_longest))
        .await
        .unwrap();
    assert_eq!(outcome, shared::storage::TouchOutcome::OriginUnusable);
    let capped = shared::access::origins::host_patterns(
        &vec!["a"; shared::access::origins::MAX_HOST_LABELS].join("."),
    );
    let outcome = t
        .app
        .store
        .touch_session(&t.session_hash(&token), &touch(&capped))
        .await
        .unwrap();
    assert!(matches!(outcome, shared::storage::TouchOutcome::Allowed(_)));
}

/// Should DynamoDB ever refuse the hot path because of the origin (mocked here), the
/// request is 403 (12003), not 500; without an origin the same failure is a 500.
#[tokio::test]
async fn a_validation_exception_caused_by_the_origin_is_a_403() {
    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    use aws_smithy_mocks::{mock, mock_client};
    let too_large = mock!(Client::update_item)
        .sequence()
        .error(|| {
            UpdateItemError::generic(
                aws_sdk_dynamodb::error::ErrorMetadata::builder()
                    .code("ValidationException")
                    .message("Invalid ConditionExpression: Expression size has exceeded the maximum allowed size")
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_dynamodb, [&too_large]);
    let app = api_tests::app_with(
        shared::Store::new(client, "mocked"),
        std::sync::Arc::new(shared::platform::clock::ManualClock::at(T0)),
    );
    let response = Call::me(api_tests::fixtures::SESSION_TOKEN)
        .header("origin", "https://portal.example.com")
        .send(&app)
        .await;
    response.assert_error(403, 12003);
    assert!(!response.body.to_string().contains("Expression"));
    Call::me(api_tests::fixtures::SESSION_TOKEN)
        .send(&app)
        .await
        .assert_error(500, 10100);
}

/// Keys cannot allow origins anyone can register, at creation or in an edit.
#[tokio::test]
async fn wildcards_on_public_suffixes_are_refused_for_keys() {
    let t = TestApp::spawn().await;
    let body = |origins: &[&str]| {
        serde_json::json!({
            "name": "Portal",
            "partnership_id": t.partnership_id(shared::storage::records::PartnershipType::Mssp),
            "allowed_origins": origins,
        })
    };
    for entry in ["*.co.uk", "*.com", "intranet", "*.github.io"] {
        let refused = t
            .call(t.admin("POST", "/v1/admin/keys").json(&body(&[entry])))
            .await;
        refused.assert_error(400, 11400);
        assert!(
            refused.body["additional_info"]["detail"]
                .as_str()
                .unwrap()
                .contains("anyone can register"),
            "{entry}: {}",
            refused.body
        );
    }
    assert_eq!(
        t.app.store.key_records(&t.org.org_id).await.unwrap().len(),
        0
    );
    let created = t
        .call(
            t.admin("POST", "/v1/admin/keys")
                .json(&body(&["*.example.co.uk"])),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["_data"][0]["id"].as_str().unwrap();
    t.call(
        t.admin("PATCH", &format!("/v1/admin/keys/{id}"))
            .json(&serde_json::json!({ "allowed_origins": ["*.co.uk"] })),
    )
    .await
    .assert_error(400, 11400);
}
