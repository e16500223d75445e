//! CORS for browser clients: the origins a key lists, preflights answered from the count of
//! active keys per origin, and actual answers readable only by the pages of the key behind
//! them. (The browser itself is in tests/browser/cors.test.mjs.)

use api_tests::{Call, TestApp, TestResponse};
use serde_json::{Value, json};

const APP: &str = "https://app.example.com";
const OTHER: &str = "https://other.example.com";

/// A key created through the admin API with `cors_origins` (any client address); its view.
async fn key_with(t: &TestApp, cors_origins: &[&str]) -> Value {
    let response = t
        .call(t.admin("POST", "/v1/admin/keys").json(&json!({
            "name": "Browser app",
            "partnership_id": t.partnership_id(shared::storage::records::PartnershipType::Mssp),
            "allow_any_origin": true,
            "cors_origins": cors_origins,
        })))
        .await;
    assert_eq!(response.status, 201, "{}", response.body);
    response.body["_data"][0].clone()
}

fn preflight(path: &str, origin: &str, method: &str) -> Call {
    Call::new("OPTIONS", path)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
}

/// The preflight was allowed for `origin`, with every header a browser needs.
fn assert_allowed(response: &TestResponse, origin: &str, methods: &str) {
    assert_eq!(response.status, 204, "{}", response.body);
    assert_eq!(response.header("access-control-allow-origin"), Some(origin));
    assert_eq!(
        response.header("access-control-allow-methods"),
        Some(methods)
    );
    assert_eq!(
        response.header("access-control-allow-headers"),
        Some("Authorization, Content-Type")
    );
    assert_eq!(response.header("access-control-max-age"), Some("600"));
    assert_eq!(response.header("vary"), Some("Origin"));
}

/// Answered, but with no CORS header: the browser refuses the call.
fn assert_no_cors(response: &TestResponse) {
    for name in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-expose-headers",
    ] {
        assert_eq!(response.header(name), None, "{name}: {}", response.body);
    }
}

/// The stored count of active keys listing `origin` (absent: never listed).
async fn active_keys_listing(t: &TestApp, origin: &str) -> Option<i64> {
    let item = t
        .stored_item(shared::storage::keys::cors_origin(origin))
        .await?;
    Some(item["active_keys"].as_n().unwrap().parse().unwrap())
}

async fn session_of(t: &TestApp, view: &Value, origin: Option<&str>) -> TestResponse {
    let mut call = Call::create_session(
        view["organization_key"].as_str().unwrap(),
        view["api_key"].as_str().unwrap(),
    );
    if let Some(origin) = origin {
        call = call.header("origin", origin);
    }
    t.call(call).await
}

#[tokio::test]
async fn cors_origins_are_stored_as_browsers_send_them_and_a_missing_scheme_is_400() {
    let t = TestApp::spawn().await;
    let view = key_with(&t, &["https://App.Example.com/", "http://localhost:5173"]).await;
    assert_eq!(view["cors_origins"], json!([APP, "http://localhost:5173"]));
    let id = view["id"].as_str().unwrap();
    let shown = t
        .call(t.admin("GET", &format!("/v1/admin/keys/{id}")))
        .await;
    assert_eq!(
        shown.body["_data"][0]["cors_origins"],
        json!([APP, "http://localhost:5173"])
    );

    let refused = t
        .call(t.admin("POST", "/v1/admin/keys").json(&json!({
            "name": "Browser app",
            "partnership_id": t.partnership_id(shared::storage::records::PartnershipType::Mssp),
            "allow_any_origin": true,
            "cors_origins": ["partner.example.com"],
        })))
        .await;
    refused.assert_error(400, 11400);
    let detail = refused.body["additional_info"]["detail"].as_str().unwrap();
    assert!(detail.contains("https://partner.example.com"), "{detail}");
    for bad in [
        "https://partner.example.com/app",
        "https://*.example.com",
        "http://partner.example.com",
    ] {
        t.call(
            t.admin("PATCH", &format!("/v1/admin/keys/{id}"))
                .json(&json!({ "cors_origins": [bad] })),
        )
        .await
        .assert_error(400, 11400);
    }
    t.call(
        t.admin("PATCH", &format!("/v1/admin/keys/{id}"))
            .json(&json!({ "cors_origins": "https://partner.example.com" })),
    )
    .await
    .assert_error(400, 11400);
    // Nothing refused was stored: one key, its origins as created, counted once.
    let keys = t.call(t.admin("GET", "/v1/admin/keys")).await;
    assert_eq!(keys.body["_meta"]["total"], 1);
    assert_eq!(
        keys.body["_data"][0]["cors_origins"],
        json!([APP, "http://localhost:5173"])
    );
    assert_eq!(active_keys_listing(&t, APP).await, Some(1));
    assert_eq!(
        active_keys_listing(&t, "https://partner.example.com").await,
        None
    );
}

#[tokio::test]
async fn a_preflight_is_allowed_while_some_active_key_lists_the_origin() {
    let t = TestApp::spawn().await;
    let first = key_with(&t, &[APP]).await;
    let second = key_with(&t, &[APP, OTHER]).await;
    assert_eq!(active_keys_listing(&t, APP).await, Some(2));

    let allowed = t.call(preflight("/v1/me", APP, "GET")).await;
    assert_allowed(&allowed, APP, "GET");
    assert_eq!(
        allowed.body,
        Value::Null,
        "a preflight's answer has no body"
    );
    assert_allowed(
        &t.call(preflight("/v1/auth/session", APP, "POST")).await,
        APP,
        "POST, DELETE",
    );
    assert_allowed(
        &t.call(preflight("/v1/accounts/a1", OTHER, "PATCH")).await,
        OTHER,
        "GET, PATCH, PUT, DELETE",
    );
    // An origin no key lists, a method the path does not have, a route pages do not call.
    for refused in [
        preflight("/v1/me", "https://evil.example.com", "GET"),
        preflight("/v1/me", APP, "DELETE"),
        preflight("/v1/admin/keys", APP, "GET"),
        preflight("/v1/secret-scanning/alerts", APP, "POST"),
    ] {
        let response = t.call(refused).await;
        assert_eq!(response.status, 204);
        assert_eq!(response.header("vary"), Some("Origin"));
        assert_no_cors(&response);
    }
    // Unknown paths stay 404; an OPTIONS that is no preflight stays 405.
    t.call(preflight("/v1/nowhere", APP, "GET"))
        .await
        .assert_error(404, 10000);
    t.call(Call::new("OPTIONS", "/v1/me"))
        .await
        .assert_error(405, 10001);

    // Revoking one of two keys leaves the origin listed; the rotation of the other hands
    // its origins to the new key; revoking that one ends them.
    let revoke = |view: &Value| {
        t.admin(
            "POST",
            &format!("/v1/admin/keys/{}/revoke", view["id"].as_str().unwrap()),
        )
        .json(&json!({ "reason": "test" }))
    };
    assert_eq!(t.call(revoke(&first)).await.status, 200);
    assert_eq!(active_keys_listing(&t, APP).await, Some(1));
    assert_allowed(&t.call(preflight("/v1/me", APP, "GET")).await, APP, "GET");
    let rotated = t
        .call(t.admin(
            "POST",
            &format!("/v1/admin/keys/{}/rotate", second["id"].as_str().unwrap()),
        ))
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    assert_eq!(
        rotated.body["_data"][0]["cors_origins"],
        json!([APP, OTHER])
    );
    assert_eq!(active_keys_listing(&t, APP).await, Some(1));
    assert_eq!(active_keys_listing(&t, OTHER).await, Some(1));
    assert_allowed(
        &t.call(preflight("/v1/me", OTHER, "GET")).await,
        OTHER,
        "GET",
    );
    assert_eq!(t.call(revoke(&rotated.body["_data"][0])).await.status, 200);
    assert_eq!(active_keys_listing(&t, APP).await, Some(0));
    assert_eq!(active_keys_listing(&t, OTHER).await, Some(0));
    for origin in [APP, OTHER] {
        assert_no_cors(&t.call(preflight("/v1/me", origin, "GET")).await);
    }
}

#[tokio::test]
async fn answers_carry_cors_headers_only_for_an_origin_of_the_key_behind_them() {
    let t = TestApp::spawn().await;
    let view = key_with(&t, &[APP]).await;
    let expose = "X-Request-Id, Retry-After, RateLimit, RateLimit-Policy";

    // Session creation: the page of a listed origin reads its new token.
    let created = session_of(&t, &view, Some(APP)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("access-control-allow-origin"), Some(APP));
    assert_eq!(
        created.header("access-control-expose-headers"),
        Some(expose)
    );
    assert_eq!(created.header("vary"), Some("Origin"));
    let token = created.body["_data"][0]["session_token"].as_str().unwrap();

    let me = t.call(Call::me(token).header("origin", APP)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.header("access-control-allow-origin"), Some(APP));
    assert_eq!(me.header("access-control-expose-headers"), Some(expose));
    assert!(me.header("ratelimit").is_some());
    assert_eq!(
        me.header("x-request-id"),
        me.body["_meta"]["request_id"].as_str()
    );
    // Its 429 too, so the page can wait it out.
    let limited = t.call(Call::me(token).header("origin", APP)).await;
    limited.assert_error(429, 12002);
    assert_eq!(limited.header("access-control-allow-origin"), Some(APP));
    assert!(limited.header("retry-after").is_some());

    // Another origin: served (the key admits any origin) but unreadable in a browser.
    t.clock.advance_ms(1000);
    let other = t.call(Call::me(token).header("origin", OTHER)).await;
    assert_eq!(other.status, 200);
    assert_no_cors(&other);
    assert_eq!(other.header("vary"), Some("Origin"));
    // No Origin at all (a server): no CORS headers, no Vary.
    t.clock.advance_ms(1000);
    let server = t.call(Call::me(token)).await;
    assert_eq!(server.status, 200);
    assert_no_cors(&server);
    assert_eq!(server.header("vary"), None);
    // Logging out from the page: readable too.
    let ended = t.call(Call::end_session(token).header("origin", APP)).await;
    assert_eq!(ended.status, 200, "{}", ended.body);
    assert_eq!(ended.header("access-control-allow-origin"), Some(APP));

    // A key without CORS origins, and a wrong organization key with a listed one's key.
    let plain = key_with(&t, &[]).await;
    let created = session_of(&t, &plain, Some(APP)).await;
    assert_eq!(created.status, 201);
    assert_no_cors(&created);
    let wrong_pair = t
        .call(
            Call::create_session("hso_wrong", view["api_key"].as_str().unwrap())
                .header("origin", APP),
        )
        .await;
    assert_eq!(wrong_pair.status, 401, "{}", wrong_pair.body);
    assert_no_cors(&wrong_pair);
}

#[tokio::test]
async fn editing_a_keys_cors_origins_moves_its_live_sessions_and_the_preflight() {
    let t = TestApp::spawn().await;
    let view = key_with(&t, &[APP]).await;
    let id = view["id"].as_str().unwrap();
    let created = session_of(&t, &view, None).await;
    let token = created.body["_data"][0]["session_token"].as_str().unwrap();

    let edited = t
        .call(
            t.admin("PATCH", &format!("/v1/admin/keys/{id}"))
                .json(&json!({ "cors_origins": [OTHER] })),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(edited.body["_data"][0]["cors_origins"], json!([OTHER]));
    // The allowed origins are kept when only the CORS origins change.
    assert_eq!(edited.body["_data"][0]["allow_any_origin"], true);
    assert_eq!(active_keys_listing(&t, APP).await, Some(0));
    assert_eq!(active_keys_listing(&t, OTHER).await, Some(1));
    assert_no_cors(&t.call(preflight("/v1/me", APP, "GET")).await);
    assert_allowed(
        &t.call(preflight("/v1/me", OTHER, "GET")).await,
        OTHER,
        "GET",
    );

    // The live session follows before the edit answered.
    let old = t.call(Call::me(token).header("origin", APP)).await;
    assert_eq!(old.status, 200);
    assert_no_cors(&old);
    t.clock.advance_ms(1000);
    let new = t.call(Call::me(token).header("origin", OTHER)).await;
    assert_eq!(new.header("access-control-allow-origin"), Some(OTHER));

    // An empty list removes them.
    let cleared = t
        .call(
            t.admin("PATCH", &format!("/v1/admin/keys/{id}"))
                .json(&json!({ "cors_origins": [] })),
        )
        .await;
    assert_eq!(cleared.body["_data"][0]["cors_origins"], json!([]));
    assert_eq!(active_keys_listing(&t, OTHER).await, Some(0));
    t.clock.advance_ms(1000);
    assert_no_cors(&t.call(Call::me(token).header("origin", OTHER)).await);
    // Audited with the lists.
    let audit = t.call(t.admin("GET", "/v1/admin/audit")).await;
    let updates: Vec<&Value> = audit.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "api_key.updated")
        .collect();
    assert_eq!(updates.len(), 2, "{}", audit.body);
    assert_eq!(updates[0]["detail"]["cors_origins"], json!([]));
    assert_eq!(updates[1]["detail"]["cors_origins"], json!([OTHER]));
}

#[tokio::test]
async fn disabling_api_access_uncounts_every_origin_of_keys_listing_many() {
    let t = TestApp::spawn().await;
    // 12 keys of 10 origins each: more items than one transaction holds.
    let origins: Vec<String> = (0..10)
        .map(|i| format!("https://app{i}.example.com"))
        .collect();
    let listed: Vec<&str> = origins.iter().map(String::as_str).collect();
    for _ in 0..12 {
        key_with(&t, &listed).await;
    }
    assert_eq!(active_keys_listing(&t, &origins[9]).await, Some(12));
    let disabled = t.call(t.admin("DELETE", "/v1/admin/api-access")).await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    for origin in &origins {
        assert_eq!(active_keys_listing(&t, origin).await, Some(0), "{origin}");
    }
    assert_no_cors(&t.call(preflight("/v1/me", &origins[0], "GET")).await);
}

/// An edit read before a revocation and committed after it is refused by the key record's
/// condition, in the same transaction as the counts: they do not move.
#[tokio::test]
async fn a_stale_edit_moves_no_count() {
    let t = TestApp::spawn().await;
    let view = key_with(&t, &[APP]).await;
    let id = view["id"].as_str().unwrap();
    let read = t
        .app
        .store
        .key_record(&t.org.org_id, id)
        .await
        .unwrap()
        .unwrap();
    let revoked = t
        .call(t.admin("POST", &format!("/v1/admin/keys/{id}/revoke")))
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(active_keys_listing(&t, APP).await, Some(0));
    let mut edited = read.clone();
    edited.cors_origins = vec![OTHER.to_owned()];
    edited.access_version += 1;
    let change = shared::storage::AccessChange {
        org_id: t.org.org_id.clone(),
        update_records: vec![shared::storage::KeyWrite::edit(edited, &read)],
        ..Default::default()
    };
    assert_eq!(
        t.app.store.commit_access_change(&change).await.unwrap(),
        shared::storage::AccessOutcome::KeyChanged
    );
    assert_eq!(active_keys_listing(&t, APP).await, Some(0));
    assert_eq!(active_keys_listing(&t, OTHER).await, None);
}

/// Edits and revocations of the same keys from separate instances at once: whichever
/// commits first, the counts end exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_edits_and_revocations_leave_exact_counts() {
    const KEYS: usize = 8;
    let t = TestApp::spawn().await;
    let mut ids = Vec::new();
    for _ in 0..KEYS {
        ids.push(
            key_with(&t, &[APP]).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (editor, revoker) = (t.instance(), t.instance());
    let timed = |app: &shared::App, call: Call| {
        let app = app.clone();
        async move {
            let started = std::time::Instant::now();
            let response = call.send(&app).await;
            (response.status, started, std::time::Instant::now())
        }
    };
    let edits = ids.iter().map(|id| {
        timed(
            &editor,
            t.admin("PATCH", &format!("/v1/admin/keys/{id}"))
                .json(&json!({ "cors_origins": [OTHER] })),
        )
    });
    let revocations = ids.iter().map(|id| {
        timed(
            &revoker,
            t.admin("POST", &format!("/v1/admin/keys/{id}/revoke")),
        )
    });
    let (edits, revocations) = tokio::join!(
        tokio::spawn(futures::future::join_all(edits)),
        tokio::spawn(futures::future::join_all(revocations))
    );
    let (edits, revocations) = (edits.unwrap(), revocations.unwrap());
    assert!(revocations.iter().all(|(status, ..)| *status == 200));
    // An edit either committed before the revocation or lost to it (409).
    assert!(edits.iter().all(|(status, ..)| [200, 409].contains(status)));
    // Evidence that the two instances wrote at the same time.
    let overlapping = edits
        .iter()
        .flat_map(|(_, s1, e1)| {
            revocations
                .iter()
                .filter(move |(_, s2, e2)| s1 < e2 && s2 < e1)
        })
        .count();
    assert!(
        overlapping > 0,
        "the instances never wrote at the same time"
    );
    assert_eq!(active_keys_listing(&t, APP).await, Some(0));
    let other = active_keys_listing(&t, OTHER).await;
    assert!(other.is_none_or(|n| n == 0), "{other:?}");
    assert_no_cors(&t.call(preflight("/v1/me", APP, "GET")).await);
}
