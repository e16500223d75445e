//! Usage ingestion and the MSSP and reseller reports, against DynamoDB Local. The test
//! clock starts at 2026-11-22 21:30 in Stockholm: MSSP period 2026-11 (2026-10-26 to
//! 2026-11-25) and reseller month 2026-11 are open.

use api_tests::{Call, Partner, TestApp, activity_record, usage_observed, usage_record};
use serde_json::{Value, json};
use shared::partner_data::onboarding::NewPartnership;
use shared::storage::records::PartnershipType::{self, Mssp, Reseller};

const MSSP_SCOPES: &[&str] = &["accounts:write", "customers:read"];

/// An organization whose MSSP partnership has the portal's 651-IP SNS commitment.
async fn with_commitment() -> TestApp {
    let mut mssp = NewPartnership::new("MSSP", Mssp);
    mssp.minimum_commitments.insert("SNS".into(), 651);
    TestApp::spawn_with(&[mssp, NewPartnership::new("Reseller", Reseller)]).await
}

/// An account in `state` since 2026-09-01 (before every day these tests report).
async fn account(p: &Partner<'_>, name: &str, state: &str) -> String {
    p.create_account(name, state, "2026-09-01").await
}

fn product<'a>(usage: &'a Value, code: &str) -> &'a Value {
    usage["_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["product"] == code)
        .unwrap()
}

#[tokio::test]
async fn the_portals_worked_examples_hold() {
    let t = with_commitment().await;
    let p = t.partner(Mssp, MSSP_SCOPES).await;
    let acme = account(&p, "Acme AB", "paying").await;
    let failed = t
        .ingest(&[
            usage_record(&acme, "SNS", "2026-11-10", 14),
            usage_record(&acme, "SNS", "2026-11-11", 10),
        ])
        .await;
    assert!(failed.is_empty());
    let usage = p.get("/v1/mssp/periods/2026-11/usage").await;
    assert_eq!(usage.status, 200, "{}", usage.body);
    let sns = product(&usage.body, "SNS");
    assert_eq!(sns["peak_units"], 14);
    assert_eq!(sns["peak_date"], "2026-11-10");
    assert_eq!(sns["minimum_commitment"], 651);
    assert_eq!(sns["billable_units"], 651);
    assert_eq!(sns["unit"], "IPs");
    assert_eq!(sns["peak_date_companies"], 1);
    assert_eq!(
        sns["_links"]["peak_date_companies"]["href"],
        "http://api.example.com/v1/mssp/periods/2026-11/companies?peak_product=SNS"
    );
    assert_eq!(usage.body["_meta"]["eligible_companies"], 1);
    // 45 IPs against the 651-IP commitment: 651 billed; beyond it, the peak is billed.
    t.ingest(&[usage_record(&acme, "SNS", "2026-11-12", 45)])
        .await;
    let sns = product(&p.get("/v1/mssp/periods/2026-11/usage").await.body, "SNS").clone();
    assert_eq!(
        (sns["peak_units"].as_u64(), sns["billable_units"].as_u64()),
        (Some(45), Some(651))
    );
    t.ingest(&[usage_record(&acme, "SNS", "2026-11-13", 700)])
        .await;
    let sns = product(&p.get("/v1/mssp/periods/2026-11/usage").await.body, "SNS").clone();
    assert_eq!(
        (sns["peak_units"].as_u64(), sns["billable_units"].as_u64()),
        (Some(700), Some(700))
    );
    // Products without a commitment bill their peak; unused ones bill nothing.
    let da = product(&p.get("/v1/mssp/periods/2026-11/usage").await.body, "DA").clone();
    assert_eq!(
        da,
        json!({
            "product": "DA", "unit": "computers", "peak_units": 0, "peak_date": null,
            "peak_date_companies": 0, "minimum_commitment": null, "billable_units": 0,
            "_links": { "peak_date_companies": { "href":
                "http://api.example.com/v1/mssp/periods/2026-11/companies?peak_product=DA" } },
        })
    );
}

#[tokio::test]
async fn the_peak_is_of_daily_totals_across_eligible_companies() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, MSSP_SCOPES).await;
    let a = account(&p, "Alpha", "paying").await;
    let b = account(&p, "Bravo", "paying").await;
    let trial = account(&p, "Trial Co", "trial").await;
    let failed = t
        .ingest(&[
            usage_record(&a, "SNS", "2026-11-01", 10),
            usage_record(&b, "SNS", "2026-11-01", 3),
            usage_record(&a, "SNS", "2026-11-02", 5),
            usage_record(&b, "SNS", "2026-11-02", 20),
            usage_record(&trial, "SNS", "2026-11-01", 500),
            usage_record(&a, "WAS", "2026-11-03", 4),
        ])
        .await;
    assert!(failed.is_empty());
    let usage = p.get("/v1/mssp/periods/2026-11/usage").await;
    let sns = product(&usage.body, "SNS");
    // Day totals 13 and 25: the trial account is not eligible, so its 500 do not count.
    assert_eq!(
        (sns["peak_units"].as_u64(), sns["peak_date"].as_str()),
        (Some(25), Some("2026-11-02"))
    );
    assert_eq!(sns["peak_date_companies"], 2);
    // The companies on the peak date: the largest contribution first, adding up to the peak.
    let on_peak = p
        .get("/v1/mssp/periods/2026-11/companies?peak_product=SNS")
        .await;
    assert_eq!(on_peak.status, 200, "{}", on_peak.body);
    let contributions: Vec<(&str, &Value)> = on_peak.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), &c["units_on_peak_date"]["SNS"]))
        .collect();
    assert_eq!(
        contributions,
        vec![(b.as_str(), &json!(20)), (a.as_str(), &json!(5))]
    );
    assert_eq!(on_peak.body["_meta"]["total"], 2);
    let first = p
        .get("/v1/mssp/periods/2026-11/companies?peak_product=SNS&limit=1")
        .await;
    assert_eq!(first.body["_data"][0]["id"], b.as_str());
    let next = first.body["_links"]["next"]["href"].as_str().unwrap();
    assert!(
        next.starts_with(
            "http://api.example.com/v1/mssp/periods/2026-11/companies?peak_product=SNS&limit=1&offset=1&cursor=1."
        ),
        "{next}"
    );
    let second = p
        .get(next.strip_prefix("http://api.example.com").unwrap())
        .await;
    assert_eq!(second.body["_data"][0]["id"], a.as_str());
    assert_eq!(second.body["_links"]["next"], Value::Null);
    let was = p
        .get("/v1/mssp/periods/2026-11/companies?peak_product=WAS")
        .await;
    assert_eq!(was.body["_data"][0]["id"], a.as_str());
    assert_eq!(was.body["_meta"]["total"], 1);
    let unknown = p
        .get("/v1/mssp/periods/2026-11/companies?peak_product=XYZ")
        .await;
    unknown.assert_error(400, 11400);
    assert_eq!(
        unknown.body["additional_info"]["detail"],
        "peak_product must be one of SNS, DA, WAS, CS, PAT"
    );
    let companies = p.get("/v1/mssp/periods/2026-11/companies").await;
    assert_eq!(companies.body["_meta"]["total"], 2);
    assert_eq!(companies.body["_data"][0]["id"], a.as_str());
    assert_eq!(
        companies.body["_data"][0]["company_peak_units"],
        json!({ "SNS": 10, "WAS": 4 })
    );
    assert_eq!(
        companies.body["_data"][1]["company_peak_units"],
        json!({ "SNS": 20 })
    );
    // Paying from the 1st (a back-dated conversion): the first read after the change
    // already counts its usage from that day, without any new record.
    p.send(
        "PATCH",
        &format!("/v1/accounts/{trial}"),
        &json!({ "state": "paying", "state_since": "2026-11-01" }),
    )
    .await;
    let sns = product(&p.get("/v1/mssp/periods/2026-11/usage").await.body, "SNS").clone();
    assert_eq!(
        (sns["peak_units"].as_u64(), sns["peak_date"].as_str()),
        (Some(513), Some("2026-11-01"))
    );
}

#[tokio::test]
async fn a_resent_record_overwrites_and_never_double_counts() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, MSSP_SCOPES).await;
    let a = account(&p, "Alpha", "paying").await;
    t.ingest(&[usage_record(&a, "SNS", "2026-11-05", 14)]).await;
    t.ingest(&[usage_record(&a, "SNS", "2026-11-05", 14)]).await;
    let sns = product(&p.get("/v1/mssp/periods/2026-11/usage").await.body, "SNS").clone();
    assert_eq!(sns["peak_units"], 14);
    // A correction downwards, observed later, replaces the earlier figure.
    t.ingest(&[usage_observed(
        &a,
        "SNS",
        "2026-11-05",
        9,
        "2026-11-06T08:00:00Z",
    )])
    .await;
    let sns = product(&p.get("/v1/mssp/periods/2026-11/usage").await.body, "SNS").clone();
    assert_eq!(sns["peak_units"], 9);
    // Within one batch, the later observation of a day wins, whatever its place.
    t.ingest(&[
        usage_observed(&a, "SNS", "2026-11-06", 12, "2026-11-07T08:00:00Z"),
        usage_observed(&a, "SNS", "2026-11-06", 30, "2026-11-06T20:00:00Z"),
    ])
    .await;
    let sns = product(&p.get("/v1/mssp/periods/2026-11/usage").await.body, "SNS").clone();
    assert_eq!(sns["peak_units"], 12);
}

#[tokio::test]
async fn invalid_records_are_reported_as_batch_item_failures() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, MSSP_SCOPES).await;
    let a = account(&p, "Alpha", "paying").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let failed = t
        .ingest(&[
            usage_record(&a, "SNS", "2026-11-20", 7),
            usage_record(&a, "XYZ", "2026-11-20", 7),
            usage_record(&a, "SNS", "2026-11-23", 7),
            usage_record(&unknown, "SNS", "2026-11-20", 7),
            json!({ "account_id": a, "product": "SNS", "date": "2026-11-20", "units": -1 }),
            json!("not a record"),
            activity_record(&a, "2026-11-20", json!({ "risk_score": 250 })),
            activity_record(&a, "2026-11-20", json!({ "logins": 4 })),
        ])
        .await;
    assert_eq!(failed, [1, 2, 3, 4, 5, 6]);
    let sns = product(&p.get("/v1/mssp/periods/2026-11/usage").await.body, "SNS").clone();
    assert_eq!(sns["peak_units"], 7);
}

#[tokio::test]
async fn periods_turn_at_midnight_in_stockholm_across_summer_time_changes() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, MSSP_SCOPES).await;
    let a = account(&p, "Alpha", "paying").await;
    // 2026-10-25 is the day summer time ends: midnight in Stockholm is 23:00 UTC.
    t.clock.set_ms(chrono_ms("2026-10-25T22:59:00Z"));
    let p = t.partner(Mssp, MSSP_SCOPES).await;
    let periods = p.get("/v1/mssp/periods?limit=2").await;
    assert_eq!(
        periods.body["_data"][0],
        json!({
            "id": "2026-10", "start_date": "2026-09-26", "end_date": "2026-10-25", "status": "open",
            "closes_at": "2026-10-28T23:00:00Z", "late_records": 0,
            "_links": {
                "companies": { "href": "http://api.example.com/v1/mssp/periods/2026-10/companies" },
                "usage": { "href": "http://api.example.com/v1/mssp/periods/2026-10/usage" },
            },
        })
    );
    assert_eq!(periods.body["_data"][1]["status"], "closed");
    assert_eq!(periods.body["_meta"]["total"], 24);
    assert_eq!(
        t.ingest(&[usage_record(&a, "SNS", "2026-10-26", 5)]).await,
        [0],
        "tomorrow in Stockholm"
    );
    p.get("/v1/mssp/periods/2026-11/usage")
        .await
        .assert_error(404, 10300);
    t.clock.set_ms(chrono_ms("2026-10-25T23:00:01Z"));
    assert!(
        t.ingest(&[
            usage_observed(&a, "SNS", "2026-10-25", 4, "2026-10-25T23:00:00Z"),
            usage_observed(&a, "SNS", "2026-10-26", 5, "2026-10-25T23:00:00Z")
        ])
        .await
        .is_empty()
    );
    let periods = p.get("/v1/mssp/periods?limit=2").await;
    assert_eq!(
        (
            periods.body["_data"][0]["id"].as_str(),
            periods.body["_data"][0]["status"].as_str()
        ),
        (Some("2026-11"), Some("open"))
    );
    assert_eq!(periods.body["_data"][1]["status"], "closing");
    // The 25th belongs to the period that ends then, the 26th to the next.
    let october = p.get("/v1/mssp/periods/2026-10/companies").await;
    assert_eq!(
        october.body["_data"][0]["company_peak_units"],
        json!({ "SNS": 4 })
    );
    let november = p.get("/v1/mssp/periods/2026-11/companies").await;
    assert_eq!(
        november.body["_data"][0]["company_peak_units"],
        json!({ "SNS": 5 })
    );
    // Summer time starts 2026-03-29; on 2026-03-25 at 23:30 UTC it is already the 26th.
    t.clock.set_ms(chrono_ms("2026-03-25T23:30:00Z"));
    let p = t.partner(Mssp, MSSP_SCOPES).await;
    let periods = p.get("/v1/mssp/periods?limit=1").await;
    assert_eq!(periods.body["_data"][0]["id"], "2026-04");
}

fn chrono_ms(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_millis()
}

#[tokio::test]
async fn reports_need_their_scope_and_an_offered_period() {
    let t = TestApp::spawn().await;
    let mssp = t.partner(Mssp, &[]).await;
    let reseller = t.partner(Reseller, MSSP_SCOPES).await;
    mssp.get("/v1/reseller/periods")
        .await
        .assert_error(404, 11011);
    reseller
        .get("/v1/mssp/periods")
        .await
        .assert_error(404, 11011);
    reseller
        .get("/v1/mssp/periods/2026-11/usage")
        .await
        .assert_error(404, 11011);
    for id in ["2026-12", "2024-11", "2026-13", "2026-1", "latest"] {
        mssp.get(&format!("/v1/mssp/periods/{id}/usage"))
            .await
            .assert_error(404, 10300);
        reseller
            .get(&format!("/v1/reseller/periods/{id}/companies"))
            .await
            .assert_error(404, 10300);
    }
    assert_eq!(
        mssp.get("/v1/mssp/periods/2024-12/usage").await.status,
        200,
        "the oldest offered"
    );
    mssp.get("/v1/mssp/periods?limit=0")
        .await
        .assert_error(400, 11400);
    mssp.get("/v1/mssp/periods?period=1")
        .await
        .assert_error(400, 11400);
}

/// A report costs the session's UpdateItem and a fixed number of reads whatever the data:
/// MSSP usage one BatchGetItem of the period's totals and the commitments, MSSP companies
/// a page of the period's listing, the period list the page's ledgers, reseller reports a
/// page of the month's list (a closed month: a Query of its rows and one of the accounts).
#[tokio::test]
async fn report_reads_cost_a_fixed_number_of_calls() {
    let t = TestApp::spawn().await;
    let mssp = t.partner(Mssp, MSSP_SCOPES).await;
    let reseller = t
        .partner(Reseller, &["accounts:write", "customers:read"])
        .await;
    let a = account(&mssp, "Alpha", "paying").await;
    t.ingest(&[usage_record(&a, "SNS", "2026-11-05", 3)]).await;
    assert_eq!(cost(&mssp, "/v1/mssp/periods").await, 2);
    // The first summary of a period builds its totals, listing and company-day items from
    // the rows (ledger and commitments, the rows, the listing, the company-day items, the
    // totals written); every later read uses them,
    // whatever the number of companies: the summary one BatchGetItem, a page of companies
    // the listing beside the ledger, then the page's rows.
    assert_eq!(cost(&mssp, "/v1/mssp/periods/2026-11/usage").await, 6);
    assert_eq!(cost(&mssp, "/v1/mssp/periods/2026-11/usage").await, 2);
    assert_eq!(cost(&mssp, "/v1/mssp/periods/2026-11/companies").await, 4);
    t.ingest(&[usage_record(&a, "SNS", "2026-11-06", 4)]).await;
    assert_eq!(cost(&mssp, "/v1/mssp/periods/2026-11/usage").await, 2);
    assert_eq!(cost(&mssp, "/v1/mssp/periods/2026-11/companies").await, 4);
    // The companies on a peak date: the totals (for the peak date) beside the commitments,
    // a page of that day's items, then the page's rows.
    assert_eq!(
        cost(&mssp, "/v1/mssp/periods/2026-11/companies?peak_product=SNS").await,
        4
    );
    // A page of customers: its listing items beside the counts, then its accounts.
    assert_eq!(cost(&mssp, "/v1/customers").await, 4);
    // A filtered page: its index items beside the index status, then its accounts (before
    // the day's recompute, every account instead of the page's).
    assert_eq!(cost(&mssp, "/v1/customers?churn_risk=none").await, 4);
    // A reseller month before its first nightly recompute: its lists' Query and status
    // BatchGetItem, then the whole month (the accounts' Query beside the rows').
    let r = account(&reseller, "Romeo", "paying").await;
    subscribe(
        &reseller,
        &r,
        json!({ "sku": "DA", "quantity": 5, "start_date": "2026-11-01", "end_date": "2027-10-31" }),
    )
    .await;
    t.ingest(&[usage_record(&r, "DA", "2026-11-05", 3)]).await;
    for list in ["companies", "usage"] {
        let path = format!("/v1/reseller/periods/2026-11/{list}");
        assert_eq!(cost(&reseller, &path).await, 5, "{path}");
    }
    let day = shared::partner_data::calendar::stockholm_date(t.app.clock.now_ms());
    shared::partner_data::customers::recompute_levels(&t.app, day)
        .await
        .unwrap();
    assert_eq!(cost(&mssp, "/v1/customers?churn_risk=none").await, 4);
    assert_eq!(cost(&mssp, &format!("/v1/customers/{a}")).await, 2);
    // After it, a page of the month's list: the list's Query beside the status, counts and
    // ledger, then the page's accounts (beside their rows, for usage).
    assert_eq!(
        cost(&reseller, "/v1/reseller/periods/2026-11/companies").await,
        4
    );
    assert_eq!(
        cost(&reseller, "/v1/reseller/periods/2026-11/usage").await,
        5
    );
    // A closed month is read whole: the accounts' Query beside the rows'.
    assert_eq!(
        cost(&reseller, "/v1/reseller/periods/2026-10/usage").await,
        3
    );
}

/// DynamoDB calls of one successful GET.
async fn cost(p: &Partner<'_>, path: &str) -> u64 {
    let before = p.t.app.store.calls();
    let response = p.get(path).await;
    assert_eq!(response.status, 200, "{}", response.body);
    p.t.app.store.calls() - before
}

async fn subscribe(p: &Partner<'_>, account: &str, body: Value) {
    p.expect(
        201,
        Call::new("POST", &format!("/v1/accounts/{account}/subscriptions")).json(&body),
    )
    .await;
}

#[tokio::test]
async fn the_reseller_report_shows_licences_acv_and_use_per_month() {
    let t = TestApp::spawn().await;
    // October's records arrive while October is still open to them (it closes 2026-11-04).
    t.clock.set_ms(chrono_ms("2026-11-02T12:00:00Z"));
    let p = t.partner(Reseller, &["accounts:write"]).await;
    let a = account(&p, "Alpha", "paying").await;
    let b = account(&p, "Bravo", "paying").await;
    let idle = account(&p, "Idle", "paying").await;
    subscribe(
        &p,
        &a,
        json!({ "sku": "DA", "quantity": 100, "start_date": "2026-01-01", "end_date": "2026-11-15",
        "acv": { "amount_minor": 1_000_000, "currency": "SEK" } }),
    )
    .await;
    subscribe(
        &p,
        &a,
        json!({ "sku": "DA", "quantity": 120, "start_date": "2026-11-16", "end_date": "2027-11-15",
        "acv": { "amount_minor": 1_200_000, "currency": "SEK" } }),
    )
    .await;
    subscribe(&p, &b, json!({ "sku": "WAS", "quantity": 10, "start_date": "2026-06-01", "end_date": "2026-11-10", "evaluation": true })).await;
    subscribe(&p, &idle, json!({ "sku": "SNS", "quantity": 5, "start_date": "2025-01-01", "end_date": "2025-12-31" })).await;
    assert!(
        t.ingest(&[usage_record(&a, "DA", "2026-10-30", 150)])
            .await
            .is_empty()
    );
    t.clock.set_ms(api_tests::T0);
    let p = t.partner(Reseller, &["accounts:write"]).await;
    assert!(
        t.ingest(&[
            usage_record(&a, "DA", "2026-11-03", 90),
            usage_record(&a, "DA", "2026-11-18", 108),
            usage_record(&b, "WAS", "2026-11-04", 12),
        ])
        .await
        .is_empty()
    );
    let companies = p.get("/v1/reseller/periods/2026-11/companies").await;
    assert_eq!(
        companies.body["_meta"]["total"], 2,
        "Idle's subscription ended last year"
    );
    let alpha = &companies.body["_data"][0];
    // A renewal month counts the contract in force on its last day, once.
    assert_eq!(
        alpha["acv"],
        json!([{ "amount_minor": 1_200_000, "currency": "SEK" }])
    );
    assert_eq!(
        (
            alpha["subscription_end_date"].as_str(),
            alpha["active"].as_bool()
        ),
        (Some("2027-11-15"), Some(true))
    );
    assert_eq!(alpha["subscriptions"].as_array().unwrap().len(), 2);
    let bravo = &companies.body["_data"][1];
    assert_eq!(
        (bravo["acv"].clone(), bravo["active"].as_bool()),
        (json!([]), Some(false))
    );
    let usage = p.get("/v1/reseller/periods/2026-11/usage").await;
    assert_eq!(
        usage.body["_data"][0]["products"],
        json!([{
            "product": "DA", "unit": "computers", "licensed_quantity": 120, "peak_used": 108,
            "peak_date": "2026-11-18",
            // 90 of 100 on the 3rd and 108 of 120 on the 18th: 90 % both, the first counts.
            "peak_utilisation_percent": 90.0, "peak_utilisation_date": "2026-11-03",
            "peak_utilisation_used": 90, "peak_utilisation_licensed": 100,
            "unlicensed_units": 0, "unlicensed_date": null,
        }])
    );
    assert_eq!(
        usage.body["_data"][1]["products"][0]["peak_utilisation_percent"],
        120.0
    );
    // October: the first subscription only, with October's own peak.
    let october = p.get("/v1/reseller/periods/2026-10/usage").await;
    assert_eq!(
        october.body["_data"][0]["products"][0]["licensed_quantity"],
        100
    );
    assert_eq!(october.body["_data"][0]["products"][0]["peak_used"], 150);
    let periods = p.get("/v1/reseller/periods?limit=1").await;
    assert_eq!(periods.body["_data"][0]["start_date"], "2026-11-01");
    assert_eq!(periods.body["_data"][0]["end_date"], "2026-11-30");
}

#[tokio::test]
async fn concurrent_batches_for_one_account_leave_the_latest_state() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, MSSP_SCOPES).await;
    let a = account(&p, "Alpha", "paying").await;
    let batches: Vec<Vec<Value>> = (1..=8)
        .map(|day| {
            vec![usage_record(
                &a,
                "SNS",
                &format!("2026-11-{day:02}"),
                day * 10,
            )]
        })
        .collect();
    futures::future::join_all(batches.iter().map(|b| t.ingest(b))).await;
    let companies = p.get("/v1/mssp/periods/2026-11/companies").await;
    assert_eq!(
        companies.body["_data"][0]["company_peak_units"],
        json!({ "SNS": 80 })
    );
    let november = shared::partner_data::calendar::Period::parse(
        shared::partner_data::calendar::PeriodKind::Mssp,
        "2026-11",
    );
    let mssp = t
        .app
        .store
        .mssp_usage(&t.partnership_id(PartnershipType::Mssp), november.unwrap())
        .await
        .unwrap();
    let series = &mssp.rows[0].daily_units["SNS"];
    assert_eq!(
        &series[6..14],
        &[10, 20, 30, 40, 50, 60, 70, 80],
        "every day kept (the period starts 2026-10-26)"
    );
}

/// Ingests one batch of `records`; returns the DynamoDB calls and items read it took.
async fn ingestion_cost(t: &TestApp, records: &[Value]) -> (u64, u64) {
    let (calls, items) = (t.app.store.calls(), t.app.store.items_read());
    assert!(t.ingest(records).await.is_empty());
    (
        t.app.store.calls() - calls,
        t.app.store.items_read() - items,
    )
}

#[tokio::test]
async fn a_batch_costs_its_own_days_whatever_the_history_and_derives_what_a_whole_recompute_does() {
    use shared::partner_data::calendar::{Period, PeriodKind};
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, MSSP_SCOPES).await;
    let long = account(&p, "Long history", "paying").await;
    let short = account(&p, "Short history", "paying").await;
    // 27 days of history (2026-10-26 to 2026-11-21) in batches out of day order, one day
    // observed again later with fewer units; the other account has one day.
    let day = |n: u64| {
        shared::partner_data::calendar::add_days(
            shared::partner_data::calendar::parse_date("2026-10-26", "d").unwrap(),
            n,
        )
        .to_string()
    };
    let history: Vec<Value> = (0..27)
        .rev()
        .flat_map(|n| {
            [
                usage_record(&long, "SNS", &day(n), 10 + n),
                usage_record(&long, "DA", &day(n), n % 3),
                activity_record(
                    &long,
                    &day(n),
                    json!({ "scans": { "SNS": 0, "WAS": n % 2, "CS": 0 } }),
                ),
            ]
        })
        .collect();
    for batch in history.chunks(10) {
        assert!(t.ingest(batch).await.is_empty());
    }
    let again = usage_observed(&long, "SNS", &day(20), 3, "2026-11-16T18:00:00Z");
    assert!(t.ingest(&[again]).await.is_empty());
    assert!(
        t.ingest(&[usage_record(&short, "SNS", "2026-11-21", 5)])
            .await
            .is_empty()
    );

    // The next day's batch reads the same items for both: the account lookup and the
    // organization, the account with its two rows, the one raw day item.
    let today = |id: &str| {
        vec![
            usage_record(id, "SNS", "2026-11-22", 7),
            activity_record(
                id,
                "2026-11-22",
                json!({ "scans": { "SNS": 1, "WAS": 0, "CS": 0 } }),
            ),
        ]
    };
    let short_cost = ingestion_cost(&t, &today(&short)).await;
    let long_cost = ingestion_cost(&t, &today(&long)).await;
    assert_eq!(long_cost, short_cost);
    assert_eq!(long_cost, (8, 6), "(calls, items read)");

    // What the batches derived onto the stored items is what a whole recompute derives: it
    // finds nothing to rewrite, and the engagement is the one of all raw records.
    let partnership = t.partnership_id(Mssp);
    let store = &t.app.store;
    let period = Period::parse(PeriodKind::Mssp, "2026-11").unwrap();
    let month = Period::parse(PeriodKind::Reseller, "2026-11").unwrap();
    let periods = [period, month].into();
    let before = store
        .derived_state(&partnership, &long, &periods)
        .await
        .unwrap();
    let row = &before.mssp_rows[&period];
    assert_eq!(row.daily_units["SNS"][20], 3, "the later observation wins");
    assert_eq!(row.daily_units["SNS"][27], 7);
    let today_date = shared::partner_data::calendar::parse_date("2026-11-22", "d").unwrap();
    shared::partner_data::usage::recompute(&t.app, &partnership, &long, &periods, today_date)
        .await
        .unwrap();
    let after = store
        .derived_state(&partnership, &long, &periods)
        .await
        .unwrap();
    assert_eq!(after.mssp_rows, before.mssp_rows);
    assert_eq!(after.reseller_rows, before.reseller_rows);
    let from = shared::partner_data::calendar::parse_date("2026-10-01", "d").unwrap();
    let raw = store
        .raw_records(&partnership, &long, from, today_date)
        .await
        .unwrap();
    let account = after.account.unwrap();
    assert_eq!(
        account.engagement,
        Some(shared::partner_data::usage::engagement(
            today_date, &raw, None
        ))
    );
    assert_eq!(account.usage_months, ["2026-11".to_owned()].into());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn separate_instances_delivering_days_of_one_account_keep_every_day_in_every_row() {
    use shared::partner_data::calendar::{Period, PeriodKind};
    let t = TestApp::spawn().await;
    let mssp = t.partner(Mssp, MSSP_SCOPES).await;
    let reseller = t.partner(Reseller, MSSP_SCOPES).await;
    let accounts = [
        (Mssp, account(&mssp, "Alpha", "paying").await),
        (
            Reseller,
            reseller
                .create_account("Beta", "paying", "2026-09-01")
                .await,
        ),
    ];
    // Four Lambda instances, each delivering every fourth day of 2026-11-01..20, one batch a
    // day, all at once; a round observes every day again, later and with new units.
    let instances: Vec<shared::App> = (0..4).map(|_| t.instance()).collect();
    let units = |round: u64, day: u64| round * 100 + day;
    let mut rounds = 0;
    while rounds < 10 && (rounds < 2 || t.write_retries_with(&instances) == 0) {
        rounds += 1;
        let deliveries = instances.iter().enumerate().map(|(i, app)| {
            let accounts = &accounts;
            async move {
                for day in (1..=20u64).filter(|day| day % 4 == i as u64) {
                    let date = format!("2026-11-{day:02}");
                    let at = format!("{date}T{:02}:00:00Z", 10 + rounds);
                    let records: Vec<Value> = accounts
                        .iter()
                        .map(|(_, id)| usage_observed(id, "SNS", &date, units(rounds, day), &at))
                        .collect();
                    // A record that met contention every time is a batch item failure,
                    // which SQS delivers again (up to five receives): so does this.
                    for receive in 1.. {
                        let event = usage_ingest::local_event(&records);
                        let response = usage_ingest::handle(app, event).await;
                        if response.batch_item_failures.is_empty() {
                            break;
                        }
                        assert!(receive < 5, "a record failed five receives");
                    }
                }
            }
        });
        futures::future::join_all(deliveries).await;
    }
    assert!(
        t.write_retries_with(&instances) > 0,
        "the deliveries never met"
    );
    let expected: Vec<u64> = (1..=20).map(|day| units(rounds, day)).collect();
    let period = Period::parse(PeriodKind::Mssp, "2026-11").unwrap();
    let month = Period::parse(PeriodKind::Reseller, "2026-11").unwrap();
    for (kind, id) in &accounts {
        let partnership = t.partnership_id(*kind);
        let periods = [period, month].into();
        let state = t
            .app
            .store
            .derived_state(&partnership, id, &periods)
            .await
            .unwrap();
        let series = match kind {
            Mssp => state.mssp_rows[&period].daily_units["SNS"][6..26].to_vec(),
            Reseller => state.reseller_rows[&month].daily_units["SNS"][..20].to_vec(),
        };
        assert_eq!(series, expected, "{kind:?} row");
        let engagement = state.account.unwrap().engagement.unwrap();
        assert_eq!(
            engagement.month_units["SNS"][..20],
            expected,
            "{kind:?} engagement"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delivery_paused_between_its_reads_never_overwrites_a_later_one() {
    use shared::partner_data::calendar::{Period, PeriodKind};
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, MSSP_SCOPES).await;
    let a = account(&p, "Alpha", "paying").await;
    // The slow instance stores its record, then reads the stored rows and the raw day with
    // a pause after each read; the other instance stores a later observation of the same day
    // and derives it in between. Reading the rows first, its write is refused and read again.
    // Timeline (P = pause): the slow one stores its record at P (after the account lookup's
    // pause), reads the rows at P and the raw day at 2P, writes at 3P; the fast one runs
    // from 1.5P — after that store, and done before 2P, where a derivation that read the raw
    // day first would read the rows (and then overwrite the later observation).
    let pause = std::time::Duration::from_millis(800);
    let slow = t.instance_with_slow_batch_reads(pause);
    let fast = t.instance();
    let early = [usage_observed(
        &a,
        "SNS",
        "2026-11-10",
        10,
        "2026-11-10T12:00:00Z",
    )];
    let later = [usage_observed(
        &a,
        "SNS",
        "2026-11-10",
        20,
        "2026-11-10T13:00:00Z",
    )];
    // Each on its own thread and runtime: the pause blocks its thread, as a paused
    // instance would, and nothing else.
    let on_own_thread = |app: shared::App, records: [Value; 1], wait: std::time::Duration| {
        std::thread::spawn(move || {
            std::thread::sleep(wait);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(usage_ingest::handle(
                &app,
                usage_ingest::local_event(&records),
            ))
        })
    };
    let slow_delivery = on_own_thread(slow.clone(), early, std::time::Duration::ZERO);
    let fast_delivery = on_own_thread(fast, later, pause * 3 / 2);
    let (slow_answer, fast_answer) = (slow_delivery.join().unwrap(), fast_delivery.join().unwrap());
    assert!(slow_answer.batch_item_failures.is_empty());
    assert!(fast_answer.batch_item_failures.is_empty());
    let period = Period::parse(PeriodKind::Mssp, "2026-11").unwrap();
    let month = Period::parse(PeriodKind::Reseller, "2026-11").unwrap();
    let state = t
        .app
        .store
        .derived_state(&t.partnership_id(Mssp), &a, &[period, month].into())
        .await
        .unwrap();
    assert_eq!(state.mssp_rows[&period].daily_units["SNS"][15], 20);
    assert_eq!(state.reseller_rows[&month].daily_units["SNS"][9], 20);
    let engagement = state.account.unwrap().engagement.unwrap();
    assert_eq!(engagement.month_units["SNS"][9], 20);
    assert!(
        slow.store.write_retries() > 0,
        "the slow delivery never met the fast one"
    );
}

#[tokio::test]
async fn months_end_on_their_last_day_in_the_reseller_report() {
    let t = TestApp::spawn().await;
    t.clock.set_ms(chrono_ms("2026-11-02T12:00:00Z"));
    let p = t.partner(Reseller, &["accounts:write"]).await;
    let a = account(&p, "Alpha", "paying").await;
    // Ends on the last day of October: in October's report, not November's.
    subscribe(&p, &a, json!({ "sku": "SNS", "quantity": 10, "start_date": "2026-02-01", "end_date": "2026-10-31" })).await;
    let failed = t
        .ingest(&[
            usage_record(&a, "SNS", "2026-10-31", 9),
            usage_record(&a, "SNS", "2026-11-01", 4),
        ])
        .await;
    assert!(failed.is_empty());
    let october = p.get("/v1/reseller/periods/2026-10/usage").await;
    assert_eq!(october.body["_data"][0]["products"][0]["peak_used"], 9);
    assert_eq!(
        october.body["_data"][0]["products"][0]["licensed_quantity"],
        10
    );
    let companies = p.get("/v1/reseller/periods/2026-10/companies").await;
    // A past month's `active` is as of its last day, when this subscription still ran.
    assert_eq!(companies.body["_data"][0]["active"], true);
    assert_eq!(
        companies.body["_data"][0]["subscription_end_date"],
        "2026-10-31"
    );
    assert_eq!(
        p.get("/v1/reseller/periods/2026-11/companies").await.body["_meta"]["total"],
        0
    );
    let november = p.get("/v1/reseller/periods/2026-11/usage").await;
    assert_eq!(
        november.body["_data"][0]["products"],
        json!([{
            "product": "SNS", "unit": "IPs", "licensed_quantity": 0, "peak_used": 4,
            "peak_date": "2026-11-01", "peak_utilisation_percent": null,
            "peak_utilisation_date": null, "peak_utilisation_used": null,
            "peak_utilisation_licensed": null, "unlicensed_units": 4,
            "unlicensed_date": "2026-11-01",
        }])
    );
    // February has 28 days in 2026.
    let periods = p.get("/v1/reseller/periods?limit=24").await;
    let february = periods.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "2026-02")
        .unwrap()
        .clone();
    assert_eq!(
        (
            february["start_date"].as_str(),
            february["end_date"].as_str()
        ),
        (Some("2026-02-01"), Some("2026-02-28"))
    );
}
