//! The reseller report of a calendar month: the accounts with a subscription overlapping
//! it (the contract value in force, end date, active flag) and, per account and product,
//! licences and use compared day by day: the peak utilisation is the highest daily
//! `used / licensed in force that day`, and use on a day without any licence in force is
//! reported as `unlicensed_units`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use serde_json::{Value, json};
use shared::calendar::{Period, PeriodStatus, format_date};
use shared::catalogue::{PRODUCTS, Product};
use shared::storage::records::{AccountState, PeriodLedger, ResellerSnapshot, SubscriptionRecord};
use shared::usage::{licensed_on, peak_of, peak_utilisation, utilisation_percent};
use shared::{ApiError, Reply};

use crate::Report;

fn path(month: Period, tail: &str) -> String {
    format!("/v1/reseller/periods/{}/{tail}", month.id())
}

/// An account as a month's report counts it: live, or — for a closed month that a change
/// reached later — with the subscriptions (and, once deleted, the name and state) it had
/// when the first such change came.
struct MonthAccount {
    account_id: String,
    name: String,
    state: AccountState,
    subscriptions: Vec<SubscriptionRecord>,
}

impl MonthAccount {
    fn overlapping(&self, month: Period) -> Vec<&SubscriptionRecord> {
        let mut subs: Vec<&SubscriptionRecord> = self
            .subscriptions
            .iter()
            .filter(|s| s.start_date <= month.end() && s.end_date >= month.start())
            .collect();
        subs.sort_by(|a, b| {
            (a.start_date, &a.subscription_id).cmp(&(b.start_date, &b.subscription_id))
        });
        subs
    }
}

/// A month's accounts in name order, its ledger and its daily units per account: the
/// accounts Query and the month's Query, side by side.
struct Month {
    ledger: PeriodLedger,
    accounts: Vec<MonthAccount>,
    daily_units: HashMap<String, BTreeMap<String, Vec<u64>>>,
}

impl Month {
    async fn read(report: &Report<'_>, month: Period) -> Result<Self, ApiError> {
        let store = &report.app.store;
        let (accounts, rows) = tokio::join!(
            store.account_contracts(report.partnership_id()),
            store.reseller_usage(report.partnership_id(), month)
        );
        let accounts = accounts.map_err(ApiError::internal)?;
        let rows = rows.map_err(ApiError::internal)?;
        let closed =
            month.status(report.today, report.app.config.report_grace_days) == PeriodStatus::Closed;
        let mut kept: HashMap<String, ResellerSnapshot> = if closed {
            rows.snapshots
                .into_iter()
                .map(|s| (s.account_id.clone(), s))
                .collect()
        } else {
            HashMap::new()
        };
        let mut month_accounts: Vec<MonthAccount> = accounts
            .into_iter()
            .map(|account| MonthAccount {
                subscriptions: match kept.remove(&account.account_id) {
                    Some(snapshot) => snapshot.subscriptions,
                    None => account.subscriptions.into_values().collect(),
                },
                account_id: account.account_id,
                name: account.name,
                state: account.state,
            })
            .collect();
        // Deleted since: they stay in the closed month as they were.
        month_accounts.extend(kept.into_values().map(|snapshot| MonthAccount {
            account_id: snapshot.account_id,
            name: snapshot.name,
            state: snapshot.state,
            subscriptions: snapshot.subscriptions,
        }));
        month_accounts.sort_by_cached_key(|a| (a.name.to_lowercase(), a.account_id.clone()));
        Ok(Self {
            ledger: rows.ledger,
            accounts: month_accounts,
            daily_units: rows
                .rows
                .into_iter()
                .map(|u| (u.account_id, u.daily_units))
                .collect(),
        })
    }
}

/// The day a month's "active" flag refers to: today while the month is open, else its last day.
fn reference_day(report: &Report<'_>, month: Period) -> NaiveDate {
    report.today.min(month.end())
}

/// The contract value in force for `month`, per currency: the ACVs of the subscriptions
/// active on its last day — or, when every subscription ended within the month, on the
/// last day one was active. A renewal month therefore counts the renewed contract once.
pub fn acv_in_force(subs: &[&SubscriptionRecord], month: Period) -> BTreeMap<String, i64> {
    let day = if subs.iter().any(|s| s.active_on(month.end())) {
        Some(month.end())
    } else {
        subs.iter().map(|s| s.end_date).max()
    };
    let mut acv: BTreeMap<String, i64> = BTreeMap::new();
    let in_force = subs.iter().filter(|s| day.is_some_and(|d| s.active_on(d)));
    for money in in_force.filter_map(|s| s.acv.as_ref()) {
        let sum = acv.entry(money.currency.clone()).or_default();
        *sum = sum.saturating_add(money.amount_minor);
    }
    acv
}

pub async fn companies(report: &Report<'_>, month: Period) -> Result<Reply, ApiError> {
    let Month {
        ledger,
        mut accounts,
        ..
    } = Month::read(report, month).await?;
    accounts.retain(|a| !a.overlapping(month).is_empty());
    let day = reference_day(report, month);
    let reply = report.page(&path(month, "companies"), &accounts, |account| {
        let subs = account.overlapping(month);
        let acv: Vec<Value> = acv_in_force(&subs, month)
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
    });
    Ok(reply.meta("period", report.period_view(month, &ledger)))
}

/// One product's licences and use over a month, compared day by day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductMonth {
    /// The most licences in force on any one day.
    pub licensed_quantity: u64,
    pub peak_used: Option<(NaiveDate, u64)>,
    /// The day of the highest `used / licensed` among days with licences in force (the
    /// first such day on a tie), with both numbers.
    pub peak_utilisation: Option<(NaiveDate, u64, u64)>,
    /// The highest use on a day without any licence in force, and its first day.
    pub unlicensed: Option<(NaiveDate, u64)>,
}

pub fn product_month(
    subs: &[&SubscriptionRecord],
    sku: &str,
    month: Period,
    daily_used: &[u64],
) -> ProductMonth {
    let mut result = ProductMonth::default();
    let days: Vec<(NaiveDate, u64, u64)> = month
        .days()
        .enumerate()
        .map(|(index, day)| {
            let used = daily_used.get(index).copied().unwrap_or(0);
            (day, used, licensed_on(subs.iter().copied(), sku, day))
        })
        .collect();
    result.licensed_quantity = days.iter().map(|(_, _, l)| *l).max().unwrap_or(0);
    result.peak_used = peak_of(days.iter().map(|(d, u, _)| (*d, *u))).map(|p| (p.date, p.units));
    result.unlicensed = peak_of(
        days.iter()
            .filter(|(_, _, licensed)| *licensed == 0)
            .map(|(d, u, _)| (*d, *u)),
    )
    .map(|p| (p.date, p.units));
    result.peak_utilisation = peak_utilisation(days.iter().copied());
    result
}

/// An account of the usage answer: its subscriptions and daily units in the month, and the
/// products it has there.
struct UsageRow<'a> {
    account: &'a MonthAccount,
    subs: Vec<&'a SubscriptionRecord>,
    daily: &'a BTreeMap<String, Vec<u64>>,
    products: Vec<&'static Product>,
}

pub async fn usage(report: &Report<'_>, month: Period) -> Result<Reply, ApiError> {
    let Month {
        ledger,
        accounts,
        daily_units: usage,
    } = Month::read(report, month).await?;
    let no_usage = BTreeMap::new();
    // Which products each account has in the month (cheap); the figures are computed for
    // the page's accounts only.
    let rows: Vec<UsageRow<'_>> = accounts
        .iter()
        .filter_map(|account| {
            let subs = account.overlapping(month);
            let daily = usage.get(&account.account_id).unwrap_or(&no_usage);
            let products: BTreeSet<&str> = subs
                .iter()
                .map(|s| s.sku.as_str())
                .chain(
                    daily
                        .iter()
                        .filter(|(_, days)| days.iter().any(|u| *u > 0))
                        .map(|(p, _)| p.as_str()),
                )
                .collect();
            let products: Vec<&'static Product> = PRODUCTS
                .iter()
                .filter(|p| products.contains(p.code))
                .collect();
            (!products.is_empty()).then_some(UsageRow {
                account,
                subs,
                daily,
                products,
            })
        })
        .collect();
    let reply = report.page(&path(month, "usage"), &rows, |row| {
            let UsageRow {
                account,
                subs,
                daily,
                products,
            } = row;
        let lines: Vec<Value> = products
            .iter()
            .map(|product| {
                let used = daily.get(product.code).map_or(&[][..], Vec::as_slice);
                let figures = product_month(subs, product.code, month, used);
                let utilisation = figures.peak_utilisation;
                json!({
                    "product": product.code,
                    "unit": product.unit,
                    "licensed_quantity": figures.licensed_quantity,
                    "peak_used": figures.peak_used.map_or(0, |(_, u)| u),
                    "peak_date": figures.peak_used.map(|(d, _)| format_date(d)),
                    "peak_utilisation_percent": utilisation.and_then(|(_, u, l)| utilisation_percent(u, l)),
                    "peak_utilisation_date": utilisation.map(|(d, _, _)| format_date(d)),
                    "peak_utilisation_used": utilisation.map(|(_, u, _)| u),
                    "peak_utilisation_licensed": utilisation.map(|(_, _, l)| l),
                    "unlicensed_units": figures.unlicensed.map_or(0, |(_, u)| u),
                    "unlicensed_date": figures.unlicensed.map(|(d, _)| format_date(d)),
                })
            })
            .collect();
        json!({
            "id": account.account_id,
            "name": account.name,
            "products": lines,
            "_links": { "account": report.account_link(&account.account_id) },
        })
    });
    Ok(reply.meta("period", report.period_view(month, &ledger)))
}
