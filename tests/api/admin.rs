//! Partner admins (`/v1/admin/…`): API access, keys, sessions, audit; isolation between
//! organizations; changes in force the moment they answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use api_tests::{Call, T0, TestApp, TestResponse};
use futures::future::join_all;
use serde_json::{Value, json};
use shared::storage::records::PartnershipType;

/// Creates a key through the admin API; returns the 201 body's `_data[0]`.
async fn create_key(t: &TestApp, body: Value) -> Value {
    let response = t.call(t.admin("POST", "/v1/admin/keys").json(&body)).await;
    assert_eq!(response.status, 201, "{}", response.body);
    response.body["_data"][0].clone()
}

fn open_key_body(t: &TestApp) -> Value {
    json!({ "name": "Billing sync", "partnership_id": t.partnership_id(PartnershipType::Mssp), "allow_any_origin": true })
}

async fn session_with(t: &TestApp, api_key: &str, ip: &str) -> TestResponse {
    t.call(Call::create_session(t.organization_key(), api_key).from_ip(ip))
        .await
}

fn token(response: &TestResponse) -> String {
    response.body["_data"][0]["session_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn admin_routes_need_verified_claims_with_the_admin_role() {
    let t = TestApp::spawn().await;
    t.call(Call::get("/v1/admin/keys"))
        .await
        .assert_error(401, 11000);
    // A signed-in user without a membership gets nothing, whatever his token claims.
    let claims_alone = Call::get("/v1/admin/keys").claims(&[
        ("iss", api_tests::ADMIN_ISSUER),
        ("sub", "self-made-admin"),
        ("custom:organization_id", &t.org.org_id),
        ("cognito:groups", "[partner-admin]"),
    ]);
    t.call(claims_alone).await.assert_error(403, 12007);
    // The same subject from another identity provider is someone else.
    let other_issuer = Call::get("/v1/admin/keys").claims(&[
        ("iss", "https://idp.other.example"),
        ("sub", &api_tests::admin_subject(&t.org.org_id)),
    ]);
    t.call(other_issuer).await.assert_error(403, 12007);
    let no_subject = Call::get("/v1/admin/keys").claims(&[("iss", api_tests::ADMIN_ISSUER)]);
    t.call(no_subject).await.assert_error(403, 12007);
    assert_eq!(t.call(t.admin("GET", "/v1/admin/keys")).await.status, 200);
}

/// An admin whose token names another organization (a claim he could write himself)
/// still acts on his own organization only.
#[tokio::test]
async fn an_admin_cannot_name_another_organization() {
    let t = TestApp::spawn().await;
    let other = shared::partner_data::onboarding::create_organization(
        &t.app.store,
        T0,
        "Victim AB",
        &[shared::partner_data::onboarding::NewPartnership::new(
            "Victim MSSP",
            PartnershipType::Mssp,
        )],
        true,
    )
    .await
    .unwrap();
    let forged = t.admin("GET", "/v1/admin/api-access").claims(&[
        ("iss", api_tests::ADMIN_ISSUER),
        ("sub", &api_tests::admin_subject(&t.org.org_id)),
        ("custom:organization_id", &other.org_id),
    ]);
    let seen = t.call(forged).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(
        seen.body["_data"][0]["organization_key"],
        t.organization_key()
    );
    assert_ne!(
        seen.body["_data"][0]["organization_key"].as_str(),
        other.organization_key.as_deref()
    );
}

/// Removing a membership is in force for the very next request of a token still valid.
#[tokio::test]
async fn a_removed_admin_is_refused_at_once_and_both_changes_are_audited() {
    let t = TestApp::spawn().await;
    assert_eq!(t.call(t.admin("GET", "/v1/admin/keys")).await.status, 200);
    let identity = shared::access::admin::Identity {
        issuer: api_tests::ADMIN_ISSUER.into(),
        subject: api_tests::admin_subject(&t.org.org_id),
    };
    let operator = shared::access::api_keys::Actor {
        id: "operator:ops@vendor.example".into(),
        label: None,
        ip: None,
    };
    let removed =
        shared::access::admin::remove_admin(&t.app.store, T0 + 1000, &identity, &operator)
            .await
            .unwrap();
    assert_eq!(removed.org_id, t.org.org_id);
    t.call(t.admin("GET", "/v1/admin/keys"))
        .await
        .assert_error(403, 12007);
    assert!(matches!(
        shared::access::admin::remove_admin(&t.app.store, T0 + 2000, &identity, &operator).await,
        Err(shared::ApiError::ObjectNotFound)
    ));
    assert!(
        t.app
            .store
            .organization_admins(&t.org.org_id)
            .await
            .unwrap()
            .is_empty()
    );
    // Added back (another organization cannot take him while he is a member).
    api_tests::make_admin(&t.app.store, &t.org.org_id).await;
    let again = shared::access::admin::add_admin(
        &t.app.store,
        T0 + 3000,
        &t.org.org_id,
        &identity,
        None,
        &operator,
    )
    .await;
    assert!(matches!(again, Err(shared::ApiError::Conflict(_))));
    let trail = t.call(t.admin("GET", "/v1/admin/audit")).await;
    let actions: Vec<(&str, &str)> = trail.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("admin.removed", "operator:ops@vendor.example"),
            ("admin.added", "test"),
            ("admin.added", "test"),
        ]
    );
}

#[tokio::test]
async fn api_access_shows_the_organization_key_and_can_be_disabled_and_enabled_again() {
    let t = TestApp::spawn().await;
    let access = t.call(t.admin("GET", "/v1/admin/api-access")).await;
    assert_eq!(access.status, 200);
    assert_eq!(access.body["_data"][0]["enabled"], true);
    assert_eq!(
        access.body["_data"][0]["organization_key"],
        t.organization_key()
    );
    t.call(t.admin("POST", "/v1/admin/api-access"))
        .await
        .assert_error(409, 12006);

    let key = create_key(&t, open_key_body(&t)).await;
    let revoked_before = create_key(&t, open_key_body(&t)).await;
    let revoke = format!(
        "/v1/admin/keys/{}/revoke",
        revoked_before["id"].as_str().unwrap()
    );
    assert_eq!(
        t.call(t.admin("POST", &revoke).json(&json!({})))
            .await
            .status,
        200
    );
    let session = session_with(&t, key["api_key"].as_str().unwrap(), "203.0.113.10").await;
    let disabled = t.call(t.admin("DELETE", "/v1/admin/api-access")).await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert_eq!(disabled.body["_data"][0]["api_keys_removed"], 1);
    t.call(Call::me(&token(&session)))
        .await
        .assert_error(401, 11001);
    assert_eq!(t.live_slots().await, 0);
    // Both keys stay listed for the audit trail, revoked: the one disabling revoked, and
    // the one revoked before, untouched.
    let listed = t.call(t.admin("GET", "/v1/admin/keys")).await;
    assert_eq!(listed.body["_meta"]["total"], 2);
    let state = |id: &Value| {
        let key = listed.body["_data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == *id)
            .unwrap()
            .clone();
        (key["status"].clone(), key["revoked_reason"].clone())
    };
    assert_eq!(
        state(&key["id"]),
        (json!("revoked"), json!("api access disabled"))
    );
    assert_eq!(state(&revoked_before["id"]).0, json!("revoked"));
    assert_ne!(state(&revoked_before["id"]).1, json!("api access disabled"));
    let access = t.call(t.admin("GET", "/v1/admin/api-access")).await;
    assert_eq!(
        access.body["_data"][0],
        json!({ "enabled": false, "organization_key": null, "enabled_at": null })
    );
    t.call(t.admin("DELETE", "/v1/admin/api-access"))
        .await
        .assert_error(409, 12006);
    // The old pair is dead; keys cannot be created while access is off.
    session_with(&t, key["api_key"].as_str().unwrap(), "203.0.113.10")
        .await
        .assert_error(401, 11001);
    t.call(t.admin("POST", "/v1/admin/keys").json(&open_key_body(&t)))
        .await
        .assert_error(409, 12006);

    let enabled = t.call(t.admin("POST", "/v1/admin/api-access")).await;
    assert_eq!(enabled.status, 201, "{}", enabled.body);
    let new_org_key = enabled.body["_data"][0]["organization_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(new_org_key.starts_with("hsp_org_"));
    assert_ne!(new_org_key, t.organization_key());
    let key = create_key(&t, open_key_body(&t)).await;
    assert_eq!(key["organization_key"], new_org_key);
    let created = t
        .call(Call::create_session(
            &new_org_key,
            key["api_key"].as_str().unwrap(),
        ))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
}

#[tokio::test]
async fn partnerships_are_listed() {
    let t = TestApp::spawn().await;
    let response = t.call(t.admin("GET", "/v1/admin/partnerships")).await;
    assert_eq!(response.status, 200);
    let types: Vec<&str> = response.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["mssp", "reseller"]);
    assert_eq!(
        response.body["_data"][0]["skus"],
        json!(["SNS", "DA", "WAS", "CS", "PAT"])
    );
    assert_eq!(response.body["_data"][0]["minimum_commitments"], json!({}));
}

#[tokio::test]
async fn a_new_key_is_shown_once_with_its_scopes_and_works() {
    let t = TestApp::spawn().await;
    let body = json!({
        "name": "Reseller export",
        "partnership_id": t.partnership_id(PartnershipType::Reseller),
        "optional_scopes": ["accounts:write"],
        "allowed_origins": ["203.0.113.0/24", "*.partner.example"],
        "expires_at": "2027-06-30T00:00:00Z",
    });
    let key = create_key(&t, body).await;
    let secret = key["api_key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("hsp_"));
    assert_eq!(key["prefix"], &secret[..8]);
    assert_eq!(key["organization_key"], t.organization_key());
    assert_eq!(
        key["scopes"],
        json!([
            "me:read",
            "reseller-report:read",
            "accounts:read",
            "accounts:write"
        ])
    );
    assert_eq!(key["partnership"]["type"], "reseller");
    assert_eq!(
        key["allowed_origins"],
        json!(["203.0.113.0/24", "*.partner.example"])
    );
    assert_eq!(key["expires_at"], "2027-06-30T00:00:00Z");
    assert_eq!(key["created_at"], "2026-11-22T20:30:45Z");
    assert_eq!(session_with(&t, &secret, "203.0.113.77").await.status, 201);

    let id = key["id"].as_str().unwrap();
    let shown = t
        .call(t.admin("GET", &format!("/v1/admin/keys/{id}")))
        .await;
    assert_eq!(shown.status, 200);
    let shown = &shown.body["_data"][0];
    assert!(shown.get("api_key").is_none());
    assert!(
        !shown.to_string().contains(&secret[8..]),
        "the secret is never shown again"
    );
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["last_used_at"], "2026-11-22T20:30:45Z");
    assert_eq!(shown["rotation_due"], false);
}

#[tokio::test]
async fn key_creation_checks_every_field() {
    let t = TestApp::spawn().await;
    let mssp = t.partnership_id(PartnershipType::Mssp);
    let cases = [
        (
            json!({ "name": "", "partnership_id": mssp, "allow_any_origin": true }),
            400,
            11400,
        ),
        (
            json!({ "name": "x".repeat(101), "partnership_id": mssp, "allow_any_origin": true }),
            400,
            11400,
        ),
        (
            json!({ "name": "ok", "partnership_id": "nope", "allow_any_origin": true }),
            400,
            11400,
        ),
        (
            json!({ "name": "ok", "partnership_id": mssp, "optional_scopes": ["mssp-report:read"], "allow_any_origin": true }),
            400,
            11400,
        ),
        (
            json!({ "name": "ok", "partnership_id": mssp, "optional_scopes": ["admin"], "allow_any_origin": true }),
            400,
            11400,
        ),
        (json!({ "name": "ok", "partnership_id": mssp }), 400, 11400),
        (
            json!({ "name": "ok", "partnership_id": mssp, "allowed_origins": [] }),
            400,
            11400,
        ),
        (
            json!({ "name": "ok", "partnership_id": mssp, "allowed_origins": ["10.0.0.1/8"] }),
            400,
            11400,
        ),
        (
            json!({ "name": "ok", "partnership_id": mssp, "allowed_origins": ["exa mple.com"] }),
            400,
            11400,
        ),
        (
            json!({ "name": "ok", "partnership_id": mssp, "allowed_origins": ["10.0.0.1"], "allow_any_origin": true }),
            400,
            11400,
        ),
        (
            json!({ "name": "ok", "partnership_id": mssp, "allow_any_origin": true, "expires_at": "2026-11-22T20:30:44Z" }),
            400,
            11400,
        ),
        (
            json!({ "name": "ok", "partnership_id": mssp, "allow_any_origin": true, "expires_at": "tomorrow" }),
            400,
            11400,
        ),
        (
            json!({ "name": "ok", "partnership_id": mssp, "allow_any_origin": true, "scopes": ["me:read"] }),
            400,
            11400,
        ),
        (
            json!({ "partnership_id": mssp, "allow_any_origin": true }),
            400,
            10003,
        ),
        // `null` is no value: the contract says none of these fields is nullable.
        (
            json!({ "name": null, "partnership_id": mssp, "allow_any_origin": true }),
            400,
            11400,
        ),
        (
            json!({ "name": "ok", "partnership_id": mssp, "allow_any_origin": true, "expires_at": null }),
            400,
            11400,
        ),
    ];
    for (body, status, code) in cases {
        let response = t.call(t.admin("POST", "/v1/admin/keys").json(&body)).await;
        assert_eq!(
            (response.status, response.error_code()),
            (status, code),
            "{body}: {}",
            response.body
        );
    }
    let listed = t.call(t.admin("GET", "/v1/admin/keys")).await;
    assert_eq!(listed.body["_meta"]["total"], 0, "nothing was stored");
}

#[tokio::test]
async fn keys_are_listed_newest_first_in_pages_and_filtered_by_status() {
    let t = TestApp::spawn().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let mut body = open_key_body(&t);
        body["name"] = json!(format!("key {n}"));
        ids.push(
            create_key(&t, body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        t.clock.advance_ms(1000);
    }
    let page = t
        .call(t.admin("GET", "/v1/admin/keys?limit=2&offset=2"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let names: Vec<&str> = page.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["key 2", "key 1"]);
    assert_eq!(
        page.body["_meta"],
        json!({ "limit": 2, "offset": 2, "total": 5, "request_id": page.body["_meta"]["request_id"] })
    );
    assert_eq!(
        page.body["_links"]["next"]["href"],
        "http://api.example.com/v1/admin/keys?limit=2&offset=4"
    );
    assert_eq!(
        page.body["_links"]["prev"]["href"],
        "http://api.example.com/v1/admin/keys?limit=2&offset=0"
    );
    let last = t
        .call(t.admin("GET", "/v1/admin/keys?limit=2&offset=4"))
        .await;
    assert!(last.body["_links"].get("next").is_none());

    let revoked = t
        .call(
            t.admin("POST", &format!("/v1/admin/keys/{}/revoke", ids[0]))
                .json(&json!({ "reason": "leaked" })),
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let only_revoked = t
        .call(t.admin("GET", "/v1/admin/keys?status=revoked"))
        .await;
    assert_eq!(only_revoked.body["_meta"]["total"], 1);
    assert_eq!(only_revoked.body["_data"][0]["revoked_reason"], "leaked");
    let active = t.call(t.admin("GET", "/v1/admin/keys?status=active")).await;
    assert_eq!(active.body["_meta"]["total"], 4);
    for bad in [
        "?status=gone",
        "?limit=0",
        "?limit=101",
        "?offset=-1",
        "?limt=5",
    ] {
        t.call(t.admin("GET", &format!("/v1/admin/keys{bad}")))
            .await
            .assert_error(400, 11400);
    }
}

#[tokio::test]
async fn revoking_a_key_ends_its_sessions_at_once_and_keeps_it_listed() {
    let t = TestApp::spawn().await;
    let key = create_key(&t, open_key_body(&t)).await;
    let other = create_key(&t, open_key_body(&t)).await;
    let secret = key["api_key"].as_str().unwrap();
    let first = token(&session_with(&t, secret, "203.0.113.10").await);
    let second = token(&session_with(&t, secret, "203.0.113.11").await);
    let unrelated =
        token(&session_with(&t, other["api_key"].as_str().unwrap(), "203.0.113.12").await);
    let id = key["id"].as_str().unwrap();
    let revoked = t
        .call(t.admin("POST", &format!("/v1/admin/keys/{id}/revoke")))
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.body["_data"][0]["status"], "revoked");
    assert_eq!(revoked.body["_data"][0]["sessions_ended"], 2);
    assert_eq!(
        revoked.body["_data"][0]["revoked_at"],
        "2026-11-22T20:30:45Z"
    );
    t.call(Call::me(&first).from_ip("203.0.113.10"))
        .await
        .assert_error(401, 11001);
    t.call(Call::me(&second).from_ip("203.0.113.11"))
        .await
        .assert_error(401, 11001);
    assert_eq!(
        t.call(Call::me(&unrelated).from_ip("203.0.113.12"))
            .await
            .status,
        200
    );
    session_with(&t, secret, "203.0.113.10")
        .await
        .assert_error(401, 11001);
    assert_eq!(t.live_slots().await, 1);
    t.call(t.admin("POST", &format!("/v1/admin/keys/{id}/revoke")))
        .await
        .assert_error(409, 12006);
    t.call(t.admin("POST", &format!("/v1/admin/keys/{id}/rotate")))
        .await
        .assert_error(409, 12006);
    let edit = t
        .admin("PATCH", &format!("/v1/admin/keys/{id}"))
        .json(&json!({ "allowed_origins": ["10.0.0.1"] }));
    t.call(edit).await.assert_error(409, 12006);
    let listed = t
        .call(t.admin("GET", &format!("/v1/admin/keys/{id}")))
        .await;
    assert_eq!(listed.body["_data"][0]["status"], "revoked");
}

#[tokio::test]
async fn rotating_a_key_replaces_it_and_ends_the_old_sessions() {
    let t = TestApp::spawn().await;
    let mut body = open_key_body(&t);
    body["optional_scopes"] = json!(["customers:read"]);
    let old = create_key(&t, body).await;
    let old_session =
        token(&session_with(&t, old["api_key"].as_str().unwrap(), "203.0.113.10").await);
    t.clock.advance_ms(5000);
    let old_id = old["id"].as_str().unwrap();
    let rotated = t
        .call(t.admin("POST", &format!("/v1/admin/keys/{old_id}/rotate")))
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let new = &rotated.body["_data"][0];
    assert_ne!(new["api_key"], old["api_key"]);
    assert_eq!(new["name"], old["name"]);
    assert_eq!(new["scopes"], old["scopes"]);
    assert_eq!(new["partnership"], old["partnership"]);
    assert_eq!(new["rotated_from"], old_id);
    t.call(Call::me(&old_session))
        .await
        .assert_error(401, 11001);
    session_with(&t, old["api_key"].as_str().unwrap(), "203.0.113.10")
        .await
        .assert_error(401, 11001);
    assert_eq!(
        session_with(&t, new["api_key"].as_str().unwrap(), "203.0.113.10")
            .await
            .status,
        201
    );
    let old_view = t
        .call(t.admin("GET", &format!("/v1/admin/keys/{old_id}")))
        .await;
    assert_eq!(old_view.body["_data"][0]["status"], "revoked");
    assert_eq!(old_view.body["_data"][0]["replaced_by"], new["id"]);
    let new_view = t
        .call(t.admin(
            "GET",
            &format!("/v1/admin/keys/{}", new["id"].as_str().unwrap()),
        ))
        .await;
    assert_eq!(
        new_view.body["_data"][0]["last_rotated_at"],
        "2026-11-22T20:30:50Z"
    );
}

/// Rotation with an overlap: the old key keeps working until then (its sessions too, cut
/// to that time), shows when it stops, cannot be rotated again, and stops on time.
#[tokio::test]
async fn rotating_with_an_overlap_keeps_the_old_key_working_until_then() {
    let t = TestApp::spawn().await;
    let old = create_key(&t, open_key_body(&t)).await;
    let old_secret = old["api_key"].as_str().unwrap().to_owned();
    let old_id = old["id"].as_str().unwrap().to_owned();
    let old_session = token(&session_with(&t, &old_secret, "203.0.113.10").await);
    t.clock.advance_ms(5000);
    let rotate = |body: Value| {
        t.admin("POST", &format!("/v1/admin/keys/{old_id}/rotate"))
            .json(&body)
    };
    for refused in [
        json!({ "overlap_seconds": 86_401 }),
        json!({ "overlap_seconds": -1 }),
        json!({ "overlap_seconds": "600" }),
        json!({ "overlap_seconds": null }),
        json!({ "overlap": 600 }),
    ] {
        t.call(rotate(refused.clone()))
            .await
            .assert_error(400, 11400);
    }
    let rotated = t.call(rotate(json!({ "overlap_seconds": 600 }))).await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let new = rotated.body["_data"][0].clone();
    assert_eq!(new["rotated_from"], old_id.as_str());

    // The old key: still active, replaced, and stopping 600 s after the rotation.
    let old_view = t
        .call(t.admin("GET", &format!("/v1/admin/keys/{old_id}")))
        .await;
    let old_view = &old_view.body["_data"][0];
    assert_eq!(old_view["status"], "active");
    assert_eq!(old_view["expires_at"], "2026-11-22T20:40:50Z");
    assert_eq!(old_view["replaced_by"], new["id"]);
    assert_eq!(old_view["rotation_due"], false);
    let sessions = t.call(t.admin("GET", "/v1/admin/sessions")).await;
    assert_eq!(
        sessions.body["_data"][0]["expires_at"],
        "2026-11-22T20:40:50Z"
    );
    t.clock.advance_ms(1000);
    assert_eq!(t.call(Call::me(&old_session)).await.status, 200);
    let during = session_with(&t, &old_secret, "203.0.113.11").await;
    assert_eq!(during.status, 201, "{}", during.body);
    assert_eq!(
        during.body["_data"][0]["expires_at"],
        "2026-11-22T20:40:50Z"
    );
    let again = t.call(rotate(json!({ "overlap_seconds": 60 }))).await;
    again.assert_error(409, 12006);
    assert!(
        again.body["additional_info"]["detail"]
            .as_str()
            .unwrap()
            .contains("rotated already")
    );
    let audit = t.call(t.admin("GET", "/v1/admin/audit")).await;
    let entry = audit.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "api_key.rotated")
        .unwrap()
        .clone();
    assert_eq!(entry["detail"]["overlap_seconds"], 600);
    assert_eq!(entry["detail"]["old_key_stops_at"], "2026-11-22T20:40:50Z");

    // At the end of the overlap the old key and its sessions stop; the new one works.
    t.clock.advance_ms(600_000);
    t.call(Call::me(&old_session))
        .await
        .assert_error(401, 11002);
    session_with(&t, &old_secret, "203.0.113.10")
        .await
        .assert_error(401, 11002);
    let new_session = session_with(&t, new["api_key"].as_str().unwrap(), "203.0.113.10").await;
    assert_eq!(new_session.status, 201, "{}", new_session.body);
    // Its view says it stopped: `expired` (refused, not revoked), listed as such.
    let ended = t
        .call(t.admin("GET", &format!("/v1/admin/keys/{old_id}")))
        .await;
    assert_eq!(ended.body["_data"][0]["status"], "expired");
    let listed = |status: &'static str| {
        let t = &t;
        async move {
            let page = t
                .call(t.admin("GET", &format!("/v1/admin/keys?status={status}")))
                .await;
            assert_eq!(page.status, 200, "{}", page.body);
            page.body["_data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("expired").await, vec![old_id.to_string()]);
    assert!(!listed("active").await.contains(&old_id));
    assert!(
        listed("active")
            .await
            .contains(&new["id"].as_str().unwrap().to_owned())
    );
    t.call(t.admin("GET", "/v1/admin/keys?status=stale"))
        .await
        .assert_error(400, 11400);
    // Revoked after its overlap, the old key still names the key that replaced it.
    let revoked = t
        .call(t.admin("POST", &format!("/v1/admin/keys/{old_id}/revoke")))
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.body["_data"][0]["status"], "revoked");
    assert_eq!(revoked.body["_data"][0]["replaced_by"], new["id"]);

    // Without an overlap (0), rotation revokes at once, as before.
    let other = create_key(&t, open_key_body(&t)).await;
    let other_id = other["id"].as_str().unwrap();
    let now = t
        .call(
            t.admin("POST", &format!("/v1/admin/keys/{other_id}/rotate"))
                .json(&json!({ "overlap_seconds": 0 })),
        )
        .await;
    assert_eq!(now.status, 201, "{}", now.body);
    let other_view = t
        .call(t.admin("GET", &format!("/v1/admin/keys/{other_id}")))
        .await;
    assert_eq!(other_view.body["_data"][0]["status"], "revoked");
}

#[tokio::test]
async fn editing_allowed_origins_applies_to_live_sessions_at_once() {
    let t = TestApp::spawn().await;
    let key = create_key(&t, open_key_body(&t)).await;
    let id = key["id"].as_str().unwrap().to_owned();
    let secret = key["api_key"].as_str().unwrap().to_owned();
    let inside = token(&session_with(&t, &secret, "192.0.2.10").await);
    let outside = token(&session_with(&t, &secret, "198.51.100.10").await);
    let patch = |body: Value| {
        t.admin("PATCH", &format!("/v1/admin/keys/{id}"))
            .json(&body)
    };
    let edited = t
        .call(patch(json!({ "allowed_origins": ["192.0.2.0/24"] })))
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(
        edited.body["_data"][0]["allowed_origins"],
        json!(["192.0.2.0/24"])
    );
    assert_eq!(edited.body["_data"][0]["allow_any_origin"], false);
    assert_eq!(
        t.call(Call::me(&inside).from_ip("192.0.2.10")).await.status,
        200
    );
    t.call(Call::me(&outside).from_ip("198.51.100.10"))
        .await
        .assert_error(401, 11001);
    session_with(&t, &secret, "198.51.100.10")
        .await
        .assert_error(403, 12003);

    // A domain entry: the remaining session now has to name an allowed origin host.
    t.clock.advance_ms(1000);
    assert_eq!(
        t.call(patch(json!({ "allowed_origins": ["app.partner.example"] })))
            .await
            .status,
        200
    );
    t.call(Call::me(&inside).from_ip("192.0.2.10"))
        .await
        .assert_error(403, 12003);
    let with_origin = Call::me(&inside)
        .from_ip("192.0.2.10")
        .header("origin", "https://app.partner.example");
    assert_eq!(t.call(with_origin).await.status, 200);

    for body in [
        json!({ "name": "renamed" }),
        json!({ "scopes": [] }),
        json!({ "allowed_origins": "10.0.0.1" }),
        json!({ "allowed_origins": [] }),
    ] {
        t.call(patch(body.clone())).await.assert_error(400, 11400);
    }
    let refused = t
        .call(patch(json!({ "expires_at": "2030-01-01T00:00:00Z" })))
        .await;
    assert!(
        refused.body["additional_info"]["detail"]
            .as_str()
            .unwrap()
            .contains("`expires_at` cannot be changed")
    );
    let any = t
        .call(patch(
            json!({ "allowed_origins": [], "allow_any_origin": true }),
        ))
        .await;
    assert_eq!(any.status, 200, "{}", any.body);
    t.clock.advance_ms(1000);
    assert_eq!(
        t.call(Call::me(&inside).from_ip("192.0.2.10")).await.status,
        200
    );
}

#[tokio::test]
async fn admins_list_and_invalidate_sessions_by_id() {
    let t = TestApp::spawn().await;
    let key = create_key(&t, open_key_body(&t)).await;
    let session = token(&session_with(&t, key["api_key"].as_str().unwrap(), "203.0.113.10").await);
    t.clock.advance_ms(2000);
    assert_eq!(t.call(Call::me(&session)).await.status, 200);
    let listed = t.call(t.admin("GET", "/v1/admin/sessions")).await;
    assert_eq!(listed.status, 200);
    let live = &listed.body["_data"][0];
    assert_eq!(live["api_key"]["id"], key["id"]);
    assert_eq!(live["ip"], "203.0.113.10");
    assert_eq!(live["created_at"], "2026-11-22T20:30:45Z");
    assert_eq!(live["expires_at"], "2026-11-22T21:30:45Z");
    assert_eq!(live["last_used_at"], "2026-11-22T20:30:47Z");
    assert!(
        !listed.body.to_string().contains(&session[4..]),
        "session ids are not tokens"
    );
    let id = live["id"].as_str().unwrap();
    assert_eq!(
        t.call(t.admin("DELETE", &format!("/v1/admin/sessions/{id}")))
            .await
            .status,
        200
    );
    t.call(Call::me(&session)).await.assert_error(401, 11001);
    t.call(t.admin("DELETE", &format!("/v1/admin/sessions/{id}")))
        .await
        .assert_error(404, 10300);
    assert_eq!(
        t.call(t.admin("GET", "/v1/admin/sessions")).await.body["_data"],
        json!([])
    );
}

#[tokio::test]
async fn another_organizations_admin_sees_and_changes_nothing() {
    let a = TestApp::spawn().await;
    let key = create_key(&a, open_key_body(&a)).await;
    let session = token(&session_with(&a, key["api_key"].as_str().unwrap(), "203.0.113.10").await);
    let session_id = a.call(a.admin("GET", "/v1/admin/sessions")).await.body["_data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Organization B lives in the same table.
    let b_org = shared::partner_data::onboarding::create_organization(
        &a.app.store,
        T0,
        "Other AB",
        &[shared::partner_data::onboarding::NewPartnership::new(
            "Other MSSP",
            PartnershipType::Mssp,
        )],
        true,
    )
    .await
    .unwrap();
    api_tests::make_admin(&a.app.store, &b_org.org_id).await;
    let as_b = |method: &str, path: &str| Call::new(method, path).as_admin(&b_org.org_id);
    let id = key["id"].as_str().unwrap();
    a.call(as_b("GET", &format!("/v1/admin/keys/{id}")))
        .await
        .assert_error(404, 10300);
    a.call(as_b("POST", &format!("/v1/admin/keys/{id}/revoke")))
        .await
        .assert_error(404, 10300);
    a.call(as_b("POST", &format!("/v1/admin/keys/{id}/rotate")))
        .await
        .assert_error(404, 10300);
    a.call(
        as_b("PATCH", &format!("/v1/admin/keys/{id}"))
            .json(&json!({ "allowed_origins": ["10.0.0.1"] })),
    )
    .await
    .assert_error(404, 10300);
    a.call(as_b("DELETE", &format!("/v1/admin/sessions/{session_id}")))
        .await
        .assert_error(404, 10300);
    assert_eq!(
        a.call(as_b("GET", "/v1/admin/keys")).await.body["_meta"]["total"],
        0
    );
    assert_eq!(
        a.call(as_b("GET", "/v1/admin/sessions")).await.body["_data"],
        json!([])
    );
    let b_key = json!({ "name": "x", "partnership_id": a.partnership_id(PartnershipType::Mssp), "allow_any_origin": true });
    a.call(as_b("POST", "/v1/admin/keys").json(&b_key))
        .await
        .assert_error(400, 11400);
    assert_eq!(a.call(Call::me(&session)).await.status, 200);
}

/// The admin changes that must end a key's sessions before they answer.
#[derive(Clone, Copy, Debug)]
enum Ending {
    Revoke,
    Rotate,
    Invalidate,
    Disable,
}

/// Four clients keep using a session while an admin change ends it; every request that
/// starts after the change answered must get 401 (and some before it got 200).
async fn no_request_succeeds_once_it_answered(ending: Ending) {
    let t = TestApp::spawn().await;
    let key = create_key(&t, open_key_body(&t)).await;
    let session = token(&session_with(&t, key["api_key"].as_str().unwrap(), "203.0.113.10").await);
    let session_id = t.call(t.admin("GET", "/v1/admin/sessions")).await.body["_data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answered = Arc::new(AtomicBool::new(false));
    let clients = (0..4).map(|_| {
        let (t, session, answered) = (&t, session.clone(), Arc::clone(&answered));
        async move {
            let mut results = Vec::new();
            while results.iter().filter(|(after, _)| *after).count() < 3 {
                t.clock.advance_ms(1000);
                let started_after = answered.load(Ordering::SeqCst);
                let response = t.call(Call::me(&session)).await;
                results.push((started_after, response.status));
            }
            results
        }
    });
    let change = async {
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        let id = key["id"].as_str().unwrap();
        let call = match ending {
            Ending::Revoke => t.admin("POST", &format!("/v1/admin/keys/{id}/revoke")),
            Ending::Rotate => t.admin("POST", &format!("/v1/admin/keys/{id}/rotate")),
            Ending::Invalidate => t.admin("DELETE", &format!("/v1/admin/sessions/{session_id}")),
            Ending::Disable => t.admin("DELETE", "/v1/admin/api-access"),
        };
        let response = t.call(call).await;
        answered.store(true, Ordering::SeqCst);
        response.status
    };
    let (per_client, status) = futures::join!(join_all(clients), change);
    assert!(
        status == 200 || status == 201,
        "{ending:?} answered {status}"
    );
    let results: Vec<(bool, u16)> = per_client.into_iter().flatten().collect();
    let after: Vec<u16> = results
        .iter()
        .filter(|(after, _)| *after)
        .map(|(_, status)| *status)
        .collect();
    assert!(
        !after.is_empty(),
        "some requests must start after the change answered"
    );
    assert!(
        after.iter().all(|status| *status == 401),
        "{ending:?}: {after:?}"
    );
    assert!(
        results
            .iter()
            .any(|(after, status)| !after && *status == 200),
        "the session worked before"
    );
}

#[tokio::test]
async fn no_request_succeeds_once_a_revocation_has_answered() {
    no_request_succeeds_once_it_answered(Ending::Revoke).await;
}

#[tokio::test]
async fn no_request_succeeds_once_a_rotation_has_answered() {
    no_request_succeeds_once_it_answered(Ending::Rotate).await;
}

#[tokio::test]
async fn no_request_succeeds_once_an_invalidation_has_answered() {
    no_request_succeeds_once_it_answered(Ending::Invalidate).await;
}

#[tokio::test]
async fn no_request_succeeds_once_disabling_api_access_has_answered() {
    no_request_succeeds_once_it_answered(Ending::Disable).await;
}

#[tokio::test]
async fn rotation_is_due_after_exactly_six_calendar_months() {
    let t = TestApp::spawn().await;
    // Created 2026-11-22T20:30:45Z: due only after 2027-05-22T20:30:45Z.
    let key = create_key(&t, open_key_body(&t)).await;
    let path = format!("/v1/admin/keys/{}", key["id"].as_str().unwrap());
    let six_months = chrono::DateTime::parse_from_rfc3339("2027-05-22T20:30:45Z")
        .unwrap()
        .timestamp_millis();
    t.clock.set_ms(six_months);
    assert_eq!(
        t.call(t.admin("GET", &path)).await.body["_data"][0]["rotation_due"],
        false
    );
    t.clock.set_ms(six_months + 1);
    assert_eq!(
        t.call(t.admin("GET", &path)).await.body["_data"][0]["rotation_due"],
        true
    );
    // The key keeps working: the flag is advisory.
    assert_eq!(
        session_with(&t, key["api_key"].as_str().unwrap(), "203.0.113.10")
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn the_audit_trail_records_admin_actions_and_security_events_newest_first() {
    let t = TestApp::spawn().await;
    t.clock.advance_ms(1000);
    let key = create_key(&t, json!({ "name": "Restricted", "partnership_id": t.partnership_id(PartnershipType::Mssp), "allowed_origins": ["192.0.2.1"] })).await;
    t.clock.advance_ms(1000);
    session_with(&t, key["api_key"].as_str().unwrap(), "198.51.100.5")
        .await
        .assert_error(403, 12003);
    t.clock.advance_ms(1000);
    let session = token(&session_with(&t, key["api_key"].as_str().unwrap(), "192.0.2.1").await);
    t.clock.advance_ms(1000);
    t.call(Call::me(&session).from_ip("198.51.100.5"))
        .await
        .assert_error(403, 12004);
    t.clock.advance_ms(1000);
    let id = key["id"].as_str().unwrap();
    assert_eq!(
        t.call(t.admin("POST", &format!("/v1/admin/keys/{id}/revoke")))
            .await
            .status,
        200
    );
    let trail = t.call(t.admin("GET", "/v1/admin/audit")).await;
    assert_eq!(trail.status, 200, "{}", trail.body);
    let actions: Vec<&str> = trail.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "api_key.revoked",
            "session.wrong_ip",
            "session.created",
            "session.origin_refused",
            "api_key.created",
            "admin.added"
        ]
    );
    let revoked = &trail.body["_data"][0];
    // The actor is the token's subject; the e-mail only labels it.
    assert_eq!(
        revoked["actor"],
        format!("admin:{}", api_tests::admin_subject(&t.org.org_id))
    );
    assert_eq!(revoked["actor_label"], "admin@partner.example");
    assert_eq!(revoked["target"], format!("api_key:{id}"));
    assert_eq!(revoked["at"], "2026-11-22T20:30:50Z");
    assert_eq!(trail.body["_data"][1]["ip"], "198.51.100.5");
    let page = t
        .call(t.admin("GET", "/v1/admin/audit?limit=2&offset=2"))
        .await;
    let actions: Vec<&str> = page.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["session.created", "session.origin_refused"]);
    assert!(page.body["_links"]["next"].is_object());
    assert!(
        !trail
            .body
            .to_string()
            .contains(&key["api_key"].as_str().unwrap()[4..])
    );
}

#[tokio::test]
async fn malformed_path_ids_are_404_before_any_database_call() {
    let t = TestApp::spawn().await;
    let long = "a".repeat(1100);
    let routes = [
        ("GET", "/v1/admin/keys/{id}", None),
        (
            "PATCH",
            "/v1/admin/keys/{id}",
            Some(json!({ "allowed_origins": [] })),
        ),
        ("POST", "/v1/admin/keys/{id}/rotate", Some(json!({}))),
        ("POST", "/v1/admin/keys/{id}/revoke", Some(json!({}))),
        ("DELETE", "/v1/admin/sessions/{id}", None),
    ];
    for (method, path, body) in routes {
        for id in [
            long.as_str(),
            "not-a-uuid",
            "6F1C2A52-3B1D-4C44-9A55-0D2F3C4B5A61",
        ] {
            let mut call = t.admin(method, &path.replace("{id}", id));
            if let Some(body) = &body {
                call = call.json(body);
            }
            let before = t.app.store.calls();
            let response = t.call(call).await;
            response.assert_error(404, 10300);
            assert_eq!(
                t.app.store.calls(),
                before,
                "{method} {path} with {}",
                &id[..10]
            );
        }
    }
}
