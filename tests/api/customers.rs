//! Customers: engagement over the last 30 days and churn risk, from ingested activity.
//! Today is 2026-11-22 in Stockholm.

use api_tests::{Call, Partner, TestApp, activity_record, usage_record};
use serde_json::{Value, json};
use shared::storage::records::PartnershipType::{Mssp, Reseller};

const SCOPES: &[&str] = &["accounts:write", "customers:read"];

async fn account(p: &Partner<'_>, name: &str) -> String {
    account_in(p, name, "paying").await
}

/// An account in `state` since 2026-09-01 (before every day these tests report).
async fn account_in(p: &Partner<'_>, name: &str, state: &str) -> String {
    p.create_account(name, state, "2026-09-01").await
}

fn codes(customer: &Value) -> Vec<(String, String)> {
    fields(&customer["churn_risk"]["indicators"], &["code", "severity"])
        .into_iter()
        .map(|f| (f[0].clone(), f[1].clone()))
        .collect()
}

/// `(category, code, severity)` of each task.
fn tasks(customer: &Value) -> Vec<(String, String, String)> {
    fields(&customer["tasks"], &["category", "code", "severity"])
        .into_iter()
        .map(|f| (f[0].clone(), f[1].clone(), f[2].clone()))
        .collect()
}

fn fields(list: &Value, names: &[&str]) -> Vec<Vec<String>> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| {
            names
                .iter()
                .map(|name| item[*name].as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn engagement_sums_the_last_30_days_and_keeps_the_latest_scores() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let a = account(&p, "Acme AB").await;
    let failed = t
        .ingest(&[
            // 2026-10-23 is 30 days back: outside the window (2026-10-24 to 2026-11-22).
            activity_record(&a, "2026-10-23", json!({ "logins": 100, "scans": { "SNS": 50, "WAS": 0, "CS": 0 } })),
            activity_record(&a, "2026-10-24", json!({ "logins": 1, "scans": { "SNS": 2, "WAS": 0, "CS": 0 } })),
            activity_record(&a, "2026-11-20", json!({
                "logins": 3, "scans": { "SNS": 1, "WAS": 2, "CS": 0 }, "pat_assessments": 4,
                "reports_created": 2, "risk_score": 55, "threat_score": 20,
            })),
            activity_record(&a, "2026-11-21", json!({ "logins": 2, "risk_score": 61, "threat_score": 18, "scans": { "SNS": 3, "WAS": 0, "CS": 0 } })),
            usage_record(&a, "DA", "2026-11-21", 12),
        ])
        .await;
    assert!(failed.is_empty());
    let response = p.get(&format!("/v1/customers/{a}")).await;
    assert_eq!(response.status, 200, "{}", response.body);
    let customer = &response.body["_data"][0];
    assert_eq!(
        customer["engagement"],
        json!({
            "start_date": "2026-10-24", "end_date": "2026-11-22",
            "logins": 6, "scans": { "SNS": 6, "WAS": 2, "CS": 0 }, "failed_scans": 0,
            "pat_assessments": 4, "reports_created": 2,
            "risk_score": 61, "threat_score": 18, "scores_date": "2026-11-21", "inactive_appliances": 0,
            "last_activity": { "DA": "2026-11-21", "PAT": "2026-11-20", "SNS": "2026-11-21", "WAS": "2026-11-20" },
        })
    );
    assert_eq!(
        customer["churn_risk"],
        json!({ "level": "none", "indicators": [] })
    );
    assert_eq!(customer["tasks"], json!([]));
    assert_eq!(customer["task_severity"], "none");
    // Nine days on without activity: WAS and PAT (last used 2026-11-20) are idle > 7 days:
    // product-usage tasks, which are not churn risk.
    t.clock.advance_ms(9 * 86_400_000);
    let p = t.partner(Mssp, SCOPES).await;
    let customer = p
        .expect(200, Call::get(&format!("/v1/customers/{a}")))
        .await;
    assert_eq!(customer["task_severity"], "low");
    assert_eq!(customer["churn_risk"]["level"], "none");
    assert_eq!(
        customer["engagement"]["logins"], 5,
        "the window is now 2026-11-02 to 2026-12-01"
    );
    let idle = (
        "product_usage".to_owned(),
        "product_inactive".to_owned(),
        "low".to_owned(),
    );
    assert_eq!(tasks(&customer), vec![idle; 4], "DA, PAT, SNS and WAS");
    let detail = customer["tasks"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("for 10 days"), "{detail}");
}

#[tokio::test]
async fn the_customer_list_filters_by_churn_risk_and_task_severity() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let calm = account(&p, "Calm").await;
    let failing = account(&p, "Failing").await;
    let gone = account(&p, "Gone quiet").await;
    let trial = account_in(&p, "Trialling", "trial").await;
    let failed = t
        .ingest(&[
            activity_record(&calm, "2026-11-22", json!({ "scans": { "SNS": 1, "WAS": 0, "CS": 0 } })),
            activity_record(&failing, "2026-11-22", json!({ "failed_scans": 3, "inactive_appliances": 2, "scans": { "SNS": 1, "WAS": 0, "CS": 0 } })),
            activity_record(&gone, "2026-10-01", json!({ "scans": { "SNS": 5, "WAS": 0, "CS": 0 } })),
            activity_record(&trial, "2026-11-22", json!({ "failed_scans": 3 })),
        ])
        .await;
    assert!(failed.is_empty());
    let all = p.get("/v1/customers").await;
    assert_eq!(all.body["_meta"]["total"], 4);
    let levels: Vec<(&str, &str)> = all.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["churn_risk"]["level"].as_str().unwrap(),
                c["task_severity"].as_str().unwrap(),
            )
        })
        .collect();
    // Calm, Failing, Gone quiet, Trialling (a trial has no tasks, whatever it reports).
    assert_eq!(
        levels,
        [
            ("none", "none"),
            ("medium", "medium"),
            ("none", "high"),
            ("none", "none")
        ]
    );
    assert_eq!(
        codes(&all.body["_data"][1]),
        [
            ("failed_scans".into(), "medium".into()),
            ("inactive_appliances".into(), "medium".into())
        ]
    );
    assert_eq!(
        tasks(&all.body["_data"][2]),
        [(
            "product_usage".into(),
            "product_inactive".into(),
            "high".into()
        )]
    );
    let medium = p.get("/v1/customers?churn_risk=medium").await;
    assert_eq!(
        (
            medium.body["_meta"]["total"].as_u64(),
            medium.body["_data"][0]["id"].as_str()
        ),
        (Some(1), Some(failing.as_str()))
    );
    assert_eq!(
        p.get("/v1/customers?churn_risk=high").await.body["_meta"]["total"],
        0
    );
    let high = p.get("/v1/customers?task_severity=high").await;
    assert_eq!(
        (
            high.body["_meta"]["total"].as_u64(),
            high.body["_data"][0]["id"].as_str()
        ),
        (Some(1), Some(gone.as_str()))
    );
    assert_eq!(
        high.body["_links"]["self"]["href"],
        "http://api.example.com/v1/customers?task_severity=high&limit=20&offset=0"
    );
    let both = p
        .get("/v1/customers?churn_risk=none&task_severity=none")
        .await;
    assert_eq!(both.body["_meta"]["total"], 2);
    assert_eq!(
        both.body["_links"]["self"]["href"],
        "http://api.example.com/v1/customers?churn_risk=none&task_severity=none&limit=20&offset=0"
    );
    p.get("/v1/customers?churn_risk=severe")
        .await
        .assert_error(400, 11400);
    let bad = p.get("/v1/customers?task_severity=urgent").await;
    bad.assert_error(400, 11400);
    assert_eq!(
        bad.body["additional_info"]["detail"],
        "task_severity must be one of high, medium, low, none"
    );
}

#[tokio::test]
async fn reseller_customers_show_licences_and_ending_subscriptions() {
    let t = TestApp::spawn().await;
    let p = t.partner(Reseller, SCOPES).await;
    let a = account(&p, "Acme AB").await;
    let subs = format!("/v1/accounts/{a}/subscriptions");
    let body = json!({ "sku": "DA", "quantity": 50, "start_date": "2026-01-01", "end_date": "2027-01-31" });
    p.expect(201, Call::new("POST", &subs).json(&body)).await;
    t.ingest(&[
        usage_record(&a, "DA", "2026-11-10", 41),
        usage_record(&a, "DA", "2026-10-10", 60),
    ])
    .await;
    let customer = p
        .expect(200, Call::get(&format!("/v1/customers/{a}")))
        .await;
    assert_eq!(
        customer["licences"],
        json!([{
            "sku": "DA", "licensed_quantity": 50, "peak_used_this_month": 41,
            "peak_utilisation_percent": 82.0, "peak_utilisation_date": "2026-11-10",
        }])
    );
    assert_eq!(
        tasks(&customer),
        [
            (
                "commercial".into(),
                "contract_renewal".into(),
                "medium".into()
            ),
            (
                "product_usage".into(),
                "licence_use".into(),
                "medium".into()
            )
        ]
    );
    assert_eq!(customer["task_severity"], "medium");
    assert_eq!(
        customer["churn_risk"]["level"], "none",
        "neither is churn risk"
    );
    // Renewed from the day after: no longer ending.
    let renewal = json!({ "sku": "DA", "quantity": 50, "start_date": "2027-02-01", "end_date": "2028-01-31" });
    p.expect(201, Call::new("POST", &subs).json(&renewal)).await;
    let customer = p
        .expect(200, Call::get(&format!("/v1/customers/{a}")))
        .await;
    assert_eq!(
        tasks(&customer),
        [(
            "product_usage".into(),
            "licence_use".into(),
            "medium".into()
        )]
    );
}

#[tokio::test]
async fn customers_need_their_scope_and_stay_in_their_partnership() {
    let t = TestApp::spawn().await;
    let writer = t.partner(Mssp, &["accounts:write"]).await;
    let a = account(&writer, "Acme AB").await;
    writer.get("/v1/customers").await.assert_error(404, 11011);
    writer
        .get(&format!("/v1/customers/{a}"))
        .await
        .assert_error(404, 11011);
    let reseller = t.partner(Reseller, &["customers:read"]).await;
    reseller
        .get(&format!("/v1/customers/{a}"))
        .await
        .assert_error(404, 10300);
    assert_eq!(
        reseller.get("/v1/customers").await.body["_meta"]["total"],
        0
    );
    let reader = t.partner(Mssp, &["customers:read"]).await;
    let customer = reader
        .expect(200, Call::get(&format!("/v1/customers/{a}")))
        .await;
    assert_eq!(
        customer["engagement"]["risk_score"],
        Value::Null,
        "nothing reported yet"
    );
    assert_eq!(customer["churn_risk"]["level"], "none");
}
