//! `portalctl` against DynamoDB Local: create, list and show organizations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn portalctl(table: &str, args: &[&str]) -> (bool, serde_json::Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_portalctl"))
        .args([
            "--table",
            table,
            "--endpoint",
            &api_tests::dynamodb_endpoint(),
        ])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let value = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (
        output.status.success(),
        value,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn operators_create_list_and_show_organizations() {
    let store = api_tests::fresh_store().await;
    let table = store.table_name().to_owned();
    let (ok, created, err) = portalctl(
        &table,
        &[
            "create-org",
            "--name",
            "Fabrikam Security",
            "--partnership",
            "Fabrikam MSSP=mssp;skus=SNS,DA,WAS;min=SNS:651",
            "--partnership",
            "Fabrikam Resale=reseller",
        ],
    );
    assert!(ok, "{err}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["api_access_enabled"], false);
    assert_eq!(created["partnerships"][1]["type"], "reseller");
    assert_eq!(
        created["partnerships"][0]["skus"],
        serde_json::json!(["SNS", "DA", "WAS"])
    );
    assert_eq!(
        created["partnerships"][0]["minimum_commitments"],
        serde_json::json!({ "SNS": 651 })
    );
    assert_eq!(
        created["partnerships"][1]["skus"],
        serde_json::json!(["SNS", "DA", "WAS", "CS", "PAT"])
    );
    assert_eq!(
        created["identity_provider"]["claim"],
        "custom:organization_id"
    );
    assert_eq!(created["identity_provider"]["value"], id);

    let (ok, listed, _) = portalctl(&table, &["list-orgs"]);
    assert!(ok);
    assert_eq!(listed[0]["id"], id);
    let (ok, shown, _) = portalctl(&table, &["show-org", &id]);
    assert!(ok);
    assert_eq!(shown["name"], "Fabrikam Security");
    // The organization is real: its admin can enable API access.
    assert!(store.organization(&id).await.unwrap().is_some());

    let (ok, _, err) = portalctl(
        &table,
        &[
            "create-org",
            "--name",
            "X",
            "--partnership",
            "X=distributor",
        ],
    );
    assert!(!ok);
    assert!(err.contains("not a partnership type"), "{err}");
    let (ok, _, err) = portalctl(
        &table,
        &[
            "create-org",
            "--name",
            "X",
            "--partnership",
            "X=mssp;skus=SNS;min=DA:5",
        ],
    );
    assert!(!ok && err.contains("does not sell"), "{err}");
    let (ok, _, err) = portalctl(
        &table,
        &[
            "create-org",
            "--name",
            "X",
            "--partnership",
            "X=mssp;skus=XYZ",
        ],
    );
    assert!(!ok && err.contains("not a product code"), "{err}");
    let (ok, _, err) = portalctl(&table, &["show-org", "nope"]);
    assert!(!ok && err.contains("no organization"), "{err}");
}
