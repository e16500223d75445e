//! Usage ingestion: the security platform's daily usage and activity records, validated,
//! stored raw (a re-sent record replaces the earlier one) and turned into what the reports
//! and the customers view read, so that no report ever reads raw data:
//!
//! - per account and MSSP period: daily units per product (`MsspCompanyUsage`);
//! - per account and calendar month: peak units per product (`ResellerCompanyUsage`);
//! - on the account: the last days of activity, last activity per product and this month's
//!   peaks (`Engagement`).
//!
//! Each account's derived items are recomputed from its raw records after every change,
//! under a sequence number taken after the raw write, and written only over older results.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

use crate::App;
use crate::calendar::{self, Period, PeriodKind};
use crate::catalogue;
use crate::clock::EpochMillis;
use crate::storage::RawRecords;
use crate::storage::records::{
    AccountRecord, AccountState, ActivityRecord, DayActivity, Engagement, MsspCompanyUsage, Peak,
    ResellerCompanyUsage, UsageRecord,
};

/// Days of activity kept on the account: the 30-day window plus one day of slack.
pub const ENGAGEMENT_DAYS: u64 = 31;
/// Raw and report items outlive the report history by a month, then TTL collects them.
const RETENTION_DAYS: i64 = 31 * (calendar::REPORT_HISTORY_PERIODS as i64 + 1);
const MAX_UNITS: u64 = 1_000_000_000;
const MAX_SCORE: u32 = 100;

/// The platform's daily usage record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageInput {
    account_id: String,
    product: String,
    date: String,
    units: u64,
}

/// The platform's daily activity record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivityInput {
    account_id: String,
    date: String,
    logins: u64,
    scans: crate::storage::records::ScanCounts,
    failed_scans: u64,
    pat_assessments: u64,
    reports_created: u64,
    risk_score: u32,
    threat_score: u32,
    inactive_appliances: u64,
}

/// A validated platform record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformRecord {
    Usage {
        account_id: String,
        product: String,
        date: NaiveDate,
        units: u64,
    },
    Activity {
        account_id: String,
        date: NaiveDate,
        activity: DayActivity,
    },
}

impl PlatformRecord {
    pub fn account_id(&self) -> &str {
        match self {
            Self::Usage { account_id, .. } | Self::Activity { account_id, .. } => account_id,
        }
    }

    pub fn date(&self) -> NaiveDate {
        match self {
            Self::Usage { date, .. } | Self::Activity { date, .. } => *date,
        }
    }
}

/// The oldest day any report still shows.
pub fn oldest_reported_day(today: NaiveDate) -> NaiveDate {
    [PeriodKind::Mssp, PeriodKind::Reseller]
        .into_iter()
        .filter_map(|kind| Period::history(kind, today).last().map(|p| p.start()))
        .min()
        .unwrap_or(today)
}

/// Parses and checks one record (a JSON object: usage when it has `product`, else
/// activity). The error says what is wrong, for the log; records carry no secrets.
pub fn parse_record(body: &str, today: NaiveDate) -> Result<PlatformRecord, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let is_usage = value.get("product").is_some();
    let record = if is_usage {
        let input: UsageInput =
            serde_json::from_value(value).map_err(|e| format!("usage record: {e}"))?;
        if catalogue::product(&input.product).is_none() {
            return Err(format!(
                "product `{}` is not one of {}",
                input.product,
                catalogue::product_codes()
            ));
        }
        if input.units > MAX_UNITS {
            return Err(format!("units must be at most {MAX_UNITS}"));
        }
        PlatformRecord::Usage {
            date: record_date(&input.date, today)?,
            account_id: input.account_id,
            product: input.product,
            units: input.units,
        }
    } else {
        let input: ActivityInput =
            serde_json::from_value(value).map_err(|e| format!("activity record: {e}"))?;
        if input.risk_score > MAX_SCORE || input.threat_score > MAX_SCORE {
            return Err(format!(
                "risk_score and threat_score must be 0 to {MAX_SCORE}"
            ));
        }
        PlatformRecord::Activity {
            date: record_date(&input.date, today)?,
            account_id: input.account_id,
            activity: DayActivity {
                logins: input.logins,
                scans: input.scans,
                failed_scans: input.failed_scans,
                pat_assessments: input.pat_assessments,
                reports_created: input.reports_created,
                risk_score: input.risk_score,
                threat_score: input.threat_score,
                inactive_appliances: input.inactive_appliances,
            },
        }
    };
    if crate::request::object_id(record.account_id()).is_err() {
        return Err("account_id must be an account's id (a UUID)".into());
    }
    Ok(record)
}

fn record_date(text: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let date = calendar::parse_date(text, "date").map_err(|e| e.detail())?;
    if date > today {
        return Err(format!("date {date} is after today ({today}, Stockholm)"));
    }
    let oldest = oldest_reported_day(today);
    if date < oldest {
        return Err(format!(
            "date {date} is before {oldest}, the oldest day the reports keep"
        ));
    }
    Ok(date)
}

/// One message of a batch: its id (to report it as failed) and its parsed record.
pub struct Message {
    pub id: String,
    pub body: String,
}

/// Ingests a batch; returns the ids of the messages that failed (invalid, unknown account,
/// or a storage error), which the queue redelivers and finally dead-letters.
pub async fn ingest(app: &App, messages: &[Message]) -> Vec<String> {
    let now = app.clock.now_ms();
    let today = calendar::stockholm_date(now);
    let mut failed = Vec::new();
    let mut parsed = Vec::new();
    for message in messages {
        match parse_record(&message.body, today) {
            Ok(record) => parsed.push((message.id.as_str(), record)),
            Err(reason) => {
                tracing::warn!(message_id = %message.id, %reason, "invalid usage record");
                failed.push(message.id.clone());
            }
        }
    }
    let account_ids: Vec<String> = parsed
        .iter()
        .map(|(_, r)| r.account_id().to_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let pointers = match app.store.account_refs(&account_ids).await {
        Ok(pointers) => pointers,
        Err(err) => {
            tracing::error!(error = %err, "cannot resolve the batch's accounts");
            failed.extend(parsed.iter().map(|(id, _)| (*id).to_owned()));
            return failed;
        }
    };
    let mut by_account: BTreeMap<&str, Vec<(&str, PlatformRecord)>> = BTreeMap::new();
    for (id, record) in parsed {
        match pointers.get(record.account_id()) {
            Some(pointer) => by_account
                .entry(pointer.account_id.as_str())
                .or_default()
                .push((id, record)),
            None => {
                tracing::warn!(message_id = %id, account_id = record.account_id(), "usage record for an unknown account");
                failed.push(id.to_owned());
            }
        }
    }
    for (account_id, records) in by_account {
        let Some(pointer) = pointers.get(account_id) else {
            continue;
        };
        let ids = records.iter().map(|(id, _)| (*id).to_owned());
        let records: Vec<PlatformRecord> = records.iter().map(|(_, r)| r.clone()).collect();
        if let Err(reason) = ingest_account(
            app,
            &pointer.partnership_id,
            account_id,
            &records,
            now,
            today,
        )
        .await
        {
            tracing::error!(account_id, %reason, "usage records not ingested; the queue will retry");
            failed.extend(ids);
        }
    }
    failed
}

fn raw(records: &[PlatformRecord], now: EpochMillis) -> RawRecords {
    let mut raw = RawRecords::default();
    for record in records {
        let ttl_epoch_seconds = ttl_after(record.date());
        match record {
            PlatformRecord::Usage {
                account_id,
                product,
                date,
                units,
            } => raw.usage.push(UsageRecord {
                account_id: account_id.clone(),
                product: product.clone(),
                date: *date,
                units: *units,
                received_at_ms: now,
                ttl_epoch_seconds,
            }),
            PlatformRecord::Activity {
                account_id,
                date,
                activity,
            } => raw.activity.push(ActivityRecord {
                account_id: account_id.clone(),
                date: *date,
                activity: *activity,
                received_at_ms: now,
                ttl_epoch_seconds,
            }),
        }
    }
    raw
}

/// When an item about `date` may be collected.
fn ttl_after(date: NaiveDate) -> i64 {
    let end = calendar::add_days(date, u64::try_from(RETENTION_DAYS).unwrap_or(0));
    end.and_hms_opt(0, 0, 0)
        .map(|at| at.and_utc().timestamp())
        .unwrap_or(i64::MAX)
}

async fn ingest_account(
    app: &App,
    partnership_id: &str,
    account_id: &str,
    records: &[PlatformRecord],
    now: EpochMillis,
    today: NaiveDate,
) -> Result<(), String> {
    let store = &app.store;
    store
        .put_raw_records(partnership_id, &raw(records, now))
        .await
        .map_err(|e| e.to_string())?;
    let Some(account) = store
        .next_usage_seq(partnership_id, account_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Err("the account was deleted".into());
    };
    let mssp_periods: BTreeSet<Period> = records
        .iter()
        .map(|r| Period::containing(PeriodKind::Mssp, r.date()))
        .collect();
    let months: BTreeSet<Period> = records
        .iter()
        .map(|r| Period::containing(PeriodKind::Reseller, r.date()))
        .collect();
    let window_start = calendar::sub_days(today, ENGAGEMENT_DAYS);
    let from = mssp_periods
        .iter()
        .chain(&months)
        .map(|p| p.start())
        .chain([window_start])
        .min()
        .unwrap_or(window_start);
    let stored = store
        .raw_records(partnership_id, account_id, from, today)
        .await
        .map_err(|e| e.to_string())?;
    let seq = account.usage_seq;
    for period in mssp_periods {
        let usage = mssp_company_usage(&account, period, &stored.usage, seq);
        store
            .put_mssp_usage(partnership_id, &period.id(), &usage)
            .await
            .map_err(|e| e.to_string())?;
    }
    for month in months {
        let usage = reseller_company_usage(account_id, month, &stored.usage, seq);
        store
            .put_reseller_usage(partnership_id, &month.id(), &usage)
            .await
            .map_err(|e| e.to_string())?;
    }
    let engagement = engagement(today, &stored, account.engagement.as_ref());
    store
        .set_engagement(partnership_id, account_id, &engagement, seq)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The account's daily units per product over `period` (zero where nothing was reported).
pub fn mssp_company_usage(
    account: &AccountRecord,
    period: Period,
    usage: &[UsageRecord],
    seq: u64,
) -> MsspCompanyUsage {
    let start = period.start();
    let days = period.days().count();
    let mut daily_units: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for record in usage.iter().filter(|r| period.contains(r.date)) {
        let index = usize::try_from(calendar::days_between(start, record.date)).unwrap_or(0);
        let series = daily_units
            .entry(record.product.clone())
            .or_insert_with(|| vec![0; days]);
        if let Some(slot) = series.get_mut(index) {
            *slot = record.units;
        }
    }
    MsspCompanyUsage {
        account_id: account.account_id.clone(),
        name: account.name.clone(),
        paying: account.state == AccountState::Paying,
        daily_units,
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

/// The account's peak units per product in the calendar `month`.
pub fn reseller_company_usage(
    account_id: &str,
    month: Period,
    usage: &[UsageRecord],
    seq: u64,
) -> ResellerCompanyUsage {
    let mut by_product: BTreeMap<&str, Vec<(NaiveDate, u64)>> = BTreeMap::new();
    for record in usage.iter().filter(|r| month.contains(r.date)) {
        by_product
            .entry(&record.product)
            .or_default()
            .push((record.date, record.units));
    }
    let peaks = by_product
        .into_iter()
        .filter_map(|(product, mut days)| {
            days.sort_unstable();
            peak_of(days.into_iter()).map(|peak| (product.to_owned(), peak))
        })
        .collect();
    ResellerCompanyUsage {
        account_id: account_id.to_owned(),
        peaks,
        seq,
        ttl_epoch_seconds: ttl_after(month.end()),
    }
}

/// Peak used as a percentage of licensed, to one decimal; none without licences.
pub fn utilisation_percent(peak_used: u64, licensed: u64) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    let percent = (licensed > 0).then(|| peak_used as f64 * 100.0 / licensed as f64)?;
    Some((percent * 10.0).round() / 10.0)
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
    let month_peaks = reseller_company_usage("", month, &raw.usage, 0)
        .peaks
        .into_iter()
        .map(|(product, peak)| (product, peak.units))
        .collect();
    Engagement {
        days,
        last_active,
        month: month.id(),
        month_peaks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        calendar::parse_date(text, "date").unwrap()
    }

    const ACCOUNT: &str = "0b7f9a3e-4c1d-4e8a-9f2b-6d5c4b3a2918";

    #[test]
    fn records_are_told_apart_and_checked() {
        let today = date("2026-11-22");
        let usage = format!(
            r#"{{"account_id":"{ACCOUNT}","product":"SNS","date":"2026-11-21","units":14}}"#
        );
        assert_eq!(
            parse_record(&usage, today).unwrap(),
            PlatformRecord::Usage {
                account_id: ACCOUNT.into(),
                product: "SNS".into(),
                date: date("2026-11-21"),
                units: 14
            }
        );
        let activity = format!(
            r#"{{"account_id":"{ACCOUNT}","date":"2026-11-22","logins":3,"scans":{{"SNS":2,"WAS":0,"CS":1}},"failed_scans":0,"pat_assessments":1,"reports_created":0,"risk_score":40,"threat_score":12,"inactive_appliances":0}}"#
        );
        assert!(matches!(
            parse_record(&activity, today),
            Ok(PlatformRecord::Activity { .. })
        ));
        let bad = [
            (usage.replace("SNS", "XYZ"), "not one of"),
            (usage.replace("2026-11-21", "2026-11-23"), "after today"),
            (usage.replace("2026-11-21", "2024-01-01"), "oldest day"),
            (usage.replace("14", "-1"), "invalid value"),
            (usage.replace(ACCOUNT, "acme"), "UUID"),
            (usage.replace("\"units\"", "\"unit\""), "unknown field"),
            (activity.replace("\"CS\":1", "\"DA\":1"), "unknown field"),
            (activity.replace("40", "101"), "0 to 100"),
            (
                activity.replace(",\"logins\":3", ""),
                "missing field `logins`",
            ),
            ("[1]".to_owned(), "activity record"),
            ("{".to_owned(), "not JSON"),
        ];
        for (body, reason) in bad {
            let err = parse_record(&body, today).unwrap_err();
            assert!(err.contains(reason), "{body}: {err}");
        }
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
