//! Log output of a whole session lifecycle (and of a preflight) never contains a key, a
//! token or the pepper.

use std::io::Write;
use std::sync::{Arc, Mutex};

use api_tests::{Call, TestApp, fixtures};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_session_lifecycle_logs_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(shared::platform::telemetry::filter("trace"))
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    let restricted = t.api_key(&["192.0.2.1"]).await;
    let created = t
        .call(Call::create_session(t.organization_key(), &key))
        .await;
    let token = created.body["_data"][0]["session_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(t.call(Call::me(&token)).await.status, 200);
    assert_eq!(t.call(Call::me(&token)).await.status, 429);
    assert_eq!(
        t.call(Call::me(&token).from_ip("198.51.100.3"))
            .await
            .status,
        403
    );
    assert_eq!(
        t.call(Call::create_session(t.organization_key(), &restricted))
            .await
            .status,
        403
    );
    assert_eq!(t.call(Call::end_session(&token)).await.status, 200);
    assert_eq!(t.call(Call::me(&token)).await.status, 401);
    assert_eq!(
        t.call(Call::create_session(
            t.organization_key(),
            fixtures::UNKNOWN_KEY
        ))
        .await
        .status,
        401
    );

    // A credential pasted into a path is not logged either.
    assert_eq!(t.call(Call::get(&format!("/v1/{token}"))).await.status, 404);
    // Nor into a preflight's (which no envelope answers).
    let preflight = t
        .call(
            Call::new("OPTIONS", &format!("/v1/accounts/{token}"))
                .header("origin", "https://app.example.com")
                .header("access-control-request-method", "GET"),
        )
        .await;
    assert_eq!(preflight.status, 204);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("session created")
            && logs.contains("session ended")
            && logs.contains("preflight answered"),
        "{logs}"
    );
    // Every answer is logged as one JSON line with its request id, for the operators.
    let answers: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("request served") || l.contains("request refused"))
        .collect();
    assert!(answers.len() >= 6, "{logs}");
    for line in answers {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(line["fields"]["request_id"].is_string(), "{line}");
        assert!(line["fields"]["status"].is_u64(), "{line}");
    }
    for secret in [
        t.organization_key(),
        key.as_str(),
        restricted.as_str(),
        token.as_str(),
        fixtures::UNKNOWN_KEY,
        fixtures::PEPPER,
    ] {
        // The random part alone must not appear either (no prefix-stripped copies).
        let random_part = &secret[secret.len() - 40..];
        if let Some(at) = logs.find(random_part) {
            let line_start = logs[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = logs[at..].find('\n').map_or(logs.len(), |i| at + i);
            panic!(
                "a secret appeared in the logs: {}",
                logs[line_start..line_end].replace(random_part, "<SECRET>")
            );
        }
    }
}
