//! What the reports and the customers view read, derived from an account's raw records
//! (and its state history): billable daily units per MSSP period, daily units per month, the
//! engagement on the account item. Each is derived onto the stored item as read and
//! replaced only if it is still so: an ingested batch re-derives only the cells of its own
//! days (O(records in it), whatever the history); a change of the account's state history
//! or name derives its MSSP rows whole.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use crate::partner_data::calendar::{self, Period, PeriodKind};
use crate::storage::records::{
    AccountRecord, DayActivity, Engagement, MsspCompanyUsage, PartnershipType, Peak,
    ResellerCompanyUsage, SubscriptionRecord, UsageRecord,
};
use crate::storage::{DerivedState, RawRecords, StoreError, WriteOutcome, next_revision};
use crate::{App, partner_data::customers};

use super::{ENGAGEMENT_DAYS, RETENTION_DAYS};

/// When an item about `date` may be collected (raw records, report rows and lists).
pub fn ttl_after(date: NaiveDate) -> i64 {
    let end = calendar::add_days(date, u64::try_from(RETENTION_DAYS).unwrap_or(0));
    end.and_hms_opt(0, 0, 0)
        .map(|at| at.and_utc().timestamp())
        .unwrap_or(i64::MAX)
}

/// Rounds of reading an account's derived items again after a concurrent write of one.
const DERIVE_ROUNDS: usize = 8;

/// Which raw records a derivation reads, and what it derives onto.
#[derive(Debug, Clone)]
enum RawScope {
    /// The days an ingested batch changed: their cells are derived onto the stored rows and
    /// engagement.
    Days(BTreeSet<NaiveDate>),
    /// Every day of the periods: the rows are derived from scratch (the engagement is not
    /// derived).
    WholePeriods,
}

/// One account's derivation.
struct Derivation<'a> {
    partnership_id: &'a str,
    account_id: &'a str,
    /// With the engagement (and the account's levels, by its partnership's type).
    engagement_of: Option<PartnershipType>,
    scope: RawScope,
    today: NaiveDate,
}

/// Applies an ingested batch (the raw records now current on `days`) to the account's rows
/// of `periods` (not closed) and to its engagement: O(records in the batch).
pub async fn apply_days(
    app: &App,
    partnership_id: &str,
    kind: PartnershipType,
    account_id: &str,
    periods: &BTreeSet<Period>,
    days: BTreeSet<NaiveDate>,
    today: NaiveDate,
) -> Result<(), String> {
    let job = Derivation {
        partnership_id,
        account_id,
        engagement_of: Some(kind),
        scope: RawScope::Days(days),
        today,
    };
    derive(app, &job, periods).await
}

/// Recomputes the account's rows of `periods` whole from its raw records and state history
/// (after a change of either that reaches every day of them).
pub async fn recompute(
    app: &App,
    partnership_id: &str,
    account_id: &str,
    periods: &BTreeSet<Period>,
    today: NaiveDate,
) -> Result<(), String> {
    let job = Derivation {
        partnership_id,
        account_id,
        engagement_of: None,
        scope: RawScope::WholePeriods,
        today,
    };
    derive(app, &job, periods).await
}

/// Derives `job` onto the stored items, each replaced only if still as read; what met a
/// concurrent write is read again and derived anew. Every round reads the stored items
/// before the raw records: raw records written after that read are applied by their own
/// derivation, whose read follows this one's write or whose write this one's refuses.
async fn derive(app: &App, job: &Derivation<'_>, periods: &BTreeSet<Period>) -> Result<(), String> {
    let store = &app.store;
    let mut pending = periods.clone();
    let mut engagement_pending = job.engagement_of.is_some();
    let mut used_months = BTreeSet::new();
    for round in 0..DERIVE_ROUNDS {
        if round > 0 {
            crate::storage::backoff(round).await;
        }
        let state = store
            .derived_state(job.partnership_id, job.account_id, &pending)
            .await
            .map_err(|e| e.to_string())?;
        let Some(account) = state.account.clone() else {
            return Err("the account was deleted".into());
        };
        let raw = match &job.scope {
            RawScope::Days(days) => {
                store
                    .raw_days(job.partnership_id, job.account_id, days)
                    .await
            }
            RawScope::WholePeriods => {
                let from = pending.iter().map(|p| p.start()).min().unwrap_or(job.today);
                store
                    .raw_records(job.partnership_id, job.account_id, from, job.today)
                    .await
            }
        }
        .map_err(|e| e.to_string())?;
        for period in pending.clone() {
            let outcome = derive_row(app, job, &state, &account, period, &raw, &mut used_months)
                .await
                .map_err(|e| e.to_string())?;
            if outcome == WriteOutcome::Written {
                pending.remove(&period);
            }
        }
        if let (true, Some(kind)) = (engagement_pending, job.engagement_of) {
            let outcome = set_engagement(app, kind, &account, &raw, job.today, &used_months)
                .await
                .map_err(|e| e.to_string())?;
            engagement_pending = outcome == WriteOutcome::Stale;
        }
        if pending.is_empty() && !engagement_pending {
            return Ok(());
        }
    }
    Err(StoreError::Contention {
        operation: "TransactWriteItems",
    }
    .to_string())
}

/// Derives the account's row of `period` onto the one read (from scratch for
/// [`RawScope::WholePeriods`]) and replaces it if it changed; notes the months with use.
async fn derive_row(
    app: &App,
    job: &Derivation<'_>,
    state: &DerivedState,
    account: &AccountRecord,
    period: Period,
    raw: &RawRecords,
    used_months: &mut BTreeSet<String>,
) -> Result<WriteOutcome, StoreError> {
    let store = &app.store;
    let onto = |cells: Option<&BTreeMap<String, Vec<u64>>>| match job.scope {
        RawScope::Days(_) => cells.cloned().unwrap_or_default(),
        RawScope::WholePeriods => BTreeMap::new(),
    };
    match period.kind() {
        PeriodKind::Mssp => {
            let read = state.mssp_rows.get(&period);
            let cells = onto(read.map(|r| &r.daily_units));
            let row = mssp_company_usage(
                account,
                period,
                cells,
                &raw.usage,
                next_revision(read.map(|r| r.seq)),
            );
            let unchanged = match read {
                Some(read) => read.daily_units == row.daily_units && read.name == row.name,
                None => row.daily_units.is_empty(),
            };
            if unchanged {
                return Ok(WriteOutcome::Written);
            }
            store
                .replace_mssp_row(job.partnership_id, period, read, &row)
                .await
        }
        PeriodKind::Reseller => {
            let read = state.reseller_rows.get(&period);
            let cells = onto(read.map(|r| &r.daily_units));
            let row = reseller_company_usage(
                &account.account_id,
                period,
                cells,
                &raw.usage,
                next_revision(read.map(|r| r.seq)),
            );
            if row.daily_units.values().flatten().any(|units| *units > 0) {
                used_months.insert(period.id());
            }
            let unchanged = match read {
                Some(read) => read.daily_units == row.daily_units,
                None => row.daily_units.is_empty(),
            };
            if unchanged {
                return Ok(WriteOutcome::Written);
            }
            store
                .replace_reseller_row(job.partnership_id, &period.id(), read, &row)
                .await
        }
    }
}

/// Derives the engagement onto the one `account` carries as read and adds `used_months`
/// (months it used some product in) to its usage months, with its levels and month lists
/// for the time of the write; stale if the account changed since the read.
async fn set_engagement(
    app: &App,
    kind: PartnershipType,
    account: &AccountRecord,
    raw: &RawRecords,
    today: NaiveDate,
    used_months: &BTreeSet<String>,
) -> Result<WriteOutcome, StoreError> {
    let now = app.clock.now_ms();
    let mut after = account.clone();
    after.engagement = Some(engagement(today, raw, account.engagement.as_ref()));
    // Only the current and the previous month have lists: older months are dropped.
    let previous = Period::containing(PeriodKind::Reseller, calendar::stockholm_date(now))
        .previous()
        .id();
    after.usage_months.extend(used_months.iter().cloned());
    after.usage_months.retain(|month| *month >= previous);
    if after.engagement == account.engagement && after.usage_months == account.usage_months {
        return Ok(WriteOutcome::Written);
    }
    after.derived_seq = account.derived_seq + 1;
    // The time of this attempt, not of the batch: after midnight, the new day's levels.
    let after = customers::with_indexed_fields(kind, after, now);
    app.store.set_engagement(account, &after).await
}

/// `cells` (units per product and day of `period`, index 0 its first day) with the days of
/// `usage` in the period set, to 0 on the days `counts` does not admit.
fn apply_units(
    mut cells: BTreeMap<String, Vec<u64>>,
    period: Period,
    usage: &[UsageRecord],
    counts: impl Fn(NaiveDate) -> bool,
) -> BTreeMap<String, Vec<u64>> {
    let start = period.start();
    let days = period.days().count();
    for record in usage.iter().filter(|r| period.contains(r.date)) {
        let index = usize::try_from(calendar::days_between(start, record.date)).unwrap_or(0);
        let series = cells
            .entry(record.product.clone())
            .or_insert_with(|| vec![0; days]);
        if let Some(slot) = series.get_mut(index) {
            *slot = if counts(record.date) { record.units } else { 0 };
        }
    }
    cells
}

/// The account's row of `period` at revision `seq`: its billable daily units per product,
/// `cells` with the days of `usage` set — units of the days it was `paying` (trial, demo,
/// internal and archived days count 0).
pub fn mssp_company_usage(
    account: &AccountRecord,
    period: Period,
    cells: BTreeMap<String, Vec<u64>>,
    usage: &[UsageRecord],
    seq: u64,
) -> MsspCompanyUsage {
    MsspCompanyUsage {
        account_id: account.account_id.clone(),
        name: account.name.clone(),
        daily_units: apply_units(cells, period, usage, |day| account.paying_on(day)),
        seq,
        ttl_epoch_seconds: ttl_after(period.end()),
    }
}

/// The highest value of `units` and the first day it was reached, if any day is above 0.
pub fn peak_of(days: impl Iterator<Item = (NaiveDate, u64)>) -> Option<Peak> {
    days.fold(None, |best: Option<Peak>, (date, units)| match best {
        Some(peak) if peak.units >= units => Some(peak),
        _ if units == 0 => best,
        _ => Some(Peak { units, date }),
    })
}

/// The account's row of the calendar `month` at revision `seq`: its daily units per
/// product, `cells` with the days of `usage` set.
pub fn reseller_company_usage(
    account_id: &str,
    month: Period,
    cells: BTreeMap<String, Vec<u64>>,
    usage: &[UsageRecord],
    seq: u64,
) -> ResellerCompanyUsage {
    ResellerCompanyUsage {
        account_id: account_id.to_owned(),
        daily_units: apply_units(cells, month, usage, |_| true),
        seq,
        ttl_epoch_seconds: ttl_after(month.end()),
    }
}

/// Used as a percentage of licensed, to one decimal; none without licences.
pub fn utilisation_percent(used: u64, licensed: u64) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    let percent = (licensed > 0).then(|| used as f64 * 100.0 / licensed as f64)?;
    Some((percent * 10.0).round() / 10.0)
}

/// Licences of `sku` in force on `day` among `subs`.
pub fn licensed_on<'a>(
    subs: impl IntoIterator<Item = &'a SubscriptionRecord>,
    sku: &str,
    day: NaiveDate,
) -> u64 {
    subs.into_iter()
        .filter(|s| s.sku == sku && s.active_on(day))
        .map(|s| s.quantity)
        .fold(0, u64::saturating_add)
}

/// Of `days` (day, used, licensed in force that day), the one with the highest
/// `used / licensed` among days with licences (the first on a tie), with both numbers.
pub fn peak_utilisation(
    days: impl IntoIterator<Item = (NaiveDate, u64, u64)>,
) -> Option<(NaiveDate, u64, u64)> {
    days.into_iter()
        .filter(|(_, _, licensed)| *licensed > 0)
        .fold(None, |best, (day, used, licensed)| match best {
            // used/licensed > best_used/best_licensed, compared without division.
            Some((_, best_used, best_licensed))
                if u128::from(used) * u128::from(best_licensed)
                    <= u128::from(best_used) * u128::from(licensed) =>
            {
                best
            }
            _ => Some((day, used, licensed)),
        })
}

/// Products `activity` shows use of (scans, phishing assessments).
fn active_products(activity: &DayActivity) -> impl Iterator<Item = &'static str> {
    [
        ("SNS", activity.scans.sns),
        ("WAS", activity.scans.was),
        ("CS", activity.scans.cs),
        ("PAT", activity.pat_assessments),
    ]
    .into_iter()
    .filter(|(_, count)| *count > 0)
    .map(|(product, _)| product)
}

/// The account's engagement on `today`: `previous` (none: nothing yet) with the days of
/// `raw` applied — the activity of the last days, the last activity per product (which
/// never moves back) and this month's daily units.
pub fn engagement(today: NaiveDate, raw: &RawRecords, previous: Option<&Engagement>) -> Engagement {
    let window_start = calendar::sub_days(today, ENGAGEMENT_DAYS - 1);
    let mut days = previous.map(|e| e.days.clone()).unwrap_or_default();
    days.extend(raw.activity.iter().map(|r| (r.date, r.activity)));
    days.retain(|date, _| *date >= window_start && *date <= today);
    let mut last_active: BTreeMap<String, NaiveDate> =
        previous.map(|e| e.last_active.clone()).unwrap_or_default();
    let mut seen = |product: &str, date: NaiveDate| {
        let entry = last_active.entry(product.to_owned()).or_insert(date);
        *entry = (*entry).max(date);
    };
    for record in &raw.activity {
        for product in active_products(&record.activity) {
            seen(product, record.date);
        }
    }
    // Device Agent has no activity counter: computers reporting in are its use.
    for record in raw
        .usage
        .iter()
        .filter(|r| r.product == "DA" && r.units > 0)
    {
        seen("DA", record.date);
    }
    let month = Period::containing(PeriodKind::Reseller, today);
    // A new month starts from no units.
    let month_cells = previous
        .filter(|e| e.month == month.id())
        .map(|e| e.month_units.clone())
        .unwrap_or_default();
    Engagement {
        days,
        last_active,
        month: month.id(),
        month_units: apply_units(month_cells, month, &raw.usage, |_| true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        calendar::parse_date(text, "date").unwrap()
    }

    #[test]
    fn utilisation_is_rounded_to_one_decimal() {
        assert_eq!(utilisation_percent(14, 20), Some(70.0));
        assert_eq!(utilisation_percent(2, 3), Some(66.7));
        assert_eq!(utilisation_percent(5, 0), None);
        assert_eq!(utilisation_percent(0, 7), Some(0.0));
    }

    #[test]
    fn the_peak_is_the_highest_day_and_the_first_day_it_was_reached() {
        let days = [
            (date("2026-11-01"), 14),
            (date("2026-11-02"), 10),
            (date("2026-11-03"), 14),
        ];
        assert_eq!(
            peak_of(days.into_iter()),
            Some(Peak {
                units: 14,
                date: date("2026-11-01")
            })
        );
        assert_eq!(peak_of([(date("2026-11-01"), 0)].into_iter()), None);
    }
}
