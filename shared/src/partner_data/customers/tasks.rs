//! Engagement over the last 30 days and the portal's tasks, in its three categories
//! (documented in the README, `openapi.yaml` and the docs page):
//!
//! | category | code | applies to | low | medium | high |
//! |---|---|---|---|---|---|
//! | `commercial` | `contract_renewal`: an active subscription not renewed ends | reseller | within 6 months | within 3 months | in less than 1 month |
//! | `product_usage` | `licence_use`: highest daily use / licences in force that day, this month | reseller | 60–79 % | 80–100 % | over 100 % |
//! | `product_usage` | `product_inactive`: a product used in the last 90 days, idle for | MSSP | > 7 days | > 14 days | > 30 days |
//! | `churn_risk` | `inactive_appliances`: on the latest day reported | all | | > 0 | |
//! | `churn_risk` | `failed_scans`: in the last 30 days | all | | > 0 | |
//!
//! Only `churn_risk` tasks make the churn-risk level (the highest severity, `none` without
//! any). Tasks apply to paying accounts only: trial, demo, internal and archived accounts
//! have none.

use std::collections::BTreeMap;

use crate::partner_data::calendar::{self, Period, PeriodKind, days_between, format_date};
use crate::partner_data::usage::{licensed_on, peak_utilisation, utilisation_percent};
use crate::storage::Level;
use crate::storage::records::{
    AccountRecord, AccountState, DayActivity, Engagement, PartnershipType, SubscriptionRecord,
};
use chrono::NaiveDate;
use serde::Serialize;

/// Days of the engagement window, today included.
pub const WINDOW_DAYS: u64 = 30;
/// A product counts as in use if it was used within this many days.
const PRODUCT_IN_USE_DAYS: i64 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub const fn level(self) -> Level {
        match self {
            Self::Low => Level::Low,
            Self::Medium => Level::Medium,
            Self::High => Level::High,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Commercial,
    ProductUsage,
    ChurnRisk,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    pub category: Category,
    pub code: &'static str,
    pub severity: Severity,
    pub detail: String,
}

/// The highest severity of `tasks` (`none` without any).
pub fn level<'a>(tasks: impl IntoIterator<Item = &'a Task>) -> Level {
    tasks
        .into_iter()
        .map(|t| t.severity)
        .max()
        .map_or(Level::None, Severity::level)
}

/// Activity sums over the window, and the latest reported day's scores.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub totals: DayActivity,
    /// The latest day with an activity record, and that record.
    pub latest: Option<(NaiveDate, DayActivity)>,
}

pub fn window(engagement: Option<&Engagement>, today: NaiveDate) -> Window {
    let start = calendar::sub_days(today, WINDOW_DAYS - 1);
    let mut window = Window {
        start,
        end: today,
        ..Window::default()
    };
    let days = engagement.map(|e| &e.days);
    for (date, day) in days.into_iter().flatten() {
        if *date < start || *date > today {
            continue;
        }
        // Counts are bounded at ingestion; saturating all the same, never wrapping.
        let t = &mut window.totals;
        t.logins = t.logins.saturating_add(day.logins);
        t.scans.sns = t.scans.sns.saturating_add(day.scans.sns);
        t.scans.was = t.scans.was.saturating_add(day.scans.was);
        t.scans.cs = t.scans.cs.saturating_add(day.scans.cs);
        t.failed_scans = t.failed_scans.saturating_add(day.failed_scans);
        t.pat_assessments = t.pat_assessments.saturating_add(day.pat_assessments);
        t.reports_created = t.reports_created.saturating_add(day.reports_created);
        window.latest = Some((*date, *day));
    }
    window
}

/// Licences in force today per SKU.
pub fn licences_today(account: &AccountRecord, today: NaiveDate) -> BTreeMap<String, u64> {
    let mut licensed = BTreeMap::new();
    for sub in account
        .subscriptions
        .values()
        .filter(|s| s.active_on(today))
    {
        let sum: &mut u64 = licensed.entry(sub.sku.clone()).or_default();
        *sum = sum.saturating_add(sub.quantity);
    }
    licensed
}

/// One product's use this month, day by day up to today.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonthUse {
    /// The highest daily units.
    pub peak_used: u64,
    /// The day of the highest `used / licensed in force that day`, with both numbers.
    pub peak_utilisation: Option<(NaiveDate, u64, u64)>,
}

/// `sku`'s use this calendar month (nothing before this month's first record).
pub fn month_use(account: &AccountRecord, sku: &str, today: NaiveDate) -> MonthUse {
    let month = Period::containing(PeriodKind::Reseller, today);
    let units = account
        .engagement
        .as_ref()
        .filter(|e| e.month == month.id())
        .and_then(|e| e.month_units.get(sku));
    let days: Vec<(NaiveDate, u64, u64)> = month
        .days()
        .take_while(|d| *d <= today)
        .enumerate()
        .map(|(index, day)| {
            let used = units.and_then(|u| u.get(index)).copied().unwrap_or(0);
            (
                day,
                used,
                licensed_on(account.subscriptions.values(), sku, day),
            )
        })
        .collect();
    MonthUse {
        peak_used: days.iter().map(|(_, used, _)| *used).max().unwrap_or(0),
        peak_utilisation: peak_utilisation(days),
    }
}

fn product_inactivity(engagement: Option<&Engagement>, today: NaiveDate) -> Vec<Task> {
    let last_active = engagement.map(|e| &e.last_active);
    last_active
        .into_iter()
        .flatten()
        .filter_map(|(product, last)| {
            let idle = days_between(*last, today);
            let severity = match idle {
                d if d > PRODUCT_IN_USE_DAYS => return None,
                d if d > 30 => Severity::High,
                d if d > 14 => Severity::Medium,
                d if d > 7 => Severity::Low,
                _ => return None,
            };
            Some(Task {
                category: Category::ProductUsage,
                code: "product_inactive",
                severity,
                detail: format!(
                    "no {product} activity for {idle} days (last on {})",
                    format_date(*last)
                ),
            })
        })
        .collect()
}

/// Is `sub` followed by another subscription of its SKU that starts by the day after it ends?
fn renewed(sub: &SubscriptionRecord, all: &[&SubscriptionRecord]) -> bool {
    let next_day = calendar::add_days(sub.end_date, 1);
    all.iter().any(|other| {
        other.subscription_id != sub.subscription_id
            && other.sku == sub.sku
            && other.end_date > sub.end_date
            && other.start_date <= next_day
    })
}

fn contract_renewals(account: &AccountRecord, today: NaiveDate) -> Vec<Task> {
    let all: Vec<&SubscriptionRecord> = account.subscriptions.values().collect();
    all.iter()
        .filter(|s| s.active_on(today) && !renewed(s, &all))
        .filter_map(|sub| {
            let severity = if sub.end_date < calendar::add_months(today, 1) {
                Severity::High
            } else if sub.end_date <= calendar::add_months(today, 3) {
                Severity::Medium
            } else if sub.end_date <= calendar::add_months(today, 6) {
                Severity::Low
            } else {
                return None;
            };
            Some(Task {
                category: Category::Commercial,
                code: "contract_renewal",
                severity,
                detail: format!(
                    "the {} subscription ends on {} (in {} days) and is not renewed",
                    sub.sku,
                    format_date(sub.end_date),
                    days_between(today, sub.end_date)
                ),
            })
        })
        .collect()
}

fn licence_use(account: &AccountRecord, today: NaiveDate) -> Vec<Task> {
    let skus: std::collections::BTreeSet<&str> = account
        .subscriptions
        .values()
        .map(|s| s.sku.as_str())
        .collect();
    skus.into_iter()
        .filter_map(|sku| {
            let (day, used, licensed) = month_use(account, sku, today).peak_utilisation?;
            // Compared in whole numbers: used/licensed against 60 %, 80 % and 100 %.
            let (used_pct, licensed) = (u128::from(used) * 100, u128::from(licensed));
            let severity = if used_pct > licensed * 100 {
                Severity::High
            } else if used_pct >= licensed * 80 {
                Severity::Medium
            } else if used_pct >= licensed * 60 {
                Severity::Low
            } else {
                return None;
            };
            let percent = utilisation_percent(used, u64::try_from(licensed).unwrap_or(u64::MAX));
            Some(Task {
                category: Category::ProductUsage,
                code: "licence_use",
                severity,
                detail: format!(
                    "{sku}: {used} used of {licensed} licences on {} ({}%)",
                    format_date(day),
                    percent.unwrap_or_default()
                ),
            })
        })
        .collect()
}

fn churn_risks(engagement: Option<&Engagement>, today: NaiveDate) -> Vec<Task> {
    let mut found = Vec::new();
    let window = window(engagement, today);
    if let Some((date, latest)) = window.latest.filter(|(_, d)| d.inactive_appliances > 0) {
        found.push(Task {
            category: Category::ChurnRisk,
            code: "inactive_appliances",
            severity: Severity::Medium,
            detail: format!(
                "{} scanner appliances inactive on {}",
                latest.inactive_appliances,
                format_date(date)
            ),
        });
    }
    if window.totals.failed_scans > 0 {
        found.push(Task {
            category: Category::ChurnRisk,
            code: "failed_scans",
            severity: Severity::Medium,
            detail: format!(
                "{} failed scans in the last {WINDOW_DAYS} days",
                window.totals.failed_scans
            ),
        });
    }
    found
}

/// Every task for `account` on `today`, most severe first (none unless it is paying).
pub fn tasks(kind: PartnershipType, account: &AccountRecord, today: NaiveDate) -> Vec<Task> {
    let mut found = Vec::new();
    if account.state != AccountState::Paying {
        return found;
    }
    let engagement = account.engagement.as_ref();
    match kind {
        PartnershipType::Mssp => found.extend(product_inactivity(engagement, today)),
        PartnershipType::Reseller => {
            found.extend(contract_renewals(account, today));
            found.extend(licence_use(account, today));
        }
    }
    found.extend(churn_risks(engagement, today));
    found.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.code.cmp(b.code)));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        calendar::parse_date(text, "date").unwrap()
    }

    fn account() -> AccountRecord {
        AccountRecord {
            account_id: "a".into(),
            org_id: "o".into(),
            partnership_id: "p".into(),
            created_at_ms: 0,
            name: "Acme".into(),
            state: AccountState::Paying,
            trial_ends_at: None,
            country: "SE".into(),
            updated_at_ms: 0,
            revision: 1,
            state_history: Vec::new(),
            subscriptions: BTreeMap::new(),
            derived_seq: 0,
            engagement: Some(Engagement::default()),
            levels: None,
            usage_months: Default::default(),
            month_lists: Default::default(),
        }
    }

    fn with_sub(
        mut account: AccountRecord,
        id: &str,
        sku: &str,
        quantity: u64,
        start: &str,
        end: &str,
    ) -> AccountRecord {
        account.subscriptions.insert(
            id.into(),
            SubscriptionRecord {
                subscription_id: id.into(),
                sku: sku.into(),
                quantity,
                start_date: date(start),
                end_date: date(end),
                evaluation: false,
                order_number: None,
                acv: None,
                created_at_ms: 0,
                updated_at_ms: 0,
            },
        );
        account
    }

    fn severities(
        kind: PartnershipType,
        account: &AccountRecord,
        today: &str,
    ) -> Vec<(&'static str, Severity)> {
        tasks(kind, account, date(today))
            .into_iter()
            .map(|t| (t.code, t.severity))
            .collect()
    }

    #[test]
    fn product_inactivity_thresholds_are_more_than_7_14_and_30_days_within_90() {
        let mut a = account();
        let today = "2026-11-22";
        for (last, expected) in [
            ("2026-11-15", None),                   // 7 days
            ("2026-11-14", Some(Severity::Low)),    // 8 days
            ("2026-11-08", Some(Severity::Low)),    // 14 days
            ("2026-11-07", Some(Severity::Medium)), // 15 days
            ("2026-10-23", Some(Severity::Medium)), // 30 days
            ("2026-10-22", Some(Severity::High)),   // 31 days
            ("2026-08-24", Some(Severity::High)),   // 90 days: still in use
            ("2026-08-23", None),                   // 91 days: no longer a product it uses
        ] {
            a.engagement.as_mut().unwrap().last_active =
                BTreeMap::from([("WAS".to_owned(), date(last))]);
            let found = tasks(PartnershipType::Mssp, &a, date(today));
            assert_eq!(
                found.first().map(|t| t.severity),
                expected,
                "last active {last}"
            );
            assert!(found.iter().all(|t| t.category == Category::ProductUsage));
            assert!(
                severities(PartnershipType::Reseller, &a, today).is_empty(),
                "MSSP only"
            );
        }
    }

    #[test]
    fn an_unrenewed_contract_ending_soon_is_a_commercial_task() {
        let today = "2026-11-22";
        for (end, expected) in [
            ("2027-05-23", None),
            ("2027-05-22", Some(Severity::Low)), // exactly six months
            ("2027-02-23", Some(Severity::Low)),
            ("2027-02-22", Some(Severity::Medium)), // exactly three months
            ("2026-12-23", Some(Severity::Medium)),
            ("2026-12-22", Some(Severity::Medium)), // exactly one month
            ("2026-12-21", Some(Severity::High)),   // less than one month
            ("2026-11-22", Some(Severity::High)),
        ] {
            let a = with_sub(account(), "s1", "SNS", 10, "2026-01-01", end);
            let found = tasks(PartnershipType::Reseller, &a, date(today));
            assert_eq!(found.first().map(|t| t.severity), expected, "ends {end}");
            assert!(found.iter().all(|t| t.category == Category::Commercial));
            assert!(
                severities(PartnershipType::Mssp, &a, today).is_empty(),
                "reseller only"
            );
        }
        // Renewed (the next one starts the day after): no task; a gap: a task.
        let a = with_sub(
            with_sub(account(), "s1", "SNS", 10, "2026-01-01", "2026-12-01"),
            "s2",
            "SNS",
            10,
            "2026-12-02",
            "2027-12-01",
        );
        assert!(severities(PartnershipType::Reseller, &a, today).is_empty());
        let a = with_sub(
            with_sub(account(), "s1", "SNS", 10, "2026-01-01", "2026-12-01"),
            "s2",
            "SNS",
            10,
            "2026-12-03",
            "2027-12-01",
        );
        assert_eq!(
            severities(PartnershipType::Reseller, &a, today),
            [("contract_renewal", Severity::High)]
        );
    }

    /// An account with 100 DA licences from the 1st to the 10th of November and 50 from
    /// the 11th on, and `units` of DA on each day of November so far.
    fn licensed_account(units: &[(u32, u64)]) -> AccountRecord {
        let mut a = with_sub(account(), "s1", "DA", 100, "2026-01-01", "2026-11-10");
        a = with_sub(a, "s2", "DA", 50, "2026-11-11", "2027-12-31");
        let mut daily = vec![0; 30];
        for (day, used) in units {
            daily[*day as usize - 1] = *used;
        }
        let e = a.engagement.as_mut().unwrap();
        e.month = "2026-11".into();
        e.month_units = BTreeMap::from([("DA".to_owned(), daily)]);
        a
    }

    #[test]
    fn licence_use_thresholds_are_60_80_and_100_percent_of_the_same_day() {
        let today = "2026-11-22";
        for (used, expected) in [
            (29, None),
            (30, Some(Severity::Low)),
            (39, Some(Severity::Low)),
            (40, Some(Severity::Medium)),
            (50, Some(Severity::Medium)),
            (51, Some(Severity::High)),
        ] {
            // On the 20th, 50 licences are in force.
            let a = licensed_account(&[(20, used)]);
            let found = severities(PartnershipType::Reseller, &a, today);
            assert_eq!(
                found.iter().find(|f| f.0 == "licence_use").map(|f| f.1),
                expected,
                "used {used} of 50"
            );
        }
        // 70 used on the 5th is 70 % of that day's 100 licences, not 140 % of today's 50.
        let a = licensed_account(&[(5, 70)]);
        assert_eq!(
            severities(PartnershipType::Reseller, &a, today),
            [("licence_use", Severity::Low)]
        );
        let found = tasks(PartnershipType::Reseller, &a, date(today));
        assert!(
            found[0]
                .detail
                .contains("70 used of 100 licences on 2026-11-05"),
            "{}",
            found[0].detail
        );
        // Last month's figures say nothing about this month.
        let mut a = licensed_account(&[(20, 51)]);
        a.engagement.as_mut().unwrap().month = "2026-10".into();
        assert!(severities(PartnershipType::Reseller, &a, today).is_empty());
        assert!(
            severities(PartnershipType::Mssp, &licensed_account(&[(20, 51)]), today).is_empty()
        );
    }

    #[test]
    fn appliances_and_failed_scans_are_churn_risks_and_the_level_is_the_highest() {
        let mut a = account();
        let e = a.engagement.as_mut().unwrap();
        let day = |failed, inactive| DayActivity {
            failed_scans: failed,
            inactive_appliances: inactive,
            ..DayActivity::default()
        };
        e.days = BTreeMap::from([
            (date("2026-10-23"), day(5, 3)), // outside the window
            (date("2026-11-01"), day(0, 2)),
            (date("2026-11-20"), day(0, 0)),
        ]);
        assert!(
            severities(PartnershipType::Mssp, &a, "2026-11-22").is_empty(),
            "the latest day has no inactive appliances"
        );
        a.engagement
            .as_mut()
            .unwrap()
            .days
            .insert(date("2026-11-21"), day(2, 1));
        let found = tasks(PartnershipType::Mssp, &a, date("2026-11-22"));
        assert_eq!(
            found.iter().map(|t| t.code).collect::<Vec<_>>(),
            ["failed_scans", "inactive_appliances"]
        );
        assert!(found.iter().all(|t| t.category == Category::ChurnRisk));
        assert_eq!(level(&found), Level::Medium);
        // A high product-usage task is a task, not churn risk.
        a.engagement.as_mut().unwrap().last_active =
            BTreeMap::from([("SNS".to_owned(), date("2026-10-01"))]);
        let found = tasks(PartnershipType::Mssp, &a, date("2026-11-22"));
        assert_eq!(
            (level(&found), found[0].code),
            (Level::High, "product_inactive")
        );
        let churn = found.iter().filter(|t| t.category == Category::ChurnRisk);
        assert_eq!(level(churn), Level::Medium);
        assert_eq!(level(std::iter::empty()), Level::None);
        for state in [
            AccountState::Trial,
            AccountState::Demo,
            AccountState::Internal,
            AccountState::Archived,
        ] {
            a.state = state;
            assert!(
                tasks(PartnershipType::Mssp, &a, date("2026-11-22")).is_empty(),
                "{state:?}: tasks are for paying accounts"
            );
        }
    }

    #[test]
    fn window_sums_saturate_instead_of_wrapping() {
        let mut a = account();
        let big = DayActivity {
            logins: u64::MAX - 1,
            ..DayActivity::default()
        };
        a.engagement.as_mut().unwrap().days =
            BTreeMap::from([(date("2026-11-20"), big), (date("2026-11-21"), big)]);
        let w = window(a.engagement.as_ref(), date("2026-11-22"));
        assert_eq!(w.totals.logins, u64::MAX);
    }
}
