//! The month lists of a reseller: once the nightly recompute completed a day of the month,
//! a page of a month's companies or usage reads O(limit) items from them, and following
//! `_links.next` (a cursor) shows exactly what the whole read of the month shows — after
//! provisioning, ingestion, a new month and writes racing from separate instances. Today is
//! 2026-11-22 in Stockholm.

use api_tests::{Call, Partner, TestApp, usage_record};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use shared::partner_data::calendar;
use shared::partner_data::customers;
use shared::storage::records::PartnershipType::Reseller;
use shared::storage::records::{AccountRecord, AccountState, Money, SubscriptionRecord};
use shared::storage::{RefChange, WriteOutcome, keys};

const SCOPES: &[&str] = &["accounts:write"];
const LISTS: [&str; 2] = ["companies", "usage"];

fn today(t: &TestApp) -> chrono::NaiveDate {
    calendar::stockholm_date(t.app.clock.now_ms())
}

async fn nightly_run(t: &TestApp) -> Vec<String> {
    let run = Box::pin(customers::recompute_partnership(
        &t.instance(),
        &t.partnership_id(Reseller),
        Reseller,
        today(t),
    ))
    .await
    .unwrap();
    assert!(run.complete, "{run:?}");
    run.frozen_months
}

/// A month's list as the whole read of the month shows it (the marks that make its lists
/// complete — the recompute's completed day, a closed month's frozen mark — taken away for
/// the read and put back): its `_data` and `_meta.total`.
async fn whole(t: &TestApp, p: &Partner<'_>, month: &str, list: &str) -> (Vec<Value>, u64) {
    let partnership = t.partnership_id(Reseller);
    let marks = [
        (keys::customer_index_status(&partnership), "complete_day"),
        (keys::month_lists_frozen(&partnership, month), "complete"),
    ];
    let update = |key: &keys::Key| {
        t.app
            .store
            .client()
            .update_item()
            .table_name(t.app.store.table_name())
            .key("pk", AttributeValue::S(key.pk.clone()))
            .key("sk", AttributeValue::S(key.sk.clone()))
    };
    let mut taken = Vec::new();
    for (key, attribute) in &marks {
        let old = update(key)
            .update_expression("REMOVE #mark")
            .expression_attribute_names("#mark", *attribute)
            .condition_expression("attribute_exists(#mark)")
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        if let Ok(old) = old {
            let value = old.attributes.unwrap()[*attribute].clone();
            taken.push((key, *attribute, value));
        }
    }
    let answer = p
        .get(&format!("/v1/reseller/periods/{month}/{list}?limit=100"))
        .await;
    for (key, attribute, value) in taken {
        update(key)
            .update_expression("SET #mark = :value")
            .expression_attribute_names("#mark", attribute)
            .expression_attribute_values(":value", value)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(answer.status, 200, "{}", answer.body);
    (
        answer.body["_data"].as_array().unwrap().clone(),
        answer.body["_meta"]["total"].as_u64().unwrap(),
    )
}

/// Walks a month's list by `_links.next` with `limit`: its rows, `_meta.total` of the first
/// page, and the most items one page read.
async fn walk(p: &Partner<'_>, month: &str, list: &str, limit: usize) -> (Vec<Value>, u64, u64) {
    let mut path = format!("/v1/reseller/periods/{month}/{list}?limit={limit}");
    let (mut rows, mut total, mut most_read) = (Vec::new(), None, 0);
    for _ in 0..50 {
        let before = p.t.app.store.items_read();
        let page = p.get(&path).await;
        most_read = most_read.max(p.t.app.store.items_read() - before);
        assert_eq!(page.status, 200, "{}", page.body);
        total.get_or_insert(page.body["_meta"]["total"].as_u64().unwrap());
        rows.extend(page.body["_data"].as_array().unwrap().iter().cloned());
        match page.body["_links"]["next"]["href"].as_str() {
            Some(next) => {
                assert!(next.contains("cursor="), "{next}");
                path = next.trim_start_matches("http://api.example.com").to_owned();
            }
            None => return (rows, total.unwrap_or(0), most_read),
        }
    }
    panic!("the walk of {month} {list} did not end");
}

/// Both lists of `month`, walked two at a time, equal the whole read; with `listed`, each
/// page read O(limit) items. The names of each list.
async fn assert_month_exact(
    t: &TestApp,
    p: &Partner<'_>,
    month: &str,
    listed: bool,
) -> [Vec<String>; 2] {
    let accounts = t
        .app
        .store
        .accounts(&t.partnership_id(Reseller))
        .await
        .unwrap()
        .len() as u64;
    let mut names = [Vec::new(), Vec::new()];
    for (list, names) in LISTS.iter().zip(&mut names) {
        // Boxed: these futures are large, and a test's stack is not.
        let (expected, expected_total) = Box::pin(whole(t, p, month, list)).await;
        let (rows, total, most_read) = Box::pin(walk(p, month, list, 2)).await;
        assert_eq!(rows, expected, "{month} {list}");
        assert_eq!(total, expected_total, "{month} {list}");
        assert_eq!(total, expected.len() as u64, "{month} {list}");
        if listed {
            // The session, 3 list items, status, counts and ledger, 2 accounts, 2 rows.
            assert!(most_read <= 11, "{month} {list} read {most_read} items");
        } else {
            assert!(
                most_read >= accounts,
                "{month} {list} read {most_read} items"
            );
        }
        *names = rows
            .iter()
            .map(|row| row["name"].as_str().unwrap().to_owned())
            .collect();
    }
    names
}

/// The month lists' items stored for `month`: how many in each list, and the counts item's
/// figures.
async fn stored_lists(t: &TestApp, month: &str) -> [(usize, u64); 2] {
    let items = t
        .stored_under(Reseller, &format!("MONTHLIST#{month}#"))
        .await;
    let count = |attribute: &str| {
        items
            .iter()
            .find(|item| item["sk"].as_s().unwrap().ends_with("#COUNTS"))
            .and_then(|item| item.get(attribute)?.as_n().ok()?.parse().ok())
            .unwrap_or(0)
    };
    let listed = |list: &str| -> usize {
        items
            .iter()
            .map(|item| item["sk"].as_s().unwrap())
            .filter(|sk| sk.contains(&format!("#{list}#")) && !sk.contains("#FROZEN#"))
            .count()
    };
    [
        (listed("SUBSCRIBED"), count("subscribed")),
        (listed("USAGE"), count("usage")),
    ]
}

async fn subscribe(p: &Partner<'_>, account: &str, sku: &str, start: &str, end: &str) -> String {
    let body = json!({ "sku": sku, "quantity": 10, "start_date": start, "end_date": end,
        "acv": { "amount_minor": 100_000, "currency": "EUR" } });
    let created = p
        .expect(
            201,
            Call::new("POST", &format!("/v1/accounts/{account}/subscriptions")).json(&body),
        )
        .await;
    created["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn month_lists_page_the_reseller_months_exactly_as_the_whole_read() {
    let t = TestApp::spawn().await;
    let p = t.partner(Reseller, SCOPES).await;
    let account = |name: &'static str| Box::pin(p.create_account(name, "paying", "2026-01-01"));
    let alpha = account("Alpha").await;
    let bravo = account("Bravo").await;
    let charlie = account("Charlie").await;
    let delta = account("Delta").await;
    let echo = account("Echo").await;
    let foxtrot = account("Foxtrot").await;
    let golf = account("Golf").await;
    subscribe(&p, &alpha, "DA", "2026-01-01", "2027-06-30").await;
    subscribe(&p, &bravo, "WAS", "2026-06-01", "2026-11-10").await;
    subscribe(&p, &charlie, "SNS", "2026-04-01", "2026-10-31").await;
    subscribe(&p, &foxtrot, "SNS", "2025-01-01", "2025-12-31").await;
    let golf_sub = subscribe(&p, &golf, "DA", "2026-11-01", "2027-10-31").await;
    // Delta uses a product without any licence this month: in the usage list only.
    let used = t
        .ingest(&[
            usage_record(&alpha, "DA", "2026-11-03", 7),
            usage_record(&delta, "WAS", "2026-11-20", 4),
        ])
        .await;
    assert!(used.is_empty());

    // Before any nightly run the month is read whole, and pages by cursor all the same.
    let [companies, usage] = assert_month_exact(&t, &p, "2026-11", false).await;
    assert_eq!(companies, ["Alpha", "Bravo", "Golf"]);
    assert_eq!(usage, ["Alpha", "Bravo", "Delta", "Golf"]);

    // Every write stored its month lists already: the run completes the day, moving nothing,
    // and freezes the newest closed months.
    assert_eq!(nightly_run(&t).await, ["2026-10", "2026-09"]);
    assert_eq!(stored_lists(&t, "2026-11").await, [(3, 3), (4, 4)]);
    assert_eq!(
        stored_lists(&t, "2026-10").await,
        [(3, 3), (3, 3)],
        "October (closed, read whole): Alpha, Bravo, Charlie"
    );
    assert_month_exact(&t, &p, "2026-11", true).await;
    // October is closed: the run froze its lists (see the next test).
    assert_month_exact(&t, &p, "2026-10", true).await;

    // Writes move accounts in the lists at once: a rename, a subscription for an account
    // without, a subscription deleted, an account deleted, use without a licence, a new
    // account.
    p.expect(
        200,
        Call::new("PATCH", &format!("/v1/accounts/{golf}")).json(&json!({ "name": "Aaron" })),
    )
    .await;
    subscribe(&p, &echo, "CS", "2026-11-15", "2026-12-14").await;
    p.expect(
        200,
        Call::new("DELETE", &format!("/v1/subscriptions/{golf_sub}")),
    )
    .await;
    p.expect(200, Call::new("DELETE", &format!("/v1/accounts/{bravo}")))
        .await;
    assert!(
        t.ingest(&[usage_record(&foxtrot, "SNS", "2026-11-21", 2)])
            .await
            .is_empty()
    );
    let hotel = account("Hotel").await;
    subscribe(&p, &hotel, "DA", "2026-11-22", "2027-11-21").await;
    let [companies, usage] = assert_month_exact(&t, &p, "2026-11", true).await;
    assert_eq!(companies, ["Alpha", "Echo", "Hotel"]);
    assert_eq!(usage, ["Alpha", "Delta", "Echo", "Foxtrot", "Hotel"]);
    assert_eq!(stored_lists(&t, "2026-11").await, [(3, 3), (5, 5)]);

    // A cursor that is not a listing position is refused.
    p.get("/v1/reseller/periods/2026-11/usage?cursor=nope")
        .await
        .assert_error(400, 11400);

    // 2026-12-01, before the night's run: December is read whole, November (closing) still
    // from its lists. The run adds December and drops October.
    t.clock.set_ms(
        chrono::DateTime::parse_from_rfc3339("2026-12-01T00:02:00+01:00")
            .unwrap()
            .timestamp_millis(),
    );
    let p = t.partner(Reseller, SCOPES).await;
    assert_month_exact(&t, &p, "2026-12", false).await;
    assert_month_exact(&t, &p, "2026-11", true).await;
    nightly_run(&t).await;
    let [companies, usage] = assert_month_exact(&t, &p, "2026-12", true).await;
    assert_eq!(companies, ["Alpha", "Echo", "Hotel"]);
    assert_eq!(usage, companies);
    assert_month_exact(&t, &p, "2026-11", true).await;
    assert_eq!(stored_lists(&t, "2026-12").await, [(3, 3), (3, 3)]);
    assert_eq!(stored_lists(&t, "2026-10").await, [(0, 0), (0, 0)]);
}

/// A closed month is final: the nightly run freezes its lists once, each item holding the
/// account as the report showed it then; later renames, deletions and subscription changes
/// move nothing there (a whole read would show the renamed name).
#[tokio::test]
async fn a_closed_month_pages_through_its_frozen_lists_which_later_writes_leave_alone() {
    let t = TestApp::spawn().await;
    // 2026-11-02: October is closing, open to its records.
    t.clock.set_ms(
        chrono::DateTime::parse_from_rfc3339("2026-11-02T12:00:00+01:00")
            .unwrap()
            .timestamp_millis(),
    );
    let p = t.partner(Reseller, SCOPES).await;
    let account = |name: &'static str| Box::pin(p.create_account(name, "paying", "2026-01-01"));
    let alpha = account("Alpha").await;
    let bravo = account("Bravo").await;
    let charlie = account("Charlie").await;
    let delta = account("Delta").await;
    account("Echo").await;
    subscribe(&p, &alpha, "DA", "2026-01-01", "2027-06-30").await;
    let bravo_sub = subscribe(&p, &bravo, "WAS", "2026-06-01", "2026-11-10").await;
    subscribe(&p, &charlie, "SNS", "2026-04-01", "2026-10-31").await;
    let used = t
        .ingest(&[
            usage_record(&alpha, "DA", "2026-10-03", 7),
            usage_record(&delta, "WAS", "2026-10-20", 4),
        ])
        .await;
    assert!(used.is_empty());

    // 2026-11-22: October is closed and not frozen yet: read whole, paged by cursor.
    t.clock.set_ms(api_tests::T0);
    let p = t.partner(Reseller, SCOPES).await;
    let [companies, usage] = assert_month_exact(&t, &p, "2026-10", false).await;
    assert_eq!(companies, ["Alpha", "Bravo", "Charlie"]);
    assert_eq!(usage, ["Alpha", "Bravo", "Charlie", "Delta"]);
    let mut before = Vec::new();
    for list in LISTS {
        before.push(Box::pin(whole(&t, &p, "2026-10", list)).await);
    }

    // The run freezes the two newest closed months; October pages through its frozen lists.
    assert_eq!(nightly_run(&t).await, ["2026-10", "2026-09"]);
    assert_month_exact(&t, &p, "2026-10", true).await;

    // Renamed, deleted, a subscription of October changed (late there, kept by its
    // snapshot): October's pages stay exactly as frozen.
    p.expect(
        200,
        Call::new("PATCH", &format!("/v1/accounts/{alpha}")).json(&json!({ "name": "Zulu" })),
    )
    .await;
    p.expect(200, Call::new("DELETE", &format!("/v1/accounts/{charlie}")))
        .await;
    p.expect(
        200,
        Call::new("PATCH", &format!("/v1/subscriptions/{bravo_sub}"))
            .json(&json!({ "quantity": 99 })),
    )
    .await;
    for (list, (frozen, frozen_total)) in LISTS.iter().zip(&before) {
        let (rows, total, most_read) = Box::pin(walk(&p, "2026-10", list, 2)).await;
        assert_eq!((&rows, total), (frozen, *frozen_total), "{list}");
        // The session, 3 list items, counts and ledger, 2 usage rows.
        assert!(most_read <= 8, "{list} read {most_read} items");
    }
    let (whole_companies, _) = Box::pin(whole(&t, &p, "2026-10", "companies")).await;
    let names: Vec<&str> = whole_companies
        .iter()
        .map(|row| row["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Bravo", "Charlie", "Zulu"],
        "read whole, a closed month shows today's names"
    );
    // The deletion and the subscription change reached October late.
    let late = p.get("/v1/reseller/periods/2026-10/companies").await;
    assert_eq!(late.body["_meta"]["period"]["late_records"], 2);
    // Frozen once: the next run freezes older months only.
    let again = nightly_run(&t).await;
    assert!(!again.contains(&"2026-10".to_owned()), "{again:?}");
}

/// Racing writers: renames and subscriptions through the API, deliveries of use from two
/// instances and the nightly run from a third, all at once — until writes met each other —
/// then both lists are exactly the whole read, and the counts match the items.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_month_lists_stay_exact_under_racing_writes_and_recomputes() {
    let t = TestApp::spawn().await;
    let p = t.partner(Reseller, SCOPES).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(
            p.create_account(&format!("Company {n}"), "paying", "2026-01-01")
                .await,
        );
    }
    nightly_run(&t).await;
    let instances: Vec<shared::App> = (0..3).map(|_| t.instance()).collect();
    let mut round = 0u64;
    while t.write_retries_with(&instances) == 0 || round < 2 {
        assert!(round < 12, "no write met another in {round} rounds");
        let delivery = |instance: usize| {
            let day = format!("2026-11-{:02}", 1 + (2 * round + instance as u64) % 21);
            let records: Vec<Value> = ids
                .iter()
                .map(|id| usage_record(id, "WAS", &day, 1))
                .collect();
            usage_ingest::handle(&instances[instance], usage_ingest::local_event(&records))
        };
        let provisioning = async {
            for (n, id) in ids.iter().enumerate().take(3) {
                let path = format!("/v1/accounts/{id}");
                let change = json!({ "name": format!("Company {n} r{round}") });
                p.expect(200, Call::new("PATCH", &path).json(&change)).await;
            }
            if round < 3 {
                let id = &ids[3 + round as usize];
                subscribe(&p, id, "DA", "2026-11-01", "2027-10-31").await;
            }
        };
        let partnership = t.partnership_id(Reseller);
        let nightly =
            customers::recompute_partnership(&instances[2], &partnership, Reseller, today(&t));
        let (first, second, (), run) =
            tokio::join!(delivery(0), delivery(1), provisioning, nightly);
        assert!(first.batch_item_failures.is_empty() && second.batch_item_failures.is_empty());
        run.unwrap();
        round += 1;
    }
    let [companies, usage] = assert_month_exact(&t, &p, "2026-11", true).await;
    let subscribed = round.min(3) as usize;
    assert_eq!(companies.len(), subscribed);
    assert_eq!(usage.len(), 6);
    assert_eq!(
        stored_lists(&t, "2026-11").await,
        [(subscribed, subscribed as u64), (6, 6)]
    );
}

/// A write that changes only an account's usage months (ingestion, when a later engagement
/// is stored already) moves neither of its counters: a provisioning write computed from the
/// account read before it is refused all the same, so no list is moved from a stale read.
#[tokio::test]
async fn a_write_from_before_a_change_of_usage_months_alone_is_refused() {
    let t = TestApp::spawn().await;
    let p = t.partner(Reseller, SCOPES).await;
    let id = Box::pin(p.create_account("Alpha", "paying", "2026-01-01")).await;
    subscribe(&p, &id, "DA", "2026-01-01", "2026-12-31").await;
    let partnership = t.partnership_id(Reseller);
    let stored = || async {
        t.app
            .store
            .account(&partnership, &id)
            .await
            .unwrap()
            .unwrap()
    };
    let read = stored().await;
    let now = t.app.clock.now_ms();

    // Subscribed in November already: its month lists stay as they are.
    let mut used = read.clone();
    used.usage_months.insert("2026-11".into());
    let used = customers::with_indexed_fields(Reseller, used, now);
    assert_eq!(
        (used.derived_seq, &used.month_lists),
        (read.derived_seq, &read.month_lists)
    );
    assert_eq!(
        t.app.store.set_engagement(&read, &used).await.unwrap(),
        WriteOutcome::Written
    );

    let mut renamed = read.clone();
    renamed.name = "Aardvark".into();
    renamed.revision += 1;
    let renamed = customers::with_indexed_fields(Reseller, renamed, now);
    let outcome = t
        .app
        .store
        .save_account(&read, &renamed, RefChange::None, &Default::default())
        .await
        .unwrap();
    assert_eq!(outcome, WriteOutcome::Stale);
    assert_eq!(stored().await.name, "Alpha");
}

/// A companies row lists every subscription of the month (up to 50 per account): a page
/// of 100 such accounts with the largest contract values would pass 1 MB, so it ends early
/// and `_links.next` continues right after its last row.
#[tokio::test]
async fn a_page_of_companies_stays_under_one_megabyte() {
    let t = TestApp::spawn().await;
    let partnership = t.partnership_id(Reseller);
    let now = t.app.clock.now_ms();
    let day = |text: &str| calendar::parse_date(text, "day").unwrap();
    let account = |n: usize| {
        let mut account = api_tests::plain_account(
            &partnership,
            &t.org.org_id,
            &format!("00000000-0000-4000-8000-{n:012}"),
            &format!("Customer {n:03}"),
            AccountState::Paying,
        );
        for s in 0..AccountRecord::MAX_SUBSCRIPTIONS {
            let subscription = SubscriptionRecord {
                subscription_id: format!("00000000-0000-4000-9{s:03}-{n:012}"),
                sku: "DA".into(),
                quantity: 10,
                start_date: day("2026-11-01"),
                end_date: day("2027-10-31"),
                evaluation: false,
                order_number: Some(format!("PO-{n:03}-{s:03}")),
                // The largest contract value accepted (10^13 minor units).
                acv: Some(Money {
                    amount_minor: 10_000_000_000_000,
                    currency: "SEK".into(),
                }),
                created_at_ms: now,
                updated_at_ms: now,
            };
            account
                .subscriptions
                .insert(subscription.subscription_id.clone(), subscription);
        }
        account
    };
    // Stored as a table written before the lists (no month lists yet, no subscription
    // pointers: one PutItem each); the nightly run lists them.
    for n in 0..100 {
        let account = account(n);
        let key = keys::account(&partnership, &account.account_id);
        let mut item: std::collections::HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&account).unwrap();
        item.insert("pk".into(), AttributeValue::S(key.pk));
        item.insert("sk".into(), AttributeValue::S(key.sk));
        t.app
            .store
            .client()
            .put_item()
            .table_name(t.app.store.table_name())
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    nightly_run(&t).await;
    let p = t.partner(Reseller, SCOPES).await;
    let mut path = "/v1/reseller/periods/2026-11/companies?limit=100".to_owned();
    let mut names = Vec::new();
    let mut pages = 0;
    while !path.is_empty() {
        let page = p.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let bytes = page.body.to_string().len();
        assert!(bytes < 1_000_000, "{bytes} bytes");
        assert_eq!(page.body["_meta"]["total"], 100);
        for row in page.body["_data"].as_array().unwrap() {
            assert_eq!(row["subscriptions"].as_array().unwrap().len(), 50);
            names.push(row["name"].as_str().unwrap().to_owned());
        }
        pages += 1;
        path = page.body["_links"]["next"]["href"]
            .as_str()
            .map_or_else(String::new, |next| {
                next.trim_start_matches("http://api.example.com").to_owned()
            });
    }
    assert_eq!(pages, 2);
    let expected: Vec<String> = (0..100).map(|n| format!("Customer {n:03}")).collect();
    assert_eq!(names, expected);
}
