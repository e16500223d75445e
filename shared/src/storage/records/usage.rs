//! The platform's usage and activity, the report rows and totals built from them, and
//! minimum commitments.

use serde::{Deserialize, Serialize};

use crate::platform::clock::EpochMillis;

use super::partners::{AccountRecord, AccountState, SubscriptionRecord};

/// One day of an account's activity on the security platform. Stored packed as one string
/// of ten numbers (`"3,2,0,1,0,0,1,45,12,0"`, in field order): an account keeps a month of
/// these, and a partnership's accounts are read by one Query, so every byte counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct DayActivity {
    pub logins: u64,
    pub scans: ScanCounts,
    pub failed_scans: u64,
    pub pat_assessments: u64,
    pub reports_created: u64,
    pub risk_score: u32,
    pub threat_score: u32,
    pub inactive_appliances: u64,
}

impl From<DayActivity> for String {
    fn from(day: DayActivity) -> Self {
        [
            day.logins,
            day.scans.sns,
            day.scans.was,
            day.scans.cs,
            day.failed_scans,
            day.pat_assessments,
            day.reports_created,
            u64::from(day.risk_score),
            u64::from(day.threat_score),
            day.inactive_appliances,
        ]
        .map(|n| n.to_string())
        .join(",")
    }
}

impl TryFrom<String> for DayActivity {
    type Error = String;

    fn try_from(packed: String) -> Result<Self, Self::Error> {
        let numbers: Vec<u64> = packed
            .split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("packed day activity `{packed}`: {e}"))?;
        let [
            logins,
            sns,
            was,
            cs,
            failed_scans,
            pat_assessments,
            reports_created,
            risk,
            threat,
            inactive_appliances,
        ] = numbers[..]
        else {
            return Err(format!("packed day activity `{packed}` needs 10 numbers"));
        };
        let score = |n: u64| u32::try_from(n).map_err(|e| e.to_string());
        Ok(Self {
            logins,
            scans: ScanCounts { sns, was, cs },
            failed_scans,
            pat_assessments,
            reports_created,
            risk_score: score(risk)?,
            threat_score: score(threat)?,
            inactive_appliances,
        })
    }
}

/// Scans of the scanning products.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanCounts {
    #[serde(rename = "SNS")]
    pub sns: u64,
    #[serde(rename = "WAS")]
    pub was: u64,
    #[serde(rename = "CS")]
    pub cs: u64,
}

/// A raw daily usage record as the platform sent it; a re-sent one replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub account_id: String,
    pub product: String,
    pub date: chrono::NaiveDate,
    pub units: u64,
    /// When the platform measured it: a stored record is replaced only by a newer one.
    pub observed_at_ms: EpochMillis,
    pub received_at_ms: EpochMillis,
    pub ttl_epoch_seconds: i64,
}

/// A raw daily activity record as the platform sent it; a re-sent one replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRecord {
    pub account_id: String,
    pub date: chrono::NaiveDate,
    pub activity: DayActivity,
    /// When the platform measured it: a stored record is replaced only by a newer one.
    pub observed_at_ms: EpochMillis,
    pub received_at_ms: EpochMillis,
    pub ttl_epoch_seconds: i64,
}

/// What the customers view needs, derived from an account's raw records at ingestion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engagement {
    /// Activity of the last days (only days with records), enough for a 30-day window.
    pub days: std::collections::BTreeMap<chrono::NaiveDate, DayActivity>,
    /// Per product, the last day it was used (scans, assessments; DA: reporting computers).
    pub last_active: std::collections::BTreeMap<String, chrono::NaiveDate>,
    /// The calendar month (`YYYY-MM`) of `month_units`.
    pub month: String,
    /// Per product, the units of each day of `month` (index 0 is the 1st), so licence use is
    /// compared with the licences in force on the same day.
    #[serde(default, with = "packed_days")]
    pub month_units: std::collections::BTreeMap<String, Vec<u64>>,
}

/// Daily series stored packed, one string per product (`"3,,12"`: the numbers in day order,
/// an empty field for 0): a partnership's report rows are read by one Query, and a DynamoDB
/// list spends several bytes on every number.
mod packed_days {
    use std::collections::BTreeMap;

    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        series: &BTreeMap<String, Vec<u64>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let packed: BTreeMap<&str, String> = series
            .iter()
            .map(|(product, days)| {
                let fields: Vec<String> = days
                    .iter()
                    .map(|n| {
                        if *n == 0 {
                            String::new()
                        } else {
                            n.to_string()
                        }
                    })
                    .collect();
                (product.as_str(), fields.join(","))
            })
            .collect();
        packed.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, Vec<u64>>, D::Error> {
        let packed = BTreeMap::<String, String>::deserialize(deserializer)?;
        packed
            .into_iter()
            .map(|(product, text)| {
                let days = text
                    .split(',')
                    .map(|field| {
                        if field.is_empty() {
                            Ok(0)
                        } else {
                            field.parse().map_err(D::Error::custom)
                        }
                    })
                    .collect::<Result<Vec<u64>, _>>()?;
                Ok((product, days))
            })
            .collect()
    }
}

/// One account's billable daily units per product over one MSSP period: index 0 is the
/// period's first day, and a day the account was not `paying` counts 0. Recomputed from the
/// raw records and the state history while the period is not closed; frozen after.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsspCompanyUsage {
    pub account_id: String,
    /// The account's name when the item was last computed (kept after the account is deleted).
    pub name: String,
    #[serde(with = "packed_days")]
    pub daily_units: std::collections::BTreeMap<String, Vec<u64>>,
    /// The row's revision: every write adds 1 and is conditioned on the one it read.
    pub seq: u64,
    pub ttl_epoch_seconds: i64,
}

impl MsspCompanyUsage {
    /// Its units of `product` on day `day` of the period (0: the first day).
    pub fn units_on(&self, product: &str, day: usize) -> u64 {
        self.daily_units
            .get(product)
            .and_then(|series| series.get(day))
            .copied()
            .unwrap_or(0)
    }
}

/// A product's highest daily units and the first day it was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peak {
    pub units: u64,
    pub date: chrono::NaiveDate,
}

/// One account's daily units per product in one calendar month (reseller reports): index 0
/// is the 1st, so use is compared with the licences in force on the same day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResellerCompanyUsage {
    pub account_id: String,
    #[serde(with = "packed_days")]
    pub daily_units: std::collections::BTreeMap<String, Vec<u64>>,
    /// The row's revision (as [`MsspCompanyUsage::seq`]).
    pub seq: u64,
    pub ttl_epoch_seconds: i64,
}

/// The ledger page of one report period: what arrived after it closed. Stored beside the
/// period's company rows (its sort key sorts first), so the report reads both in one Query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodLedger {
    /// Platform records for its days, and state changes back-dated into it, that arrived
    /// after it closed: stored, but not applied to its figures.
    #[serde(default)]
    pub late_records: u64,
    /// MSSP periods: row writes counted into the daily totals kept on this item
    /// (`storage::period_totals`), so a rebuild knows whether one came in between.
    #[serde(default)]
    pub totals_revision: u64,
    /// MSSP periods: the totals were built from the rows, and every row write since added to
    /// them (before, they are rebuilt on first read).
    #[serde(default)]
    pub totals_complete: bool,
    /// MSSP periods: the company-day items (the companies with units on each day of each
    /// product, behind the peak-date lists) were built with the totals; a period whose
    /// totals were built before they were kept is built again on first read.
    #[serde(default)]
    pub company_days_complete: bool,
}

/// An account's subscriptions of one calendar month as they stood when the month closed,
/// taken by the first change that reaches the closed month (or the account's deletion): the
/// reseller report of a closed month reads these, so a late change never moves its figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResellerSnapshot {
    pub account_id: String,
    pub name: String,
    pub state: AccountState,
    pub subscriptions: Vec<SubscriptionRecord>,
}

impl ResellerSnapshot {
    /// An account as it stands now (every subscription).
    pub fn live(account: AccountRecord) -> Self {
        Self {
            account_id: account.account_id,
            name: account.name,
            state: account.state,
            subscriptions: account.subscriptions.into_values().collect(),
        }
    }

    /// Its subscriptions overlapping `month`, by start date.
    pub fn overlapping(
        &self,
        month: crate::partner_data::calendar::Period,
    ) -> Vec<&SubscriptionRecord> {
        let mut subs: Vec<&SubscriptionRecord> = self
            .subscriptions
            .iter()
            .filter(|s| s.overlaps(month))
            .collect();
        subs.sort_by(|a, b| {
            (a.start_date, &a.subscription_id).cmp(&(b.start_date, &b.subscription_id))
        });
        subs
    }
}

/// A minimum commitment in force from `start_date` (to `end_date`, when it has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    pub units: u64,
    pub start_date: chrono::NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<chrono::NaiveDate>,
}

impl Commitment {
    pub fn in_force_on(&self, day: chrono::NaiveDate) -> bool {
        self.start_date <= day && self.end_date.is_none_or(|end| day <= end)
    }
}

/// A partnership's minimum commitments per product code, each a history of terms, changed
/// only by the operator (`portalctl set-commitment`) and read fresh by every MSSP report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitments {
    pub partnership_id: String,
    /// Bumped by every change (changes are conditioned on the revision read).
    #[serde(default)]
    pub revision: u64,
    #[serde(default)]
    pub products: std::collections::BTreeMap<String, Vec<Commitment>>,
}

impl Commitments {
    /// A partnership's commitments when none was ever set.
    pub fn none(partnership_id: &str) -> Self {
        Self {
            partnership_id: partnership_id.to_owned(),
            ..Self::default()
        }
    }

    /// The commitment of `product` for a period starting on `start`: the one in force on
    /// that first day (a period that starts before a commitment's start has none).
    pub fn for_period(&self, product: &str, start: chrono::NaiveDate) -> Option<u64> {
        self.products
            .get(product)?
            .iter()
            .find(|c| c.in_force_on(start))
            .map(|c| c.units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_series_pack_into_one_string_per_product_and_back() {
        let usage = MsspCompanyUsage {
            account_id: "a".into(),
            name: "Acme".into(),
            daily_units: [
                ("SNS".to_owned(), vec![3, 0, 12, 0]),
                ("DA".to_owned(), vec![0, 0]),
            ]
            .into(),
            seq: 1,
            ttl_epoch_seconds: 0,
        };
        let item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
            serde_dynamo::to_item(&usage).unwrap();
        let packed = item["daily_units"].as_m().unwrap();
        assert_eq!(packed["SNS"].as_s().unwrap(), "3,,12,");
        assert_eq!(packed["DA"].as_s().unwrap(), ",");
        let back: MsspCompanyUsage = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back, usage);
    }

    #[test]
    fn day_activity_packs_into_one_string_and_back() {
        let day = DayActivity {
            logins: 3,
            scans: ScanCounts {
                sns: 2,
                was: 0,
                cs: 1,
            },
            failed_scans: 0,
            pat_assessments: 0,
            reports_created: 1,
            risk_score: 45,
            threat_score: 12,
            inactive_appliances: 7,
        };
        let packed = String::from(day);
        assert_eq!(packed, "3,2,0,1,0,0,1,45,12,7");
        assert_eq!(DayActivity::try_from(packed), Ok(day));
        assert!(DayActivity::try_from("1,2".to_owned()).is_err());
        assert!(DayActivity::try_from("1,2,3,4,5,6,7,8,x,9".to_owned()).is_err());
    }
}
