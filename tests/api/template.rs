//! `template.yaml` deploys exactly the routes of `shared::platform::routes::ROUTES`, each to the
//! function that serves it, and declares the same table the code creates locally.

use std::collections::BTreeSet;

use serde_yaml::Value;
use shared::platform::routes::ROUTES;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn functions(template: &Value) -> Vec<(String, &Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, r)| (name.as_str().unwrap().to_owned(), r))
        .collect()
}

fn binary(function: &Value) -> String {
    function["Metadata"]["BuildProperties"]["Binary"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_template_routes_match_the_route_table() {
    let template = template();
    let mut deployed = BTreeSet::new();
    let mut default_routes = Vec::new();
    for (name, function) in functions(&template) {
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{name}"
        );
        let Some(events) = function["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"] != "HttpApi" {
                continue;
            }
            let properties = &event["Properties"];
            match (properties["Method"].as_str(), properties["Path"].as_str()) {
                (Some(method), Some(path)) => {
                    let authorizer = properties["Auth"]["Authorizer"]
                        .as_str()
                        .unwrap_or("NONE")
                        .to_owned();
                    deployed.insert((
                        method.to_uppercase(),
                        path.to_owned(),
                        binary(function),
                        authorizer,
                    ));
                }
                _ => default_routes.push(binary(function)),
            }
        }
    }
    let expected: BTreeSet<_> = ROUTES
        .iter()
        .map(|r| {
            let authorizer = match r.access {
                shared::platform::routes::Access::Admin => "AdminJwt",
                shared::platform::routes::Access::Partner
                | shared::platform::routes::Access::Public
                | shared::platform::routes::Access::CodeHost => "NONE",
            };
            (
                r.method.to_string(),
                r.path.to_owned(),
                r.function.package().to_owned(),
                authorizer.to_owned(),
            )
        })
        .collect();
    assert_eq!(deployed, expected);
    assert_eq!(
        default_routes,
        ["fallback-api"],
        "exactly one $default route, served by fallback-api"
    );
}

#[test]
fn every_function_binary_is_a_workspace_package() {
    let template = template();
    for (name, function) in functions(&template) {
        let manifest = format!(
            "{}/../functions/{}/Cargo.toml",
            env!("CARGO_MANIFEST_DIR"),
            binary(function)
        );
        assert!(
            std::path::Path::new(&manifest).exists(),
            "{name}: {manifest} missing"
        );
        assert_eq!(
            function["Properties"]["Architectures"][0]
                .as_str()
                .or(template["Globals"]["Function"]["Architectures"][0].as_str()),
            Some("arm64")
        );
    }
}

#[test]
fn the_table_matches_the_one_the_code_creates() {
    let template = template();
    let table = &template["Resources"]["Table"]["Properties"];
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"],
        shared::storage::TTL_ATTRIBUTE
    );
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    let keys: Vec<_> = table["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap(),
                k["KeyType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys, [("pk", "HASH"), ("sk", "RANGE")]);
    let index = &table["GlobalSecondaryIndexes"][0];
    assert_eq!(index["IndexName"], shared::storage::INDEX_GSI1);
    let keys: Vec<_> = index["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| k["AttributeName"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["gsi1pk", "gsi1sk"]);
    // provisioning-events reads new and old images (`Store::ensure_table` asks the same).
    assert_eq!(
        table["StreamSpecification"]["StreamViewType"],
        "NEW_AND_OLD_IMAGES"
    );
    let stream_source = &template["Resources"]["ProvisioningEventsFunction"]["Properties"]["Events"]
        ["TableChanges"]["Properties"];
    assert_eq!(
        stream_source["FunctionResponseTypes"][0],
        "ReportBatchItemFailures"
    );
    let filter = stream_source["FilterCriteria"]["Filters"][0]["Pattern"]
        .as_str()
        .unwrap();
    assert!(
        filter.contains(shared::storage::keys::ACCOUNT_PREFIX),
        "{filter}"
    );
}

/// The functions that send notices (their `main` builds `shared::access::notices::SnsNotifier`)
/// get the notice topic and may publish to it, through its KMS key; no other function can.
#[test]
fn the_functions_that_send_notices_may_publish_to_the_notice_topic() {
    let template = template();
    let mut senders = BTreeSet::new();
    for (name, function) in functions(&template) {
        let properties = &function["Properties"];
        let topic = &properties["Environment"]["Variables"]["NOTICE_TOPIC_ARN"];
        let policies = properties["Policies"]
            .as_sequence()
            .cloned()
            .unwrap_or_default();
        // (CloudFormation's tags, `!GetAtt`, are read as tagged values: compared as text.)
        let publishes = policies.iter().any(|p| {
            let text = serde_yaml::to_string(&p["SNSPublishMessagePolicy"]).unwrap();
            text.contains("NoticeTopic.TopicName")
        });
        let uses_key = serde_yaml::to_string(&policies)
            .unwrap()
            .contains("TopicKey.Arn");
        if topic.is_null() {
            assert!(!publishes, "{name} may publish without the topic");
            continue;
        }
        assert!(
            publishes && uses_key,
            "{name} has the topic but may not publish to it"
        );
        senders.insert(binary(function));
    }
    assert_eq!(
        senders,
        ["auth-api".to_owned(), "rotation-check".to_owned()].into()
    );
    let main = |binary: &str| {
        let path = format!(
            "{}/../functions/{binary}/src/main.rs",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path).unwrap()
    };
    for binary in &senders {
        assert!(main(binary).contains("SnsNotifier::from_env"), "{binary}");
    }
}
