//! The optional edge firewall (README "Edge firewall"): with `EDGE_ORIGIN_SECRET` set, only
//! requests that came through CloudFront (which adds the secret) are served; their client
//! address and host are the viewer's, as the template's viewer-request function names them.
//! Also checked here: that function itself (run in Node), the distribution's wiring, and
//! the firewall's 429 answer against the contract.

use std::process::Command;

use api_tests::{Call, TestApp};
use serde_json::{Value, json};
use shared::platform::edge::{
    Addressing, ORIGIN_SECRET_HEADER, VIEWER_ADDRESS_HEADER, VIEWER_HOST_HEADER,
};

const SECRET: &str = "edge-origin-secret-for-tests-0123456789abcdef";
const VIEWER: &str = "198.51.100.77";

async fn behind_the_edge() -> TestApp {
    let mut t = TestApp::spawn().await;
    t.app.config.addressing =
        Addressing::from_lookup(&|name| (name == "EDGE_ORIGIN_SECRET").then(|| SECRET.into()))
            .unwrap();
    t
}

/// What CloudFront hands API Gateway: the secret, the viewer's address and host (API
/// Gateway's own source address is then CloudFront's).
fn through_the_edge(call: Call, viewer: &str) -> Call {
    call.from_ip("130.176.1.2")
        .header(ORIGIN_SECRET_HEADER, SECRET)
        .header(VIEWER_ADDRESS_HEADER, viewer)
        .header(VIEWER_HOST_HEADER, "api.partner-portal.example")
}

#[tokio::test]
async fn a_request_around_the_edge_is_refused_on_every_route_and_stores_nothing() {
    let t = behind_the_edge().await;
    let key = t.api_key(&[]).await;
    let calls = [
        Call::create_session(t.organization_key(), &key),
        Call::me("pps_7R3p9pgW9GDVpXXcN0N0DdU21NxjndcX2LUlpGlC1X52H21Pi"),
        t.admin("GET", "/v1/admin/keys"),
        Call::get("/v1/accounts"),
        Call::get("/docs"),
        Call::get("/console"),
        Call::get("/v1/no-such-route"),
        // A wrong secret, with viewer headers that would otherwise be believed.
        Call::create_session(t.organization_key(), &key)
            .header(ORIGIN_SECRET_HEADER, &SECRET[1..])
            .header(VIEWER_ADDRESS_HEADER, VIEWER),
    ];
    for call in calls {
        let path = call.path.clone();
        let response = t.call(call).await;
        response.assert_error(403, 12009);
        assert_eq!(
            response.body["error_description"], "Published URL required",
            "{path}"
        );
    }
    assert_eq!(
        t.live_slots().await,
        0,
        "a refused session creation stored nothing"
    );
}

#[tokio::test]
async fn through_the_edge_the_viewer_is_the_client_and_links_use_its_host() {
    let t = behind_the_edge().await;
    let key = t.api_key(&[]).await;
    let created = t
        .call(through_the_edge(
            Call::create_session(t.organization_key(), &key),
            VIEWER,
        ))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["_data"][0]["ip"], VIEWER);
    assert_eq!(created.body["_data"][0]["ip_locked"], true);
    let token = created.body["_data"][0]["session_token"].as_str().unwrap();
    let me = t.call(through_the_edge(Call::me(token), VIEWER)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["_data"][0]["session"]["ip"], VIEWER);
    assert_eq!(
        me.body["_links"]["self"]["href"],
        "https://api.partner-portal.example/v1/me"
    );
    // Another viewer with the same token (CloudFront's own address unchanged) is refused.
    t.clock.advance_ms(1000);
    t.call(through_the_edge(Call::me(token), "203.0.113.250"))
        .await
        .assert_error(403, 12004);
}

#[tokio::test]
async fn without_an_edge_the_viewer_headers_are_the_clients_own_words() {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;
    let created = t
        .call(
            Call::create_session(t.organization_key(), &key)
                .from_ip("192.0.2.44")
                .header(VIEWER_ADDRESS_HEADER, VIEWER)
                .header(VIEWER_HOST_HEADER, "evil.example"),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["_data"][0]["ip"], "192.0.2.44");
    assert!(
        created.body["_links"]["self"]["href"]
            .as_str()
            .unwrap()
            .contains("://api.example.com/")
    );
}

fn yaml(file: &str) -> serde_yaml::Value {
    let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The argument of a `!Sub` (or a plain string).
fn sub_text(value: &serde_yaml::Value) -> String {
    match value {
        serde_yaml::Value::Tagged(tagged) if tagged.tag == "!Sub" => {
            tagged.value.as_str().unwrap().to_owned()
        }
        other => other.as_str().unwrap().to_owned(),
    }
}

#[test]
fn the_viewer_request_function_overwrites_what_the_viewer_sent() {
    let template = yaml("template.yaml");
    let code = template["Resources"]["EdgeViewerFunction"]["Properties"]["FunctionCode"]
        .as_str()
        .unwrap();
    // A viewer that tries to name its own address, host and origin secret.
    let event = json!({
        "viewer": { "ip": "2001:db8::99" },
        "request": { "method": "GET", "uri": "/v1/me", "headers": {
            "host": { "value": "api.partner-portal.example" },
            "authorization": { "value": "Session pps_x" },
            VIEWER_ADDRESS_HEADER: { "value": "10.0.0.1" },
            VIEWER_HOST_HEADER: { "value": "evil.example" },
            ORIGIN_SECRET_HEADER: { "value": "guess" },
        }},
    });
    let script = format!(
        "{code}\nconsole.log(JSON.stringify(handler({event})));",
        event = event
    );
    let output = Command::new("node")
        .args(["-e", &script])
        .output()
        .expect("node runs the CloudFront function");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let request: Value = serde_json::from_slice(&output.stdout).unwrap();
    let headers = &request["headers"];
    assert_eq!(headers[VIEWER_ADDRESS_HEADER]["value"], "2001:db8::99");
    assert_eq!(
        headers[VIEWER_HOST_HEADER]["value"],
        "api.partner-portal.example"
    );
    assert_eq!(headers[ORIGIN_SECRET_HEADER], Value::Null);
    assert_eq!(headers["authorization"]["value"], "Session pps_x");
    assert_eq!(request["uri"], "/v1/me");
}

#[test]
fn the_distribution_passes_the_secret_the_functions_expect() {
    let template = yaml("template.yaml");
    let resources = &template["Resources"];
    let config = &resources["EdgeDistribution"]["Properties"]["DistributionConfig"];
    assert_eq!(resources["EdgeDistribution"]["Condition"], "EdgeEnabled");
    let origin = &config["Origins"][0];
    let header = &origin["OriginCustomHeaders"][0];
    assert_eq!(header["HeaderName"], ORIGIN_SECRET_HEADER);
    let secret_reference = "{{resolve:secretsmanager:${EdgeOriginSecret}:SecretString}}";
    assert_eq!(sub_text(&header["HeaderValue"]), secret_reference);
    // Every function gets the same secret (an `!If` on the same condition).
    let env = &template["Globals"]["Function"]["Environment"]["Variables"]["EDGE_ORIGIN_SECRET"];
    let serde_yaml::Value::Tagged(choice) = env else {
        panic!("EDGE_ORIGIN_SECRET: {env:?}")
    };
    assert_eq!(choice.tag, "!If");
    assert_eq!(choice.value[0], "EdgeEnabled");
    assert_eq!(sub_text(&choice.value[1]), secret_reference);
    // Nothing cached (answers are per session), every header but Host forwarded (API
    // Gateway needs its own host name), the viewer function on every request.
    let behaviour = &config["DefaultCacheBehavior"];
    assert_eq!(
        behaviour["CachePolicyId"],
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    );
    assert_eq!(
        behaviour["OriginRequestPolicyId"],
        "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    );
    assert_eq!(
        behaviour["FunctionAssociations"][0]["EventType"],
        "viewer-request"
    );
    assert_eq!(
        behaviour["AllowedMethods"].as_sequence().unwrap().len(),
        7,
        "every method the API serves"
    );
    assert_eq!(
        config["WebACLId"],
        serde_yaml::from_str::<serde_yaml::Value>("!Ref EdgeWebAclArn").unwrap()
    );
}

#[test]
fn the_firewall_answers_a_flood_with_the_contracts_429() {
    let waf = yaml("deploy/edge-waf.yaml");
    let window = waf["Parameters"]["EvaluationWindowSeconds"]["Default"]
        .as_u64()
        .unwrap();
    let rule = &waf["Resources"]["WebAcl"]["Properties"]["Rules"][0];
    assert_eq!(
        rule["Statement"]["RateBasedStatement"]["AggregateKeyType"],
        "IP"
    );
    let response = &rule["Action"]["Block"]["CustomResponse"];
    assert_eq!(response["ResponseCode"], 429);
    let retry_after = &response["ResponseHeaders"][0];
    assert_eq!(retry_after["Name"], "Retry-After");
    let key = response["CustomResponseBodyKey"].as_str().unwrap();
    let body = &waf["Resources"]["WebAcl"]["Properties"]["CustomResponseBodies"][key];
    assert_eq!(body["ContentType"], "APPLICATION_JSON");
    let content =
        sub_text(&body["Content"]).replace("${EvaluationWindowSeconds}", &window.to_string());
    let answer: Value = serde_json::from_str(&content).unwrap();
    assert_eq!(answer["status_code"], 429);
    assert_eq!(answer["additional_info"]["error_code"], 12002);
    assert_eq!(answer["error_description"], "Rate limit exceeded");
    assert_eq!(answer["retry_after_ms"], window * 1000);
    assert!(answer["_meta"]["request_id"].is_string());
    // The same 12002 the functions answer, listed for 429 in the contract.
    let listed = shared::ApiError::catalogue()
        .into_iter()
        .any(|e| e.code() == 12002 && e.status().as_u16() == 429);
    assert!(listed);
    // The fields of the contract's Error, nothing else.
    let fields: std::collections::BTreeSet<&str> = answer
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "_meta",
            "additional_info",
            "error_description",
            "retry_after_ms",
            "status_code"
        ]
        .into()
    );
}
