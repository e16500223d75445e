//! `portalctl` against DynamoDB Local: create, list and show organizations; set commitments.
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

use shared::partner_data::calendar::{Period, PeriodKind};

/// Operators make a token identity (issuer + subject) an admin, list and remove it; each
/// change is in the organization's audit trail, with the operator as its actor.
#[tokio::test]
async fn operators_add_list_and_remove_admins() {
    let store = api_tests::fresh_store().await;
    let table = store.table_name().to_owned();
    let (ok, created, err) = portalctl(
        &table,
        &[
            "create-org",
            "--name",
            "Fabrikam",
            "--partnership",
            "F=mssp",
        ],
    );
    assert!(ok, "{err}");
    let id = created["id"].as_str().unwrap().to_owned();
    let issuer = "https://cognito-idp.eu-north-1.amazonaws.com/eu-north-1_abc";
    let add = |subject: &str| {
        let mut args = vec!["add-admin", &id, "--issuer", issuer, "--subject"];
        args.push(subject);
        args.extend([
            "--email",
            "anna@fabrikam.example",
            "--operator",
            "ops@vendor.example",
        ]);
        portalctl(&table, &args)
    };
    let (ok, added, err) = add("sub-anna");
    assert!(ok, "{err}");
    assert_eq!(added["organization_id"], id);
    assert_eq!(added["role"], "admin");
    assert_eq!(added["added_by"], "operator:ops@vendor.example");
    // An identity administers one organization: adding it again is refused.
    let (ok, _, err) = add("sub-anna");
    assert!(!ok && err.contains("an admin already"), "{err}");
    let (ok, listed, _) = portalctl(&table, &["list-admins", &id]);
    assert!(ok);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["subject"], "sub-anna");
    assert_eq!(listed[0]["issuer"], issuer);
    let (ok, shown, _) = portalctl(&table, &["show-org", &id]);
    assert!(ok);
    assert_eq!(shown["admins"][0]["subject"], "sub-anna");
    let membership = store.admin_membership(issuer, "sub-anna").await.unwrap();
    assert_eq!(membership.unwrap().org_id, id);
    let (ok, removed, err) = portalctl(
        &table,
        &[
            "remove-admin",
            "--issuer",
            issuer,
            "--subject",
            "sub-anna",
            "--operator",
            "ops@vendor.example",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(removed["removed"]["subject"], "sub-anna");
    assert!(
        store
            .admin_membership(issuer, "sub-anna")
            .await
            .unwrap()
            .is_none()
    );
    let (ok, listed, _) = portalctl(&table, &["list-admins", &id]);
    assert!(ok);
    assert_eq!(listed, serde_json::json!([]));
    let (ok, _, err) = portalctl(
        &table,
        &["remove-admin", "--issuer", issuer, "--subject", "sub-anna"],
    );
    assert!(!ok && err.contains("Object not found"), "{err}");
    let (ok, _, err) = portalctl(
        &table,
        &["add-admin", "nope", "--issuer", issuer, "--subject", "x"],
    );
    assert!(!ok && err.contains("Object not found"), "{err}");
    let trail = store.audit_entries(&id, 0, 10).await.unwrap();
    let actions: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("admin.removed", "operator:ops@vendor.example"),
            ("admin.added", "operator:ops@vendor.example"),
        ]
    );
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
    // Commitments known at onboarding apply from the current MSSP period's first day.
    let today =
        shared::partner_data::calendar::stockholm_date(chrono::Utc::now().timestamp_millis());
    let current = Period::containing(PeriodKind::Mssp, today);
    assert_eq!(
        created["partnerships"][0]["minimum_commitments"],
        serde_json::json!({ "SNS": [{ "units": 651, "start_date": current.start().to_string() }] })
    );
    assert_eq!(
        created["partnerships"][1]["skus"],
        serde_json::json!(["SNS", "DA", "WAS", "CS", "PAT"])
    );
    assert_eq!(created["admins"], serde_json::json!([]));

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

#[tokio::test]
async fn operators_set_commitments_from_a_date_but_never_into_a_closed_period() {
    let store = api_tests::fresh_store().await;
    let table = store.table_name().to_owned();
    let (ok, created, err) = portalctl(
        &table,
        &[
            "create-org",
            "--name",
            "Contoso",
            "--partnership",
            "Contoso MSSP=mssp;skus=SNS,DA",
        ],
    );
    assert!(ok, "{err}");
    let org = created["id"].as_str().unwrap().to_owned();
    let partnership = created["partnerships"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let today =
        shared::partner_data::calendar::stockholm_date(chrono::Utc::now().timestamp_millis());
    let next = Period::containing(PeriodKind::Mssp, today).next();
    let from = next.start().to_string();
    let (ok, set, err) = portalctl(
        &table,
        &[
            "set-commitment",
            &org,
            "--partnership",
            &partnership,
            "--product",
            "sns",
            "--units",
            "651",
            "--from",
            &from,
            "--operator",
            "ops@vendor.example",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(
        set["minimum_commitments"],
        serde_json::json!({ "SNS": [{ "units": 651, "start_date": from }] })
    );
    // Read fresh by the reports: none for this period, 651 from the next one.
    let commitments = store.commitments(&partnership).await.unwrap();
    let this = Period::containing(PeriodKind::Mssp, today);
    assert_eq!(commitments.for_period("SNS", this.start()), None);
    assert_eq!(commitments.for_period("SNS", next.start()), Some(651));
    let trail = store.audit_entries(&org, 0, 10).await.unwrap();
    let entry = trail.iter().find(|e| e.action == "commitment.set").unwrap();
    assert_eq!(entry.actor, "operator:ops@vendor.example");
    assert_eq!(entry.detail["units"], 651);
    // Three periods back is closed: its figures are final.
    let closed = this.previous().previous().start().to_string();
    let (ok, _, err) = portalctl(
        &table,
        &[
            "set-commitment",
            &org,
            "--partnership",
            &partnership,
            "--product",
            "SNS",
            "--units",
            "1",
            "--from",
            &closed,
        ],
    );
    assert!(
        !ok && err.contains("is closed and its figures are final"),
        "{err}"
    );
    let (ok, _, err) = portalctl(
        &table,
        &[
            "set-commitment",
            &org,
            "--partnership",
            &partnership,
            "--product",
            "PAT",
            "--units",
            "1",
            "--from",
            &from,
        ],
    );
    assert!(!ok && err.contains("does not sell"), "{err}");
    assert_eq!(store.commitments(&partnership).await.unwrap(), commitments);
}

/// A table written before account listings were kept: the rebuild lists every account in
/// both orders, drops what no account backs, sets the counts; a second run changes nothing.
#[tokio::test]
async fn operators_rebuild_a_partnerships_account_listing() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use shared::storage::records::PartnershipType::Mssp;

    let t = api_tests::TestApp::spawn().await;
    let p = t.partner(Mssp, &["accounts:write"]).await;
    for (name, state) in [
        ("Alpha", "paying"),
        ("bravo", "trial"),
        ("Charlie", "paying"),
    ] {
        p.expect(
            201,
            api_tests::Call::new("POST", "/v1/accounts")
                .json(&serde_json::json!({ "name": name, "country": "SE", "state": state })),
        )
        .await;
    }
    let partnership = t.partnership_id(Mssp);
    let client = t.app.store.client();
    let table = t.app.store.table_name().to_owned();
    let pk = AttributeValue::S(format!("PARTNER#{partnership}"));
    let listing = t.stored_under(Mssp, "ACCOUNTS#").await;
    assert_eq!(listing.len(), 7);
    // Gone (as before listings were kept), and one left over that no account backs.
    for item in &listing {
        client
            .delete_item()
            .table_name(&table)
            .key("pk", pk.clone())
            .key("sk", item["sk"].clone())
            .send()
            .await
            .unwrap();
    }
    client
        .put_item()
        .table_name(&table)
        .item("pk", pk.clone())
        .item(
            "sk",
            AttributeValue::S("ACCOUNTS#BYNAME#zed\u{1}gone".into()),
        )
        .item("account_id", AttributeValue::S("gone".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(p.get("/v1/accounts").await.body["_meta"]["total"], 0);

    let org = t.org.org_id.clone();
    let args = [
        "rebuild-account-listing",
        &org,
        "--partnership",
        &partnership,
    ];
    let (ok, rebuilt, err) = portalctl(&table, &args);
    assert!(ok, "{err}");
    assert_eq!(
        rebuilt,
        serde_json::json!({ "partnership_id": partnership, "rebuilt": {
            "accounts": 3, "listing_items_written": 6, "listing_items_deleted": 1,
        }})
    );
    let all = p.get("/v1/accounts").await;
    let names: Vec<&str> = all.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Alpha", "bravo", "Charlie"]);
    assert_eq!(all.body["_meta"]["total"], 3);
    assert_eq!(
        p.get("/v1/accounts?state=paying").await.body["_meta"]["total"],
        2
    );
    let (ok, again, err) = portalctl(&table, &args);
    assert!(ok, "{err}");
    assert_eq!(again["rebuilt"]["listing_items_written"], 0);
    assert_eq!(again["rebuilt"]["listing_items_deleted"], 0);

    let (ok, _, err) = portalctl(
        &table,
        &["rebuild-account-listing", &org, "--partnership", "nope"],
    );
    assert!(!ok);
    assert!(err.contains("has no partnership nope"), "{err}");
}

/// A table written before period totals were kept: the operator builds them (and each
/// period's company listing) for every offered MSSP period; the reports then read them, and
/// a second run changes nothing. A reseller partnership keeps none.
#[tokio::test]
async fn operators_build_a_partnerships_period_totals() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use shared::storage::records::PartnershipType::{Mssp, Reseller};

    let t = api_tests::TestApp::spawn().await;
    let p = t.partner(Mssp, &["accounts:write"]).await;
    let a = p.create_account("Alpha", "paying", "2026-09-01").await;
    let b = p.create_account("bravo", "paying", "2026-09-01").await;
    let trial = p.create_account("Trial Co", "trial", "2026-09-01").await;
    t.ingest(&[
        api_tests::usage_record(&a, "SNS", "2026-11-01", 10),
        api_tests::usage_record(&b, "SNS", "2026-11-01", 3),
        api_tests::usage_record(&trial, "SNS", "2026-11-01", 50),
    ])
    .await;
    // As before totals were kept: no ledger item, no listing.
    let partnership = t.partnership_id(Mssp);
    let client = t.app.store.client();
    let table = t.app.store.table_name().to_owned();
    let pk = AttributeValue::S(format!("PARTNER#{partnership}"));
    for prefix in ["MSSP#2026-11#!", "COMPANIES#MSSP#2026-11#"] {
        let items = t.stored_under(Mssp, prefix).await;
        assert!(!items.is_empty(), "{prefix}");
        for item in &items {
            client
                .delete_item()
                .table_name(&table)
                .key("pk", pk.clone())
                .key("sk", item["sk"].clone())
                .send()
                .await
                .unwrap();
        }
    }

    let org = t.org.org_id.clone();
    let args = ["build-period-totals", &org, "--partnership", &partnership];
    let (ok, built, err) = portalctl(&table, &args);
    assert!(ok, "{err}");
    assert_eq!(built["partnership_id"], partnership.as_str());
    assert_eq!(built["periods_built"], 24);
    assert_eq!(
        built["with_companies"],
        serde_json::json!([{ "period": "2026-11", "eligible_companies": 2 }])
    );
    assert_eq!(built["not_stored"], serde_json::json!([]));
    // The reports read what it built: the summary one BatchGetItem, the page its listing.
    let before = t.app.store.calls();
    let usage = p.get("/v1/mssp/periods/2026-11/usage").await;
    assert_eq!(t.app.store.calls() - before, 2, "{}", usage.body);
    assert_eq!(usage.body["_meta"]["eligible_companies"], 2);
    let companies = p.get("/v1/mssp/periods/2026-11/companies").await;
    let names: Vec<&str> = companies.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Alpha", "bravo"]);
    let (ok, again, err) = portalctl(&table, &args);
    assert!(ok, "{err}");
    assert_eq!(again["with_companies"], built["with_companies"]);

    let reseller = t.partnership_id(Reseller);
    let (ok, _, err) = portalctl(
        &table,
        &["build-period-totals", &org, "--partnership", &reseller],
    );
    assert!(!ok);
    assert!(err.contains("is not an MSSP partnership"), "{err}");
}
