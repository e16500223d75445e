//! The account list at any size: following `_links.next` reads only the next page (its
//! `cursor`), `_meta.total` comes from counts kept in the write transactions, and the
//! listing follows every create, rename, state change and delete exactly.

use api_tests::{Call, Partner, TestApp};
use serde_json::{Value, json};
use shared::platform::request::Cursor;
use shared::storage::records::PartnershipType::Mssp;
use shared::storage::records::{AccountRecord, AccountState};

const WRITE: &[&str] = &["accounts:write"];
const API: &str = "http://api.example.com";

fn record(partnership_id: &str, org_id: &str, name: &str, state: AccountState) -> AccountRecord {
    let id = uuid::Uuid::new_v4().to_string();
    api_tests::plain_account(partnership_id, org_id, &id, name, state)
}

fn names(response: &Value) -> Vec<String> {
    response["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(response: &Value) -> Vec<String> {
    response["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

fn next_path(response: &Value) -> Option<String> {
    response["_links"]["next"]["href"]
        .as_str()
        .map(|href| href.strip_prefix(API).unwrap().to_owned())
}

/// Every page of `path`, following `_links.next`; the accounts' names in order.
async fn walk(p: &Partner<'_>, path: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut next = Some(path.to_owned());
    while let Some(path) = next {
        let response = p.get(&path).await;
        assert_eq!(response.status, 200, "{}", response.body);
        all.extend(names(&response.body));
        next = next_path(&response.body);
    }
    all
}

#[tokio::test]
async fn following_next_reads_only_the_page_and_visits_every_account_once() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, WRITE).await;
    let partnership = t.partnership_id(Mssp);
    // Names that differ only in case, and names that start other names.
    let mut accounts = Vec::new();
    for i in 0..45 {
        let stem = ["alpha", "Alpha", "ALPHA BETA", "bravo", "Ärla"][i % 5];
        let name = format!("{stem} {}", i / 10);
        let state = [AccountState::Paying, AccountState::Trial][i % 2];
        let account = record(&partnership, &t.org.org_id, &name, state);
        t.app.store.create_account(&account).await.unwrap();
        accounts.push(account);
    }
    accounts.sort_by_cached_key(|a| (a.name.to_lowercase(), a.account_id.clone()));
    let expected: Vec<String> = accounts.iter().map(|a| a.account_id.clone()).collect();

    let mut seen = Vec::new();
    let mut next = Some("/v1/accounts?limit=10".to_owned());
    let mut pages = 0;
    while let Some(path) = next {
        let (calls, items) = (t.app.store.calls(), t.app.store.items_read());
        let response = p.get(&path).await;
        assert_eq!(response.status, 200, "{}", response.body);
        // The session's UpdateItem, the Query of 11 listing items with the counts' GetItem
        // beside it, one BatchGetItem of the page's accounts: the same at the last page as at
        // the first.
        assert_eq!(t.app.store.calls() - calls, 4, "{path}");
        assert!(t.app.store.items_read() - items <= 22, "{path}");
        assert_eq!(response.body["_meta"]["total"], 45);
        assert_eq!(response.body["_meta"]["offset"], pages * 10);
        seen.extend(ids(&response.body));
        next = next_path(&response.body);
        if let Some(next) = &next {
            assert!(
                next.starts_with(&format!(
                    "/v1/accounts?limit=10&offset={}&cursor=1.",
                    (pages + 1) * 10
                )),
                "{next}"
            );
        }
        pages += 1;
    }
    assert_eq!(pages, 5);
    assert_eq!(seen, expected);

    // A bare offset still works, and reads the listing entries before the page too.
    let items = t.app.store.items_read();
    let by_offset = p.get("/v1/accounts?limit=10&offset=40").await;
    assert_eq!(ids(&by_offset.body), expected[40..]);
    assert!(t.app.store.items_read() - items > 40);
    assert_eq!(
        by_offset.body["_links"]["prev"]["href"],
        format!("{API}/v1/accounts?limit=10&offset=30")
    );
    assert!(by_offset.body["_links"].get("next").is_none());

    // The state filter pages the same way, through its own listing.
    let trial = walk(&p, "/v1/accounts?state=trial&limit=4").await;
    let expected_trial: Vec<String> = accounts
        .iter()
        .filter(|a| a.state == AccountState::Trial)
        .map(|a| a.name.clone())
        .collect();
    assert_eq!(trial, expected_trial);
    let first = p.get("/v1/accounts?state=trial&limit=4").await;
    assert_eq!(first.body["_meta"]["total"], 22);
    assert!(
        next_path(&first.body)
            .unwrap()
            .starts_with("/v1/accounts?state=trial&limit=4&offset=4&cursor=1.")
    );
}

#[tokio::test]
async fn the_listing_and_its_counts_follow_renames_state_changes_and_deletes() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, WRITE).await;
    let mut ids = std::collections::HashMap::new();
    for (name, state) in [
        ("Alpha", "trial"),
        ("Bravo", "paying"),
        ("charlie", "demo"),
        ("Delta", "demo"),
    ] {
        let created = p
            .expect(
                201,
                Call::new("POST", "/v1/accounts")
                    .json(&json!({ "name": name, "country": "SE", "state": state })),
            )
            .await;
        ids.insert(name, created["id"].as_str().unwrap().to_owned());
    }
    let path = |name: &str| format!("/v1/accounts/{}", ids[name]);
    p.expect(
        200,
        Call::new("PATCH", &path("Bravo")).json(&json!({ "name": "zulu" })),
    )
    .await;
    // A change of case only keeps the position; a change of state moves the account.
    p.expect(
        200,
        Call::new("PATCH", &path("charlie")).json(&json!({ "name": "CHARLIE" })),
    )
    .await;
    p.expect(
        200,
        Call::new("PATCH", &path("Alpha")).json(&json!({ "state": "paying" })),
    )
    .await;
    p.expect(
        200,
        Call::new("PATCH", &path("charlie")).json(&json!({ "state": "internal" })),
    )
    .await;
    let deleted = p.delete(&path("Delta")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);

    let p = &p;
    let list = |query: &'static str| async move {
        let response = p.get(&format!("/v1/accounts{query}")).await;
        assert_eq!(response.status, 200, "{}", response.body);
        (
            names(&response.body),
            response.body["_meta"]["total"].clone(),
        )
    };
    assert_eq!(
        list("").await,
        (
            vec!["Alpha".into(), "CHARLIE".into(), "zulu".into()],
            json!(3)
        )
    );
    assert_eq!(
        list("?state=paying").await,
        (vec!["Alpha".into(), "zulu".into()], json!(2))
    );
    assert_eq!(
        list("?state=internal").await,
        (vec!["CHARLIE".into()], json!(1))
    );
    assert_eq!(list("?state=trial").await, (Vec::new(), json!(0)));
    assert_eq!(list("?state=demo").await, (Vec::new(), json!(0)));

    // What is stored: two listing items per account and the counts, nothing left behind.
    let stored = t.stored_under(Mssp, "ACCOUNTS#").await;
    let mut keys: Vec<String> = stored
        .iter()
        .map(|item| item["sk"].as_s().unwrap().replace('\u{1}', "|"))
        .collect();
    keys.sort();
    let id = |name: &str| ids[name].clone();
    let mut expected = vec![
        format!("ACCOUNTS#BYNAME#alpha|{}", id("Alpha")),
        format!("ACCOUNTS#BYNAME#charlie|{}", id("charlie")),
        format!("ACCOUNTS#BYNAME#zulu|{}", id("Bravo")),
        format!("ACCOUNTS#BYSTATE#internal#charlie|{}", id("charlie")),
        format!("ACCOUNTS#BYSTATE#paying#alpha|{}", id("Alpha")),
        format!("ACCOUNTS#BYSTATE#paying#zulu|{}", id("Bravo")),
        "ACCOUNTS#COUNTS".to_owned(),
    ];
    expected.sort();
    assert_eq!(keys, expected);
    let counts = stored
        .iter()
        .find(|item| item["sk"].as_s().unwrap() == "ACCOUNTS#COUNTS")
        .unwrap();
    for (attribute, value) in [
        ("total", "3"),
        ("state_paying", "2"),
        ("state_internal", "1"),
        ("state_trial", "0"),
        ("state_demo", "0"),
    ] {
        assert_eq!(counts[attribute].as_n().unwrap(), value, "{attribute}");
    }
}

#[tokio::test]
async fn a_cursor_is_a_position_and_a_forged_one_is_refused() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, WRITE).await;
    for (name, state) in [
        ("a", "paying"),
        ("b", "trial"),
        ("c", "paying"),
        ("d", "trial"),
    ] {
        p.expect(
            201,
            Call::new("POST", "/v1/accounts")
                .json(&json!({ "name": name, "country": "SE", "state": state })),
        )
        .await;
    }
    // A cursor names a place in name order: taken from the paying list, it continues
    // the whole list right after that account.
    let paying = p.get("/v1/accounts?state=paying&limit=1").await;
    let next = next_path(&paying.body).unwrap();
    let cursor = next.split("cursor=").nth(1).unwrap();
    let all = p.get(&format!("/v1/accounts?cursor={cursor}")).await;
    assert_eq!(names(&all.body), ["b", "c", "d"]);
    assert_eq!(all.body["_meta"]["total"], 4);
    assert_eq!(
        all.body["_links"]["self"]["href"],
        format!("{API}/v1/accounts?limit=20&offset=0&cursor={cursor}")
    );
    assert!(all.body["_links"].get("next").is_none());

    let encode = |text: &str| Cursor::encode(text)[2..].to_owned();
    for forged in [
        "abc".to_owned(),
        "1.!!".to_owned(),
        format!("1.{}", encode("no separator")),
        format!("2.{}", encode("a\u{1}x")),
        format!("1.{}", encode(&"x".repeat(2000))),
    ] {
        let calls = t.app.store.calls();
        let response = p.get(&format!("/v1/accounts?cursor={forged}")).await;
        response.assert_error(400, 11400);
        assert!(
            response.body["additional_info"]["detail"]
                .as_str()
                .unwrap()
                .contains("cursor is not one this API gave out"),
            "{}",
            response.body
        );
        assert_eq!(
            t.app.store.calls() - calls,
            1,
            "only the session's UpdateItem"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_from_separate_instances_are_all_counted() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, WRITE).await;
    let partnership = t.partnership_id(Mssp);
    let instances: Vec<shared::App> = (0..4).map(|_| t.instance()).collect();
    const EACH: usize = 10;
    let tasks = instances.iter().enumerate().map(|(i, app)| {
        let partnership = partnership.clone();
        let org_id = t.org.org_id.clone();
        async move {
            let mut spans = Vec::new();
            for n in 0..EACH {
                let state = [AccountState::Paying, AccountState::Demo][n % 2];
                let account = record(&partnership, &org_id, &format!("i{i} n{n}"), state);
                let started = std::time::Instant::now();
                app.store.create_account(&account).await.unwrap();
                spans.push((started, std::time::Instant::now()));
            }
            spans
        }
    });
    let spans = futures::future::join_all(tasks).await;
    // Evidence that the instances wrote the one counts item at the same time: transactions
    // of different instances were in flight together. (DynamoDB Local runs them one after
    // the other and never cancels one for a conflict; that retry is tested with
    // aws-smithy-mocks in storage_errors.rs.)
    let mut overlapping = 0;
    for (i, mine) in spans.iter().enumerate() {
        for theirs in &spans[i + 1..] {
            for (start, end) in mine {
                overlapping += theirs.iter().filter(|(s, e)| s < end && start < e).count();
            }
        }
    }
    assert!(
        overlapping > 0,
        "the instances never wrote at the same time"
    );
    let all = p.get("/v1/accounts?limit=100").await;
    assert_eq!(all.body["_meta"]["total"], 4 * EACH);
    assert_eq!(all.body["_data"].as_array().unwrap().len(), 4 * EACH);
    let demo = p.get("/v1/accounts?state=demo&limit=1").await;
    assert_eq!(demo.body["_meta"]["total"], 2 * EACH);
}

#[tokio::test]
async fn the_customer_list_pages_through_the_account_listing() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, &["accounts:write", "customers:read"]).await;
    for name in ["delta", "Alpha", "charlie", "Bravo", "echo"] {
        p.expect(
            201,
            Call::new("POST", "/v1/accounts").json(&json!({ "name": name, "country": "SE" })),
        )
        .await;
    }
    let mut next = Some("/v1/customers?limit=2".to_owned());
    let mut seen = Vec::new();
    while let Some(path) = next {
        let calls = t.app.store.calls();
        let response = p.get(&path).await;
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(t.app.store.calls() - calls, 4, "{path}");
        assert_eq!(response.body["_meta"]["total"], 5);
        seen.extend(names(&response.body));
        next = next_path(&response.body);
        if let Some(next) = &next {
            assert!(next.contains("&cursor=1."), "{next}");
        }
    }
    assert_eq!(seen, ["Alpha", "Bravo", "charlie", "delta", "echo"]);

    // A filtered list pages by cursor the same way (tests/api/customer_levels.rs: from the
    // customers index once the day's recompute completed it, from every account before).
    let filtered = p.get("/v1/customers?churn_risk=none&limit=2").await;
    assert_eq!(names(&filtered.body), ["Alpha", "Bravo"]);
    assert_eq!(filtered.body["_meta"]["total"], 5);
    let next = next_path(&filtered.body).unwrap();
    assert!(
        next.starts_with("/v1/customers?churn_risk=none&limit=2&offset=2&cursor=1."),
        "{next}"
    );
    assert_eq!(names(&p.get(&next).await.body), ["charlie", "delta"]);
}
