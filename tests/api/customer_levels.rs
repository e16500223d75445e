//! The customers index: a list filtered on `churn_risk` / `task_severity` pages through the
//! index once the nightly recompute completed the day, and shows exactly what computing
//! every customer's levels that day gives — after provisioning, ingestion, time passing and
//! writes racing from separate instances. Today is 2026-11-22 in Stockholm.

use std::collections::BTreeMap;

use api_tests::{Call, Partner, TestApp, activity_record, usage_record};
use serde_json::{Value, json};
use shared::partner_data::calendar;
use shared::partner_data::customers;
use shared::storage::records::PartnershipType::{self, Mssp, Reseller};
use shared::storage::{Level, LevelFilter, WriteOutcome, keys, listing_position};

const SCOPES: &[&str] = &["accounts:write", "customers:read"];

fn today(t: &TestApp) -> chrono::NaiveDate {
    calendar::stockholm_date(t.app.clock.now_ms())
}

/// The filters a partner can ask for (each level alone and in pairs; the levels these
/// tests' customers reach).
fn every_filter(kind: PartnershipType) -> Vec<LevelFilter> {
    let mut filters = Vec::new();
    let task_levels = match kind {
        Mssp => [None, Some(Level::None), Some(Level::Low), Some(Level::High)],
        Reseller => [
            None,
            Some(Level::None),
            Some(Level::Medium),
            Some(Level::High),
        ],
    };
    for churn in [
        None,
        Some(Level::None),
        Some(Level::Medium),
        Some(Level::High),
    ] {
        for tasks in task_levels {
            if churn.is_some() || tasks.is_some() {
                filters.push(LevelFilter {
                    churn_risk: churn,
                    task_severity: tasks,
                });
            }
        }
    }
    filters
}

fn query(filter: LevelFilter) -> String {
    let mut parts = Vec::new();
    if let Some(level) = filter.churn_risk {
        parts.push(format!("churn_risk={}", level.as_str()));
    }
    if let Some(level) = filter.task_severity {
        parts.push(format!("task_severity={}", level.as_str()));
    }
    parts.join("&")
}

/// The ids matching `filter` by computing every account's levels today, in name order.
async fn truth(t: &TestApp, kind: PartnershipType, filter: LevelFilter) -> Vec<String> {
    let mut accounts = t.app.store.accounts(&t.partnership_id(kind)).await.unwrap();
    accounts.sort_by_key(listing_position);
    accounts
        .into_iter()
        .filter(|a| filter.matches(&customers::levels(kind, a, today(t), t.app.clock.now_ms())))
        .map(|a| a.account_id)
        .collect()
}

/// Walks the filtered list by `_links.next` with `limit`; the ids, `_meta.total` of the
/// first page, and the most items one page read.
async fn walk(p: &Partner<'_>, filter: LevelFilter, limit: usize) -> (Vec<String>, u64, u64) {
    let mut path = format!("/v1/customers?{}&limit={limit}", query(filter));
    let (mut ids, mut total, mut most_read) = (Vec::new(), None, 0);
    for _ in 0..50 {
        let before = p.t.app.store.items_read();
        let page = p.get(&path).await;
        most_read = most_read.max(p.t.app.store.items_read() - before);
        assert_eq!(page.status, 200, "{}", page.body);
        total.get_or_insert(page.body["_meta"]["total"].as_u64().unwrap());
        for customer in page.body["_data"].as_array().unwrap() {
            let levels = (&customer["churn_risk"]["level"], &customer["task_severity"]);
            assert!(
                filter.churn_risk.is_none_or(|l| levels.0 == l.as_str())
                    && filter.task_severity.is_none_or(|l| levels.1 == l.as_str()),
                "{customer}"
            );
            ids.push(customer["id"].as_str().unwrap().to_owned());
        }
        match page.body["_links"]["next"]["href"].as_str() {
            Some(next) => path = next.trim_start_matches("http://api.example.com").to_owned(),
            None => return (ids, total.unwrap_or(0), most_read),
        }
    }
    panic!("the walk of {filter:?} did not end");
}

/// Every filter's walk equals the truth; with `indexed`, each page read O(limit) items.
async fn assert_lists_exact(t: &TestApp, p: &Partner<'_>, indexed: bool) {
    assert_kind_lists_exact(t, p, Mssp, indexed).await;
}

async fn assert_kind_lists_exact(
    t: &TestApp,
    p: &Partner<'_>,
    kind: PartnershipType,
    indexed: bool,
) {
    let accounts = t
        .app
        .store
        .accounts(&t.partnership_id(kind))
        .await
        .unwrap()
        .len() as u64;
    for filter in every_filter(kind) {
        let expected = truth(t, kind, filter).await;
        let (ids, total, most_read) = walk(p, filter, 2).await;
        assert_eq!(ids, expected, "{filter:?}");
        assert_eq!(total, expected.len() as u64, "{filter:?}");
        if indexed {
            // The session, 3 listing items, the status item, 2 accounts.
            assert!(most_read <= 7, "{filter:?} read {most_read} items");
        } else {
            assert!(most_read >= accounts, "{filter:?} read {most_read} items");
        }
    }
}

/// The index items stored (sort key → account id).
async fn index_items(t: &TestApp) -> BTreeMap<String, String> {
    t.stored_under(Mssp, keys::CUSTOMER_INDEX_PREFIX)
        .await
        .iter()
        .map(|item| {
            let text = |name: &str| item[name].as_s().unwrap().clone();
            (text("sk"), text("account_id"))
        })
        .collect()
}

async fn stored_account(t: &TestApp, id: &str) -> shared::storage::records::AccountRecord {
    let partnership = t.partnership_id(Mssp);
    t.app
        .store
        .account(&partnership, id)
        .await
        .unwrap()
        .unwrap()
}

async fn account(p: &Partner<'_>, name: &str, state: &str) -> String {
    p.create_account(name, state, "2026-09-01").await
}

/// Six MSSP customers whose levels differ, some only until time passes.
async fn customers_of_every_level(t: &TestApp, p: &Partner<'_>) -> Vec<String> {
    let mut ids = Vec::new();
    for (name, state) in [
        ("Calm", "paying"),
        ("Failing", "paying"),
        ("Gone quiet", "paying"),
        ("Idle a while", "paying"),
        ("Trialling", "trial"),
        ("Zeta", "paying"),
    ] {
        ids.push(account(p, name, state).await);
    }
    let sns = |n: u64| json!({ "scans": { "SNS": n, "WAS": 0, "CS": 0 } });
    let failed = t
        .ingest(&[
            activity_record(&ids[0], "2026-11-22", sns(1)),
            activity_record(&ids[1], "2026-11-20", json!({ "failed_scans": 3, "inactive_appliances": 2, "scans": { "SNS": 1, "WAS": 0, "CS": 0 } })),
            activity_record(&ids[2], "2026-10-01", sns(5)),
            activity_record(&ids[3], "2026-11-10", sns(2)),
            activity_record(&ids[4], "2026-11-22", json!({ "failed_scans": 3 })),
        ])
        .await;
    assert!(failed.is_empty());
    ids
}

#[tokio::test]
async fn filtered_lists_read_the_index_once_the_nightly_recompute_completed_the_day() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let ids = customers_of_every_level(&t, &p).await;

    // Before any recompute the day is not complete: a filtered list reads every account,
    // and is exact all the same.
    assert_eq!(
        t.app
            .store
            .recompute_days(&t.partnership_id(Mssp))
            .await
            .unwrap()
            .complete,
        None
    );
    assert_lists_exact(&t, &p, false).await;
    assert_eq!(
        truth(
            &t,
            Mssp,
            LevelFilter {
                churn_risk: Some(Level::Medium),
                task_severity: None
            }
        )
        .await,
        [ids[1].clone()]
    );

    // The nightly run completes the day; every write already stored its levels for today,
    // so it moves nothing, and filtered lists read the index from then on.
    let report = customers::recompute_levels(&t.app, today(&t))
        .await
        .unwrap();
    let mssp = report
        .partnerships
        .iter()
        .find(|r| r.partnership_id == t.partnership_id(Mssp))
        .unwrap();
    assert_eq!((mssp.accounts, mssp.moved, mssp.complete), (6, 0, true));
    assert_lists_exact(&t, &p, true).await;
    assert_eq!(index_items(&t).await.len(), 3 * 6);

    // Writes during the day move accounts in the index at once: a failed scan, a rename,
    // a state change, a deletion, a new account.
    assert!(
        t.ingest(&[activity_record(
            &ids[5],
            "2026-11-22",
            json!({ "failed_scans": 1 })
        )])
        .await
        .is_empty()
    );
    p.expect(
        200,
        Call::new("PATCH", &format!("/v1/accounts/{}", ids[0]))
            .json(&json!({ "name": "Aardvark" })),
    )
    .await;
    p.expect(
        200,
        Call::new("PATCH", &format!("/v1/accounts/{}", ids[4])).json(&json!({ "state": "paying" })),
    )
    .await;
    p.expect(
        200,
        Call::new("DELETE", &format!("/v1/accounts/{}", ids[3])),
    )
    .await;
    account(&p, "Newcomer", "paying").await;
    assert_lists_exact(&t, &p, true).await;
    let medium = p.get("/v1/customers?churn_risk=medium").await;
    let names: Vec<&str> = medium.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Failing", "Trialling", "Zeta"],
        "paying now, with its failed scans"
    );
    assert_eq!(index_items(&t).await.len(), 3 * 6);

    // A cursor that is not a listing position is refused, as on the unfiltered list.
    p.get("/v1/customers?churn_risk=none&cursor=nope")
        .await
        .assert_error(400, 11400);
}

#[tokio::test]
async fn time_passing_moves_customers_at_the_nightly_recompute_and_late_writes_are_refused() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let ids = customers_of_every_level(&t, &p).await;
    customers::recompute_levels(&t.app, today(&t))
        .await
        .unwrap();
    let high_before = truth(
        &t,
        Mssp,
        LevelFilter {
            churn_risk: None,
            task_severity: Some(Level::High),
        },
    )
    .await;
    assert_eq!(high_before, [ids[2].clone()], "idle since 2026-10-01");

    // 2026-12-31: the failed scans left the 30-day window, "Gone quiet" is past 90 idle days
    // (no task any more), "Calm", "Failing" and "Idle a while" are past 30 (high).
    t.clock.advance_ms(39 * 24 * 3600 * 1000);
    let day = today(&t);
    assert_eq!(day.to_string(), "2026-12-31");
    let p = t.partner(Mssp, SCOPES).await;
    // Until the run, a filtered list computes today's levels from every account.
    assert_lists_exact(&t, &p, false).await;
    let instance = t.instance();
    let report = customers::recompute_levels(&instance, day).await.unwrap();
    let mssp = report
        .partnerships
        .iter()
        .find(|r| r.partnership_id == t.partnership_id(Mssp))
        .unwrap();
    assert!(mssp.complete);
    assert_eq!(mssp.moved, 4, "{mssp:?}");
    assert_lists_exact(&t, &p, true).await;
    assert_eq!(
        truth(
            &t,
            Mssp,
            LevelFilter {
                churn_risk: None,
                task_severity: Some(Level::High)
            }
        )
        .await,
        [ids[0].clone(), ids[1].clone(), ids[3].clone()]
    );
    // Running it again changes nothing more.
    let again = customers::recompute_levels(&instance, day).await.unwrap();
    assert!(
        again
            .partnerships
            .iter()
            .all(|r| r.moved == 0 && r.complete),
        "{again:?}"
    );

    // A write that computed its levels for the day before, in its last minutes, landing
    // after the run opened today, is refused (and would be retried with today's levels);
    // today's is taken.
    let stored = stored_account(&t, &ids[5]).await;
    let mut renamed = stored.clone();
    renamed.name = "Zeta renamed".into();
    renamed.revision += 1;
    let before_midnight = calendar::stockholm_midnight_ms(day) - 60_000;
    let late = customers::with_indexed_fields(Mssp, renamed.clone(), before_midnight);
    assert_eq!(late.levels.unwrap().day, calendar::sub_days(day, 1));
    let save = |after: shared::storage::records::AccountRecord| {
        let (app, stored) = (t.app.clone(), stored.clone());
        async move {
            let closed = shared::storage::ClosedPeriodWrites::default();
            app.store
                .save_account(&stored, &after, shared::storage::RefChange::None, &closed)
                .await
                .unwrap()
        }
    };
    let outcome = save(late).await;
    assert_eq!(outcome, WriteOutcome::Stale);
    let stored_now = stored_account(&t, &ids[5]).await;
    assert_eq!(stored_now.name, "Zeta");
    let current = customers::with_indexed_fields(Mssp, renamed, t.app.clock.now_ms());
    let outcome = save(current).await;
    assert_eq!(outcome, WriteOutcome::Written);
    assert_lists_exact(&t, &p, true).await;
}

/// Customers racing: deliveries from two instances turning failed scans on and off,
/// renames and state changes through the API, and nightly runs from another instance, all
/// at once — until writes met each other — then every filtered list is exactly the truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_index_stays_exact_under_racing_writes_and_recomputes() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, SCOPES).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        // The first three become paying one by one, as the rounds go.
        let state = if n < 3 { "internal" } else { "paying" };
        ids.push(account(&p, &format!("Company {n}"), state).await);
    }
    customers::recompute_levels(&t.app, today(&t))
        .await
        .unwrap();
    let instances: Vec<shared::App> = (0..3).map(|_| t.instance()).collect();
    let mut round = 0u64;
    while t.write_retries_with(&instances) == 0 || round < 2 {
        assert!(round < 12, "no write met another in {round} rounds");
        let delivery = |instance: usize| {
            let records: Vec<Value> = ids
                .iter()
                .enumerate()
                .map(|(n, id)| {
                    let failed = (n as u64 + round + instance as u64) % 2;
                    activity_record(
                        id,
                        "2026-11-22",
                        json!({ "failed_scans": failed, "scans": { "SNS": 1, "WAS": 0, "CS": 0 } }),
                    )
                })
                .collect();
            usage_ingest::handle(&instances[instance], usage_ingest::local_event(&records))
        };
        let provisioning = async {
            for (n, id) in ids.iter().enumerate().take(3) {
                let path = format!("/v1/accounts/{id}");
                let mut change = json!({ "name": format!("Company {n} r{round}") });
                if n as u64 == round {
                    change["state"] = json!("paying");
                }
                p.expect(200, Call::new("PATCH", &path).json(&change)).await;
            }
        };
        let partnership = t.partnership_id(Mssp);
        let nightly =
            customers::recompute_partnership(&instances[2], &partnership, Mssp, today(&t));
        let (first, second, (), run) =
            tokio::join!(delivery(0), delivery(1), provisioning, nightly);
        assert!(first.batch_item_failures.is_empty() && second.batch_item_failures.is_empty());
        run.unwrap();
        round += 1;
    }
    // The last run may have ended before the last writes: they kept the index themselves.
    assert_lists_exact(&t, &p, true).await;
    assert_eq!(index_items(&t).await.len(), 3 * ids.len());
}

/// A reseller's tasks move with the calendar: a contract end coming closer, a month of
/// licence use ending. The nightly run moves the customer; a renewal moves it at once.
#[tokio::test]
async fn a_resellers_contract_end_coming_closer_moves_its_customer_at_the_nightly_run() {
    let t = TestApp::spawn().await;
    let p = t.partner(Reseller, SCOPES).await;
    let a = account(&p, "Acme AB", "paying").await;
    account(&p, "Beta AB", "paying").await;
    let subs = format!("/v1/accounts/{a}/subscriptions");
    let body = json!({ "sku": "DA", "quantity": 50, "start_date": "2026-01-01", "end_date": "2027-01-31" });
    p.expect(201, Call::new("POST", &subs).json(&body)).await;
    assert!(
        t.ingest(&[usage_record(&a, "DA", "2026-11-10", 41)])
            .await
            .is_empty()
    );
    customers::recompute_levels(&t.app, today(&t))
        .await
        .unwrap();
    // Ends within 3 months, 82 % used this month: medium.
    let medium = LevelFilter {
        churn_risk: None,
        task_severity: Some(Level::Medium),
    };
    assert_eq!(truth(&t, Reseller, medium).await, [a.as_str()]);
    assert_kind_lists_exact(&t, &p, Reseller, true).await;

    // 2027-01-05: the contract ends in less than a month (high); November's use is over.
    t.clock.advance_ms(44 * 24 * 3600 * 1000);
    let p = t.partner(Reseller, SCOPES).await;
    assert_kind_lists_exact(&t, &p, Reseller, false).await;
    customers::recompute_levels(&t.app, today(&t))
        .await
        .unwrap();
    assert_kind_lists_exact(&t, &p, Reseller, true).await;
    let high = p.get("/v1/customers?task_severity=high").await;
    assert_eq!(high.body["_data"][0]["id"], a.as_str(), "{}", high.body);
    assert_eq!(high.body["_meta"]["total"], 1);

    // Renewed: no task left, at once.
    let renewal = json!({ "sku": "DA", "quantity": 50, "start_date": "2027-02-01", "end_date": "2028-01-31" });
    p.expect(201, Call::new("POST", &subs).json(&renewal)).await;
    assert_eq!(
        p.get("/v1/customers?task_severity=high").await.body["_meta"]["total"],
        0
    );
    assert_eq!(
        p.get("/v1/customers?task_severity=none").await.body["_meta"]["total"],
        2
    );
    assert_kind_lists_exact(&t, &p, Reseller, true).await;
}

/// A partnership written before the index existed (no account has levels): the first run
/// reads its accounts a hundred at a time and moves every one into the index.
#[tokio::test]
async fn the_first_run_indexes_a_partnership_of_accounts_without_levels() {
    let t = TestApp::spawn().await;
    let partnership = t.partnership_id(Mssp);
    for n in 0..205 {
        let account = api_tests::plain_account(
            &partnership,
            &t.org.org_id,
            &format!("00000000-0000-4000-8000-{n:012}"),
            &format!("Customer {n:03}"),
            shared::storage::records::AccountState::Paying,
        );
        assert!(account.levels.is_none());
        t.app.store.create_account(&account).await.unwrap();
    }
    assert!(index_items(&t).await.is_empty());
    let p = t.partner(Mssp, SCOPES).await;
    let report = customers::recompute_partnership(&t.app, &partnership, Mssp, today(&t))
        .await
        .unwrap();
    assert_eq!(
        (report.accounts, report.moved, report.complete),
        (205, 205, true)
    );
    assert_eq!(index_items(&t).await.len(), 3 * 205);
    let none = p
        .get("/v1/customers?churn_risk=none&task_severity=none&limit=100")
        .await;
    assert_eq!(none.body["_meta"]["total"], 205);
    assert_eq!(none.body["_data"][99]["name"], "Customer 099");
}
