//! The daily rotation check: keys become due after exactly six calendar months, each newly
//! due key is marked, audited and notified once, and a second run does nothing new.

use std::sync::Mutex;

use api_tests::{Call, TestApp};
use serde_json::json;
use shared::access::notices::{Notice, NoticeKind, Notifier};
use shared::access::rotation::check_rotation_due;

/// Records notifications (the deployed notifier is SNS).
#[derive(Default)]
struct Recorded(Mutex<Vec<(String, String)>>);

impl Notifier for Recorded {
    async fn publish(&self, notice: &Notice) -> Result<(), String> {
        assert_eq!(notice.kind, NoticeKind::KeyRotationDue);
        let message: serde_json::Value = serde_json::from_str(&notice.message).unwrap();
        assert_eq!(message["organization_id"], notice.organization_id.as_str());
        self.0
            .lock()
            .unwrap()
            .push((notice.subject.clone(), notice.message.clone()));
        Ok(())
    }
}

pub struct Unreachable;

impl Notifier for Unreachable {
    async fn publish(&self, _: &Notice) -> Result<(), String> {
        Err("topic unreachable".into())
    }
}

fn millis(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_millis()
}

async fn new_key(t: &TestApp) -> serde_json::Value {
    let body = json!({ "name": "Nightly export", "partnership_id": t.partnership_id(shared::storage::records::PartnershipType::Mssp), "allow_any_origin": true });
    let response = t.call(t.admin("POST", "/v1/admin/keys").json(&body)).await;
    assert_eq!(response.status, 201, "{}", response.body);
    response.body["_data"][0].clone()
}

#[tokio::test]
async fn a_key_becomes_due_once_after_six_calendar_months() {
    let t = TestApp::spawn().await;
    let key = new_key(&t).await;
    let notifier = Recorded::default();
    t.clock.set_ms(millis("2027-05-22T20:30:45Z"));
    let report = check_rotation_due(&t.app, &notifier).await.unwrap();
    assert!(report.newly_due.is_empty(), "{report:?}");
    t.clock.set_ms(millis("2027-05-22T20:30:45.001Z"));
    let report = check_rotation_due(&t.app, &notifier).await.unwrap();
    let id = key["id"].as_str().unwrap();
    assert_eq!(report.newly_due, [format!("{}/{id}", t.org.org_id)]);
    {
        let sent = notifier.0.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, "API key \"Nightly export\" is due for rotation");
        let message: serde_json::Value = serde_json::from_str(&sent[0].1).unwrap();
        assert_eq!(message["api_key"]["id"], id);
        assert_eq!(message["not_rotated_since"], "2026-11-22T20:30:45Z");
        assert!(!sent[0].1.contains(&key["api_key"].as_str().unwrap()[4..]));
    }
    let again = check_rotation_due(&t.app, &notifier).await.unwrap();
    assert!(again.newly_due.is_empty());
    assert_eq!(
        notifier.0.lock().unwrap().len(),
        1,
        "nothing new on a second run"
    );
    let trail = t.call(t.admin("GET", "/v1/admin/audit?limit=1")).await;
    assert_eq!(trail.body["_data"][0]["action"], "api_key.rotation_due");
    assert_eq!(trail.body["_data"][0]["actor"], "system");
    let shown = t
        .call(t.admin("GET", &format!("/v1/admin/keys/{id}")))
        .await;
    assert_eq!(shown.body["_data"][0]["rotation_due"], true);
}

#[tokio::test]
async fn rotating_restarts_the_clock_and_revoked_keys_are_never_due() {
    let t = TestApp::spawn().await;
    let rotated = new_key(&t).await;
    let revoked = new_key(&t).await;
    t.clock.set_ms(millis("2027-03-01T00:00:00Z"));
    let new = t
        .call(t.admin(
            "POST",
            &format!("/v1/admin/keys/{}/rotate", rotated["id"].as_str().unwrap()),
        ))
        .await;
    assert_eq!(new.status, 201);
    let revoke = t
        .call(t.admin(
            "POST",
            &format!("/v1/admin/keys/{}/revoke", revoked["id"].as_str().unwrap()),
        ))
        .await;
    assert_eq!(revoke.status, 200);
    let notifier = Recorded::default();
    t.clock.set_ms(millis("2027-06-01T00:00:00Z"));
    assert!(
        check_rotation_due(&t.app, &notifier)
            .await
            .unwrap()
            .newly_due
            .is_empty()
    );
    t.clock.set_ms(millis("2027-09-01T00:00:01Z"));
    let report = check_rotation_due(&t.app, &notifier).await.unwrap();
    let new_id = new.body["_data"][0]["id"].as_str().unwrap();
    assert_eq!(report.newly_due, [format!("{}/{new_id}", t.org.org_id)]);
}

#[tokio::test]
async fn a_failed_notification_is_retried_on_the_next_run() {
    let t = TestApp::spawn().await;
    new_key(&t).await;
    t.clock.set_ms(millis("2027-06-01T00:00:00Z"));
    let failed = check_rotation_due(&t.app, &Unreachable).await.unwrap();
    assert_eq!((failed.newly_due.len(), failed.failed.len()), (0, 1));
    let notifier = Recorded::default();
    let retried = check_rotation_due(&t.app, &notifier).await.unwrap();
    assert_eq!(retried.newly_due.len(), 1);
    assert_eq!(notifier.0.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_scheduled_event_runs_the_check() {
    let t = TestApp::spawn().await;
    new_key(&t).await;
    t.clock.set_ms(millis("2027-06-01T00:00:00Z"));
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/rotation-check/daily.json"
    );
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(event["detail-type"], "Scheduled Event");
    let notifier = Recorded::default();
    let output = rotation_check::handle(&t.app, &notifier, event)
        .await
        .unwrap();
    assert_eq!(output["newly_due"].as_array().unwrap().len(), 1);
    // The key still opens sessions: the flag is advisory.
    let created = t
        .call(Call::create_session(
            t.organization_key(),
            &t.api_key(&[]).await,
        ))
        .await;
    assert_eq!(created.status, 201);
}
