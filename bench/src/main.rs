//! `make bench` (scripts/bench.sh starts DynamoDB Local and calls this): DynamoDB calls per
//! request, counted by the store, and the latency of the authenticated hot path in-process
//! (`GET /v1/me` through its handler) next to a bare conditional UpdateItem on the same
//! DynamoDB Local, measured interleaved in the same run; admin call counts; the local latency
//! from a provisioning write to its event (`provisioning_events`); ingestion into 1,000-account
//! partnerships (`partner_data`); and every partner read at 1,000 and 10,000 accounts, each
//! pair sampled in alternation (`scale`, `reads`). Prints `name: value` lines.

mod partner_data;
mod period_summary;
mod provisioning_events;
mod reads;
mod scale;

use std::time::{Duration, Instant};

use api_tests::{Call, TestApp};
use aws_sdk_dynamodb::types::AttributeValue;
use shared::platform::clock::Clock;
use shared::storage::{TouchOutcome, TouchRequest};

const WARMUP: usize = 200;
const SAMPLES: usize = 3000;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t = TestApp::spawn().await;
    let key = t.api_key(&[]).await;

    let before = t.app.store.calls();
    let created = t
        .call(Call::create_session(t.organization_key(), &key))
        .await;
    if created.status != 201 {
        return Err(format!("session creation failed: {}", created.body).into());
    }
    let calls_per_create = t.app.store.calls() - before;
    let token = created.body["_data"][0]["session_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let before = t.app.store.calls();
    let me = t.call(Call::me(&token)).await;
    if me.status != 200 {
        return Err(format!("GET /v1/me failed: {}", me.body).into());
    }
    let calls_per_me = t.app.store.calls() - before;

    let client = t.app.store.client().clone();
    let table = t.app.store.table_name().to_owned();
    let key_of = |item: &str| {
        vec![
            ("pk", AttributeValue::S(format!("BENCH#{item}"))),
            ("sk", AttributeValue::S("BENCH".into())),
        ]
    };
    let mut put = client
        .put_item()
        .table_name(&table)
        .item("next_allowed_ms", AttributeValue::N("0".into()));
    for (name, value) in key_of("bare") {
        put = put.item(name, value);
    }
    put.send().await?;

    // A second session for the store-only measurement, so each session sees one request a
    // second and the run (2,200 simulated seconds) stays inside the sessions' hour.
    let second = t
        .call(Call::create_session(t.organization_key(), &key))
        .await;
    let second_token = second.body["_data"][0]["session_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token_hash = t.session_hash(&second_token);
    let client_ip = api_tests::fixtures::CLIENT_IP;
    let mut hot_path = Vec::with_capacity(SAMPLES);
    let mut store_only = Vec::with_capacity(SAMPLES);
    let mut bare = Vec::with_capacity(SAMPLES);
    for round in 0..WARMUP + SAMPLES {
        // One request per second per session: move the test clock instead of sleeping.
        t.clock.advance_ms(1000);
        let now = t.clock.now_ms();
        let mut hot = Duration::ZERO;
        let mut plain = Duration::ZERO;
        let mut store = Duration::ZERO;
        // Each round runs the three measurements in a rotated order, so none of them
        // always comes first (or right after another).
        for step in 0..3 {
            match (round + step) % 3 {
                0 => {
                    let request = local_server::event::to_request(&Call::me(&token).event())?;
                    let started = Instant::now();
                    let response = me_api::handle(&t.app, request).await;
                    hot = started.elapsed();
                    if response.status() != 200 {
                        return Err(format!(
                            "hot path answered {} in round {round}",
                            response.status()
                        )
                        .into());
                    }
                }
                1 => {
                    let mut update = client
                        .update_item()
                        .table_name(&table)
                        .condition_expression("attribute_exists(pk) AND next_allowed_ms <= :now")
                        .update_expression("SET next_allowed_ms = :next")
                        .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                        .expression_attribute_values(
                            ":next",
                            AttributeValue::N((now + 1000).to_string()),
                        );
                    for (name, value) in key_of("bare") {
                        update = update.key(name, value);
                    }
                    let started = Instant::now();
                    update.send().await?;
                    plain = started.elapsed();
                }
                _ => {
                    // The same UpdateItem as the hot path, without the handler around it.
                    let touch = TouchRequest {
                        now_ms: now,
                        client_ip: Some(client_ip),
                        origin_patterns: &[],
                        spacing_ms: 1000,
                    };
                    let started = Instant::now();
                    let outcome = t.app.store.touch_session(&token_hash, &touch).await?;
                    store = started.elapsed();
                    if !matches!(outcome, TouchOutcome::Allowed(_)) {
                        return Err(format!("store touch refused in round {round}").into());
                    }
                }
            }
        }
        if round >= WARMUP {
            hot_path.push(hot);
            store_only.push(store);
            bare.push(plain);
        }
    }
    hot_path.sort();
    bare.sort();
    store_only.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (hot_p50, hot_p99) = (percentile(&hot_path, 50), percentile(&hot_path, 99));
    let (bare_p50, bare_p99) = (percentile(&bare, 50), percentile(&bare, 99));
    println!("samples: {SAMPLES} (after {WARMUP} warm-up rounds, interleaved in rotating order)");
    println!("ddb_calls_per_me: {calls_per_me}");
    println!("ddb_calls_per_session_create: {calls_per_create}");
    println!("hot_path_p50_ms: {:.3}", ms(hot_p50));
    println!("hot_path_p99_ms: {:.3}", ms(hot_p99));
    println!(
        "session_update_item_p50_ms: {:.3}",
        ms(percentile(&store_only, 50))
    );
    println!("bare_update_item_p50_ms: {:.3}", ms(bare_p50));
    println!("bare_update_item_p99_ms: {:.3}", ms(bare_p99));
    println!(
        "hot_path_p50_ratio: {:.3}",
        hot_p50.as_secs_f64() / bare_p50.as_secs_f64()
    );
    admin_figures().await?;
    provisioning_events::figures().await?;
    let small = partner_data::figures().await?;
    scale::figures_at_10000(&small).await
}

/// DynamoDB calls per admin call (counted by the store), and the cost of revoking a key
/// that holds all five live sessions.
async fn admin_figures() -> Result<(), Box<dyn std::error::Error>> {
    let t = TestApp::spawn().await;
    let calls = |t: &TestApp| t.app.store.calls();
    let mssp = t.partnership_id(shared::storage::records::PartnershipType::Mssp);
    let body =
        serde_json::json!({ "name": "bench", "partnership_id": mssp, "allow_any_origin": true });
    let mut figures = Vec::new();
    let before = calls(&t);
    let created = t.call(t.admin("POST", "/v1/admin/keys").json(&body)).await;
    figures.push(("ddb_calls_admin_create_key", calls(&t) - before));
    let id = created.body["_data"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let secret = created.body["_data"][0]["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for (name, method, path) in [
        (
            "ddb_calls_admin_list_keys",
            "GET",
            "/v1/admin/keys".to_owned(),
        ),
        (
            "ddb_calls_admin_get_key",
            "GET",
            format!("/v1/admin/keys/{id}"),
        ),
        (
            "ddb_calls_admin_list_sessions",
            "GET",
            "/v1/admin/sessions".to_owned(),
        ),
        ("ddb_calls_admin_audit", "GET", "/v1/admin/audit".to_owned()),
        (
            "ddb_calls_admin_get_api_access",
            "GET",
            "/v1/admin/api-access".to_owned(),
        ),
    ] {
        let before = calls(&t);
        let response = t.call(t.admin(method, &path)).await;
        if response.status != 200 {
            return Err(format!("{method} {path} answered {}", response.status).into());
        }
        figures.push((name, calls(&t) - before));
    }
    let before = calls(&t);
    let patch = serde_json::json!({
        "allowed_origins": ["203.0.113.0/24"],
        "cors_origins": ["https://app.example.com"],
    });
    t.call(
        t.admin("PATCH", &format!("/v1/admin/keys/{id}"))
            .json(&patch),
    )
    .await;
    figures.push(("ddb_calls_admin_update_origins", calls(&t) - before));
    // A browser's preflight: answered from the count of keys listing its origin.
    let before = calls(&t);
    let preflight = t
        .call(
            api_tests::Call::new("OPTIONS", "/v1/me")
                .header("origin", "https://app.example.com")
                .header("access-control-request-method", "GET"),
        )
        .await;
    if preflight.header("access-control-allow-origin") != Some("https://app.example.com") {
        return Err(format!("the preflight was not allowed: {}", preflight.status).into());
    }
    figures.push(("ddb_calls_cors_preflight", calls(&t) - before));
    let tokens = t.fill_slots(&secret).await;
    let before = calls(&t);
    let started = Instant::now();
    let revoked = t
        .call(t.admin("POST", &format!("/v1/admin/keys/{id}/revoke")))
        .await;
    let revoke_ms = started.elapsed().as_secs_f64() * 1000.0;
    figures.push(("ddb_calls_admin_revoke_with_5_sessions", calls(&t) - before));
    if revoked.body["_data"][0]["sessions_ended"] != serde_json::json!(tokens.len()) {
        return Err(format!(
            "revocation ended {} sessions",
            revoked.body["_data"][0]["sessions_ended"]
        )
        .into());
    }
    for (name, value) in figures {
        println!("{name}: {value}");
    }
    println!("admin_revoke_with_5_sessions_ms: {revoke_ms:.3}");
    Ok(())
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let index = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or_default()
}
