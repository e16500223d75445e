//! Security events in the audit trail: the signals that matter are recorded, at most once
//! per kind, subject and minute — repeats are counted on the minute's entry — so a flood of
//! refusals cannot flood the trail.

use api_tests::{Call, TestApp};
use futures::future::join_all;
use serde_json::Value;

async fn trail(t: &TestApp) -> Vec<Value> {
    let page = t.call(t.admin("GET", "/v1/admin/audit?limit=100")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.body["_data"].as_array().unwrap().clone()
}

fn of_action<'a>(entries: &'a [Value], action: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["action"] == action).collect()
}

#[tokio::test]
async fn a_valid_api_key_with_the_wrong_organization_key_is_one_counted_entry_a_minute() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    let key_id = t.app.store.key_records(&t.org.org_id).await.unwrap()[0]
        .key_id
        .clone();
    for _ in 0..25 {
        t.call(Call::create_session(api_tests::fixtures::ORG_KEY, &key).from_ip("198.51.100.9"))
            .await
            .assert_error(401, 11001);
        t.clock.advance_ms(100);
    }
    let entries = trail(&t).await;
    let wrong = of_action(&entries, "api_key.wrong_organization_key");
    assert_eq!(wrong.len(), 1, "{entries:?}");
    assert_eq!(wrong[0]["occurrences"], 25);
    assert_eq!(wrong[0]["actor"], format!("api_key:{key_id}"));
    assert_eq!(wrong[0]["ip"], "198.51.100.9");
    assert_eq!(wrong[0]["at"], "2026-11-22T20:30:45Z");
    assert_eq!(wrong[0]["last_at"], "2026-11-22T20:30:47Z");
    // The next minute starts a new entry; an unknown API key is nobody's event.
    t.clock.advance_ms(60_000);
    t.call(Call::create_session(api_tests::fixtures::ORG_KEY, &key))
        .await
        .assert_error(401, 11001);
    t.call(Call::create_session(
        t.organization_key(),
        api_tests::fixtures::UNKNOWN_KEY,
    ))
    .await
    .assert_error(401, 11001);
    let entries = trail(&t).await;
    let wrong = of_action(&entries, "api_key.wrong_organization_key");
    assert_eq!(wrong.len(), 2);
    assert_eq!(wrong[0]["occurrences"], 1);
    assert_eq!(wrong[0]["last_at"], Value::Null);
}

#[tokio::test]
async fn reading_the_organization_key_is_audited_per_admin_and_minute() {
    let t = TestApp::spawn().await;
    for _ in 0..3 {
        let read = t.call(t.admin("GET", "/v1/admin/api-access")).await;
        assert_eq!(read.status, 200);
        t.clock.advance_ms(1000);
    }
    let entries = trail(&t).await;
    let reads = of_action(&entries, "api_access.organization_key_read");
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0]["occurrences"], 3);
    assert_eq!(
        reads[0]["actor"],
        format!("admin:{}", api_tests::admin_subject(&t.org.org_id))
    );
    assert_eq!(reads[0]["actor_label"], "admin@partner.example");
    // With API access off there is no key to read, and nothing to record.
    t.call(t.admin("DELETE", "/v1/admin/api-access")).await;
    t.clock.advance_ms(60_000);
    t.call(t.admin("GET", "/v1/admin/api-access")).await;
    assert_eq!(
        of_action(&trail(&t).await, "api_access.organization_key_read").len(),
        1
    );
}

/// Four instances refusing the same key at once: one entry, every refusal counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refusals_from_separate_instances_make_one_entry() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&["192.0.2.1"]).await;
    let instances: Vec<shared::App> = (0..4).map(|_| t.instance()).collect();
    let refusals = instances.iter().flat_map(|app| {
        let key = key.clone();
        (0..5).map(move |_| {
            let key = key.clone();
            async move {
                Call::create_session(api_tests::fixtures::ORG_KEY, &key)
                    .from_ip("198.51.100.9")
                    .send(app)
                    .await
                    .assert_error(401, 11001);
            }
        })
    });
    join_all(refusals).await;
    let entries = trail(&t).await;
    let wrong = of_action(&entries, "api_key.wrong_organization_key");
    assert_eq!(wrong.len(), 1, "{entries:?}");
    assert_eq!(wrong[0]["occurrences"], 20);
}
