//! `openapi.yaml` is the published contract: its operations are exactly the route table's
//! (which `template.rs` checks against `template.yaml`), each served by the local server
//! and secured as the route requires, and its error catalogue is exactly `ApiError`'s.

use std::collections::BTreeSet;

use api_tests::{Call, TestApp};
use serde_yaml::Value;
use shared::ApiError;
use shared::platform::routes::{Access, ROUTES};

fn openapi() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// (method, path, function, security scheme) of every operation.
fn operations(doc: &Value) -> BTreeSet<(String, String, String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, op) in item.as_mapping().unwrap() {
            let scheme = op["security"]
                .as_sequence()
                .and_then(|s| s.first())
                .and_then(|s| s.as_mapping())
                .and_then(|m| m.keys().next())
                .and_then(Value::as_str)
                .unwrap_or("none");
            found.insert((
                method.as_str().unwrap().to_uppercase(),
                path.as_str().unwrap().to_owned(),
                op["x-function"].as_str().unwrap().to_owned(),
                scheme.to_owned(),
            ));
        }
    }
    found
}

#[test]
fn the_openapi_operations_are_the_route_table() {
    let documented = operations(&openapi());
    let routed: BTreeSet<_> = ROUTES
        .iter()
        .map(|r| {
            let scheme = match r.access {
                Access::Admin => "AdminJwt",
                Access::Public | Access::CodeHost => "none",
                Access::Partner
                    if r.path == "/v1/auth/session" && r.method == http::Method::POST =>
                {
                    "none"
                }
                Access::Partner => "SessionToken",
            };
            (
                r.method.to_string(),
                r.path.to_owned(),
                r.function.package().to_owned(),
                scheme.to_owned(),
            )
        })
        .collect();
    assert_eq!(documented, routed);
}

#[tokio::test]
async fn the_local_server_serves_every_documented_operation() {
    let t = TestApp::spawn().await;
    for (method, path, _, scheme) in operations(&openapi()) {
        let path = path.replace("{id}", "2026-11");
        let request = local_server::event::to_request(&Call::new(&method, &path).event()).unwrap();
        let response = local_server::dispatch(&t.app, &t.notices, request).await;
        let status = response.status().as_u16();
        if scheme == "none" && method == "GET" {
            // The documentation: open to anyone.
            assert_eq!(status, 200, "{method} {path}");
            continue;
        }
        let response = api_tests::TestResponse::from_lambda(response);
        // Without credentials every other route refuses, but none is unknown to the server.
        assert!(
            ![10000, 10001, 10303].contains(&response.error_code()),
            "{method} {path}: {}",
            response.body
        );
        assert!(status == 401 || status == 400, "{method} {path}: {status}");
    }
}

#[test]
fn the_error_catalogue_is_published_exactly() {
    let doc = openapi();
    let published: BTreeSet<(u64, u64)> = doc["x-error-catalogue"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| (e["code"].as_u64().unwrap(), e["status"].as_u64().unwrap()))
        .collect();
    let catalogue: BTreeSet<(u64, u64)> = ApiError::catalogue()
        .iter()
        .map(|e| (u64::from(e.code()), u64::from(e.status().as_u16())))
        .collect();
    assert_eq!(published, catalogue);
    // Each code is in a shared response of its status, which the operations reference.
    for (code, status) in &catalogue {
        let in_responses = doc["components"]["responses"]
            .as_mapping()
            .unwrap()
            .values()
            .filter(|r| {
                r["x-error-codes"]
                    .as_sequence()
                    .is_some_and(|c| c.contains(&Value::from(*code)))
            })
            .count();
        assert!(in_responses >= 1, "error {code} ({status})");
    }
    let schema_codes: BTreeSet<u64> = doc["components"]["schemas"]["Error"]["properties"]["additional_info"]["properties"]["error_code"]["enum"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(schema_codes, catalogue.iter().map(|(c, _)| *c).collect());
}

#[test]
fn every_path_parameter_is_declared() {
    let doc = openapi();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        let path = path.as_str().unwrap();
        for (method, op) in item.as_mapping().unwrap() {
            let declared = op["parameters"].as_sequence().map_or(0, |params| {
                params
                    .iter()
                    .filter(|p| {
                        let name = p["$ref"].as_str().unwrap_or_default();
                        name.ends_with("/id") || name.ends_with("/periodId")
                    })
                    .count()
            });
            assert_eq!(
                declared,
                usize::from(path.contains("{id}")),
                "{method:?} {path}"
            );
        }
    }
}

/// The methods the document gives each path.
fn documented_methods(doc: &Value) -> Vec<(String, BTreeSet<String>)> {
    doc["paths"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_mapping()
                .unwrap()
                .keys()
                .map(|m| m.as_str().unwrap().to_uppercase())
                .collect();
            (path.as_str().unwrap().to_owned(), methods)
        })
        .collect()
}

fn error_codes_of(doc: &Value, response_ref: &str) -> BTreeSet<u64> {
    let name = response_ref.rsplit('/').next().unwrap();
    doc["components"]["responses"][name]["x-error-codes"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{response_ref} lists no error codes"))
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect()
}

/// Every operation declares the 405 its path answers to other methods (a generated client
/// parses it as an error, not an unexpected status): 10001 with `Allow`, and on a
/// collection's path 10303 for DELETE as well. The server answers exactly that.
#[tokio::test]
async fn every_operation_declares_the_405_of_its_path() {
    let doc = openapi();
    let t = TestApp::spawn().await;
    for (path, methods) in documented_methods(&doc) {
        let collection = ROUTES.iter().any(|r| r.path == path && r.collection);
        let declared: BTreeSet<&str> = methods
            .iter()
            .map(|m| {
                let op = &doc["paths"][path.as_str()][m.to_lowercase().as_str()];
                op["responses"]["405"]["$ref"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{m} {path} declares no 405"))
            })
            .collect();
        assert_eq!(declared.len(), 1, "{path}: {declared:?}");
        let response_ref = *declared.iter().next().unwrap();
        let codes = error_codes_of(&doc, response_ref);
        let expected: BTreeSet<u64> = if collection {
            [10001, 10303].into()
        } else {
            [10001].into()
        };
        assert_eq!(codes, expected, "{path}");

        let concrete = path.replace("{id}", "2026-11");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if methods.contains(method) {
                continue;
            }
            let request =
                local_server::event::to_request(&Call::new(method, &concrete).event()).unwrap();
            let response = api_tests::TestResponse::from_lambda(
                local_server::dispatch(&t.app, &t.notices, request).await,
            );
            assert_eq!(response.status, 405, "{method} {path}: {}", response.body);
            let code = response.error_code();
            let want = if collection && method == "DELETE" {
                10303
            } else {
                10001
            };
            assert_eq!(code, want, "{method} {path}");
            assert!(codes.contains(&code), "{method} {path}: {code} undeclared");
            let allow: BTreeSet<String> = response
                .header("allow")
                .unwrap_or_else(|| panic!("{method} {path}: no Allow"))
                .split(',')
                .map(|m| m.trim().to_owned())
                .collect();
            assert_eq!(allow, methods, "{method} {path}");
        }
    }
}
