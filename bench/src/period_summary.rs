//! The MSSP period summary, company list and peak-date list at 10,000 companies: each
//! account's row of period 2026-11 written straight through the storage layer (what
//! ingestion stores: every write adds to the period's daily totals and moves its listing and
//! company-day items), then the reads measured as at 1,000. The summary's first read builds
//! nothing (the totals were complete from the start). Each paying company uses one product
//! on every day (a company-day item each: 155,000 of them), so that writing the data set
//! stays within the bench's budget.

use api_tests::{Partner, TestApp};
use shared::calendar::{Period, PeriodKind};
use shared::storage::records::MsspCompanyUsage;

/// Row writes in flight (each one also adds to the one totals item).
const WRITERS: usize = 4;

/// Writes a row of period 2026-11 for each of the `accounts` accounts `plain_account`
/// numbered (paying ones with units on every day, trial ones with none, as ingestion
/// derives them), then measures the summary and the first page of companies.
pub async fn measure(
    t: &TestApp,
    partner: &Partner<'_>,
    accounts: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let period = Period::parse(PeriodKind::Mssp, "2026-11").ok_or("no period 2026-11")?;
    let partnership = t.partnership_id(shared::storage::records::PartnershipType::Mssp);
    // The totals start complete: the first read of an empty period builds them.
    t.app
        .store
        .rebuild_mssp_totals(&partnership, period)
        .await?;
    let days = period.days().count();
    let writers = (0..WRITERS).map(|writer| {
        let store = t.app.store.clone();
        let partnership = partnership.clone();
        async move {
            for n in (writer..accounts).step_by(WRITERS) {
                let paying = n % 2 == 0;
                let used = (n / 2) % 5;
                let series = |product: usize| -> Vec<u64> {
                    (0..days)
                        .map(|day| {
                            if paying && product == used {
                                ((n * 7 + day * 3 + product) % 40 + 1) as u64
                            } else {
                                0
                            }
                        })
                        .collect()
                };
                let row = MsspCompanyUsage {
                    account_id: format!("00000000-0000-4000-8000-{n:012}"),
                    name: format!("Customer {n:05} AB"),
                    daily_units: ["SNS", "DA", "WAS", "CS", "PAT"]
                        .iter()
                        .enumerate()
                        .map(|(i, code)| ((*code).to_owned(), series(i)))
                        .collect(),
                    seq: 1,
                    ttl_epoch_seconds: 0,
                };
                store.put_mssp_usage(&partnership, period, &row).await?;
            }
            Ok::<(), shared::storage::StoreError>(())
        }
    });
    for written in futures::future::join_all(writers).await {
        written?;
    }
    for (name, path) in [
        ("mssp_usage", "/v1/mssp/periods/2026-11/usage?limit=100"),
        (
            "mssp_companies",
            "/v1/mssp/periods/2026-11/companies?limit=100",
        ),
    ] {
        crate::partner_data::measure(t, &format!("{name}_{accounts}"), partner, path).await?;
    }
    crate::account_list::measure_pages(
        t,
        partner,
        &format!("mssp_peak_companies_{accounts}"),
        "/v1/mssp/periods/2026-11/companies?peak_product=SNS&limit=100",
    )
    .await
}
