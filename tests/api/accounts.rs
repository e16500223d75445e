//! Provisioning: accounts, subscriptions and SKUs (`accounts-api`) against DynamoDB Local.

use api_tests::{Call, Partner, TestApp};
use serde_json::{Value, json};
use shared::partner_data::onboarding::NewPartnership;
use shared::storage::records::PartnershipType::{Mssp, Reseller};

const WRITE: &[&str] = &["accounts:write"];

fn account(name: &str) -> Value {
    json!({ "name": name, "country": "SE" })
}

fn subscription(sku: &str, start: &str, end: &str) -> Value {
    json!({
        "sku": sku, "quantity": 25, "start_date": start, "end_date": end,
        "order_number": "PO-1001", "acv": { "amount_minor": 1_250_000, "currency": "SEK" },
    })
}

async fn create_account(p: &Partner<'_>, body: &Value) -> String {
    let created = p
        .expect(201, Call::new("POST", "/v1/accounts").json(body))
        .await;
    created["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_account_is_created_as_a_trial_and_read_back() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, WRITE).await;
    let response = p.send("POST", "/v1/accounts", &account("  Acme AB ")).await;
    assert_eq!(response.status, 201, "{}", response.body);
    let created = &response.body["_data"][0];
    let id = created["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    // The clock is 2026-11-22 in Stockholm: a trial runs 14 days by default.
    assert_eq!(created["name"], "Acme AB");
    assert_eq!(created["state"], "trial");
    assert_eq!(created["trial_ends_at"], "2026-12-06");
    assert_eq!(created["country"], "SE");
    assert_eq!(created["partnership_id"], t.partnership_id(Mssp));
    assert_eq!(created["created_at"], created["updated_at"]);
    assert_eq!(
        created["_links"]["subscriptions"]["href"],
        format!("http://api.example.com/v1/accounts/{id}/subscriptions")
    );
    let read = p
        .expect(200, Call::get(&format!("/v1/accounts/{id}")))
        .await;
    assert_eq!(&read, created);
    let list = p.get("/v1/accounts").await;
    assert_eq!(list.body["_data"], json!([created]));
    assert_eq!(list.body["_meta"]["total"], 1);
}

#[tokio::test]
async fn account_fields_are_validated() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, WRITE).await;
    let cases = [
        (json!({ "name": "A", "country": "se" }), "ISO 3166-1"),
        (json!({ "name": "A", "country": "UK" }), "ISO 3166-1"),
        (json!({ "name": "A", "country": "SWE" }), "ISO 3166-1"),
        (
            json!({ "name": " ", "country": "SE" }),
            "name must be 1 to 200",
        ),
        (
            json!({ "name": "A", "country": "SE", "state": "gone" }),
            "unknown variant",
        ),
        (
            json!({ "name": "A", "country": "SE", "state": "archived" }),
            "cannot start archived",
        ),
        (
            json!({ "name": "A", "country": "SE", "trial_ends_at": "2026-11-21" }),
            "today (2026-11-22) or later",
        ),
        (
            json!({ "name": "A", "country": "SE", "trial_ends_at": "2026-12-32" }),
            "YYYY-MM-DD",
        ),
        (
            json!({ "name": "A", "country": "SE", "state": "paying", "trial_ends_at": "2026-12-01" }),
            "trial accounts only",
        ),
        (
            json!({ "name": "A", "country": "SE", "id": "x" }),
            "unknown field `id`",
        ),
        (json!({ "name": "A" }), "missing field `country`"),
    ];
    for (body, detail) in cases {
        let response = p.send("POST", "/v1/accounts", &body).await;
        response.assert_error(400, 11400);
        let text = response.body["additional_info"]["detail"].as_str().unwrap();
        assert!(text.contains(detail), "{body}: {text}");
    }
    assert_eq!(
        p.get("/v1/accounts").await.body["_meta"]["total"],
        0,
        "nothing stored"
    );
    let ok = json!({ "name": "Åland Oy", "country": "AX", "state": "trial", "trial_ends_at": "2026-11-22" });
    assert_eq!(p.send("POST", "/v1/accounts", &ok).await.status, 201);
}

#[tokio::test]
async fn states_move_forward_but_a_paying_account_never_goes_back() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, WRITE).await;
    let id = create_account(&p, &account("Acme AB")).await;
    let path = format!("/v1/accounts/{id}");
    let paying = p
        .expect(
            200,
            Call::new("PATCH", &path).json(&json!({ "state": "paying" })),
        )
        .await;
    assert_eq!(
        (paying["state"].as_str(), &paying["trial_ends_at"]),
        (Some("paying"), &Value::Null)
    );
    assert_ne!(paying["updated_at"], paying["created_at"]);
    for state in ["trial", "demo", "internal"] {
        let response = p.send("PATCH", &path, &json!({ "state": state })).await;
        response.assert_error(409, 12006);
        assert!(
            response.body["additional_info"]["detail"]
                .as_str()
                .unwrap()
                .contains("cannot go back")
        );
    }
    let renamed = p
        .expect(
            200,
            Call::new("PATCH", &path).json(&json!({ "name": "Acme Group AB" })),
        )
        .await;
    assert_eq!(
        (
            renamed["name"].as_str(),
            renamed["state"].as_str(),
            renamed["country"].as_str()
        ),
        (Some("Acme Group AB"), Some("paying"), Some("SE"))
    );
    p.expect(
        200,
        Call::new("PATCH", &path).json(&json!({ "state": "archived" })),
    )
    .await;
    // Archived: read-only, for every write.
    for call in [
        Call::new("PATCH", &path).json(&json!({ "name": "X" })),
        Call::new("PUT", &path).json(&json!({ "name": "X", "state": "archived", "country": "SE" })),
        Call::new("DELETE", &path),
        Call::new("POST", &format!("{path}/subscriptions")).json(&subscription(
            "SNS",
            "2026-01-01",
            "2026-12-31",
        )),
    ] {
        let response = p.call(call).await;
        response.assert_error(409, 12006);
        assert!(
            response.body["additional_info"]["detail"]
                .as_str()
                .unwrap()
                .contains("read-only")
        );
    }
    assert_eq!(p.get(&path).await.body["_data"][0]["name"], "Acme Group AB");
}

#[tokio::test]
async fn demo_and_internal_accounts_can_become_trials_again() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, WRITE).await;
    let id = create_account(
        &p,
        &json!({ "name": "Lab", "country": "DE", "state": "demo" }),
    )
    .await;
    let path = format!("/v1/accounts/{id}");
    assert_eq!(
        p.get(&path).await.body["_data"][0]["trial_ends_at"],
        Value::Null
    );
    let trial = p
        .expect(
            200,
            Call::new("PATCH", &path)
                .json(&json!({ "state": "trial", "trial_ends_at": "2027-01-15" })),
        )
        .await;
    assert_eq!(trial["trial_ends_at"], "2027-01-15");
    // Extending a trial keeps it a trial; clearing its end is refused.
    let longer = p
        .expect(
            200,
            Call::new("PATCH", &path).json(&json!({ "trial_ends_at": "2027-02-01" })),
        )
        .await;
    assert_eq!(
        (longer["state"].as_str(), longer["trial_ends_at"].as_str()),
        (Some("trial"), Some("2027-02-01"))
    );
    p.send("PATCH", &path, &json!({ "trial_ends_at": null }))
        .await
        .assert_error(400, 11400);
    p.send("PATCH", &path, &json!({}))
        .await
        .assert_error(400, 11400);
    let internal = p
        .expect(
            200,
            Call::new("PATCH", &path).json(&json!({ "state": "internal" })),
        )
        .await;
    assert_eq!(internal["trial_ends_at"], Value::Null);
}

#[tokio::test]
async fn put_replaces_the_account_and_needs_every_field() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, WRITE).await;
    let id = create_account(
        &p,
        &json!({ "name": "Acme", "country": "SE", "trial_ends_at": "2027-01-31" }),
    )
    .await;
    let path = format!("/v1/accounts/{id}");
    let response = p
        .send("PUT", &path, &json!({ "name": "Acme", "country": "NO" }))
        .await;
    response.assert_error(400, 11400);
    assert!(
        response.body["additional_info"]["detail"]
            .as_str()
            .unwrap()
            .contains("state")
    );
    // A trial that stays a trial keeps its end unless the body gives one.
    let same = p
        .expect(
            200,
            Call::new("PUT", &path)
                .json(&json!({ "name": "Acme Norge", "country": "NO", "state": "trial" })),
        )
        .await;
    assert_eq!(
        (
            same["name"].as_str(),
            same["country"].as_str(),
            same["trial_ends_at"].as_str()
        ),
        (Some("Acme Norge"), Some("NO"), Some("2027-01-31"))
    );
    let paying = p
        .expect(
            200,
            Call::new("PUT", &path)
                .json(&json!({ "name": "Acme", "country": "SE", "state": "paying" })),
        )
        .await;
    assert_eq!(paying["trial_ends_at"], Value::Null);
}

#[tokio::test]
async fn scopes_decide_what_a_key_may_see_and_change() {
    let t = TestApp::spawn().await;
    let writer = t.partner(Mssp, WRITE).await;
    let id = create_account(&writer, &account("Acme AB")).await;
    let none = t.partner(Mssp, &["customers:read"]).await;
    none.get("/v1/accounts").await.assert_error(404, 11011);
    none.get(&format!("/v1/accounts/{id}"))
        .await
        .assert_error(404, 11011);
    none.get("/v1/skus").await.assert_error(404, 11011);
    let reader = t.partner(Mssp, &["accounts:read"]).await;
    assert_eq!(reader.get(&format!("/v1/accounts/{id}")).await.status, 200);
    reader
        .send("POST", "/v1/accounts", &account("B"))
        .await
        .assert_error(404, 11011);
    reader
        .send(
            "PATCH",
            &format!("/v1/accounts/{id}"),
            &json!({ "name": "B" }),
        )
        .await
        .assert_error(404, 11011);
    reader
        .delete(&format!("/v1/accounts/{id}"))
        .await
        .assert_error(404, 11011);
    assert_eq!(writer.get("/v1/accounts").await.body["_meta"]["total"], 1);
}

#[tokio::test]
async fn another_partnerships_accounts_do_not_exist() {
    let t = TestApp::spawn().await;
    let mssp = t.partner(Mssp, WRITE).await;
    let reseller = t.partner(Reseller, WRITE).await;
    let id = create_account(&mssp, &account("Acme AB")).await;
    let sub = mssp
        .expect(
            201,
            Call::new("POST", &format!("/v1/accounts/{id}/subscriptions")).json(&subscription(
                "SNS",
                "2026-01-01",
                "2026-12-31",
            )),
        )
        .await;
    let sub_id = sub["id"].as_str().unwrap();
    for path in [
        format!("/v1/accounts/{id}"),
        format!("/v1/accounts/{id}/subscriptions"),
        format!("/v1/subscriptions/{sub_id}"),
    ] {
        reseller.get(&path).await.assert_error(404, 10300);
    }
    reseller
        .send(
            "PATCH",
            &format!("/v1/accounts/{id}"),
            &json!({ "name": "Mine" }),
        )
        .await
        .assert_error(404, 10300);
    reseller
        .delete(&format!("/v1/subscriptions/{sub_id}"))
        .await
        .assert_error(404, 10300);
    assert_eq!(reseller.get("/v1/accounts").await.body["_meta"]["total"], 0);
    assert_eq!(
        mssp.get(&format!("/v1/accounts/{id}")).await.body["_data"][0]["name"],
        "Acme AB"
    );
}

#[tokio::test]
async fn malformed_ids_are_unknown_objects_without_a_database_read() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, WRITE).await;
    for path in [
        "/v1/accounts/123",
        "/v1/accounts/6F9619FF-8B86-D011-B42D-00C04FC964FF",
        "/v1/subscriptions/x'--",
    ] {
        let before = t.app.store.calls();
        p.get(path).await.assert_error(404, 10300);
        assert_eq!(
            t.app.store.calls() - before,
            1,
            "only the session UpdateItem: {path}"
        );
    }
    let unknown = uuid::Uuid::new_v4();
    p.get(&format!("/v1/accounts/{unknown}"))
        .await
        .assert_error(404, 10300);
}

#[tokio::test]
async fn collections_cannot_be_deleted() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, WRITE).await;
    let id = create_account(&p, &account("Acme AB")).await;
    for path in [
        "/v1/accounts".to_owned(),
        format!("/v1/accounts/{id}/subscriptions"),
    ] {
        let response = p.delete(&path).await;
        response.assert_error(405, 10303);
        assert!(response.header("allow").unwrap().contains("GET"));
    }
    assert_eq!(p.get("/v1/accounts").await.body["_meta"]["total"], 1);
}

#[tokio::test]
async fn the_account_list_pages_in_name_order_and_filters_by_state() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, WRITE).await;
    for (name, state) in [
        ("delta", "paying"),
        ("Alpha", "trial"),
        ("charlie", "paying"),
        ("Bravo", "demo"),
        ("echo", "paying"),
    ] {
        create_account(
            &p,
            &json!({ "name": name, "country": "SE", "state": state }),
        )
        .await;
    }
    let first = p.get("/v1/accounts?limit=2").await;
    let names = |r: &api_tests::TestResponse| {
        r.body["_data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&first), ["Alpha", "Bravo"]);
    assert_eq!(first.body["_meta"]["total"], 5);
    // The next page's link carries its offset and the cursor that reads only that page.
    assert!(
        first.body["_links"]["next"]["href"]
            .as_str()
            .unwrap()
            .starts_with("http://api.example.com/v1/accounts?limit=2&offset=2&cursor=1."),
        "{}",
        first.body
    );
    let paying = p.get("/v1/accounts?state=paying&limit=2&offset=2").await;
    assert_eq!(names(&paying), ["echo"]);
    assert_eq!(paying.body["_meta"]["total"], 3);
    assert_eq!(
        paying.body["_links"]["prev"]["href"],
        "http://api.example.com/v1/accounts?state=paying&limit=2&offset=0"
    );
    p.get("/v1/accounts?state=gone")
        .await
        .assert_error(400, 11400);
    p.get("/v1/accounts?sort=name")
        .await
        .assert_error(400, 11400);
}

#[tokio::test]
async fn subscriptions_are_created_read_changed_and_deleted() {
    let t = TestApp::spawn().await;
    let p = t.partner(Reseller, WRITE).await;
    let id = create_account(&p, &account("Acme AB")).await;
    let subs = format!("/v1/accounts/{id}/subscriptions");
    let created = p
        .expect(
            201,
            Call::new("POST", &subs).json(&subscription("DA", "2026-01-01", "2026-12-31")),
        )
        .await;
    let sub_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created,
        json!({
            "id": sub_id, "account_id": id, "sku": "DA", "quantity": 25,
            "start_date": "2026-01-01", "end_date": "2026-12-31", "evaluation": false,
            "order_number": "PO-1001", "acv": { "amount_minor": 1_250_000, "currency": "SEK" },
            "active": true,
            "_links": {
                "self": { "href": format!("http://api.example.com/v1/subscriptions/{sub_id}") },
                "account": { "href": format!("http://api.example.com/v1/accounts/{id}") },
            },
        })
    );
    let path = format!("/v1/subscriptions/{sub_id}");
    assert_eq!(p.expect(200, Call::get(&path)).await, created);
    let list = p.get(&subs).await;
    assert_eq!(
        (
            list.body["_data"].as_array().unwrap().len(),
            &list.body["_meta"]["total"]
        ),
        (1, &json!(1))
    );
    let patched = p
        .expect(
            200,
            Call::new("PATCH", &path).json(&json!({ "quantity": 40, "acv": null })),
        )
        .await;
    assert_eq!(
        (
            patched["quantity"].as_u64(),
            &patched["acv"],
            patched["order_number"].as_str()
        ),
        (Some(40), &Value::Null, Some("PO-1001"))
    );
    let replaced = p.expect(200, Call::new("PUT", &path).json(&json!({ "sku": "SNS", "quantity": 5, "start_date": "2027-01-01", "end_date": "2027-06-30", "evaluation": true }))).await;
    assert_eq!(
        (
            replaced["sku"].as_str(),
            replaced["order_number"].is_null(),
            replaced["evaluation"].as_bool(),
            replaced["active"].as_bool()
        ),
        (Some("SNS"), true, Some(true), Some(false))
    );
    let deleted = p.delete(&path).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.body["_data"], json!([]));
    p.get(&path).await.assert_error(404, 10300);
    assert_eq!(p.get(&subs).await.body["_meta"]["total"], 0);
    p.delete(&path).await.assert_error(404, 10300);
}

#[tokio::test]
async fn subscription_fields_are_validated() {
    let t = TestApp::spawn_with(&[{
        let mut p = NewPartnership::new("Scanning only", Mssp);
        p.skus = vec!["SNS".into(), "WAS".into()];
        p
    }])
    .await;
    let p = t.partner(Mssp, WRITE).await;
    let id = create_account(&p, &account("Acme AB")).await;
    let subs = format!("/v1/accounts/{id}/subscriptions");
    let base = subscription("SNS", "2026-01-01", "2026-12-31");
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let cases = [
        (with("sku", json!("DA")), "SNS, WAS"),
        (with("sku", json!("sns")), "SNS, WAS"),
        (with("quantity", json!(0)), "quantity must be between 1"),
        (with("quantity", json!(-3)), "invalid value"),
        (
            with("end_date", json!("2025-12-31")),
            "end_date must be on or after start_date",
        ),
        (with("start_date", json!("2026-02-29")), "YYYY-MM-DD"),
        (
            with("acv", json!({ "amount_minor": 10, "currency": "sek" })),
            "ISO 4217",
        ),
        (
            with("acv", json!({ "amount_minor": 10, "currency": "XBT" })),
            "ISO 4217",
        ),
        (
            with("acv", json!({ "amount_minor": -1, "currency": "SEK" })),
            "acv.amount_minor must be 0 to 10000000000000",
        ),
        (
            with(
                "acv",
                json!({ "amount_minor": 10_000_000_000_001_i64, "currency": "SEK" }),
            ),
            "acv.amount_minor must be 0 to 10000000000000",
        ),
        (
            with("acv", json!({ "amount": 10, "currency": "SEK" })),
            "unknown field `amount`",
        ),
        (
            with("order_number", json!("")),
            "order_number must be 1 to 64",
        ),
        (with("account_id", json!(id)), "unknown field `account_id`"),
    ];
    for (body, detail) in cases {
        let response = p.send("POST", &subs, &body).await;
        response.assert_error(400, 11400);
        let text = response.body["additional_info"]["detail"].as_str().unwrap();
        assert!(text.contains(detail), "{body}: {text}");
    }
    assert_eq!(
        p.get(&subs).await.body["_meta"]["total"],
        0,
        "nothing stored"
    );
    let skus = p.get("/v1/skus").await;
    assert_eq!(
        skus.body["_data"],
        json!([
            { "code": "SNS", "name": "System & Network Security", "unit": "IPs" },
            { "code": "WAS", "name": "Web Application Security", "unit": "URLs" },
        ])
    );
    // A one-day subscription is fine; PATCH checks the merged result.
    let one_day = p
        .expect(
            201,
            Call::new("POST", &subs).json(&subscription("WAS", "2026-11-22", "2026-11-22")),
        )
        .await;
    let path = format!("/v1/subscriptions/{}", one_day["id"].as_str().unwrap());
    p.send("PATCH", &path, &json!({ "end_date": "2026-11-21" }))
        .await
        .assert_error(400, 11400);
    p.send("PATCH", &path, &json!({}))
        .await
        .assert_error(400, 11400);
}

#[tokio::test]
async fn an_account_with_a_subscription_active_today_cannot_be_deleted() {
    let t = TestApp::spawn().await;
    let p = t.partner(Mssp, WRITE).await;
    let id = create_account(&p, &account("Acme AB")).await;
    let subs = format!("/v1/accounts/{id}/subscriptions");
    let path = format!("/v1/accounts/{id}");
    // Today is 2026-11-22 in Stockholm; a subscription ending today is still active.
    let sub = p
        .expect(
            201,
            Call::new("POST", &subs).json(&subscription("SNS", "2026-01-01", "2026-11-22")),
        )
        .await;
    let response = p.delete(&path).await;
    response.assert_error(409, 12006);
    assert!(
        response.body["additional_info"]["detail"]
            .as_str()
            .unwrap()
            .contains(sub["id"].as_str().unwrap())
    );
    // Ended yesterday: the account goes, with its subscriptions.
    let sub_path = format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap());
    p.send("PATCH", &sub_path, &json!({ "end_date": "2026-11-21" }))
        .await;
    let deleted = p.delete(&path).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    p.get(&path).await.assert_error(404, 10300);
    p.get(&sub_path).await.assert_error(404, 10300);
    assert_eq!(p.get("/v1/accounts").await.body["_meta"]["total"], 0);
    assert!(
        t.app.store.account_ref(&id).await.unwrap().is_none(),
        "the usage pointer goes too"
    );
}

#[tokio::test]
async fn concurrent_changes_to_one_account_are_all_kept() {
    let t = TestApp::spawn().await;
    let first = t.partner(Mssp, WRITE).await;
    let id = create_account(&first, &account("Acme AB")).await;
    let mut partners = vec![first];
    for _ in 0..4 {
        partners.push(t.partner(Mssp, WRITE).await);
    }
    let subs = format!("/v1/accounts/{id}/subscriptions");
    let calls = partners.iter().enumerate().map(|(i, p)| {
        let body = json!({ "sku": "SNS", "quantity": i + 1, "start_date": "2026-01-01", "end_date": "2026-12-31" });
        let token = p.token.clone();
        let subs = subs.clone();
        let app = &t.app;
        async move { Call::new("POST", &subs).json(&body).session(&token).send(app).await }
    });
    t.clock.advance_ms(1000);
    for response in futures::future::join_all(calls).await {
        assert_eq!(response.status, 201, "{}", response.body);
    }
    let list = partners[0].get(&subs).await;
    let mut quantities: Vec<u64> = list.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["quantity"].as_u64().unwrap())
        .collect();
    quantities.sort_unstable();
    assert_eq!(quantities, [1, 2, 3, 4, 5]);
}

/// `null` is refused wherever the contract does not say a field is nullable: in a PATCH it
/// would otherwise read as "unchanged" and hide the client's mistake. Nothing is changed.
#[tokio::test]
async fn null_is_refused_where_a_field_is_not_nullable() {
    let t = TestApp::spawn().await;
    let p = t.partner(Reseller, WRITE).await;
    let id = create_account(&p, &account("Acme AB")).await;
    let path = format!("/v1/accounts/{id}");
    let before = p.expect(200, Call::get(&path)).await;
    for field in ["name", "state", "state_since", "country"] {
        let response = p.send("PATCH", &path, &json!({ field: null })).await;
        response.assert_error(400, 11400);
        assert!(
            response.body["additional_info"]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("null")),
            "{field}: {}",
            response.body
        );
    }
    let mut created = account("Null State AB");
    created["state"] = Value::Null;
    p.send("POST", "/v1/accounts", &created)
        .await
        .assert_error(400, 11400);
    assert_eq!(p.expect(200, Call::get(&path)).await, before);

    let subs = format!("/v1/accounts/{id}/subscriptions");
    let sub = p
        .expect(
            201,
            Call::new("POST", &subs).json(&subscription("DA", "2026-01-01", "2026-12-31")),
        )
        .await;
    let sub_path = format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap());
    for field in ["sku", "quantity", "start_date", "end_date", "evaluation"] {
        p.send("PATCH", &sub_path, &json!({ field: null }))
            .await
            .assert_error(400, 11400);
    }
    assert_eq!(p.expect(200, Call::get(&sub_path)).await, sub);
    // Where the contract says nullable, `null` clears.
    let cleared = p
        .expect(
            200,
            Call::new("PATCH", &sub_path).json(&json!({ "order_number": null })),
        )
        .await;
    assert!(cleared["order_number"].is_null());
}
