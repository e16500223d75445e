//! Partner data at scale: two partnerships of 1,000 accounts using all five products,
//! with platform records for a whole MSSP period and a whole calendar month, fed through
//! usage ingestion (records/s), a day's batches and the nightly run. Their reads are
//! measured beside the same reads at 10,000 accounts (`scale`, `reads`).

use std::time::Instant;

use api_tests::{Partner, TestApp};
use local_server::demo_data::{self, Population};
use shared::partner_data::onboarding::NewPartnership;
use shared::storage::records::PartnershipType::{Mssp, Reseller};

const ACCOUNTS: usize = crate::reads::SIZES[0];

fn ms(text: &str) -> Result<i64, Box<dyn std::error::Error>> {
    Ok(chrono::DateTime::parse_from_rfc3339(text)?.timestamp_millis())
}

/// Builds and feeds the 1,000-account partnerships (their reads are measured beside the
/// 10,000-account ones: `scale`), printing ingestion and nightly-run figures.
pub async fn figures() -> Result<TestApp, Box<dyn std::error::Error>> {
    let mut mssp = NewPartnership::new("Bench MSSP", Mssp);
    mssp.minimum_commitments.insert("SNS".into(), 651);
    // No stream on this table: DynamoDB Local records every write in a stream, several
    // times the cost of the write itself (in AWS the stream adds nothing to a write's
    // latency); ingestion is measured without that artefact.
    let store = api_tests::fresh_store_with(shared::storage::TableOptions {
        ttl: false,
        stream: false,
    })
    .await;
    let mut t = TestApp::spawn_on(
        store,
        &[mssp, NewPartnership::new("Bench Reseller", Reseller)],
    )
    .await;
    // 2026-11-30 in Stockholm: MSSP period 2026-11 (2026-10-26 to 2026-11-25) and the
    // month 2026-11 are both complete in data that starts on 2026-10-26. Seven grace days
    // keep period 2026-11 `closing` (open to records) on that day.
    t.clock.set_ms(ms("2026-11-30T11:00:00Z")?);
    t.app.config.report_grace_days = 7;
    let from = shared::partner_data::calendar::parse_date("2026-10-26", "from")?;
    let mut records = 0;
    let started = Instant::now();
    for (kind, seed) in [(Mssp, 11), (Reseller, 12)] {
        let partnership = t
            .org
            .partnerships
            .iter()
            .find(|p| p.kind == kind)
            .ok_or("no partnership")?;
        let population = Population {
            accounts: ACCOUNTS,
            from,
            every_product: true,
            seed,
        };
        records +=
            demo_data::seed_partnership(&t.app, &t.org.org_id, partnership, population).await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("usage_ingest_records: {records}");
    #[allow(clippy::cast_precision_loss)]
    let rate = records as f64 / seconds;
    println!("usage_ingest_records_per_s: {rate:.0}");

    nightly_recompute(&t, ACCOUNTS).await?;
    let mssp = t.partner(Mssp, &["customers:read", "accounts:read"]).await;
    daily_batches(&t, &mssp).await?;
    // Ingestion wrote the rows before the period's first read: that read builds its totals
    // (once); the reads measured later (`reads`, beside the same reads at 10,000) find
    // them built.
    crate::reads::measure(
        "mssp_usage_1000_totals_build",
        &mssp,
        "/v1/mssp/periods/2026-11/usage?limit=100",
    )
    .await?;
    Ok(t)
}

/// Accounts of the daily sample: each gets one new record.
const DAILY_ACCOUNTS: usize = 100;
/// Records per SQS batch (the queue's batch size).
const SQS_BATCH: usize = 10;

/// The platform's next measurement of today for 100 accounts with 36 days of history each,
/// in SQS batches of 10: DynamoDB calls and items read per account, and records/s. A batch
/// reads only its own days, so neither grows with the history.
async fn daily_batches(t: &TestApp, mssp: &Partner<'_>) -> Result<(), Box<dyn std::error::Error>> {
    let listed = mssp
        .get(&format!("/v1/accounts?limit={DAILY_ACCOUNTS}"))
        .await;
    let ids: Vec<String> = listed.body["_data"]
        .as_array()
        .ok_or("no accounts")?
        .iter()
        .filter_map(|a| a["id"].as_str().map(str::to_owned))
        .collect();
    // A minute after the seeded records were observed: each is a newer observation.
    t.clock.advance_ms(60_000);
    let now = t.app.clock.now_ms();
    let today = shared::partner_data::calendar::stockholm_date(now).to_string();
    let observed_at = chrono::DateTime::from_timestamp_millis(now)
        .ok_or("clock")?
        .to_rfc3339();
    let records: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            serde_json::json!({ "account_id": id, "product": "SNS", "date": today,
                "units": 7, "observed_at": observed_at })
        })
        .collect();
    let store = &t.app.store;
    let (calls, items) = (store.calls(), store.items_read());
    let started = Instant::now();
    for batch in records.chunks(SQS_BATCH) {
        if !t.ingest(batch).await.is_empty() {
            return Err("a daily record was not ingested".into());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let accounts = ids.len().max(1) as f64;
    #[allow(clippy::cast_precision_loss)]
    let per_account = |total: u64| total as f64 / accounts;
    if ids.len() != DAILY_ACCOUNTS {
        return Err(format!("{} accounts listed", ids.len()).into());
    }
    println!(
        "usage_daily_batch_calls_per_account: {:.1}",
        per_account(store.calls() - calls)
    );
    println!(
        "usage_daily_batch_items_read_per_account: {:.1}",
        per_account(store.items_read() - items)
    );
    println!("usage_daily_batch_records_per_s: {:.0}", accounts / seconds);
    Ok(())
}

/// The nightly customer-levels run over the table (every write stored its levels already:
/// it opens and completes the day and moves nothing); prints its duration and moves.
pub async fn nightly_recompute(
    t: &TestApp,
    accounts: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let day = shared::partner_data::calendar::stockholm_date(t.app.clock.now_ms());
    let report = shared::partner_data::customers::recompute_levels(&t.app, day).await?;
    let seconds = started.elapsed().as_secs_f64();
    let moved: usize = report.partnerships.iter().map(|p| p.moved).sum();
    println!("customer_levels_recompute_{accounts}_s: {seconds:.1}");
    println!("customer_levels_recompute_{accounts}_moved: {moved}");
    Ok(())
}
