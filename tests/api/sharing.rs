//! Sharing a key with another admin: `share_with` at creation and rotation, the recipient's
//! one reveal within seven days, unsharing, and the shares going with their key.

use api_tests::{ADMIN_ISSUER, Call, TestApp, TestResponse, test_actor};
use serde_json::{Value, json};
use shared::storage::records::PartnershipType::Mssp;

const COLLEAGUE: &str = "colleague-7f3a";
const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

/// A second admin of the test organization, as an operator adds one.
async fn add_colleague(t: &TestApp, subject: &str) {
    let identity = shared::access::admin::Identity {
        issuer: ADMIN_ISSUER.into(),
        subject: subject.into(),
    };
    shared::access::admin::add_admin(
        &t.app.store,
        shared::Clock::now_ms(&t.clock),
        &t.org.org_id,
        &identity,
        Some(format!("{subject}@partner.example")),
        &test_actor(),
    )
    .await
    .unwrap();
}

/// A request as the admin `subject` (signed in through the same identity provider).
fn as_admin(subject: &str, method: &str, path: &str) -> Call {
    Call::new(method, path).claims(&[
        ("iss", ADMIN_ISSUER),
        ("sub", subject),
        ("email", "colleague@partner.example"),
    ])
}

async fn create_shared(t: &TestApp, share_with: Value) -> TestResponse {
    t.call(t.admin("POST", "/v1/admin/keys").json(&json!({
        "name": "Billing sync",
        "partnership_id": t.partnership_id(Mssp),
        "allow_any_origin": true,
        "share_with": share_with,
    })))
    .await
}

fn reveal_path(share: &Value) -> String {
    format!(
        "/v1/admin/shared-keys/{}/reveal",
        share["id"].as_str().unwrap()
    )
}

async fn shares_seen_by(t: &TestApp, subject: &str) -> Vec<Value> {
    let listed = t
        .call(as_admin(subject, "GET", "/v1/admin/shared-keys"))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    listed.body["_data"].as_array().unwrap().clone()
}

async fn audit_actions(t: &TestApp) -> Vec<Value> {
    let audit = t.call(t.admin("GET", "/v1/admin/audit?limit=100")).await;
    audit.body["_data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_key_shared_at_creation_is_revealed_once_by_its_recipient() {
    let t = TestApp::spawn().await;
    add_colleague(&t, COLLEAGUE).await;
    let created = create_shared(&t, json!([COLLEAGUE])).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let secret = created.body["_data"][0]["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_id = created.body["_data"][0]["id"].as_str().unwrap().to_owned();

    // Stored only sealed, bound to its share.
    let stored = t.app.store.shares(&t.org.org_id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].recipient, COLLEAGUE);
    assert!(stored[0].sealed_secret.starts_with("v1."));
    assert!(!stored[0].sealed_secret.contains(&secret));

    // Every admin sees it (never the secret); only the recipient may reveal it.
    let mine = shares_seen_by(&t, &api_tests::admin_subject(&t.org.org_id)).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["for_me"], false);
    assert_eq!(mine[0]["_links"]["reveal"], Value::Null);
    assert_eq!(mine[0]["api_key"]["id"], key_id.as_str());
    assert!(!mine[0].to_string().contains(&secret));
    let theirs = shares_seen_by(&t, COLLEAGUE).await;
    assert_eq!(theirs[0]["for_me"], true);
    assert_eq!(theirs[0]["recipient"], COLLEAGUE);
    assert_eq!(
        theirs[0]["shared_by"],
        format!("admin:{}", api_tests::admin_subject(&t.org.org_id))
    );
    assert!(
        theirs[0]["_links"]["reveal"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/reveal")
    );
    t.call(t.admin("POST", &reveal_path(&mine[0])))
        .await
        .assert_error(404, 10300);

    let revealed = t
        .call(as_admin(COLLEAGUE, "POST", &reveal_path(&theirs[0])))
        .await;
    assert_eq!(revealed.status, 200, "{}", revealed.body);
    assert_eq!(revealed.body["_data"][0]["secret"], secret.as_str());
    assert_eq!(
        revealed.body["_data"][0]["organization_key"],
        t.organization_key()
    );
    assert_eq!(revealed.header("cache-control"), Some("no-store"));
    // The secret works, and it is gone: a second reveal is 404, the share deleted.
    let session = t
        .call(Call::create_session(t.organization_key(), &secret))
        .await;
    assert_eq!(session.status, 201, "{}", session.body);
    t.call(as_admin(COLLEAGUE, "POST", &reveal_path(&theirs[0])))
        .await
        .assert_error(404, 10300);
    assert!(shares_seen_by(&t, COLLEAGUE).await.is_empty());
    assert!(t.app.store.shares(&t.org.org_id).await.unwrap().is_empty());

    let entries = audit_actions(&t).await;
    let shared = entries
        .iter()
        .find(|e| e["action"] == "api_key.shared")
        .unwrap();
    assert_eq!(shared["detail"]["recipient"], COLLEAGUE);
    assert_eq!(shared["target"], format!("api_key:{key_id}"));
    let revealed = entries
        .iter()
        .find(|e| e["action"] == "api_key.share_revealed")
        .unwrap();
    assert_eq!(revealed["actor"], format!("admin:{COLLEAGUE}"));
    assert!(!entries.iter().any(|e| e.to_string().contains(&secret)));
}

#[tokio::test]
async fn share_with_names_other_admins_of_the_organization_only() {
    let t = TestApp::spawn().await;
    add_colleague(&t, COLLEAGUE).await;
    let me = api_tests::admin_subject(&t.org.org_id);
    for (share_with, needle) in [
        (json!(["not-an-admin"]), "not an admin of this organization"),
        (json!([me]), "names you"),
        (json!(["a", "b", "c", "d", "e", "f"]), "at most 5"),
    ] {
        let refused = create_shared(&t, share_with).await;
        refused.assert_error(400, 11400);
        let detail = refused.body["additional_info"]["detail"].as_str().unwrap();
        assert!(detail.contains(needle), "{detail}");
    }
    // Nothing was created by a refused request.
    let keys = t.call(t.admin("GET", "/v1/admin/keys")).await;
    assert_eq!(keys.body["_meta"]["total"], 0);
    assert!(t.app.store.shares(&t.org.org_id).await.unwrap().is_empty());
    // Named twice: one share.
    let created = create_shared(&t, json!([COLLEAGUE, COLLEAGUE])).await;
    assert_eq!(created.status, 201);
    assert_eq!(shares_seen_by(&t, COLLEAGUE).await.len(), 1);
}

#[tokio::test]
async fn unsharing_keeps_the_key_and_revoking_the_key_drops_its_shares() {
    let t = TestApp::spawn().await;
    add_colleague(&t, COLLEAGUE).await;
    let kept = create_shared(&t, json!([COLLEAGUE])).await;
    let kept_secret = kept.body["_data"][0]["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let share = shares_seen_by(&t, COLLEAGUE).await.remove(0);
    let unshared = t
        .call(t.admin(
            "DELETE",
            &format!("/v1/admin/shared-keys/{}", share["id"].as_str().unwrap()),
        ))
        .await;
    assert_eq!(unshared.status, 200, "{}", unshared.body);
    t.call(as_admin(COLLEAGUE, "POST", &reveal_path(&share)))
        .await
        .assert_error(404, 10300);
    t.call(t.admin(
        "DELETE",
        &format!("/v1/admin/shared-keys/{}", share["id"].as_str().unwrap()),
    ))
    .await
    .assert_error(404, 10300);
    // The key itself works on.
    let session = t
        .call(Call::create_session(t.organization_key(), &kept_secret))
        .await;
    assert_eq!(session.status, 201);
    assert!(
        audit_actions(&t)
            .await
            .iter()
            .any(|e| e["action"] == "api_key.unshared" && e["detail"]["recipient"] == COLLEAGUE)
    );

    let revoked = create_shared(&t, json!([COLLEAGUE])).await;
    let id = revoked.body["_data"][0]["id"].as_str().unwrap();
    let share = shares_seen_by(&t, COLLEAGUE).await.remove(0);
    let answer = t
        .call(t.admin("POST", &format!("/v1/admin/keys/{id}/revoke")))
        .await;
    assert_eq!(answer.status, 200);
    assert!(t.app.store.shares(&t.org.org_id).await.unwrap().is_empty());
    t.call(as_admin(COLLEAGUE, "POST", &reveal_path(&share)))
        .await
        .assert_error(404, 10300);
}

#[tokio::test]
async fn a_rotation_shares_the_new_secret_and_drops_the_old_ones() {
    let t = TestApp::spawn().await;
    add_colleague(&t, COLLEAGUE).await;
    add_colleague(&t, "colleague-2").await;
    let created = create_shared(&t, json!([COLLEAGUE])).await;
    let id = created.body["_data"][0]["id"].as_str().unwrap();
    let rotated = t
        .call(
            t.admin("POST", &format!("/v1/admin/keys/{id}/rotate"))
                .json(&json!({ "share_with": ["colleague-2"] })),
        )
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let new_secret = rotated.body["_data"][0]["api_key"].as_str().unwrap();
    // The old key's share went with it; the new key's waits for its recipient.
    assert!(
        shares_seen_by(&t, COLLEAGUE)
            .await
            .iter()
            .all(|s| s["for_me"] == false)
    );
    let theirs: Vec<Value> = shares_seen_by(&t, "colleague-2")
        .await
        .into_iter()
        .filter(|s| s["for_me"] == true)
        .collect();
    assert_eq!(theirs.len(), 1);
    let revealed = t
        .call(as_admin("colleague-2", "POST", &reveal_path(&theirs[0])))
        .await;
    assert_eq!(revealed.body["_data"][0]["secret"], new_secret);
}

#[tokio::test]
async fn a_share_is_gone_after_seven_days_and_with_api_access() {
    let t = TestApp::spawn().await;
    add_colleague(&t, COLLEAGUE).await;
    create_shared(&t, json!([COLLEAGUE])).await;
    let share = shares_seen_by(&t, COLLEAGUE).await.remove(0);
    t.clock.advance_ms(WEEK_MS - 1);
    assert_eq!(shares_seen_by(&t, COLLEAGUE).await.len(), 1);
    t.clock.advance_ms(1);
    assert!(shares_seen_by(&t, COLLEAGUE).await.is_empty());
    t.call(as_admin(COLLEAGUE, "POST", &reveal_path(&share)))
        .await
        .assert_error(404, 10300);
    // The TTL removes the item itself.
    let stored = t.app.store.shares(&t.org.org_id).await.unwrap();
    assert_eq!(
        stored[0].ttl_epoch_seconds,
        shared::storage::records::ttl_for(stored[0].expires_at_ms)
    );

    create_shared(&t, json!([COLLEAGUE])).await;
    let disabled = t.call(t.admin("DELETE", "/v1/admin/api-access")).await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert!(t.app.store.shares(&t.org.org_id).await.unwrap().is_empty());
}

/// Two reveals of each share at once, from separate instances: the secret is handed over
/// exactly once per share.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reveals_hand_a_secret_over_once() {
    const SHARES: usize = 6;
    let t = TestApp::spawn().await;
    add_colleague(&t, COLLEAGUE).await;
    for _ in 0..SHARES {
        assert_eq!(create_shared(&t, json!([COLLEAGUE])).await.status, 201);
    }
    let shares = shares_seen_by(&t, COLLEAGUE).await;
    assert_eq!(shares.len(), SHARES);
    let instances = [t.instance(), t.instance()];
    let reveals = shares.iter().flat_map(|share| {
        instances.iter().map(move |app| {
            let call = as_admin(COLLEAGUE, "POST", &reveal_path(share));
            let app = app.clone();
            tokio::spawn(async move { call.send(&app).await })
        })
    });
    let answers: Vec<TestResponse> = futures::future::join_all(reveals)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for pair in answers.chunks(2) {
        let mut statuses: Vec<u16> = pair.iter().map(|a| a.status).collect();
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 404],
            "{:?}",
            pair.iter().map(|a| &a.body).collect::<Vec<_>>()
        );
    }
    // The storage step that decides: of two deletes of one share, one finds it.
    let created = create_shared(&t, json!([COLLEAGUE])).await;
    assert_eq!(created.status, 201);
    let last = t.app.store.shares(&t.org.org_id).await.unwrap().remove(0);
    assert!(
        t.app
            .store
            .remove_share(&t.org.org_id, &last.share_id, None)
            .await
            .unwrap()
    );
    assert!(
        !t.app
            .store
            .remove_share(&t.org.org_id, &last.share_id, None)
            .await
            .unwrap()
    );
}

/// A share whose key expired before it was revealed: 409, and the share is gone.
#[tokio::test]
async fn a_share_of_a_key_that_expired_meanwhile_is_refused_and_deleted() {
    let t = TestApp::spawn().await;
    add_colleague(&t, COLLEAGUE).await;
    let expires_at = shared::platform::clock::iso8601(shared::Clock::now_ms(&t.clock) + 3_600_000);
    let created = t
        .call(t.admin("POST", "/v1/admin/keys").json(&json!({
            "name": "Short-lived",
            "partnership_id": t.partnership_id(Mssp),
            "allow_any_origin": true,
            "expires_at": expires_at,
            "share_with": [COLLEAGUE],
        })))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let share = shares_seen_by(&t, COLLEAGUE).await.remove(0);
    t.clock.advance_ms(3_600_000);
    let refused = t
        .call(as_admin(COLLEAGUE, "POST", &reveal_path(&share)))
        .await;
    refused.assert_error(409, 12006);
    assert_eq!(
        refused.body["additional_info"]["detail"],
        "the shared key was revoked or has expired; its secret is gone"
    );
    assert!(!refused.body.to_string().contains("hsp_"));
    assert!(t.app.store.shares(&t.org.org_id).await.unwrap().is_empty());
}
