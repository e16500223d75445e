//! An MSSP period's daily totals, which the usage summary reads instead of every company
//! row, and its listing of eligible companies, which pages the company list: after every
//! kind of write (new records, corrections, back-dated state changes, deliveries racing from
//! separate instances, a rebuild racing with them) they are exactly what the stored rows
//! give. The test clock is 2026-11-22: period 2026-11 is open.

use std::collections::{BTreeSet, HashMap};

use api_tests::{Partner, TestApp, usage_observed, usage_record};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use shared::partner_data::calendar::{Period, PeriodKind};
use shared::platform::request::Cursor;
use shared::storage::PeriodTotals;
use shared::storage::records::MsspCompanyUsage;
use shared::storage::records::PartnershipType::Mssp;

const API: &str = "http://api.example.com";

const SCOPES: &[&str] = &["accounts:write"];

fn november() -> Period {
    Period::parse(PeriodKind::Mssp, "2026-11").unwrap()
}

async fn account(p: &Partner<'_>, name: &str, state: &str) -> String {
    p.create_account(name, state, "2026-09-01").await
}

/// SNS in the summary of period 2026-11.
async fn sns_summary(p: &Partner<'_>) -> Value {
    let usage = p.get("/v1/mssp/periods/2026-11/usage").await;
    assert_eq!(usage.status, 200, "{}", usage.body);
    usage.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["product"] == "SNS")
        .unwrap()
        .clone()
}

/// The stored totals (without a rebuild: the test fails if they were never completed)
/// and what counting the stored rows gives.
async fn stored_and_counted(t: &TestApp) -> (PeriodTotals, PeriodTotals) {
    let partnership = t.partnership_id(Mssp);
    let key = shared::storage::keys::report_ledger(&partnership, "MSSP", &november().id());
    let item = t.stored_item(key).await.expect("the period's ledger item");
    assert_eq!(
        item.get("totals_complete"),
        Some(&AttributeValue::Bool(true))
    );
    let (_, stored, _) = t
        .app
        .store
        .mssp_summary(&partnership, november())
        .await
        .unwrap();
    let rows = t
        .app
        .store
        .mssp_usage(&partnership, november())
        .await
        .unwrap();
    let (days_stored, days_counted) = company_days(t, &rows.rows).await;
    assert_eq!(days_stored, days_counted, "company-day items");
    (stored, PeriodTotals::of_rows(november(), &rows.rows))
}

/// The period's company-day items (product, day, units, account id) and those `rows` give.
async fn company_days(
    t: &TestApp,
    rows: &[MsspCompanyUsage],
) -> (
    BTreeSet<(String, usize, u64, String)>,
    BTreeSet<(String, usize, u64, String)>,
) {
    let prefix = shared::storage::keys::mssp_company_days_prefix("2026-11");
    let stored = t
        .stored_under(Mssp, &prefix)
        .await
        .iter()
        .map(|item| {
            let sk = item["sk"].as_s().unwrap();
            let rest = sk.strip_prefix(&prefix).unwrap();
            let [product, day, position]: [&str; 3] =
                rest.splitn(3, '#').collect::<Vec<_>>().try_into().unwrap();
            let (inverted, id) = position.split_once('\u{1}').unwrap();
            assert_eq!(item["account_id"].as_s().unwrap(), id);
            let units = u64::MAX - inverted.parse::<u64>().unwrap();
            (
                product.to_owned(),
                day.parse().unwrap(),
                units,
                id.to_owned(),
            )
        })
        .collect();
    let counted = rows
        .iter()
        .flat_map(|row| {
            row.daily_units.iter().flat_map(move |(product, series)| {
                series
                    .iter()
                    .enumerate()
                    .filter(|(_, units)| **units > 0)
                    .map(move |(day, units)| (product.clone(), day, *units, row.account_id.clone()))
            })
        })
        .collect();
    (stored, counted)
}

/// Each of `instances` delivers every account's days 1–8 in three versions, in its own order.
async fn race_deliveries(instances: &[shared::App], accounts: &[String], round: u64) {
    let batch = |instance: usize| -> Vec<Value> {
        let mut records = Vec::new();
        for (n, account) in accounts.iter().enumerate() {
            for day in 1..=8u64 {
                for version in 0..3u64 {
                    let v = (version + instance as u64) % 3;
                    let date = format!("2026-11-{day:02}");
                    let at = format!("2026-11-{:02}T1{v}:{round:02}:00Z", day + 1);
                    let units = 10 * n as u64 + day + v + round;
                    records.push(usage_observed(account, "SNS", &date, units, &at));
                }
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn totals_equal_the_rows_after_racing_deliveries_and_state_changes() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let mut accounts = Vec::new();
    for (name, state) in [
        ("Alpha", "paying"),
        ("Bravo", "paying"),
        ("Trial Co", "trial"),
    ] {
        accounts.push(account(&p, name, state).await);
    }
    // The first read builds the (empty) totals; from then on every row write adds to them.
    let empty = p.get("/v1/mssp/periods/2026-11/usage").await;
    assert_eq!(
        empty.body["_meta"]["eligible_companies"], 0,
        "{}",
        empty.body
    );
    let instances: Vec<shared::App> = (0..4).map(|_| t.instance()).collect();
    // Deliveries of the same accounts from four instances at once: until at least one row
    // write found its row changed under it and was done again (the evidence of contention).
    let mut rounds = 0;
    while t.write_retries_with(&instances) == 0 {
        assert!(rounds < 10, "no row write met another in {rounds} rounds");
        race_deliveries(&instances, &accounts, rounds).await;
        rounds += 1;
    }
    let (stored, counted) = stored_and_counted(&t).await;
    assert_eq!(stored, counted);
    assert_eq!(stored.eligible, 2, "the trial account has no billable day");
    // A back-dated conversion makes the trial account's days billable; archiving Alpha from
    // the 5th takes its later days out; a correction lowers a day.
    p.send(
        "PATCH",
        &format!("/v1/accounts/{}", accounts[2]),
        &json!({ "state": "paying", "state_since": "2026-11-01" }),
    )
    .await;
    p.send(
        "PATCH",
        &format!("/v1/accounts/{}", accounts[0]),
        &json!({ "state": "archived", "state_since": "2026-11-05" }),
    )
    .await;
    t.ingest(&[usage_observed(
        &accounts[1],
        "SNS",
        "2026-11-03",
        1,
        "2026-11-20T08:00:00Z",
    )])
    .await;
    let (stored, counted) = stored_and_counted(&t).await;
    assert_eq!(stored, counted);
    assert_eq!(stored.eligible, 3);
    let sns = &stored.units["SNS"];
    // 2026-11-03 is day 8 of the period (it starts 2026-10-26); Alpha still pays then.
    assert_eq!(sns[8], counted.units["SNS"][8]);
    assert_eq!(
        stored.companies["SNS"][12], 2,
        "Alpha archived from the 5th (day 10)"
    );
    // The summary answers from them: the peak and its companies.
    let summary = sns_summary(&p).await;
    let (peak_day, peak_units) =
        sns.iter().enumerate().fold(
            (0, 0),
            |best, (day, units)| if *units > best.1 { (day, *units) } else { best },
        );
    assert_eq!(summary["peak_units"], peak_units);
    assert_eq!(
        summary["peak_date"],
        shared::partner_data::calendar::format_date(november().days().nth(peak_day).unwrap())
    );
    assert_eq!(
        summary["peak_date_companies"],
        stored.companies["SNS"][peak_day]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_period_written_before_its_totals_existed_is_rebuilt_exactly_on_first_read() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let a = account(&p, "Alpha", "paying").await;
    let b = account(&p, "Bravo", "paying").await;
    t.ingest(&[
        usage_record(&a, "SNS", "2026-11-01", 10),
        usage_record(&b, "SNS", "2026-11-01", 3),
        usage_record(&b, "SNS", "2026-11-02", 20),
        usage_record(&a, "SNS", "2026-11-02", 3),
    ])
    .await;
    // As a table written before the totals: a ledger without them, with a late count and
    // a stray partial total, which the rebuild must keep and overwrite respectively.
    let partnership = t.partnership_id(Mssp);
    let key = shared::storage::keys::report_ledger(&partnership, "MSSP", &november().id());
    let legacy = [
        ("pk", AttributeValue::S(key.pk.clone())),
        ("sk", AttributeValue::S(key.sk.clone())),
        ("late_records", AttributeValue::N("2".into())),
        ("totals_revision", AttributeValue::N("7".into())),
        ("t_units_SNS_06", AttributeValue::N("-5".into())),
    ];
    t.app
        .store
        .client()
        .put_item()
        .table_name(t.app.store.table_name())
        .set_item(Some(
            legacy.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ))
        .send()
        .await
        .unwrap();
    // ... and no company listing or company-day items (one stray item of each, of a company
    // that is not eligible).
    clear_under(
        &t,
        &shared::storage::keys::mssp_company_listing_prefix("2026-11"),
    )
    .await;
    clear_under(
        &t,
        &shared::storage::keys::mssp_company_days_prefix("2026-11"),
    )
    .await;
    let stray_day = shared::storage::keys::mssp_company_day(
        &partnership,
        "2026-11",
        "SNS",
        7,
        "18446744073709551610\u{1}gone",
    );
    let stray_listing =
        shared::storage::keys::mssp_company_listing(&partnership, "2026-11", "zed\u{1}gone");
    for stray in [stray_day, stray_listing] {
        t.app
            .store
            .client()
            .put_item()
            .table_name(t.app.store.table_name())
            .item("pk", AttributeValue::S(stray.pk))
            .item("sk", AttributeValue::S(stray.sk))
            .item("account_id", AttributeValue::S("gone".into()))
            .send()
            .await
            .unwrap();
    }
    let usage = p.get("/v1/mssp/periods/2026-11/usage").await;
    assert_eq!(usage.status, 200, "{}", usage.body);
    let sns = sns_summary(&p).await;
    assert_eq!(
        (
            &sns["peak_units"],
            &sns["peak_date"],
            &sns["peak_date_companies"]
        ),
        (&json!(23), &json!("2026-11-02"), &json!(2)),
        "day totals 13 and 23"
    );
    assert_eq!(usage.body["_meta"]["period"]["late_records"], 2);
    let (stored, counted) = stored_and_counted(&t).await;
    assert_eq!(stored, counted);
    // The first read built the company listing with the totals.
    let mut listing = listed(&t).await;
    listing.sort();
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(listing, both);
    let companies = p.get("/v1/mssp/periods/2026-11/companies").await;
    assert_eq!(names(&companies.body), ["Alpha", "Bravo"]);
    // Rebuilds racing with deliveries from other instances: whichever order they land in,
    // the stored totals end equal to the rows (a rebuild that read before a row write is
    // not stored).
    let instances: Vec<shared::App> = (0..3).map(|_| t.instance()).collect();
    let tasks = instances.iter().enumerate().map(|(i, app)| {
        let (a, b, partnership) = (a.clone(), b.clone(), partnership.clone());
        async move {
            for day in 3..=9u64 {
                let date = format!("2026-11-{day:02}");
                let records = [
                    usage_record(&a, "SNS", &date, day * 2),
                    usage_record(&b, "DA", &date, day),
                ];
                if i == 0 {
                    app.store
                        .rebuild_mssp_totals(&partnership, november())
                        .await
                        .unwrap();
                } else {
                    // A record whose derivation met contention in every round is reported
                    // failed and redelivered, as SQS does (the rebuilds' checks of the rows
                    // contend with their writes).
                    let mut pending: Vec<serde_json::Value> = records.to_vec();
                    for _ in 0..5 {
                        let event = usage_ingest::local_event(&pending);
                        let failed = usage_ingest::handle(app, event).await.batch_item_failures;
                        pending = failed
                            .iter()
                            .map(|f| pending[f.item_identifier.parse::<usize>().unwrap()].clone())
                            .collect();
                        if pending.is_empty() {
                            break;
                        }
                    }
                    assert!(pending.is_empty(), "delivered five times: {pending:?}");
                }
            }
        }
    });
    futures::future::join_all(tasks).await;
    let (stored, counted) = stored_and_counted(&t).await;
    assert_eq!(stored, counted);
    assert_eq!(stored.units["DA"][14], 9, "2026-11-09 is day 14");
    let mut listing = listed(&t).await;
    listing.sort();
    assert_eq!(listing, both);
}

/// The period's listing items, in listing order.
async fn listing_items(t: &TestApp) -> Vec<HashMap<String, AttributeValue>> {
    let prefix = shared::storage::keys::mssp_company_listing_prefix("2026-11");
    t.stored_under(Mssp, &prefix).await
}

/// The account ids the period's listing items name, in listing order.
async fn listed(t: &TestApp) -> Vec<String> {
    listing_items(t)
        .await
        .iter()
        .map(|item| item["account_id"].as_s().unwrap().clone())
        .collect()
}

/// Deletes the period's items under `prefix` (as in a table written before they were kept).
async fn clear_under(t: &TestApp, prefix: &str) {
    let items = t.stored_under(Mssp, prefix).await;
    assert!(
        !items.is_empty(),
        "row writes keep the items under {prefix}"
    );
    for item in items {
        t.app
            .store
            .client()
            .delete_item()
            .table_name(t.app.store.table_name())
            .key("pk", item["pk"].clone())
            .key("sk", item["sk"].clone())
            .send()
            .await
            .unwrap();
    }
}

fn row(id: &str, name: &str, units: u64) -> MsspCompanyUsage {
    let days = november().days().count();
    MsspCompanyUsage {
        account_id: id.to_owned(),
        name: name.to_owned(),
        daily_units: [("SNS".to_owned(), vec![units; days])].into(),
        seq: 0,
        ttl_epoch_seconds: 0,
    }
}

fn names(body: &Value) -> Vec<String> {
    body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_company_list_pages_through_its_listing_and_follows_every_row_change() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let first = p.get("/v1/mssp/periods/2026-11/companies").await;
    assert_eq!(first.body["_meta"]["total"], 0, "{}", first.body);
    let partnership = t.partnership_id(Mssp);
    let store = &t.app.store;
    // 25 eligible companies (names differing in case and prefix) and 3 without billable units.
    let mut expected = Vec::new();
    for n in 0..28u64 {
        let name = match n % 3 {
            0 => format!("company {n:02}"),
            1 => format!("Company {n:02} AB"),
            _ => format!("COMPANY {n:02}"),
        };
        let units = if n >= 25 { 0 } else { n + 1 };
        let id = format!("00000000-0000-4000-8000-{n:012}");
        store
            .put_mssp_usage(&partnership, november(), &row(&id, &name, units))
            .await
            .unwrap();
        if units > 0 {
            expected.push(name);
        }
    }
    expected.sort_by_key(|name| name.to_lowercase());
    // Following `_links.next` reads only each page: the session, the listing beside the
    // ledger, the page's rows.
    let path = "/v1/mssp/periods/2026-11/companies?limit=10";
    assert_eq!(walk(&p, path, (10, 2), 25, names).await, (expected, 3));
    // A row renamed (recomputed under the account's new name) moves; one that lost its
    // billable days leaves; a bare offset still works.
    let renamed = "00000000-0000-4000-8000-000000000007";
    store
        .put_mssp_usage(&partnership, november(), &row(renamed, "aaa first", 8))
        .await
        .unwrap();
    let emptied = "00000000-0000-4000-8000-000000000004";
    store
        .put_mssp_usage(&partnership, november(), &row(emptied, "Company 04 AB", 0))
        .await
        .unwrap();
    let page = p.get("/v1/mssp/periods/2026-11/companies?limit=2").await;
    assert_eq!(names(&page.body), ["aaa first", "company 00"]);
    assert_eq!(page.body["_meta"]["total"], 24);
    let listing = listed(&t).await;
    assert_eq!(listing.len(), 24);
    assert!(!listing.contains(&emptied.to_owned()));
    assert_eq!(listing[0], renamed);
    let offset = p
        .get("/v1/mssp/periods/2026-11/companies?limit=1&offset=1")
        .await;
    assert_eq!(names(&offset.body), ["company 00"]);
    // A forged cursor, and this list's cursor on the peak-date list, are refused.
    let forged = p
        .get("/v1/mssp/periods/2026-11/companies?cursor=1.bm90LWEtcG9zaXRpb24")
        .await;
    forged.assert_error(400, 11400);
    let cursor = Cursor::encode("company 00\u{1}x");
    let mixed = p
        .get(&format!(
            "/v1/mssp/periods/2026-11/companies?peak_product=SNS&cursor={cursor}"
        ))
        .await;
    mixed.assert_error(400, 11400);
    assert_eq!(
        mixed.body["additional_info"]["detail"],
        "cursor is not one this API gave out: follow `_links.next` as given, or page with `offset`"
    );
}

/// The ids on a page of companies.
fn ids(body: &Value) -> Vec<String> {
    body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Follows `_links.next` from `path`, checking that each page costs 4 calls and at most
/// `limit` items and their rows beside `fixed` others, whatever the number of companies,
/// and shows `total`; what `view` takes from each page, in order, and the pages.
async fn walk(
    p: &Partner<'_>,
    path: &str,
    (limit, fixed): (u64, u64),
    total: u64,
    view: fn(&Value) -> Vec<String>,
) -> (Vec<String>, usize) {
    let store = &p.t.app.store;
    let mut walked = Vec::new();
    let mut next = Some(path.to_owned());
    let mut pages = 0;
    while let Some(path) = next {
        let (calls, items) = (store.calls(), store.items_read());
        let page = p.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(store.calls() - calls, 4, "{path}");
        assert!(store.items_read() - items <= 2 * limit + fixed, "{path}");
        assert_eq!(page.body["_meta"]["total"], total, "{path}");
        walked.extend(view(&page.body));
        next = page.body["_links"]["next"]["href"]
            .as_str()
            .map(|href| href.strip_prefix(API).unwrap().to_owned());
        if let Some(next) = &next {
            assert!(next.contains(&format!("limit={limit}&")) && next.contains("&cursor=1."));
        }
        pages += 1;
    }
    (walked, pages)
}

#[tokio::test]
async fn the_peak_date_list_pages_through_the_days_items_and_follows_every_row_change() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let partnership = t.partnership_id(Mssp);
    let store = &t.app.store;
    let empty = p
        .get("/v1/mssp/periods/2026-11/companies?peak_product=SNS")
        .await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert_eq!(
        (ids(&empty.body).len(), &empty.body["_meta"]["total"]),
        (0, &json!(0))
    );
    // 10 companies with SNS on every day; on day 20 (2026-11-15, the peak) units 5, 10, 15,
    // 20, 5, 10, … (ties), every other day 1. Account ids sort as their numbers.
    let id = |n: u64| format!("00000000-0000-4000-8000-{n:012}");
    let on_peak = |n: u64| 5 * (n % 4 + 1);
    for n in 0..10u64 {
        let mut company = row(&id(n), &format!("Company {n}"), 1);
        company.daily_units.get_mut("SNS").unwrap()[20] = on_peak(n);
        store
            .put_mssp_usage(&partnership, november(), &company)
            .await
            .unwrap();
    }
    let summary = sns_summary(&p).await;
    assert_eq!(
        (&summary["peak_date"], &summary["peak_date_companies"]),
        (&json!("2026-11-15"), &json!(10))
    );
    // The largest contribution first, ties by account id.
    let mut expected: Vec<u64> = (0..10).collect();
    expected.sort_by_key(|n| (std::cmp::Reverse(on_peak(*n)), *n));
    let expected: Vec<String> = expected.into_iter().map(id).collect();
    // Each page: the session, the totals beside the commitments, the day's items, the
    // page's rows.
    let path = "/v1/mssp/periods/2026-11/companies?peak_product=SNS&limit=4";
    assert_eq!(walk(&p, path, (4, 3), 10, ids).await, (expected.clone(), 3));
    // The page's rows add up to the summary's peak on the peak date.
    let whole = p
        .get("/v1/mssp/periods/2026-11/companies?peak_product=SNS&limit=100")
        .await;
    let sum: u64 = whole.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["units_on_peak_date"]["SNS"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, summary["peak_units"].as_u64().unwrap());
    // A bare offset still works (reading the skipped items).
    let offset = p
        .get("/v1/mssp/periods/2026-11/companies?peak_product=SNS&limit=2&offset=3")
        .await;
    assert_eq!(ids(&offset.body), &expected[3..5]);
    // A company whose peak-day units rise moves to the front; one that loses them leaves.
    let mut risen = row(&id(8), "Company 8", 1);
    risen.daily_units.get_mut("SNS").unwrap()[20] = 50;
    store
        .put_mssp_usage(&partnership, november(), &risen)
        .await
        .unwrap();
    let mut gone = row(&id(3), "Company 3", 1);
    gone.daily_units.get_mut("SNS").unwrap()[20] = 0;
    store
        .put_mssp_usage(&partnership, november(), &gone)
        .await
        .unwrap();
    let mut expected: Vec<String> = expected
        .into_iter()
        .filter(|company| *company != id(8) && *company != id(3))
        .collect();
    expected.insert(0, id(8));
    assert_eq!(walk(&p, path, (4, 3), 9, ids).await, (expected, 3));
    let (stored, counted) = stored_and_counted(&t).await;
    assert_eq!(stored, counted);
}

/// A whole month of six products for one account moves 186 company-day items: more than a
/// transaction holds, so the row is written in steps, each with its items; a back-dated
/// state change takes them all out again. After each, the items are what the rows give.
#[tokio::test]
async fn a_whole_month_of_every_product_is_written_in_steps_that_keep_its_day_items() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let a = account(&p, "Alpha", "paying").await;
    let b = account(&p, "Bravo", "paying").await;
    let empty = p.get("/v1/mssp/periods/2026-11/usage").await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    let mut records = Vec::new();
    for (day, date) in november().days().enumerate().take(28) {
        let date = shared::partner_data::calendar::format_date(date);
        for (i, product) in ["SNS", "DA", "WAS", "CS", "PAT"].iter().enumerate() {
            records.push(usage_record(&a, product, &date, (day + i + 1) as u64));
        }
        records.push(usage_record(&b, "SNS", &date, 40));
    }
    t.ingest(&records).await;
    let (stored, counted) = stored_and_counted(&t).await;
    assert_eq!(stored, counted);
    assert_eq!(stored.companies["SNS"][27], 2);
    let rows = store_rows(&t).await;
    // 5 products × 28 days = 140 items of Alpha's: two steps, so the row's revision is 2.
    let alpha = rows.iter().find(|r| r.account_id == a).unwrap();
    assert_eq!(alpha.seq, 2);
    let on_peak = p
        .get("/v1/mssp/periods/2026-11/companies?peak_product=SNS")
        .await;
    assert_eq!(ids(&on_peak.body), [b.clone(), a.clone()]);
    // Alpha archived from the period's first day: every day of it leaves, in steps.
    p.send(
        "PATCH",
        &format!("/v1/accounts/{a}"),
        &json!({ "state": "archived", "state_since": "2026-10-26" }),
    )
    .await;
    let (stored, counted) = stored_and_counted(&t).await;
    assert_eq!(stored, counted);
    assert_eq!(stored.eligible, 1);
    let on_peak = p
        .get("/v1/mssp/periods/2026-11/companies?peak_product=SNS")
        .await;
    assert_eq!(ids(&on_peak.body), [b]);
    let was = p
        .get("/v1/mssp/periods/2026-11/companies?peak_product=WAS")
        .await;
    assert_eq!(
        (ids(&was.body).len(), &was.body["_meta"]["total"]),
        (0, &json!(0))
    );
}

async fn store_rows(t: &TestApp) -> Vec<MsspCompanyUsage> {
    t.app
        .store
        .mssp_usage(&t.partnership_id(Mssp), november())
        .await
        .unwrap()
        .rows
}
