//! The MSSP period 2026-11 at 10,000 companies: each account's row written straight through
//! the storage layer (what ingestion stores: every write adds to the period's daily totals
//! and moves its listing and company-day items), so that the summary's first read builds
//! nothing (the totals were complete from the start). Each paying company uses one product
//! on every day (a company-day item each: 155,000 of them), so that writing the data set
//! stays within the bench's budget. Its reads are measured in `scale`.

use api_tests::TestApp;
use shared::partner_data::calendar::{Period, PeriodKind};
use shared::storage::records::MsspCompanyUsage;

/// Row writes in flight (each one also adds to the one totals item).
const WRITERS: usize = 4;

/// Writes a row of period 2026-11 for each of the `accounts` accounts `plain_account`
/// numbered (paying ones with units on every day, trial ones with none, as ingestion
/// derives them).
pub async fn write_rows(t: &TestApp, accounts: usize) -> Result<(), Box<dyn std::error::Error>> {
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
    Ok(())
}
