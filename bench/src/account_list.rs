//! The account list at 1,000 and 10,000 accounts: the first page and the last one (reached
//! by following `_links.next`), each with DynamoDB calls, items read, answer bytes and p50.
//! A page read through its cursor costs the same at any size and depth. The 10,000
//! partnership also carries the MSSP period reads at that size (`period_summary`).

use api_tests::{Partner, TestApp};
use shared::onboarding::NewPartnership;
use shared::storage::records::AccountState;
use shared::storage::records::PartnershipType::Mssp;

const LARGE: usize = 10_000;
/// Creates in flight while the large partnership is written (each one also moves the one
/// counts item, so more only meet each other more often).
const WRITERS: usize = 4;

/// The first and the last page of `limit=100` of `partner`'s `accounts` accounts.
pub async fn measure_pages(
    t: &TestApp,
    partner: &Partner<'_>,
    accounts: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let first = "/v1/accounts?limit=100";
    crate::partner_data::measure(
        t,
        &format!("accounts_list_{accounts}_first"),
        partner,
        first,
    )
    .await?;
    let mut last = first.to_owned();
    loop {
        let page = partner.get(&last).await;
        match page.body["_links"]["next"]["href"].as_str() {
            Some(next) => last = next.replacen("http://api.example.com", "", 1),
            None => break,
        }
    }
    crate::partner_data::measure(t, &format!("accounts_list_{accounts}_last"), partner, &last).await
}

/// A partnership of 10,000 accounts, written straight through the storage layer.
pub async fn figures_at_10000() -> Result<(), Box<dyn std::error::Error>> {
    let store = api_tests::fresh_store_with(shared::storage::TableOptions {
        ttl: false,
        stream: false,
    })
    .await;
    let t = TestApp::spawn_on(store, &[NewPartnership::new("Bench MSSP 10k", Mssp)]).await;
    let partnership = t.partnership_id(Mssp);
    let now = t.app.clock.now_ms();
    let writers = (0..WRITERS).map(|writer| {
        let store = t.app.store.clone();
        let partnership = partnership.clone();
        let org_id = t.org.org_id.clone();
        async move {
            for n in (writer..LARGE).step_by(WRITERS) {
                let account = api_tests::plain_account(
                    &partnership,
                    &org_id,
                    &format!("00000000-0000-4000-8000-{n:012}"),
                    &format!("Customer {n:05} AB"),
                    [AccountState::Paying, AccountState::Trial][n % 2],
                );
                let account = shared::customers::with_indexed_fields(Mssp, account, now);
                store.create_account(&account).await?;
            }
            Ok::<(), shared::storage::StoreError>(())
        }
    });
    for written in futures::future::join_all(writers).await {
        written?;
    }
    crate::partner_data::nightly_recompute(&t, LARGE).await?;
    let partner = t.partner(Mssp, &["accounts:read", "customers:read"]).await;
    measure_pages(&t, &partner, LARGE).await?;
    crate::period_summary::measure(&t, &partner, LARGE).await?;
    for (name, path) in [
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
        crate::partner_data::measure(&t, &format!("{name}_{LARGE}"), &partner, path).await?;
    }
    Ok(())
}
