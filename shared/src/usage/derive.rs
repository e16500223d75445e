//! What the reports and the customers view read, derived from an account's raw records
//! (and its state history): billable daily units per MSSP period, daily units per month, the
//! engagement on the account item. Recomputed under a per-account sequence number.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use crate::calendar::{self, Period, PeriodKind};
use crate::storage::records::{
    AccountRecord, DayActivity, Engagement, MsspCompanyUsage, PartnershipType, Peak,
    ResellerCompanyUsage, SubscriptionRecord, UsageRecord,
};
use crate::storage::{RawRecords, StoreError, WriteOutcome};
use crate::{App, customers};

use super::{ENGAGEMENT_DAYS, RETENTION_DAYS};

/// When an item about `date` may be collected (raw records, report rows and lists).
pub fn ttl_after(date: NaiveDate) -> i64 {
    let end = calendar::add_days(date, u64::try_from(RETENTION_DAYS).unwrap_or(0));
    end.and_hms_opt(0, 0, 0)
        .map(|at| at.and_utc().timestamp())
        .unwrap_or(i64::MAX)
}

/// Recomputes an account's derived items for `periods` (and its engagement, from raw
/// records back to `earliest` at least) from its raw records and state history, under a
/// new sequence number: a concurrent recomputation that read older data cannot overwrite
/// this one.
pub async fn recompute(
    app: &App,
    partnership_id: &str,
    kind: PartnershipType,
    account_id: &str,
    periods: &BTreeSet<Period>,
    earliest: NaiveDate,
    today: NaiveDate,
) -> Result<(), String> {
    let store = &app.store;
    let Some(account) = store
        .next_usage_seq(partnership_id, account_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Err("the account was deleted".into());
    };
    let window_start = calendar::sub_days(today, ENGAGEMENT_DAYS);
    let month_start = Period::containing(PeriodKind::Reseller, today).start();
    let from = periods
        .iter()
        .map(|p| p.start())
        .chain([window_start, month_start, earliest])
        .min()
        .unwrap_or(window_start);
    let stored = store
        .raw_records(partnership_id, account_id, from, today)
        .await
        .map_err(|e| e.to_string())?;
    let seq = account.usage_seq;
    let mut used_months = BTreeSet::new();
    for period in periods {
        if !stored.usage.iter().any(|r| period.contains(r.date)) {
            continue;
        }
        let written = match period.kind() {
            PeriodKind::Mssp => {
                let usage = mssp_company_usage(&account, *period, &stored.usage, seq);
                store.put_mssp_usage(partnership_id, *period, &usage).await
            }
            PeriodKind::Reseller => {
                let usage = reseller_company_usage(account_id, *period, &stored.usage, seq);
                if usage.daily_units.values().flatten().any(|units| *units > 0) {
                    used_months.insert(period.id());
                }
                store
                    .put_reseller_usage(partnership_id, &period.id(), &usage)
                    .await
            }
        };
        written.map_err(|e| e.to_string())?;
    }
    let engagement = engagement(today, &stored, account.engagement.as_ref());
    set_engagement(app, kind, account, engagement, seq, &used_months)
        .await
        .map_err(|e| e.to_string())
}

/// Attempts of an engagement write that met a concurrent change of the account.
const ENGAGEMENT_ATTEMPTS: usize = 8;

/// Stores `engagement` (computed at usage sequence `seq`) on the account read as `account`,
/// unless a later engagement is stored by then, and adds `used_months` (months it used some
/// product in) to its usage months, with its levels and month lists for the day of the
/// write: a concurrent change of the account is read again and they are computed anew.
async fn set_engagement(
    app: &App,
    kind: PartnershipType,
    mut account: AccountRecord,
    engagement: Engagement,
    seq: u64,
    used_months: &BTreeSet<String>,
) -> Result<(), StoreError> {
    for _ in 0..ENGAGEMENT_ATTEMPTS {
        let now = app.clock.now_ms();
        let mut after = account.clone();
        if account.derived_seq < seq {
            after.engagement = Some(engagement.clone());
            after.derived_seq = seq;
        }
        // Only the current and the previous month have lists: older months are dropped.
        let previous = Period::containing(PeriodKind::Reseller, calendar::stockholm_date(now))
            .previous()
            .id();
        after.usage_months.extend(used_months.iter().cloned());
        after.usage_months.retain(|month| *month >= previous);
        if after.derived_seq == account.derived_seq && after.usage_months == account.usage_months {
            return Ok(());
        }
        // The time of this attempt, not of the batch: after midnight, the new day's levels.
        let after = customers::with_indexed_fields(kind, after, now);
        match app.store.set_engagement(&account, &after).await? {
            WriteOutcome::Written => return Ok(()),
            WriteOutcome::Stale => {
                let Some(read) = app
                    .store
                    .account(&account.partnership_id, &account.account_id)
                    .await?
                else {
                    return Ok(());
                };
                account = read;
            }
        }
    }
    Err(StoreError::Contention {
        operation: "TransactWriteItems",
    })
}

/// Units per product and day of `period` (index 0 is its first day; 0 where nothing was
/// reported), counting only the days `counts` admits.
fn daily_units(
    period: Period,
    usage: &[UsageRecord],
    counts: impl Fn(NaiveDate) -> bool,
) -> BTreeMap<String, Vec<u64>> {
    let start = period.start();
    let days = period.days().count();
    let mut daily: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for record in usage.iter().filter(|r| period.contains(r.date)) {
        let index = usize::try_from(calendar::days_between(start, record.date)).unwrap_or(0);
        let series = daily
            .entry(record.product.clone())
            .or_insert_with(|| vec![0; days]);
        if let Some(slot) = series.get_mut(index) {
            *slot = if counts(record.date) { record.units } else { 0 };
        }
    }
    daily
}

/// The account's billable daily units per product over `period`: units of the days it
/// was `paying` (trial, demo, internal and archived days count 0).
pub fn mssp_company_usage(
    account: &AccountRecord,
    period: Period,
    usage: &[UsageRecord],
    seq: u64,
) -> MsspCompanyUsage {
    MsspCompanyUsage {
        account_id: account.account_id.clone(),
        name: account.name.clone(),
        daily_units: daily_units(period, usage, |day| account.paying_on(day)),
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

/// The account's daily units per product in the calendar `month`.
pub fn reseller_company_usage(
    account_id: &str,
    month: Period,
    usage: &[UsageRecord],
    seq: u64,
) -> ResellerCompanyUsage {
    ResellerCompanyUsage {
        account_id: account_id.to_owned(),
        daily_units: daily_units(month, usage, |_| true),
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

/// The account's engagement on `today` from its raw records (and the last activity days
/// already known, which never move back).
pub fn engagement(today: NaiveDate, raw: &RawRecords, previous: Option<&Engagement>) -> Engagement {
    let window_start = calendar::sub_days(today, ENGAGEMENT_DAYS - 1);
    let days: BTreeMap<NaiveDate, DayActivity> = raw
        .activity
        .iter()
        .filter(|r| r.date >= window_start && r.date <= today)
        .map(|r| (r.date, r.activity))
        .collect();
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
    Engagement {
        days,
        last_active,
        month: month.id(),
        month_units: daily_units(month, &raw.usage, |_| true),
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
