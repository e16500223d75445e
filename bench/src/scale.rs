//! The partner reads at 1,000 and 10,000 accounts, compared (`reads::compare`): a
//! 10,000-account MSSP partnership (accounts, and the rows of period 2026-11:
//! `period_summary`) and a 10,000-account reseller one, written straight through the
//! storage layer, beside the 1,000-account ones fed through ingestion (`partner_data`).
//! Lists give their first page and their deepest full one (reached by following
//! `_links.next`): a page read through its cursor costs the same at any size and depth.
//! Then the closed month's frozen lists at 10,000.

use api_tests::{Partner, TestApp};
use shared::partner_data::onboarding::NewPartnership;
use shared::storage::records::PartnershipType::{self, Mssp, Reseller};
use shared::storage::records::{AccountState, ResellerCompanyUsage, SubscriptionRecord};

use crate::reads::{Pair, compare, compare_pages, measure_pages};

const LARGE: usize = crate::reads::SIZES[1];
/// Creates in flight while the large partnership is written (each one also moves the one
/// counts item, so more only meet each other more often).
const WRITERS: usize = 4;

/// Builds the 10,000-account partnerships, then compares every partner read with the same
/// read of `small` (the 1,000-account partnerships).
pub async fn figures_at_10000(small: &TestApp) -> Result<(), Box<dyn std::error::Error>> {
    let store = api_tests::fresh_store_with(shared::storage::TableOptions {
        ttl: false,
        stream: false,
    })
    .await;
    let t = TestApp::spawn_on(
        store,
        &[
            NewPartnership::new("Bench MSSP 10k", Mssp),
            NewPartnership::new("Bench Reseller 10k", Reseller),
        ],
    )
    .await;
    write_accounts(&t, Mssp).await?;
    write_accounts(&t, Reseller).await?;
    crate::partner_data::nightly_recompute(&t, LARGE).await?;
    crate::period_summary::write_rows(&t, LARGE).await?;
    let scopes = ["accounts:read", "customers:read"];
    let mssp = [
        small.partner(Mssp, &scopes).await,
        t.partner(Mssp, &scopes).await,
    ];
    let reseller = [
        small.partner(Reseller, &[]).await,
        t.partner(Reseller, &[]).await,
    ];
    for (name, path) in [
        ("mssp_usage", "/v1/mssp/periods/2026-11/usage?limit=100"),
        (
            "mssp_companies",
            "/v1/mssp/periods/2026-11/companies?limit=100",
        ),
        ("customers_list", "/v1/customers?limit=100"),
        (
            "customers_filtered",
            "/v1/customers?churn_risk=none&limit=100",
        ),
        (
            "customers_filtered_rare",
            "/v1/customers?churn_risk=none&task_severity=high&limit=100",
        ),
    ] {
        compare(name, "", both(&mssp, path)).await?;
    }
    for (name, partners, first) in [
        ("accounts_list", &mssp, "/v1/accounts?limit=100"),
        (
            "mssp_peak_companies",
            &mssp,
            "/v1/mssp/periods/2026-11/companies?peak_product=SNS&limit=100",
        ),
        (
            "reseller_companies",
            &reseller,
            "/v1/reseller/periods/2026-11/companies?limit=100",
        ),
        (
            "reseller_usage",
            &reseller,
            "/v1/reseller/periods/2026-11/usage?limit=100",
        ),
    ] {
        compare_pages(name, both(partners, first)).await?;
    }
    closed_month_figures(&t).await
}

/// The same read at both sizes.
fn both<'a>(partners: &'a [Partner<'a>; 2], path: &'a str) -> Pair<'a> {
    [(&partners[0], path), (&partners[1], path)]
}

/// Month 2026-11 closed: the nightly run that freezes its lists (and opens December's for
/// every account) at 10,000 accounts, then its pages, read from the frozen lists.
async fn closed_month_figures(t: &TestApp) -> Result<(), Box<dyn std::error::Error>> {
    // 2026-12-05 01:00 in Stockholm: past the three grace days of 2026-11.
    let after_close = chrono::DateTime::parse_from_rfc3339("2026-12-05T00:00:00Z")?;
    t.clock.set_ms(after_close.timestamp_millis());
    let started = std::time::Instant::now();
    let day = shared::partner_data::calendar::stockholm_date(t.app.clock.now_ms());
    let report = shared::partner_data::customers::recompute_levels(&t.app, day).await?;
    let frozen: Vec<&String> = report
        .partnerships
        .iter()
        .flat_map(|p| p.frozen_months.iter())
        .collect();
    if frozen.is_empty() {
        return Err("the run froze no month".into());
    }
    println!(
        "customer_levels_recompute_{LARGE}_freezing_s: {:.1}",
        started.elapsed().as_secs_f64()
    );
    // A session of today (the earlier ones have expired).
    let reseller = t.partner(Reseller, &[]).await;
    for list in ["companies", "usage"] {
        let first = format!("/v1/reseller/periods/2026-11/{list}?limit=100");
        let name = format!("reseller_closed_{list}_{LARGE}");
        measure_pages(&name, &reseller, &first).await?;
    }
    Ok(())
}

/// `LARGE` accounts of `kind`'s partnership, written straight through the storage layer
/// (reseller accounts each with a subscription over the month and its month's row of use).
async fn write_accounts(
    t: &TestApp,
    kind: PartnershipType,
) -> Result<(), Box<dyn std::error::Error>> {
    let partnership = t.partnership_id(kind);
    let now = t.app.clock.now_ms();
    let month = shared::partner_data::calendar::Period::containing(
        shared::partner_data::calendar::PeriodKind::Reseller,
        shared::partner_data::calendar::stockholm_date(now),
    );
    let series = match kind {
        Mssp => 8000,
        Reseller => 8001,
    };
    let writers = (0..WRITERS).map(|writer| {
        let store = t.app.store.clone();
        let partnership = partnership.clone();
        let org_id = t.org.org_id.clone();
        async move {
            for n in (writer..LARGE).step_by(WRITERS) {
                let mut account = api_tests::plain_account(
                    &partnership,
                    &org_id,
                    // Account ids are global: one series per partnership.
                    &format!("00000000-0000-4000-{series}-{n:012}"),
                    &format!("Customer {n:05} AB"),
                    [AccountState::Paying, AccountState::Trial][n % 2],
                );
                if kind == Reseller {
                    let subscription = SubscriptionRecord {
                        subscription_id: format!("00000000-0000-4000-9000-{n:012}"),
                        sku: "DA".into(),
                        quantity: 100,
                        start_date: month.start(),
                        end_date: shared::partner_data::calendar::add_days(month.start(), 364),
                        evaluation: false,
                        order_number: None,
                        acv: None,
                        created_at_ms: now,
                        updated_at_ms: now,
                    };
                    account
                        .subscriptions
                        .insert(subscription.subscription_id.clone(), subscription);
                    let used = (n % 120) as u64;
                    let usage = ResellerCompanyUsage {
                        account_id: account.account_id.clone(),
                        daily_units: [("DA".to_owned(), vec![used; month.days().count()])].into(),
                        seq: 1,
                        ttl_epoch_seconds: 0,
                    };
                    store
                        .put_reseller_usage(&partnership, &month.id(), &usage)
                        .await?;
                }
                let account =
                    shared::partner_data::customers::with_indexed_fields(kind, account, now);
                store.create_account(&account).await?;
            }
            Ok::<(), shared::storage::StoreError>(())
        }
    });
    for written in futures::future::join_all(writers).await {
        written?;
    }
    Ok(())
}
