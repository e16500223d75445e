//! Leaked credentials reported by a code host (`shared::access::secret_scanning`), against DynamoDB
//! Local: a live API key is revoked with its sessions, a live session ended, each audited;
//! anything else is a false positive and changes nothing, and so does a replayed alert.
//! Each revocation sends a notice to the organization.

use api_tests::{Call, TestApp};
use serde_json::Value;
use shared::access::credentials::{Credential, CredentialKind};
use shared::access::notices::NoticeKind;
use shared::access::secret_scanning::{self, Label, ReportedToken, token_hash};

use crate::rotation::Unreachable;

fn found(token: &str) -> ReportedToken {
    ReportedToken {
        token: token.to_owned(),
        token_type: "partner_portal_api_key".into(),
        url: Some("https://github.com/octo/app/blob/0a1b2c/config.yml".into()),
        source: Some("content".into()),
    }
}

async fn session_of(t: &TestApp, key: &str) -> String {
    t.clock.advance_ms(1000);
    let created = t
        .call(Call::create_session(t.organization_key(), key))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["_data"][0]["session_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn me_status(t: &TestApp, session: &str) -> u16 {
    t.clock.advance_ms(1000);
    t.call(Call::me(session)).await.status
}

async fn trail(t: &TestApp) -> Vec<Value> {
    let trail = t.call(t.admin("GET", "/v1/admin/audit")).await;
    assert_eq!(trail.status, 200, "{}", trail.body);
    trail.body["_data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_reported_live_key_is_revoked_with_its_sessions_and_a_replay_changes_nothing() {
    let t = TestApp::spawn().await;
    let leaked_key = t.api_key(&[]).await;
    let other_key = t.api_key(&[]).await;
    let of_leaked_key = session_of(&t, &leaked_key).await;
    let leaked_session = session_of(&t, &other_key).await;
    let kept_session = session_of(&t, &other_key).await;
    let mut mistyped = leaked_key.clone();
    let last = if mistyped.ends_with('A') { "B" } else { "A" };
    mistyped.replace_range(mistyped.len() - 1.., last);
    let never_issued = Credential::generate(CredentialKind::ApiKey).unwrap();
    let alert = [
        found(&leaked_key),
        found(&leaked_session),
        found(&mistyped),
        found(never_issued.expose()),
        found(t.organization_key()),
    ];
    let before = trail(&t).await.len();

    let verdicts = secret_scanning::handle_alert(&t.app, &t.notices, &alert)
        .await
        .unwrap();
    let labels: Vec<Label> = verdicts.iter().map(|v| v.label).collect();
    use Label::{FalsePositive, TruePositive};
    assert_eq!(
        labels,
        [
            TruePositive,
            TruePositive,
            FalsePositive,
            FalsePositive,
            FalsePositive
        ]
    );
    assert_eq!(verdicts[0].token_hash, token_hash(&leaked_key));
    assert_eq!(verdicts[0].token_type, "partner_portal_api_key");

    // The leaked key opens no session and its session is gone; the leaked session of the
    // other key is gone, the other key and its other session work on.
    assert_eq!(me_status(&t, &of_leaked_key).await, 401);
    assert_eq!(me_status(&t, &leaked_session).await, 401);
    assert_eq!(me_status(&t, &kept_session).await, 200);
    t.clock.advance_ms(1000);
    let refused = t
        .call(Call::create_session(t.organization_key(), &leaked_key))
        .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let _ = session_of(&t, &other_key).await;

    let entries = trail(&t).await;
    // (Both written in the same millisecond of the test clock: compared in name order.)
    let scanner: std::collections::BTreeSet<(&str, &str)> = entries
        .iter()
        .filter(|e| e["actor"] == "system:secret-scanning")
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor_label"].as_str().unwrap(),
            )
        })
        .collect();
    let url = "https://github.com/octo/app/blob/0a1b2c/config.yml";
    assert_eq!(
        scanner,
        [("api_key.revoked", url), ("session.invalidated", url)].into()
    );
    let revoked = entries
        .iter()
        .find(|e| e["action"] == "api_key.revoked")
        .unwrap();
    assert_eq!(
        revoked["detail"]["reason"],
        secret_scanning::REVOCATION_REASON
    );
    let serialized = serde_json::to_string(&entries).unwrap();
    assert!(!serialized.contains(&leaked_key) && !serialized.contains(&leaked_session));

    // One notice to the organization per true positive, naming the key and where it was
    // found, never the secret.
    let notices = t.notices.sent();
    let kinds: Vec<NoticeKind> = notices.iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds,
        [NoticeKind::LeakedKeyRevoked, NoticeKind::LeakedSessionEnded]
    );
    let key_view = t
        .call(t.admin(
            "GET",
            &format!(
                    "/v1/admin/keys/{}",
                    revoked["target"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("api_key:")
                ),
        ))
        .await;
    assert_eq!(key_view.status, 200, "{}", key_view.body);
    let key = &key_view.body["_data"][0];
    for notice in &notices {
        assert_eq!(notice.organization_id, t.org.org_id);
        assert!(!notice.subject.contains(&leaked_key) && !notice.message.contains(&leaked_key));
        assert!(!notice.message.contains(&leaked_session));
    }
    let message: Value = serde_json::from_str(&notices[0].message).unwrap();
    assert_eq!(message["api_key"]["id"], key["id"]);
    assert_eq!(message["api_key"]["prefix"], key["prefix"]);
    assert_eq!(message["found_at"], url);
    assert_eq!(message["sessions_ended"], 1);
    assert_eq!(
        notices[0].subject,
        format!(
            "API key \"{}\" was found in public code and revoked",
            key["name"].as_str().unwrap()
        )
    );
    let message: Value = serde_json::from_str(&notices[1].message).unwrap();
    assert_eq!(message["found_at"], url);
    assert!(message["session"]["id"].is_string());

    // The same alert again (a retry, or a replay): nothing is live, nothing changes.
    let after = trail(&t).await.len();
    let again = secret_scanning::handle_alert(&t.app, &t.notices, &alert)
        .await
        .unwrap();
    assert!(again.iter().all(|v| v.label == FalsePositive), "{again:?}");
    assert_eq!(trail(&t).await.len(), after);
    assert!(after > before);
    assert_eq!(t.notices.sent().len(), 2, "no notice for a replay");

    // A notice that cannot be sent leaves the revocation standing (logged; the audit trail
    // holds it).
    let third_key = t.api_key(&[]).await;
    let unsent = secret_scanning::handle_alert(&t.app, &Unreachable, &[found(&third_key)])
        .await
        .unwrap();
    assert_eq!(unsent[0].label, TruePositive);
    let refused = t
        .call(Call::create_session(t.organization_key(), &third_key))
        .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
}

/// `POST /v1/secret-scanning/alerts` with `body`, signed by the stand-in code host unless
/// `signature` replaces its signature.
fn alert(body: &[u8], signature: Option<&str>) -> Call {
    let signed = local_server::code_host::sign(body).unwrap();
    Call::new("POST", "/v1/secret-scanning/alerts")
        .raw_body(body)
        .header("content-type", "application/json")
        .header(
            "github-public-key-identifier",
            local_server::code_host::KEY_IDENTIFIER,
        )
        .header("github-public-key-signature", signature.unwrap_or(&signed))
}

#[tokio::test]
async fn the_route_answers_signed_alerts_in_the_hosts_format_and_refuses_others_before_reading() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    let session = session_of(&t, &key).await;
    let body = serde_json::to_vec(&serde_json::json!([
        { "token": key, "type": "partner_portal_api_key",
          "url": "https://gist.github.com/octo/1", "source": "gist" },
        { "token": "hsp_not-ours", "type": "partner_portal_api_key" },
    ]))
    .unwrap();

    // Refused before any database call: no headers, an unknown key, another body's
    // signature, a signature that is not base64.
    let other = local_server::code_host::sign(b"[]").unwrap();
    let calls = t.app.store.calls();
    let unsigned = Call::new("POST", "/v1/secret-scanning/alerts").raw_body(&body);
    t.call(unsigned).await.assert_error(401, 11000);
    let unknown = alert(&body, None).header("github-public-key-identifier", "another-key");
    t.call(unknown).await.assert_error(401, 11001);
    t.call(alert(&body, Some(&other)))
        .await
        .assert_error(401, 11001);
    t.call(alert(&body, Some("%%%")))
        .await
        .assert_error(401, 11001);
    assert_eq!(t.app.store.calls(), calls, "no database call");
    assert_eq!(me_status(&t, &session).await, 200, "nothing was revoked");

    // A body over the alert limit, signed or not.
    let huge = vec![b' '; shared::access::secret_scanning::MAX_ALERT_BYTES + 1];
    let too_large = t.call(alert(&huge, None)).await;
    too_large.assert_error(413, 12000);

    // A signed body that is not an alert.
    let not_alert = br#"{"token":"x"}"#;
    t.call(alert(not_alert, None))
        .await
        .assert_error(400, 11400);

    let answer = t.call(alert(&body, None)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body,
        serde_json::json!([
            { "token_hash": token_hash(&key), "token_type": "partner_portal_api_key",
              "label": "true_positive" },
            { "token_hash": token_hash("hsp_not-ours"), "token_type": "partner_portal_api_key",
              "label": "false_positive" },
        ])
    );
    assert_eq!(
        me_status(&t, &session).await,
        401,
        "the key's session ended"
    );
    let notices = t.notices.sent();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].kind, NoticeKind::LeakedKeyRevoked);
    let message: Value = serde_json::from_str(&notices[0].message).unwrap();
    assert_eq!(message["found_at"], "https://gist.github.com/octo/1");
}
