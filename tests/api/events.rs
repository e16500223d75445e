//! Every event under `events/` (named `<case>.<expected status>.json`) fed through its
//! function's handler, against a table seeded with the fixture credentials. The scheduled
//! events of `rotation-check` and `customer-levels` are fed through their handlers in
//! `rotation.rs` and `iam.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use api_tests::{T0, TestResponse, app_with, fresh_store, seed_fixtures};
use shared::platform::clock::ManualClock;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

#[tokio::test]
async fn every_event_gets_the_status_in_its_name() {
    let mut checked = 0;
    let mut functions: Vec<_> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_dir()
                && !p.ends_with("rotation-check")
                && !p.ends_with("customer-levels")
                && !p.ends_with("usage-ingest")
                && !p.ends_with("provisioning-events")
        })
        .collect();
    functions.sort();
    for folder in functions {
        let function = folder.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let expected: u16 = name
                .trim_end_matches(".json")
                .rsplit('.')
                .next()
                .unwrap()
                .parse()
                .unwrap_or_else(|_| panic!("{name}: name the expected status, e.g. case.200.json"));
            let app = app_with(fresh_store().await, Arc::new(ManualClock::at(T0)));
            seed_fixtures(&app).await;
            let request =
                lambda_http::request::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            let response = match function.as_str() {
                "auth-api" => {
                    auth_api::handle(&app, &api_tests::RecordedNotices::default(), request).await
                }
                "me-api" => me_api::handle(&app, request).await,
                "admin-api" => admin_api::handle(&app, request).await,
                "accounts-api" => accounts_api::handle(&app, request).await,
                "reports-api" => reports_api::handle(&app, request).await,
                "customers-api" => customers_api::handle(&app, request).await,
                "docs" | "console" => {
                    let response = if function == "docs" {
                        docs::handle(&app.config.addressing, &request)
                    } else {
                        console::handle(&app.config.addressing, &request)
                    };
                    assert_security_headers(response.headers(), &name);
                    if response.status() == 200 {
                        // The pages and the document are not in the envelope.
                        assert_eq!(expected, 200, "events/{function}/{name}");
                        checked += 1;
                        continue;
                    }
                    response
                }
                "fallback-api" => {
                    fallback_api::handle(&app.config.addressing, &app.store, &request).await
                }
                other => panic!("events/{other}: no such function"),
            };
            assert_security_headers(response.headers(), &name);
            // An answer in a code host's format (an array) names its request in a header.
            let header_id = response
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let response = TestResponse::from_lambda(response);
            assert_eq!(
                response.status, expected,
                "events/{function}/{name}: {}",
                response.body
            );
            // A preflight's 204 has no body either.
            let request_id = if response.body.is_array() || response.body.is_null() {
                header_id
            } else {
                response.body["_meta"]["request_id"]
                    .as_str()
                    .map(str::to_owned)
            };
            assert!(
                request_id.is_some_and(|id| id.starts_with("req-")),
                "{name}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 70, "only {checked} events found");
}

/// `events/usage-ingest/<case>.fails-<ids>.json`: an SQS batch, and the message ids the
/// handler must report as failed (`fails-none` for none).
#[tokio::test]
async fn every_sqs_batch_fails_exactly_the_messages_in_its_name() {
    let folder = events_dir().join("usage-ingest");
    let mut checked = 0;
    for entry in std::fs::read_dir(folder).unwrap() {
        let file = entry.unwrap().path();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let expected = name
            .trim_end_matches(".json")
            .split_once(".fails-")
            .unwrap()
            .1;
        let expected: Vec<&str> = if expected == "none" {
            vec![]
        } else {
            expected.split(',').collect()
        };
        let app = app_with(fresh_store().await, Arc::new(ManualClock::at(T0)));
        seed_fixtures(&app).await;
        let event: usage_ingest::SqsEvent =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let response = usage_ingest::handle(&app, event).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, expected, "events/usage-ingest/{name}");
        checked += 1;
    }
    assert!(checked >= 1);
}

/// Every answer, success or error, of every function: no content sniffing, HTTPS only.
fn assert_security_headers(headers: &http::HeaderMap, name: &str) {
    assert_eq!(
        headers
            .get("x-content-type-options")
            .map(|v| v.to_str().unwrap()),
        Some("nosniff"),
        "{name}"
    );
    assert_eq!(
        headers
            .get("strict-transport-security")
            .map(|v| v.to_str().unwrap()),
        Some("max-age=31536000; includeSubDomains"),
        "{name}"
    );
}

/// `events/provisioning-events/<case>.events-<n>.json`: a DynamoDB Streams batch, and how
/// many events it makes; delivering it again makes none.
#[tokio::test]
async fn every_stream_batch_makes_the_events_in_its_name() {
    let folder = events_dir().join("provisioning-events");
    let mut checked = 0;
    for entry in std::fs::read_dir(folder).unwrap() {
        let file = entry.unwrap().path();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let expected: usize = name
            .trim_end_matches(".json")
            .split_once(".events-")
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or_else(|| panic!("{name}: name the events it makes, e.g. case.events-2.json"));
        let app = app_with(fresh_store().await, Arc::new(ManualClock::at(T0)));
        let batch: shared::partner_data::provisioning::events::StreamEvent =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let log = local_server::streams::EventLog::new(None);
        for _ in 0..2 {
            let response = provisioning_events::handle(&app, &log, batch.clone()).await;
            assert!(response.batch_item_failures.is_empty(), "{name}");
        }
        assert_eq!(log.events().len(), expected, "{name}: {:?}", log.events());
        checked += 1;
    }
    assert!(checked >= 1);
}
