//! The template's IAM policies follow what the code does: every event of `events/` (and the
//! rotation check) is fed through its function with a store that records each DynamoDB
//! item action and the partition key it touches; each must be allowed by that function's
//! policy in `template.yaml` — the action, and the key prefix under its
//! `dynamodb:LeadingKeys` condition.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use api_tests::{T0, app_with, fresh_store, seed_fixtures};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::Value;
use shared::platform::clock::ManualClock;
use shared::storage::Store;

/// An IAM action (`dynamodb:PutItem`) and the partition key value it touches (for a Query of
/// an index, the index's partition value).
type Access = (String, String);

#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Access>>>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "IamRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.split('.').nth(1))
            .unwrap_or_default()
            .to_owned();
        let body: Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let mut accesses = self.0.lock().unwrap();
        accesses.extend(accesses_of(&operation, &body));
        Ok(())
    }
}

fn pk(item: &Value) -> String {
    item["pk"]["S"].as_str().unwrap_or("?").to_owned()
}

fn accesses_of(operation: &str, body: &Value) -> Vec<Access> {
    let action = |name: &str| format!("dynamodb:{name}");
    match operation {
        "GetItem" | "DeleteItem" | "UpdateItem" => vec![(action(operation), pk(&body["Key"]))],
        "PutItem" => vec![(action(operation), pk(&body["Item"]))],
        "Query" => {
            let values = &body["ExpressionAttributeValues"];
            let partition = values[":pk"]["S"]
                .as_str()
                .or_else(|| values[":index"]["S"].as_str())
                .or_else(|| values[":partition"]["S"].as_str())
                .unwrap_or("?");
            vec![(action("Query"), partition.to_owned())]
        }
        "BatchGetItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.values())
            .flat_map(|table| table["Keys"].as_array().cloned().unwrap_or_default())
            .map(|key| (action("BatchGetItem"), pk(&key)))
            .collect(),
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| {
                for (kind, field, name) in [
                    ("Put", "Item", "PutItem"),
                    ("Update", "Key", "UpdateItem"),
                    ("Delete", "Key", "DeleteItem"),
                    ("ConditionCheck", "Key", "ConditionCheckItem"),
                ] {
                    if item.get(kind).is_some() {
                        return (action(name), pk(&item[kind][field]));
                    }
                }
                (action("?"), "?".to_owned())
            })
            .collect(),
        other => vec![(action(other), "?".to_owned())],
    }
}

/// A copy of `store` (same table) whose operations are recorded.
fn recording(store: &Store) -> (Store, Recorder) {
    let recorder = Recorder::default();
    let config = store
        .client()
        .config()
        .to_builder()
        .interceptor(recorder.clone())
        .build();
    (
        Store::new(
            aws_sdk_dynamodb::Client::from_conf(config),
            store.table_name(),
        ),
        recorder,
    )
}

/// What a function's policy allows on the table: actions, and the LeadingKeys patterns
/// (`None`: no condition).
struct Allowed {
    actions: BTreeSet<String>,
    leading_keys: Option<Vec<String>>,
}

impl Allowed {
    fn permits(&self, (action, key): &Access) -> bool {
        let key_allowed = self.leading_keys.as_ref().is_none_or(|patterns| {
            patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => key.starts_with(prefix),
                None => key == p,
            })
        });
        self.actions.contains(action) && key_allowed
    }
}

fn template() -> serde_yaml::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    // CloudFormation tags (!Ref, !GetAtt, !Sub) are read as plain tagged values.
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn allowed(template: &serde_yaml::Value, binary: &str) -> Allowed {
    let resources = template["Resources"].as_mapping().unwrap();
    let function = resources
        .values()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        .unwrap_or_else(|| panic!("no function {binary} in template.yaml"));
    let mut actions = BTreeSet::new();
    let mut leading_keys: Option<Vec<String>> = None;
    for policy in function["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        for statement in policy["Statement"].as_sequence().into_iter().flatten() {
            let listed: Vec<String> = match &statement["Action"] {
                serde_yaml::Value::Sequence(list) => list
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect(),
                serde_yaml::Value::String(one) => vec![one.clone()],
                _ => vec![],
            };
            if !listed.iter().any(|a| a.starts_with("dynamodb:")) {
                continue;
            }
            actions.extend(listed);
            let condition =
                &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
            if let Some(patterns) = condition.as_sequence() {
                leading_keys.get_or_insert_with(Vec::new).extend(
                    patterns
                        .iter()
                        .filter_map(|p| p.as_str().map(str::to_owned)),
                );
            }
        }
    }
    Allowed {
        actions,
        leading_keys,
    }
}

fn events_of(function: &str) -> Vec<PathBuf> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(function);
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn every_function_is_allowed_exactly_what_its_events_do() {
    let template = template();
    let mut refused = Vec::new();
    let mut checked = 0;
    for function in [
        "auth-api",
        "me-api",
        "admin-api",
        "accounts-api",
        "reports-api",
        "customers-api",
        "usage-ingest",
        "fallback-api",
    ] {
        let allowed = allowed(&template, function);
        if allowed.leading_keys.is_none() {
            refused.push(format!(
                "{function}: its table access has no dynamodb:LeadingKeys condition"
            ));
        }
        let mut seen: BTreeSet<Access> = BTreeSet::new();
        for file in events_of(function) {
            let store = fresh_store().await;
            let seeded = app_with(store.clone(), Arc::new(ManualClock::at(T0)));
            seed_fixtures(&seeded).await;
            let (recorded_store, recorder) = recording(&store);
            let app = app_with(recorded_store, Arc::new(ManualClock::at(T0)));
            let text = std::fs::read_to_string(&file).unwrap();
            if function == "usage-ingest" {
                usage_ingest::handle(&app, serde_json::from_str(&text).unwrap()).await;
            } else {
                let request = lambda_http::request::from_str(&text).unwrap();
                match function {
                    "auth-api" => {
                        auth_api::handle(&app, &api_tests::RecordedNotices::default(), request)
                            .await
                    }
                    "me-api" => me_api::handle(&app, request).await,
                    "admin-api" => admin_api::handle(&app, request).await,
                    "accounts-api" => accounts_api::handle(&app, request).await,
                    "reports-api" => reports_api::handle(&app, request).await,
                    "fallback-api" => {
                        fallback_api::handle(&app.config.addressing, &app.store, &request).await
                    }
                    _ => customers_api::handle(&app, request).await,
                };
            }
            seen.extend(recorder.0.lock().unwrap().iter().cloned());
            checked += 1;
        }
        for access in &seen {
            if !allowed.permits(access) {
                refused.push(format!("{function}: {} on {}", access.0, access.1));
            }
        }
    }
    assert!(checked >= 70, "{checked}");
    assert!(
        refused.is_empty(),
        "not allowed by template.yaml:\n{}",
        refused.join("\n")
    );
}

/// Publishes nowhere: the rotation check's notifications are not what is checked here.
struct Silent;

impl shared::access::notices::Notifier for Silent {
    async fn publish(&self, _: &shared::access::notices::Notice) -> Result<(), String> {
        Ok(())
    }
}

/// The daily rotation check, with keys due: its reads (the active-keys index), marks and
/// audit entries are all allowed by its policy.
#[tokio::test]
async fn the_rotation_check_is_allowed_what_it_does() {
    let template = template();
    let allowed = allowed(&template, "rotation-check");
    assert!(allowed.leading_keys.is_some());
    let store = fresh_store().await;
    let clock = ManualClock::at(T0);
    let seeded = app_with(store.clone(), Arc::new(clock.clone()));
    seed_fixtures(&seeded).await;
    // Seven months on, the fixture keys are due.
    clock.advance_ms(7 * 31 * 24 * 3600 * 1000);
    let (recorded_store, recorder) = recording(&store);
    let app = app_with(recorded_store, Arc::new(clock.clone()));
    let event = serde_json::json!({ "detail-type": "Scheduled Event" });
    let output = rotation_check::handle(&app, &Silent, event).await.unwrap();
    assert!(
        !output["newly_due"].as_array().unwrap().is_empty(),
        "{output}"
    );
    let seen = recorder.0.lock().unwrap().clone();
    assert!(seen.iter().any(|(_, key)| key == "ACTIVE_KEYS"), "{seen:?}");
    let refused: Vec<&Access> = seen.iter().filter(|a| !allowed.permits(a)).collect();
    assert!(
        refused.is_empty(),
        "not allowed by template.yaml: {refused:?}"
    );
}

/// The nightly customer-levels recompute (its scheduled event from `events/`), the day after
/// accounts changed: its reads (the organizations index, the accounts) and its index moves
/// are all allowed by its policy.
#[tokio::test]
async fn the_customer_levels_recompute_is_allowed_what_it_does() {
    use shared::storage::records::PartnershipType::Mssp;
    let template = template();
    let allowed = allowed(&template, "customer-levels");
    assert!(allowed.leading_keys.is_some());
    let t = api_tests::TestApp::spawn().await;
    let p = t.partner(Mssp, &["accounts:write"]).await;
    let id = p.create_account("Acme AB", "paying", "2026-09-01").await;
    let failed_scan =
        api_tests::activity_record(&id, "2026-11-22", serde_json::json!({ "failed_scans": 1 }));
    assert!(t.ingest(&[failed_scan]).await.is_empty());
    // A month on, the failed scan left the window: the run moves the account in the index.
    t.clock.advance_ms(31 * 24 * 3600 * 1000);
    let (recorded_store, recorder) = recording(&t.app.store);
    let app = shared::App {
        store: recorded_store,
        ..t.app.clone()
    };
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events/customer-levels/nightly.json");
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let output = customer_levels::handle(&app, event).await.unwrap();
    assert_eq!(
        output["partnerships"].as_array().unwrap().len(),
        2,
        "{output}"
    );
    let seen = recorder.0.lock().unwrap().clone();
    assert!(seen.iter().any(|(_, key)| key == "ORGS"), "{seen:?}");
    assert!(
        seen.iter().any(|(action, _)| action == "dynamodb:PutItem"),
        "{seen:?}"
    );
    let refused: Vec<&Access> = seen.iter().filter(|a| !allowed.permits(a)).collect();
    assert!(
        refused.is_empty(),
        "not allowed by template.yaml: {refused:?}"
    );
}

/// The stream of an account's life (created, a subscription, changed, deleted) through
/// provisioning-events: its delivery marks are allowed by its policy.
#[tokio::test]
async fn the_provisioning_events_function_is_allowed_what_it_does() {
    use shared::storage::records::PartnershipType::Mssp;
    let template = template();
    let allowed = allowed(&template, "provisioning-events");
    assert!(allowed.leading_keys.is_some());
    let t = api_tests::TestApp::spawn().await;
    let p = t.partner(Mssp, &["accounts:write"]).await;
    let account = p
        .expect(
            201,
            api_tests::Call::new("POST", "/v1/accounts")
                .json(&serde_json::json!({ "name": "Acme AB", "country": "SE" })),
        )
        .await;
    let path = format!("/v1/accounts/{}", account["id"].as_str().unwrap());
    p.expect(200, api_tests::Call::new("DELETE", &path)).await;
    let (recorded_store, recorder) = recording(&t.app.store);
    let app = shared::App {
        store: recorded_store,
        ..t.app.clone()
    };
    let log = local_server::streams::EventLog::new(None);
    let mut follower = local_server::streams::StreamFollower::new(
        &app,
        local_server::streams::local_streams_client(&api_tests::dynamodb_endpoint()),
    )
    .await
    .unwrap();
    follower.poll(&app, &log).await.unwrap();
    assert_eq!(log.events().len(), 2);
    let seen = recorder.0.lock().unwrap().clone();
    assert!(
        seen.iter().any(|(action, _)| action == "dynamodb:PutItem"),
        "{seen:?}"
    );
    let refused: Vec<&Access> = seen
        .iter()
        // DescribeTable is the local follower finding the stream, which the event source
        // mapping does when deployed.
        .filter(|a| !allowed.permits(a) && a.0 != "dynamodb:DescribeTable")
        .collect();
    assert!(
        refused.is_empty(),
        "not allowed by template.yaml: {refused:?}"
    );
}
