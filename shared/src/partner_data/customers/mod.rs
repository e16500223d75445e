//! The customers view's tasks and levels, and the daily recompute that keeps the customers
//! index valid as days pass and moves reseller accounts into a new month's lists (see
//! `storage::customer_levels` and `storage::month_lists` for the index and the lists).

pub mod tasks;

use chrono::NaiveDate;
use serde::Serialize;

use crate::partner_data::calendar::{Period, PeriodKind, PeriodStatus};
use crate::platform::clock::EpochMillis;
use crate::storage::records::{AccountRecord, PartnershipType};
use crate::storage::{CustomerLevels, StoreError, WriteOutcome, month_memberships};
use crate::{App, partner_data::calendar};

/// An account's churn-risk level and task severity on `day` (computed at `at_ms`), as the
/// customers view shows them that day.
pub fn levels(
    kind: PartnershipType,
    account: &AccountRecord,
    day: NaiveDate,
    at_ms: EpochMillis,
) -> CustomerLevels {
    let found = tasks::tasks(kind, account, day);
    CustomerLevels {
        churn_risk: tasks::level(
            found
                .iter()
                .filter(|t| t.category == tasks::Category::ChurnRisk),
        ),
        task_severity: tasks::level(&found),
        day,
        computed_at_ms: at_ms,
    }
}

/// `account` with the fields every write of it computes for the Stockholm day of `at_ms`
/// (`at_ms` being the time of the write): its levels and, in a reseller partnership, its
/// month lists.
pub fn with_indexed_fields(
    kind: PartnershipType,
    account: AccountRecord,
    at_ms: EpochMillis,
) -> AccountRecord {
    indexed_on(kind, account, calendar::stockholm_date(at_ms), at_ms)
}

/// `account` with its levels and month lists for `day` (computed at `at_ms`).
fn indexed_on(
    kind: PartnershipType,
    mut account: AccountRecord,
    day: NaiveDate,
    at_ms: EpochMillis,
) -> AccountRecord {
    account.levels = Some(levels(kind, &account, day, at_ms));
    account.month_lists = match kind {
        PartnershipType::Reseller => month_memberships(&account, day),
        PartnershipType::Mssp => Default::default(),
    };
    account
}

/// Accounts the recompute reads at a time (an account item is at most 400 KB).
const ACCOUNTS_PER_READ: i32 = 100;

/// Attempts of one account's recompute that met a concurrent write.
const RECOMPUTE_ATTEMPTS: usize = 8;

/// What one partnership's recompute did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PartnershipRecompute {
    pub partnership_id: String,
    pub accounts: usize,
    /// Accounts whose levels or month lists changed (or were computed for the first time).
    pub moved: usize,
    /// Writes that met a concurrent change of the account and were read again.
    pub retried: usize,
    /// False only when a later day was opened meanwhile (a newer run took over).
    pub complete: bool,
    /// Closed reseller months whose lists this run froze.
    pub frozen_months: Vec<String>,
}

/// What the daily recompute did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recompute {
    pub day: NaiveDate,
    pub partnerships: Vec<PartnershipRecompute>,
}

/// The daily recompute for `day` (run after Stockholm midnight): every partnership's
/// accounts get their levels (and month lists) for `day`, then the day is marked complete,
/// so that filtered customer lists and month pages read the index and lists again. Running
/// it twice changes nothing more.
pub async fn recompute_levels(app: &App, day: NaiveDate) -> Result<Recompute, StoreError> {
    let mut report = Recompute {
        day,
        partnerships: Vec::new(),
    };
    for organization in app.store.organizations().await? {
        for partnership in &organization.partnerships {
            let done = recompute_partnership(app, &partnership.id, partnership.kind, day).await?;
            report.partnerships.push(done);
        }
    }
    Ok(report)
}

/// One partnership's recompute for `day`: opens the day (writes of earlier days are refused
/// from then on), writes the levels and month lists of every account whose ones differ on
/// `day` (each read after the opening), and marks the day complete.
pub async fn recompute_partnership(
    app: &App,
    partnership_id: &str,
    kind: PartnershipType,
    day: NaiveDate,
) -> Result<PartnershipRecompute, StoreError> {
    let store = &app.store;
    let mut done = PartnershipRecompute {
        partnership_id: partnership_id.to_owned(),
        ..PartnershipRecompute::default()
    };
    if !store.open_recompute_day(partnership_id, day).await? {
        return Ok(done);
    }
    // Page by page: a partnership of any size in bounded memory.
    let mut after: Option<String> = None;
    loop {
        let (accounts, next) = store
            .accounts_after(partnership_id, after.as_deref(), ACCOUNTS_PER_READ)
            .await?;
        for account in accounts {
            done.accounts += 1;
            recompute_account(app, kind, day, account, &mut done).await?;
        }
        match next {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    done.complete = store.complete_recompute_day(partnership_id, day).await?;
    if kind == PartnershipType::Reseller {
        done.frozen_months = freeze_closed_months(app, partnership_id, day).await?;
    }
    Ok(done)
}

/// Closed months frozen in one run at most: a partnership written before month lists
/// existed has up to 22 closed months, each a read of the whole month; the newest come
/// first, the rest on the following nights (read whole until then).
const FREEZES_PER_RUN: usize = 2;

/// Freezes the lists of the newest closed months not frozen yet (see
/// `storage::month_lists`); their ids.
async fn freeze_closed_months(
    app: &App,
    partnership_id: &str,
    day: NaiveDate,
) -> Result<Vec<String>, StoreError> {
    let grace = app.config.report_grace_days;
    let mut frozen = Vec::new();
    for month in Period::history(PeriodKind::Reseller, day) {
        if frozen.len() == FREEZES_PER_RUN {
            break;
        }
        if month.status(day, grace) != PeriodStatus::Closed {
            continue;
        }
        let ttl = crate::partner_data::usage::ttl_after(month.end());
        if app
            .store
            .freeze_month_lists(partnership_id, month, ttl)
            .await?
        {
            frozen.push(month.id());
        }
    }
    Ok(frozen)
}

/// Writes `account`'s levels and month lists for `day` if they differ from the stored ones;
/// a concurrent change of the account is read again.
async fn recompute_account(
    app: &App,
    kind: PartnershipType,
    day: NaiveDate,
    account: AccountRecord,
    done: &mut PartnershipRecompute,
) -> Result<(), StoreError> {
    let store = &app.store;
    let partnership_id = account.partnership_id.clone();
    let mut read = Some(account);
    for _ in 0..RECOMPUTE_ATTEMPTS {
        let Some(account) = read.take() else { break };
        let after = indexed_on(kind, account.clone(), day, app.clock.now_ms());
        let same_levels = match (account.levels, after.levels) {
            (Some(stored), Some(now)) => stored.same_levels(&now),
            _ => false,
        };
        if same_levels && account.month_lists == after.month_lists {
            break;
        }
        match store.set_indexed_fields(&account, &after).await? {
            WriteOutcome::Written => {
                done.moved += 1;
                break;
            }
            WriteOutcome::Stale => {
                done.retried += 1;
                read = store.account(&partnership_id, &account.account_id).await?;
            }
        }
    }
    if read.is_some() {
        // Still contended after every attempt: the day stays incomplete (filtered lists
        // read every account meanwhile) and the run fails, to be retried.
        return Err(StoreError::Contention {
            operation: "TransactWriteItems",
        });
    }
    Ok(())
}
