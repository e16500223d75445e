//! The reseller report of a calendar month: the accounts with a subscription overlapping
//! it (ACV, end date, active flag) and, per account and product, the licensed quantity,
//! the peak used and the utilisation.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use serde_json::{Value, json};
use shared::calendar::{Period, format_date};
use shared::storage::records::{AccountRecord, Peak, SubscriptionRecord};
use shared::usage::utilisation_percent;
use shared::{ApiError, Reply};

use crate::Report;

fn path(month: Period, tail: &str) -> String {
    format!("/v1/reseller/periods/{}/{tail}", month.id())
}

fn overlapping(account: &AccountRecord, month: Period) -> Vec<&SubscriptionRecord> {
    let mut subs: Vec<&SubscriptionRecord> = account
        .subscriptions
        .values()
        .filter(|s| s.start_date <= month.end() && s.end_date >= month.start())
        .collect();
    subs.sort_by(|a, b| {
        (a.start_date, &a.subscription_id).cmp(&(b.start_date, &b.subscription_id))
    });
    subs
}

async fn accounts(report: &Report<'_>) -> Result<Vec<AccountRecord>, ApiError> {
    let mut accounts = report
        .app
        .store
        .accounts(report.partnership_id())
        .await
        .map_err(ApiError::internal)?;
    accounts.sort_by_cached_key(|a| (a.name.to_lowercase(), a.account_id.clone()));
    Ok(accounts)
}

/// The day a month's "active" flag refers to: today while the month is open, else its last day.
fn reference_day(report: &Report<'_>, month: Period) -> NaiveDate {
    report.today.min(month.end())
}

pub async fn companies(report: &Report<'_>, month: Period) -> Result<Reply, ApiError> {
    let mut accounts = accounts(report).await?;
    accounts.retain(|a| !overlapping(a, month).is_empty());
    let day = reference_day(report, month);
    Ok(
        report.page(&path(month, "companies"), &accounts, |account| {
            let subs = overlapping(account, month);
            let mut acv: BTreeMap<&str, i64> = BTreeMap::new();
            for money in subs.iter().filter_map(|s| s.acv.as_ref()) {
                *acv.entry(&money.currency).or_default() += money.amount_minor;
            }
            let acv: Vec<Value> = acv
                .into_iter()
                .map(|(currency, amount)| json!({ "amount_minor": amount, "currency": currency }))
                .collect();
            let subscriptions: Vec<Value> = subs
            .iter()
            .map(|s| {
                json!({
                    "id": s.subscription_id, "sku": s.sku, "quantity": s.quantity,
                    "start_date": format_date(s.start_date), "end_date": format_date(s.end_date),
                    "evaluation": s.evaluation, "acv": s.acv, "active": s.active_on(day),
                })
            })
            .collect();
            json!({
                "id": account.account_id,
                "name": account.name,
                "state": account.state,
                "acv": acv,
                "subscription_end_date": subs.iter().map(|s| s.end_date).max().map(format_date),
                "active": subs.iter().any(|s| s.active_on(day)),
                "subscriptions": subscriptions,
                "_links": { "account": report.account_link(&account.account_id) },
            })
        }),
    )
}

/// The most licences of `sku` in force on any one day of `month`.
pub fn licensed_quantity(subs: &[&SubscriptionRecord], sku: &str, month: Period) -> u64 {
    month
        .days()
        .map(|day| {
            subs.iter()
                .filter(|s| s.sku == sku && s.active_on(day))
                .map(|s| s.quantity)
                .sum::<u64>()
        })
        .max()
        .unwrap_or(0)
}

pub async fn usage(report: &Report<'_>, month: Period) -> Result<Reply, ApiError> {
    let accounts = accounts(report).await?;
    let usage: HashMap<String, BTreeMap<String, Peak>> = report
        .app
        .store
        .reseller_usage(report.partnership_id(), &month.id())
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|u| (u.account_id, u.peaks))
        .collect();
    let no_usage = BTreeMap::new();
    let rows: Vec<(&AccountRecord, Vec<Value>)> = accounts
        .iter()
        .filter_map(|account| {
            let subs = overlapping(account, month);
            let peaks = usage.get(&account.account_id).unwrap_or(&no_usage);
            let products: BTreeSet<&str> = subs
                .iter()
                .map(|s| s.sku.as_str())
                .chain(peaks.keys().map(String::as_str))
                .collect();
            let lines: Vec<Value> = shared::catalogue::PRODUCTS
                .iter()
                .filter(|p| products.contains(p.code))
                .map(|product| {
                    let licensed = licensed_quantity(&subs, product.code, month);
                    let peak = peaks.get(product.code);
                    let peak_used = peak.map_or(0, |p| p.units);
                    json!({
                        "product": product.code,
                        "unit": product.unit,
                        "licensed_quantity": licensed,
                        "peak_used": peak_used,
                        "peak_date": peak.map(|p| format_date(p.date)),
                        "utilisation_percent": utilisation_percent(peak_used, licensed),
                    })
                })
                .collect();
            (!lines.is_empty()).then_some((account, lines))
        })
        .collect();
    Ok(
        report.page(&path(month, "usage"), &rows, |(account, lines)| {
            json!({
                "id": account.account_id,
                "name": account.name,
                "products": lines,
                "_links": { "account": report.account_link(&account.account_id) },
            })
        }),
    )
}
