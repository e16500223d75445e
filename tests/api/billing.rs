//! The billing rules a partner's finance team relies on, through the API against DynamoDB
//! Local: eligibility decided per day from the state history, closed periods that never
//! move (late records stored and counted), the newest observation winning whatever the
//! arrival order, and figures that reconcile. The test clock starts at 2026-11-22 21:30 in
//! Stockholm: MSSP period 2026-11 (2026-10-26 to 2026-11-25) is open, 2026-10 closed.

use api_tests::{Call, Partner, T0, TestApp, usage_observed, usage_record};
use serde_json::{Value, json};
use shared::partner_data::calendar::{Period, PeriodKind, parse_date};
use shared::partner_data::commitments::{self, CommitmentChange};
use shared::storage::RawRecords;
use shared::storage::records::PartnershipType::{Mssp, Reseller};
use shared::storage::records::UsageRecord;

const SCOPES: &[&str] = &["accounts:write"];

async fn account(p: &Partner<'_>, name: &str, state: &str, since: &str) -> String {
    p.create_account(name, state, since).await
}

async fn change_state(p: &Partner<'_>, id: &str, state: &str, since: &str) -> Value {
    let body = json!({ "state": state, "state_since": since });
    p.expect(
        200,
        Call::new("PATCH", &format!("/v1/accounts/{id}")).json(&body),
    )
    .await
}

/// `(peak_units, peak_date)` of SNS in MSSP period `period`.
async fn sns_peak(p: &Partner<'_>, period: &str) -> (u64, Option<String>) {
    let usage = p.get(&format!("/v1/mssp/periods/{period}/usage")).await;
    assert_eq!(usage.status, 200, "{}", usage.body);
    let sns = usage.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["product"] == "SNS")
        .unwrap()
        .clone();
    (
        sns["peak_units"].as_u64().unwrap(),
        sns["peak_date"].as_str().map(str::to_owned),
    )
}

/// `(minimum_commitment, billable_units)` of SNS in MSSP period `period`.
async fn commitment(p: &Partner<'_>, period: &str) -> (Value, Value) {
    let body = p
        .get(&format!("/v1/mssp/periods/{period}/usage"))
        .await
        .body;
    let sns = body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["product"] == "SNS")
        .unwrap()
        .clone();
    (
        sns["minimum_commitment"].clone(),
        sns["billable_units"].clone(),
    )
}

fn ms(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_millis()
}

fn mssp(id: &str) -> Period {
    Period::parse(PeriodKind::Mssp, id).unwrap()
}

#[tokio::test]
async fn archiving_mid_period_keeps_the_paying_days_billed() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let a = account(&p, "Alpha", "paying", "2026-09-01").await;
    t.ingest(&[
        usage_record(&a, "SNS", "2026-11-10", 40),
        usage_record(&a, "SNS", "2026-11-18", 90),
    ])
    .await;
    assert_eq!(
        sns_peak(&p, "2026-11").await,
        (90, Some("2026-11-18".into()))
    );
    let changed = change_state(&p, &a, "archived", "2026-11-16").await;
    assert_eq!(
        changed["state_history"],
        json!([
            { "state": "paying", "since": "2026-09-01" },
            { "state": "archived", "since": "2026-11-16" },
        ])
    );
    // The first read after the change: the 1st–15th stay billed, the 18th no longer is.
    assert_eq!(
        sns_peak(&p, "2026-11").await,
        (40, Some("2026-11-10".into()))
    );
    let companies = p.get("/v1/mssp/periods/2026-11/companies").await;
    assert_eq!(companies.body["_meta"]["total"], 1);
    assert_eq!(
        companies.body["_data"][0]["company_peak_units"],
        json!({ "SNS": 40 })
    );
}

#[tokio::test]
async fn a_trial_converted_mid_period_bills_only_its_paying_days() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let a = account(&p, "Trial Co", "trial", "2026-09-01").await;
    t.ingest(&[
        usage_record(&a, "SNS", "2026-11-05", 100),
        usage_record(&a, "SNS", "2026-11-20", 30),
    ])
    .await;
    assert_eq!(
        sns_peak(&p, "2026-11").await,
        (0, None),
        "trial days never count"
    );
    change_state(&p, &a, "paying", "2026-11-15").await;
    assert_eq!(
        sns_peak(&p, "2026-11").await,
        (30, Some("2026-11-20".into()))
    );
}

#[tokio::test]
async fn internal_to_paying_counts_from_the_conversion_day_on() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let a = account(&p, "Own Lab", "internal", "2026-09-01").await;
    t.ingest(&[
        usage_record(&a, "SNS", "2026-11-03", 7),
        usage_record(&a, "SNS", "2026-11-19", 9),
    ])
    .await;
    change_state(&p, &a, "paying", "2026-11-22").await;
    assert_eq!(sns_peak(&p, "2026-11").await, (0, None));
    t.ingest(&[usage_observed(
        &a,
        "SNS",
        "2026-11-22",
        5,
        "2026-11-22T20:00:00Z",
    )])
    .await;
    assert_eq!(
        sns_peak(&p, "2026-11").await,
        (5, Some("2026-11-22".into()))
    );
    // A state change names a day no earlier than the last one, not in the future.
    let bad = p
        .send(
            "PATCH",
            &format!("/v1/accounts/{a}"),
            &json!({ "state": "archived", "state_since": "2026-11-21" }),
        )
        .await;
    bad.assert_error(400, 11400);
    assert!(
        bad.body["additional_info"]["detail"]
            .as_str()
            .unwrap()
            .contains("last state change")
    );
    let bad = p
        .send(
            "PATCH",
            &format!("/v1/accounts/{a}"),
            &json!({ "state": "archived", "state_since": "2026-11-23" }),
        )
        .await;
    bad.assert_error(400, 11400);
    let bad = p
        .send(
            "PATCH",
            &format!("/v1/accounts/{a}"),
            &json!({ "state_since": "2026-11-22" }),
        )
        .await;
    assert_eq!(
        bad.body["additional_info"]["detail"],
        "state_since goes with a change of state; the account is already in that state"
    );
}

#[tokio::test]
async fn deleting_a_customer_keeps_its_billed_days_under_the_name_it_had() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let a = account(&p, "Alpha", "paying", "2026-09-01").await;
    t.ingest(&[usage_record(&a, "SNS", "2026-11-10", 12)]).await;
    p.send(
        "PATCH",
        &format!("/v1/accounts/{a}"),
        &json!({ "name": "Alpha Nordic" }),
    )
    .await;
    p.expect(200, Call::new("DELETE", &format!("/v1/accounts/{a}")))
        .await;
    p.get(&format!("/v1/accounts/{a}"))
        .await
        .assert_error(404, 10300);
    assert_eq!(
        sns_peak(&p, "2026-11").await,
        (12, Some("2026-11-10".into()))
    );
    let companies = p.get("/v1/mssp/periods/2026-11/companies").await;
    assert_eq!(companies.body["_data"][0]["name"], "Alpha Nordic");
    assert_eq!(companies.body["_data"][0]["id"], a.as_str());
}

/// An account paying since 2026-09-01 with SNS usage in period 2026-10, ingested on
/// 2026-10-20 while that period was open; the clock is then back at T0, when it is closed.
async fn closed_period_fixture(t: &TestApp) -> String {
    t.clock.set_ms(ms("2026-10-20T12:00:00Z"));
    let p = t.partner(Mssp, SCOPES).await;
    let a = account(&p, "Alpha", "paying", "2026-09-01").await;
    assert!(
        t.ingest(&[
            usage_record(&a, "SNS", "2026-10-10", 50),
            usage_record(&a, "SNS", "2026-10-18", 60),
        ])
        .await
        .is_empty()
    );
    t.clock.set_ms(T0);
    a
}

async fn period_meta(p: &Partner<'_>, id: &str) -> Value {
    p.get(&format!("/v1/mssp/periods/{id}/usage")).await.body["_meta"]["period"].clone()
}

#[tokio::test]
async fn a_late_record_is_stored_and_counted_but_moves_no_figure_of_a_closed_period() {
    let t = TestApp::spawn().await;
    let a = closed_period_fixture(&t).await;
    let p = t.partner(Mssp, SCOPES).await;
    let before = p.get("/v1/mssp/periods/2026-10/companies").await.body["_data"].clone();
    assert_eq!(
        sns_peak(&p, "2026-10").await,
        (60, Some("2026-10-18".into()))
    );
    assert_eq!(
        period_meta(&p, "2026-10").await,
        json!({
            "id": "2026-10", "start_date": "2026-09-26", "end_date": "2026-10-25",
            "status": "closed", "closes_at": "2026-10-28T23:00:00Z", "late_records": 0,
        })
    );
    let late = usage_observed(&a, "SNS", "2026-10-12", 80, "2026-11-22T10:00:00Z");
    assert!(
        t.ingest(std::slice::from_ref(&late)).await.is_empty(),
        "acknowledged"
    );
    assert_eq!(
        sns_peak(&p, "2026-10").await,
        (60, Some("2026-10-18".into()))
    );
    assert_eq!(
        p.get("/v1/mssp/periods/2026-10/companies").await.body["_data"],
        before
    );
    assert_eq!(period_meta(&p, "2026-10").await["late_records"], 1);
    // Stored all the same: nothing is lost.
    let partnership = t.partnership_id(Mssp);
    let day = parse_date("2026-10-12", "d").unwrap();
    let raw = t
        .app
        .store
        .raw_records(&partnership, &a, day, day)
        .await
        .unwrap();
    assert_eq!(raw.usage.iter().map(|r| r.units).collect::<Vec<_>>(), [80]);
    // The same record redelivered is not counted twice.
    assert!(t.ingest(&[late]).await.is_empty());
    assert_eq!(period_meta(&p, "2026-10").await["late_records"], 1);
    let periods = p.get("/v1/mssp/periods?limit=3").await;
    assert_eq!(
        periods.body["_data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (
                p["id"].as_str().unwrap(),
                p["status"].as_str().unwrap(),
                p["late_records"].as_u64().unwrap()
            ))
            .collect::<Vec<_>>(),
        [
            ("2026-11", "open", 0),
            ("2026-10", "closed", 1),
            ("2026-09", "closed", 0)
        ]
    );
}

#[tokio::test]
async fn a_closing_period_still_takes_records_until_its_grace_days_end() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let a = account(&p, "Alpha", "paying", "2026-09-01").await;
    // 2026-11 ends on the 25th and closes at midnight starting the 29th (3 grace days).
    t.clock.set_ms(ms("2026-11-28T22:59:00Z"));
    let p = t.partner(Mssp, SCOPES).await;
    assert_eq!(period_meta(&p, "2026-11").await["status"], "closing");
    t.ingest(&[usage_record(&a, "SNS", "2026-11-24", 11)]).await;
    assert_eq!(sns_peak(&p, "2026-11").await.0, 11);
    t.clock.set_ms(ms("2026-11-28T23:00:00Z"));
    let p = t.partner(Mssp, SCOPES).await;
    t.ingest(&[usage_record(&a, "SNS", "2026-11-25", 99)]).await;
    assert_eq!(sns_peak(&p, "2026-11").await.0, 11);
    let meta = period_meta(&p, "2026-11").await;
    assert_eq!(
        (meta["status"].as_str(), meta["late_records"].as_u64()),
        (Some("closed"), Some(1))
    );
}

#[tokio::test]
async fn a_state_change_back_dated_into_a_closed_period_counts_late_and_moves_nothing_there() {
    let t = TestApp::spawn().await;
    let a = closed_period_fixture(&t).await;
    let p = t.partner(Mssp, SCOPES).await;
    t.ingest(&[usage_record(&a, "SNS", "2026-11-05", 20)]).await;
    assert_eq!(
        sns_peak(&p, "2026-11").await,
        (20, Some("2026-11-05".into()))
    );
    change_state(&p, &a, "archived", "2026-10-15").await;
    // 2026-10 is final: the 18th stays billed; the change is counted as late there.
    assert_eq!(
        sns_peak(&p, "2026-10").await,
        (60, Some("2026-10-18".into()))
    );
    assert_eq!(period_meta(&p, "2026-10").await["late_records"], 1);
    // 2026-11 is open: archived since 10-15, its 5th no longer counts.
    assert_eq!(sns_peak(&p, "2026-11").await, (0, None));
    assert_eq!(period_meta(&p, "2026-11").await["late_records"], 0);
}

/// The six orders of three observations of one day.
const ORDERS: [[usize; 3]; 6] = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
];

#[tokio::test]
async fn the_newest_observation_wins_in_every_order_of_delivery() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let a = account(&p, "Alpha", "paying", "2026-09-01").await;
    // Observed at 20:00, 21:00 and 22:00 with 30, 70 and 5 units: 5 is the truth.
    let versions = |day: &str| {
        [(30, "20:00"), (70, "21:00"), (5, "22:00")]
            .map(|(units, at)| usage_observed(&a, "SNS", day, units, &format!("{day}T{at}:00Z")))
    };
    for (index, order) in ORDERS.iter().enumerate() {
        let day = format!("2026-11-{:02}", index + 1);
        let records = versions(&day);
        for position in order {
            // One batch each (separate deliveries), the second one duplicated.
            let record = records[*position].clone();
            assert!(t.ingest(&[record.clone(), record]).await.is_empty());
        }
    }
    let partnership = t.partnership_id(Mssp);
    let (first, last) = (
        parse_date("2026-11-01", "d").unwrap(),
        parse_date("2026-11-06", "d").unwrap(),
    );
    let raw = t
        .app
        .store
        .raw_records(&partnership, &a, first, last)
        .await
        .unwrap();
    assert_eq!(
        raw.usage
            .iter()
            .map(|r| (r.units, r.observed_at_ms % 86_400_000))
            .collect::<Vec<_>>(),
        vec![(5, 22 * 3_600_000); 6]
    );
    let companies = p.get("/v1/mssp/periods/2026-11/companies").await;
    assert_eq!(
        companies.body["_data"][0]["company_peak_units"],
        json!({ "SNS": 5 })
    );
    // The same observation with other content: the larger wins, in either order.
    for (day, order) in [("2026-11-07", [3, 4]), ("2026-11-08", [4, 3])] {
        for units in order {
            t.ingest(&[usage_observed(
                &a,
                "SNS",
                day,
                units,
                &format!("{day}T22:00:00Z"),
            )])
            .await;
        }
    }
    let (d7, d8) = (
        parse_date("2026-11-07", "d").unwrap(),
        parse_date("2026-11-08", "d").unwrap(),
    );
    let raw = t
        .app
        .store
        .raw_records(&partnership, &a, d7, d8)
        .await
        .unwrap();
    assert_eq!(
        raw.usage.iter().map(|r| r.units).collect::<Vec<_>>(),
        [4, 4]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_from_separate_instances_converge_to_the_newest() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let a = account(&p, "Alpha", "paying", "2026-09-01").await;
    let partnership = t.partnership_id(Mssp);
    // Four Lambda instances, each delivering every version of days 1–10, in its own order.
    let instances: Vec<shared::App> = (0..4).map(|_| t.instance()).collect();
    let batch = |instance: usize| -> Vec<Value> {
        let mut records = Vec::new();
        for day in 1..=10 {
            for version in 0..3u64 {
                let v = (version + instance as u64) % 3;
                let date = format!("2026-11-{day:02}");
                let at = format!("{date}T2{v}:00:00Z");
                records.push(usage_observed(&a, "SNS", &date, 100 + day * 10 + v, &at));
            }
        }
        records
    };
    let tasks = instances.iter().enumerate().map(|(i, app)| {
        let event = usage_ingest::local_event(&batch(i));
        usage_ingest::handle(app, event)
    });
    for response in futures::future::join_all(tasks).await {
        assert!(response.batch_item_failures.is_empty());
    }
    let first = parse_date("2026-11-01", "d").unwrap();
    let last = parse_date("2026-11-10", "d").unwrap();
    let raw = t
        .app
        .store
        .raw_records(&partnership, &a, first, last)
        .await
        .unwrap();
    assert_eq!(
        raw.usage.iter().map(|r| r.units).collect::<Vec<_>>(),
        (1..=10).map(|day| 100 + day * 10 + 2).collect::<Vec<_>>()
    );
    let companies = p.get("/v1/mssp/periods/2026-11/companies").await;
    assert_eq!(
        companies.body["_data"][0]["company_peak_units"],
        json!({ "SNS": 202 })
    );
    // Evidence of contention: the same raw writes from four instances at once; every one
    // but the winner of each key is settled by a failed condition, none is lost.
    let record = |units: u64, at: &str| UsageRecord {
        account_id: a.clone(),
        product: "SNS".into(),
        date: parse_date("2026-11-11", "d").unwrap(),
        units,
        observed_at_ms: ms(at),
        received_at_ms: T0,
        ttl_epoch_seconds: 0,
    };
    let writes = instances.iter().enumerate().map(|(i, app)| {
        let raw = RawRecords {
            usage: vec![record(i as u64, &format!("2026-11-11T1{i}:00:00Z"))],
            activity: Vec::new(),
        };
        let partnership = partnership.clone();
        async move {
            app.store
                .put_raw_records(&partnership, &raw, |_| Vec::new())
                .await
                .unwrap()
        }
    });
    let summaries = futures::future::join_all(writes).await;
    let stored: usize = summaries.iter().map(|s| s.stored).sum();
    let superseded: usize = summaries.iter().map(|s| s.superseded).sum();
    assert_eq!(stored + superseded, 4);
    assert!(stored >= 1, "{summaries:?}");
    let day = parse_date("2026-11-11", "d").unwrap();
    let raw = t
        .app
        .store
        .raw_records(&partnership, &a, day, day)
        .await
        .unwrap();
    assert_eq!(raw.usage[0].units, 3, "observed last");
}

#[tokio::test]
async fn company_rows_reconcile_with_the_peak_and_commitments_start_mid_year() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let a = account(&p, "Alpha", "paying", "2026-09-01").await;
    let b = account(&p, "Bravo", "paying", "2026-09-01").await;
    t.ingest(&[
        usage_record(&a, "SNS", "2026-11-01", 10),
        usage_record(&b, "SNS", "2026-11-01", 3),
        usage_record(&a, "SNS", "2026-11-02", 5),
        usage_record(&b, "SNS", "2026-11-02", 20),
        usage_record(&a, "WAS", "2026-11-03", 4),
    ])
    .await;
    let companies = p.get("/v1/mssp/periods/2026-11/companies").await.body;
    assert_eq!(
        companies["_data"][0],
        json!({
            "id": a, "name": "Alpha",
            "company_peak_units": { "SNS": 10, "WAS": 4 },
            "company_peak_date": { "SNS": "2026-11-01", "WAS": "2026-11-03" },
            "units_on_peak_date": { "SNS": 5, "WAS": 4 },
            "_links": { "account": { "href": format!("http://api.example.com/v1/accounts/{a}") } },
        })
    );
    assert_eq!(
        companies["_data"][1]["units_on_peak_date"],
        json!({ "SNS": 20 })
    );
    assert_eq!(
        sns_peak(&p, "2026-11").await,
        (25, Some("2026-11-02".into())),
        "5 + 20"
    );
    // Commitments are read fresh for each period: one from 2026-10-26 applies to 2026-11
    // (and not to 2026-10); one from 2026-11-26 only from 2026-12 on.
    let org = &t.org;
    let partnership = &org
        .partnerships
        .iter()
        .find(|p| p.kind == Mssp)
        .unwrap()
        .clone();
    let set = |units: u64, from: &str| CommitmentChange {
        product: "SNS".into(),
        units,
        from: parse_date(from, "d").unwrap(),
        until: None,
    };
    let grace = t.app.config.report_grace_days;
    commitments::set_commitment(
        &t.app.store,
        &org.org_id,
        partnership,
        &set(651, "2026-10-26"),
        T0,
        grace,
        "operator:test",
    )
    .await
    .unwrap();
    commitments::set_commitment(
        &t.app.store,
        &org.org_id,
        partnership,
        &set(800, "2026-11-26"),
        T0,
        grace,
        "operator:test",
    )
    .await
    .unwrap();
    assert_eq!(commitment(&p, "2026-11").await, (json!(651), json!(651)));
    assert_eq!(commitment(&p, "2026-10").await, (json!(null), json!(0)));
    let refused = commitments::set_commitment(
        &t.app.store,
        &org.org_id,
        partnership,
        &set(1, "2026-09-26"),
        T0,
        grace,
        "operator:test",
    )
    .await;
    assert_eq!(refused.unwrap_err().status().as_u16(), 409);
    let later = t.app.store.commitments(&partnership.id).await.unwrap();
    assert_eq!(later.for_period("SNS", mssp("2026-12").start()), Some(800));
}

/// `(acv amount, licensed)` of each company of reseller month `id`, by name.
async fn reseller_month(p: &Partner<'_>, id: &str) -> Vec<(String, Value, Value)> {
    let companies = p.get(&format!("/v1/reseller/periods/{id}/companies")).await;
    assert_eq!(companies.status, 200, "{}", companies.body);
    let usage = p
        .get(&format!("/v1/reseller/periods/{id}/usage"))
        .await
        .body;
    companies.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let licensed = usage["_data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["id"] == c["id"])
                .map_or(Value::Null, |u| {
                    u["products"][0]["licensed_quantity"].clone()
                });
            (
                c["name"].as_str().unwrap().to_owned(),
                c["acv"][0]["amount_minor"].clone(),
                licensed,
            )
        })
        .collect()
}

#[tokio::test]
async fn a_closed_reseller_month_keeps_the_contracts_it_had_when_they_change_late() {
    let t = TestApp::spawn().await;
    t.clock.set_ms(ms("2026-10-20T12:00:00Z"));
    let p = t.partner(Reseller, SCOPES).await;
    let a = account(&p, "Alpha", "paying", "2026-09-01").await;
    let b = account(&p, "Bravo", "paying", "2026-09-01").await;
    let subscribe = |account: &str, body: Value| {
        let call = Call::new("POST", &format!("/v1/accounts/{account}/subscriptions")).json(&body);
        async { p.expect(201, call).await["id"].as_str().unwrap().to_owned() }
    };
    let sub_a = subscribe(&a, json!({ "sku": "DA", "quantity": 100, "start_date": "2026-01-01", "end_date": "2026-12-31", "acv": { "amount_minor": 1_000_000, "currency": "SEK" } })).await;
    let sub_b = subscribe(&b, json!({ "sku": "DA", "quantity": 10, "start_date": "2026-06-01", "end_date": "2027-05-31", "acv": { "amount_minor": 500_000, "currency": "SEK" } })).await;
    t.ingest(&[usage_record(&a, "DA", "2026-10-10", 80)]).await;
    t.clock.set_ms(T0);
    let p = t.partner(Reseller, SCOPES).await;
    let october = vec![
        ("Alpha".to_owned(), json!(1_000_000), json!(100)),
        ("Bravo".to_owned(), json!(500_000), json!(10)),
    ];
    assert_eq!(reseller_month(&p, "2026-10").await, october);
    // A late correction of the contract from January: stored and applied from the open
    // month on; October (closed) keeps what it had, and counts the change as late.
    let change = json!({ "quantity": 50, "acv": { "amount_minor": 2_000_000, "currency": "SEK" } });
    p.expect(
        200,
        Call::new("PATCH", &format!("/v1/subscriptions/{sub_a}")).json(&change),
    )
    .await;
    let change = json!({ "quantity": 60 });
    p.expect(
        200,
        Call::new("PATCH", &format!("/v1/subscriptions/{sub_a}")).json(&change),
    )
    .await;
    assert_eq!(reseller_month(&p, "2026-10").await, october);
    let november = reseller_month(&p, "2026-11").await;
    assert_eq!(
        november[0],
        ("Alpha".to_owned(), json!(2_000_000), json!(60))
    );
    let late = |body: Value| body["_meta"]["period"]["late_records"].clone();
    assert_eq!(
        late(p.get("/v1/reseller/periods/2026-10/usage").await.body),
        2
    );
    assert_eq!(
        late(p.get("/v1/reseller/periods/2026-11/usage").await.body),
        0
    );
    // Bravo ends and leaves: October still shows it as it was; November no longer does.
    p.expect(
        200,
        Call::new("DELETE", &format!("/v1/subscriptions/{sub_b}")),
    )
    .await;
    p.expect(200, Call::new("DELETE", &format!("/v1/accounts/{b}")))
        .await;
    assert_eq!(reseller_month(&p, "2026-10").await, october);
    assert_eq!(reseller_month(&p, "2026-11").await.len(), 1);
}
