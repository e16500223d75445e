//! Usage ingestion: the security platform's daily usage and activity records, validated,
//! stored raw (a record replaces the stored one only if the platform observed it later) and
//! turned into what the reports and the customers view read, so no report reads raw data:
//!
//! - per account and MSSP period: billable daily units per product — a day counts only if
//!   the account was `paying` on it, from its state history (`MsspCompanyUsage`);
//! - per account and calendar month: daily units per product (`ResellerCompanyUsage`);
//! - on the account: the last days of activity, last activity per product and this month's
//!   daily units (`Engagement`).
//!
//! An account's derived items are derived anew after every change of its raw records (the
//! cells of the batch's days, onto the stored items) or of its state history (its MSSP rows
//! whole), each replaced only if still as read. A closed period is a ledger page: its items are never
//! recomputed again; records and state changes that reach it late are stored and counted in
//! its `late_records`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::Value;

mod derive;
mod effects;

pub use derive::ttl_after;
pub use derive::{
    apply_days, engagement, licensed_on, mssp_company_usage, peak_of, peak_utilisation, recompute,
    reseller_company_usage, utilisation_percent,
};
pub use effects::{AccountChangeEffect, account_change_effect, account_deletion_effect};

use crate::App;
use crate::partner_data::calendar::{self, Period, PeriodKind, PeriodStatus};
use crate::partner_data::catalogue;
use crate::platform::clock::EpochMillis;
use crate::storage::records::{
    AccountRef, ActivityRecord, DayActivity, PartnershipType, UsageRecord,
};
use crate::storage::{RawRecords, StoreError};

/// Days of activity kept on the account: the 30-day window plus one day of slack.
pub const ENGAGEMENT_DAYS: u64 = 31;
/// Raw and report items outlive the report history by a month, then TTL collects them.
pub(super) const RETENTION_DAYS: i64 = 31 * (calendar::REPORT_HISTORY_PERIODS as i64 + 1);
/// Bounds of a record's numbers: far above any real figure, low enough that no sum over
/// the reports' days and accounts can overflow.
pub const MAX_UNITS: u64 = 1_000_000_000;
pub const MAX_COUNT: u64 = 1_000_000;
const MAX_SCORE: u32 = 100;
/// Accounts of one batch ingested at once.
const CONCURRENT_ACCOUNTS: usize = 4;
/// How far ahead of our clock a platform clock may be before `observed_at` is refused.
const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// The platform's daily usage record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageInput {
    account_id: String,
    product: String,
    date: String,
    units: u64,
    observed_at: String,
}

/// The platform's daily activity record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivityInput {
    account_id: String,
    date: String,
    observed_at: String,
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
        observed_at_ms: EpochMillis,
    },
    Activity {
        account_id: String,
        date: NaiveDate,
        activity: DayActivity,
        observed_at_ms: EpochMillis,
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
/// activity) received at `now`. The error says what is wrong, for the log; records carry
/// no secrets.
pub fn parse_record(body: &str, now: EpochMillis) -> Result<PlatformRecord, String> {
    let today = calendar::stockholm_date(now);
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
        let date = record_date(&input.date, today)?;
        PlatformRecord::Usage {
            observed_at_ms: observed_at(&input.observed_at, date, now)?,
            date,
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
        let counts = [
            input.logins,
            input.scans.sns,
            input.scans.was,
            input.scans.cs,
            input.failed_scans,
            input.pat_assessments,
            input.reports_created,
            input.inactive_appliances,
        ];
        if counts.iter().any(|count| *count > MAX_COUNT) {
            return Err(format!("activity counts must be at most {MAX_COUNT}"));
        }
        let date = record_date(&input.date, today)?;
        PlatformRecord::Activity {
            observed_at_ms: observed_at(&input.observed_at, date, now)?,
            date,
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
    if crate::platform::request::object_id(record.account_id()).is_err() {
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

/// `observed_at` (RFC 3339): not before the measured day began, not in the future.
fn observed_at(text: &str, date: NaiveDate, now: EpochMillis) -> Result<EpochMillis, String> {
    let at = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|_| {
            format!(
                "observed_at must be an RFC 3339 timestamp such as 2026-11-22T20:30:45Z (got `{}`)",
                text.chars().take(40).collect::<String>()
            )
        })?
        .timestamp_millis();
    if at > now.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err("observed_at is in the future".into());
    }
    if at < calendar::stockholm_midnight_ms(date) {
        return Err(format!("observed_at is before its day {date} began"));
    }
    Ok(at)
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
    let mut failed = Vec::new();
    let mut parsed = Vec::new();
    for message in messages {
        match parse_record(&message.body, now) {
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
    let kinds = match partnership_kinds(app, pointers.values()).await {
        Ok(kinds) => kinds,
        Err(err) => {
            tracing::error!(error = %err, "cannot read the batch's partnerships");
            failed.extend(parsed.iter().map(|(id, _)| (*id).to_owned()));
            return failed;
        }
    };
    let mut by_account: BTreeMap<&str, Vec<(&str, PlatformRecord)>> = BTreeMap::new();
    for (id, record) in parsed {
        let pointer = pointers
            .get(record.account_id())
            .filter(|p| kinds.contains_key(&p.partnership_id));
        match pointer {
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
    // Accounts are independent: a few at a time, so a batch of many accounts is not the
    // sum of their round trips.
    let jobs: Vec<_> = by_account
        .into_iter()
        .filter_map(|(account_id, records)| {
            let pointer = pointers.get(account_id)?;
            Some(ingest_account_messages(
                app,
                &pointer.partnership_id,
                *kinds.get(&pointer.partnership_id)?,
                account_id,
                records,
                now,
            ))
        })
        .collect();
    let outcomes: Vec<Vec<String>> = futures::stream::iter(jobs)
        .buffer_unordered(CONCURRENT_ACCOUNTS)
        .collect()
        .await;
    failed.extend(outcomes.into_iter().flatten());
    failed
}

/// Ingests one account's messages; returns the ids of those to retry.
async fn ingest_account_messages(
    app: &App,
    partnership_id: &str,
    kind: PartnershipType,
    account_id: &str,
    messages: Vec<(&str, PlatformRecord)>,
    now: EpochMillis,
) -> Vec<String> {
    let records: Vec<PlatformRecord> = messages.iter().map(|(_, r)| r.clone()).collect();
    match ingest_account(app, partnership_id, kind, account_id, &records, now).await {
        Ok(()) => Vec::new(),
        Err(reason) => {
            tracing::error!(account_id, %reason, "usage records not ingested; the queue will retry");
            messages.iter().map(|(id, _)| (*id).to_owned()).collect()
        }
    }
}

/// The type of each partnership the batch's accounts belong to (an account's levels depend
/// on it): one read per organization in the batch.
async fn partnership_kinds(
    app: &App,
    pointers: impl Iterator<Item = &AccountRef>,
) -> Result<HashMap<String, PartnershipType>, StoreError> {
    let org_ids: BTreeSet<&str> = pointers.map(|p| p.org_id.as_str()).collect();
    let mut kinds = HashMap::new();
    for org_id in org_ids {
        if let Some(organization) = app.store.organization(org_id).await? {
            for partnership in organization.partnerships {
                kinds.insert(partnership.id, partnership.kind);
            }
        }
    }
    Ok(kinds)
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
                observed_at_ms,
            } => raw.usage.push(UsageRecord {
                account_id: account_id.clone(),
                product: product.clone(),
                date: *date,
                units: *units,
                observed_at_ms: *observed_at_ms,
                received_at_ms: now,
                ttl_epoch_seconds,
            }),
            PlatformRecord::Activity {
                account_id,
                date,
                activity,
                observed_at_ms,
            } => raw.activity.push(ActivityRecord {
                account_id: account_id.clone(),
                date: *date,
                activity: *activity,
                observed_at_ms: *observed_at_ms,
                received_at_ms: now,
                ttl_epoch_seconds,
            }),
        }
    }
    raw
}

/// The report periods (MSSP period and calendar month) a day belongs to.
fn periods_of(day: NaiveDate) -> [Period; 2] {
    [
        Period::containing(PeriodKind::Mssp, day),
        Period::containing(PeriodKind::Reseller, day),
    ]
}

async fn ingest_account(
    app: &App,
    partnership_id: &str,
    kind: PartnershipType,
    account_id: &str,
    records: &[PlatformRecord],
    now: EpochMillis,
) -> Result<(), String> {
    let today = calendar::stockholm_date(now);
    let grace = app.config.report_grace_days;
    let closed = |period: &Period| period.status(today, grace) == PeriodStatus::Closed;
    let summary = app
        .store
        .put_raw_records(partnership_id, &raw(records, now), |day| {
            periods_of(day).into_iter().filter(closed).collect()
        })
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        account_id,
        stored = summary.stored,
        unchanged = summary.unchanged,
        superseded = summary.superseded,
        "raw records"
    );
    if summary.current_days.is_empty() {
        return Ok(());
    }
    let periods: BTreeSet<Period> = summary
        .current_days
        .iter()
        .flat_map(|day| periods_of(*day))
        .filter(|period| !closed(period))
        .collect();
    apply_days(
        app,
        partnership_id,
        kind,
        account_id,
        &periods,
        summary.current_days,
        today,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        calendar::parse_date(text, "date").unwrap()
    }

    const ACCOUNT: &str = "0b7f9a3e-4c1d-4e8a-9f2b-6d5c4b3a2918";

    fn ms(text: &str) -> EpochMillis {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn records_are_told_apart_and_checked() {
        let now = ms("2026-11-22T20:30:45Z");
        let usage = format!(
            r#"{{"account_id":"{ACCOUNT}","product":"SNS","date":"2026-11-21","units":14,"observed_at":"2026-11-21T22:00:00Z"}}"#
        );
        assert_eq!(
            parse_record(&usage, now).unwrap(),
            PlatformRecord::Usage {
                account_id: ACCOUNT.into(),
                product: "SNS".into(),
                date: date("2026-11-21"),
                units: 14,
                observed_at_ms: ms("2026-11-21T22:00:00Z"),
            }
        );
        let activity = format!(
            r#"{{"account_id":"{ACCOUNT}","date":"2026-11-22","observed_at":"2026-11-22T20:00:00+01:00","logins":3,"scans":{{"SNS":2,"WAS":0,"CS":1}},"failed_scans":0,"pat_assessments":1,"reports_created":0,"risk_score":40,"threat_score":12,"inactive_appliances":0}}"#
        );
        assert!(matches!(
            parse_record(&activity, now),
            Ok(PlatformRecord::Activity { observed_at_ms, .. }) if observed_at_ms == ms("2026-11-22T19:00:00Z")
        ));
        let bad = [
            (usage.replace("SNS", "XYZ"), "not one of"),
            (
                usage.replace("2026-11-21\",\"units", "2026-11-23\",\"units"),
                "after today",
            ),
            (
                usage.replace("2026-11-21\",\"units", "2024-01-01\",\"units"),
                "oldest day",
            ),
            (usage.replace("14", "-1"), "invalid value"),
            (usage.replace("14", "1000000001"), "at most 1000000000"),
            (usage.replace(ACCOUNT, "acme"), "UUID"),
            (usage.replace("\"units\"", "\"unit\""), "unknown field"),
            (
                usage.replace(",\"observed_at\":\"2026-11-21T22:00:00Z\"", ""),
                "missing field `observed_at`",
            ),
            (
                usage.replace("2026-11-21T22:00:00Z", "2026-11-21"),
                "RFC 3339",
            ),
            (
                usage.replace("2026-11-21T22:00:00Z", "2026-11-22T20:36:00Z"),
                "in the future",
            ),
            (
                usage.replace("2026-11-21T22:00:00Z", "2026-11-20T22:59:59Z"),
                "before its day",
            ),
            (activity.replace("\"CS\":1", "\"DA\":1"), "unknown field"),
            (activity.replace("40", "101"), "0 to 100"),
            (
                activity.replace("\"logins\":3", "\"logins\":1000001"),
                "at most 1000000",
            ),
            (
                activity.replace(",\"logins\":3", ""),
                "missing field `logins`",
            ),
            ("[1]".to_owned(), "activity record"),
            ("{".to_owned(), "not JSON"),
        ];
        for (body, reason) in bad {
            let err = parse_record(&body, now).unwrap_err();
            assert!(err.contains(reason), "{body}: {err}");
        }
        // The platform's clock may run a little ahead of ours.
        let ahead = usage.replace("2026-11-21T22:00:00Z", "2026-11-22T20:34:00Z");
        assert!(parse_record(&ahead, now).is_ok());
    }
}
