//! Engagement over the last 30 days and the churn-risk rules (documented in the README):
//!
//! | indicator | applies to | low | medium | high |
//! |---|---|---|---|---|
//! | `product_inactive`: no activity of a product it used | MSSP | > 7 days | > 14 days | > 30 days |
//! | `subscription_ending`: an active subscription not renewed | reseller | ≤ 6 months | ≤ 3 months | ≤ 1 month |
//! | `licence_use`: this month's peak / licences in force | all | 60–79 % | 80–100 % | > 100 % |
//! | `inactive_appliances`: on the latest day reported | all | | > 0 | |
//! | `failed_scans`: in the last 30 days | all | | > 0 | |
//!
//! The level is the highest severity present, `none` without indicators.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use shared::calendar::{self, Period, PeriodKind, days_between, format_date};
use shared::storage::records::{
    AccountRecord, AccountState, DayActivity, Engagement, PartnershipType, SubscriptionRecord,
};

/// Days of the engagement window, today included.
pub const WINDOW_DAYS: u64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Indicator {
    pub code: &'static str,
    pub severity: Severity,
    pub detail: String,
}

/// `none`, `low`, `medium` or `high`.
pub fn level(indicators: &[Indicator]) -> &'static str {
    match indicators.iter().map(|i| i.severity).max() {
        None => "none",
        Some(Severity::Low) => "low",
        Some(Severity::Medium) => "medium",
        Some(Severity::High) => "high",
    }
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
        let t = &mut window.totals;
        t.logins += day.logins;
        t.scans.sns += day.scans.sns;
        t.scans.was += day.scans.was;
        t.scans.cs += day.scans.cs;
        t.failed_scans += day.failed_scans;
        t.pat_assessments += day.pat_assessments;
        t.reports_created += day.reports_created;
        window.latest = Some((*date, *day));
    }
    window
}

/// Licences in force today per SKU (summed over active subscriptions).
pub fn licences_today(account: &AccountRecord, today: NaiveDate) -> BTreeMap<String, u64> {
    let mut licensed = BTreeMap::new();
    for sub in account
        .subscriptions
        .values()
        .filter(|s| s.active_on(today))
    {
        *licensed.entry(sub.sku.clone()).or_default() += sub.quantity;
    }
    licensed
}

/// This calendar month's peak daily units per product (none before this month's first record).
pub fn peaks_this_month(
    engagement: Option<&Engagement>,
    today: NaiveDate,
) -> BTreeMap<String, u64> {
    let month = Period::containing(PeriodKind::Reseller, today).id();
    engagement
        .filter(|e| e.month == month)
        .map(|e| e.month_peaks.clone())
        .unwrap_or_default()
}

fn product_inactivity(engagement: Option<&Engagement>, today: NaiveDate) -> Vec<Indicator> {
    let last_active = engagement.map(|e| &e.last_active);
    last_active
        .into_iter()
        .flatten()
        .filter_map(|(product, last)| {
            let idle = days_between(*last, today);
            let severity = match idle {
                d if d > 30 => Severity::High,
                d if d > 14 => Severity::Medium,
                d if d > 7 => Severity::Low,
                _ => return None,
            };
            Some(Indicator {
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

fn subscriptions_ending(account: &AccountRecord, today: NaiveDate) -> Vec<Indicator> {
    let all: Vec<&SubscriptionRecord> = account.subscriptions.values().collect();
    all.iter()
        .filter(|s| s.active_on(today) && !renewed(s, &all))
        .filter_map(|sub| {
            let severity = if sub.end_date <= calendar::add_months(today, 1) {
                Severity::High
            } else if sub.end_date <= calendar::add_months(today, 3) {
                Severity::Medium
            } else if sub.end_date <= calendar::add_months(today, 6) {
                Severity::Low
            } else {
                return None;
            };
            Some(Indicator {
                code: "subscription_ending",
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

fn licence_use(licensed: &BTreeMap<String, u64>, peaks: &BTreeMap<String, u64>) -> Vec<Indicator> {
    licensed
        .iter()
        .filter(|(_, quantity)| **quantity > 0)
        .filter_map(|(sku, quantity)| {
            let used = peaks.get(sku).copied().unwrap_or(0);
            // Compared in whole numbers: used/quantity against 60 %, 80 % and 100 %.
            let (used_pct, quantity) = (u128::from(used) * 100, u128::from(*quantity));
            let severity = if used_pct > quantity * 100 {
                Severity::High
            } else if used_pct >= quantity * 80 {
                Severity::Medium
            } else if used_pct >= quantity * 60 {
                Severity::Low
            } else {
                return None;
            };
            Some(Indicator {
                code: "licence_use",
                severity,
                detail: format!("{sku}: peak use this month {used} of {quantity} licences"),
            })
        })
        .collect()
}

/// Every indicator for `account` on `today` (none for an archived account: it has left).
pub fn indicators(
    kind: PartnershipType,
    account: &AccountRecord,
    today: NaiveDate,
) -> Vec<Indicator> {
    let engagement = account.engagement.as_ref();
    let mut found = Vec::new();
    if account.state == AccountState::Archived {
        return found;
    }
    match kind {
        PartnershipType::Mssp => found.extend(product_inactivity(engagement, today)),
        PartnershipType::Reseller => found.extend(subscriptions_ending(account, today)),
    }
    found.extend(licence_use(
        &licences_today(account, today),
        &peaks_this_month(engagement, today),
    ));
    let window = window(engagement, today);
    if let Some((date, latest)) = window.latest.filter(|(_, d)| d.inactive_appliances > 0) {
        found.push(Indicator {
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
        found.push(Indicator {
            code: "failed_scans",
            severity: Severity::Medium,
            detail: format!(
                "{} failed scans in the last {WINDOW_DAYS} days",
                window.totals.failed_scans
            ),
        });
    }
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
            subscriptions: BTreeMap::new(),
            usage_seq: 0,
            derived_seq: 0,
            engagement: Some(Engagement::default()),
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
        indicators(kind, account, date(today))
            .into_iter()
            .map(|i| (i.code, i.severity))
            .collect()
    }

    #[test]
    fn product_inactivity_thresholds_are_more_than_7_14_and_30_days() {
        let mut a = account();
        let today = "2026-11-22";
        for (last, expected) in [
            ("2026-11-15", None),                   // 7 days
            ("2026-11-14", Some(Severity::Low)),    // 8 days
            ("2026-11-08", Some(Severity::Low)),    // 14 days
            ("2026-11-07", Some(Severity::Medium)), // 15 days
            ("2026-10-23", Some(Severity::Medium)), // 30 days
            ("2026-10-22", Some(Severity::High)),   // 31 days
        ] {
            a.engagement.as_mut().unwrap().last_active =
                BTreeMap::from([("WAS".to_owned(), date(last))]);
            let found = severities(PartnershipType::Mssp, &a, today);
            assert_eq!(found.first().map(|f| f.1), expected, "last active {last}");
            assert!(
                severities(PartnershipType::Reseller, &a, today).is_empty(),
                "MSSP only"
            );
        }
    }

    #[test]
    fn an_unrenewed_subscription_ending_soon_is_a_risk() {
        let today = "2026-11-22";
        for (end, expected) in [
            ("2027-05-23", None),
            ("2027-05-22", Some(Severity::Low)),
            ("2027-02-23", Some(Severity::Low)),
            ("2027-02-22", Some(Severity::Medium)),
            ("2026-12-23", Some(Severity::Medium)),
            ("2026-12-22", Some(Severity::High)),
            ("2026-11-22", Some(Severity::High)),
        ] {
            let a = with_sub(account(), "s1", "SNS", 10, "2026-01-01", end);
            let found = severities(PartnershipType::Reseller, &a, today);
            assert_eq!(found.first().map(|f| f.1), expected, "ends {end}");
            assert!(
                severities(PartnershipType::Mssp, &a, today).is_empty(),
                "reseller only"
            );
        }
        // Renewed (the next one starts the day after): no risk; a gap: risk.
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
            [("subscription_ending", Severity::High)]
        );
    }

    #[test]
    fn licence_use_thresholds_are_60_80_and_100_percent() {
        let today = "2026-11-22";
        for (used, expected) in [
            (59, None),
            (60, Some(Severity::Low)),
            (79, Some(Severity::Low)),
            (80, Some(Severity::Medium)),
            (100, Some(Severity::Medium)),
            (101, Some(Severity::High)),
        ] {
            let mut a = with_sub(account(), "s1", "DA", 100, "2026-01-01", "2027-12-31");
            let e = a.engagement.as_mut().unwrap();
            e.month = "2026-11".into();
            e.month_peaks = BTreeMap::from([("DA".to_owned(), used)]);
            let found = severities(PartnershipType::Mssp, &a, today);
            assert_eq!(found.first().map(|f| f.1), expected, "used {used} of 100");
            // Last month's peaks say nothing about this month.
            a.engagement.as_mut().unwrap().month = "2026-10".into();
            assert!(severities(PartnershipType::Mssp, &a, today).is_empty());
        }
    }

    #[test]
    fn appliances_and_failed_scans_are_medium_and_the_level_is_the_highest() {
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
        let found = indicators(PartnershipType::Mssp, &a, date("2026-11-22"));
        assert_eq!(
            found.iter().map(|i| i.code).collect::<Vec<_>>(),
            ["failed_scans", "inactive_appliances"]
        );
        assert_eq!(level(&found), "medium");
        a.engagement.as_mut().unwrap().last_active =
            BTreeMap::from([("SNS".to_owned(), date("2026-10-01"))]);
        let found = indicators(PartnershipType::Mssp, &a, date("2026-11-22"));
        assert_eq!((level(&found), found[0].code), ("high", "product_inactive"));
        assert_eq!(level(&[]), "none");
        a.state = AccountState::Archived;
        assert!(
            indicators(PartnershipType::Mssp, &a, date("2026-11-22")).is_empty(),
            "archived: gone already"
        );
    }
}
