//! The reseller report of a calendar month: the accounts with a subscription overlapping
//! it (the contract value in force, end date, active flag) and, per account and product,
//! licences and use compared day by day: the peak utilisation is the highest daily
//! `used / licensed in force that day`, and use on a day without any licence in force is
//! reported as `unlicensed_units`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde_json::{Value, json};
use shared::partner_data::calendar::{Period, PeriodStatus, format_date};
use shared::partner_data::catalogue::{PRODUCTS, Product};
use shared::partner_data::usage::{licensed_on, peak_of, peak_utilisation, utilisation_percent};
use shared::platform::envelope::{self, Extent};
use shared::storage::records::{PeriodLedger, ResellerSnapshot, SubscriptionRecord};
use shared::storage::{MonthList, PageStart, WholeMonth, month_membership, name_position};
use shared::{ApiError, Reply};

use crate::Report;

fn path(month: Period, tail: &str) -> String {
    format!("/v1/reseller/periods/{}/{tail}", month.id())
}

/// An account's row in a month's list, with its daily units per product there.
struct MonthRow {
    account: ResellerSnapshot,
    daily: BTreeMap<String, Vec<u64>>,
}

impl MonthRow {
    /// The products the account has in the month: those of its subscriptions there and
    /// those it used.
    fn products(&self, month: Period) -> Vec<&'static Product> {
        let codes: BTreeSet<&str> = self
            .account
            .overlapping(month)
            .iter()
            .map(|s| s.sku.as_str())
            .chain(
                self.daily
                    .iter()
                    .filter(|(_, days)| days.iter().any(|u| *u > 0))
                    .map(|(p, _)| p.as_str()),
            )
            .collect();
        PRODUCTS.iter().filter(|p| codes.contains(p.code)).collect()
    }

    fn is_in(&self, list: MonthList, month: Period) -> bool {
        month_membership(&self.account, Some(&self.daily), month)
            .is_some_and(|membership| list.holds(membership))
    }
}

/// One page of a month's list in name order, with the month's ledger and the list's size.
struct MonthRows {
    ledger: PeriodLedger,
    rows: Vec<MonthRow>,
    next: Option<String>,
    total: u64,
}

impl MonthRows {
    /// The page from `start`: from the month's lists (a closed month: its frozen lists)
    /// when they are complete — O(limit) —, else from the whole month.
    async fn read(
        report: &Report<'_>,
        month: Period,
        list: MonthList,
        start: &PageStart,
    ) -> Result<Self, ApiError> {
        let (store, limit) = (&report.app.store, report.page.limit);
        let grace = report.app.config.report_grace_days;
        let closed = month.status(report.today, grace) == PeriodStatus::Closed;
        let page = store
            .month_page(report.partnership_id(), month, list, closed, start, limit)
            .await
            .map_err(ApiError::internal)?;
        if let Some(mut page) = page {
            let rows = page
                .accounts
                .into_iter()
                .map(|account| MonthRow {
                    daily: page
                        .usage
                        .remove(&account.account_id)
                        .map(|u| u.daily_units)
                        .unwrap_or_default(),
                    account,
                })
                // A row whose use was corrected away since is no longer in the list.
                .filter(|row| row.is_in(list, month))
                .collect();
            return Ok(Self {
                ledger: page.ledger,
                rows,
                next: page.next,
                total: page.total,
            });
        }
        let WholeMonth {
            ledger,
            accounts,
            mut daily_units,
        } = store
            .whole_month(report.partnership_id(), month, closed)
            .await
            .map_err(ApiError::internal)?;
        let mut listed: Vec<(String, MonthRow)> = accounts
            .into_iter()
            .map(|account| MonthRow {
                daily: daily_units.remove(&account.account_id).unwrap_or_default(),
                account,
            })
            .filter(|row| row.is_in(list, month))
            .map(|row| {
                let position = name_position(&row.account.name, &row.account.account_id);
                (position, row)
            })
            .collect();
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        let total = u64::try_from(listed.len()).unwrap_or(u64::MAX);
        let (rows, next) = start.page_of(listed, limit);
        Ok(Self {
            ledger,
            rows,
            next,
            total,
        })
    }

    /// The answer: the rows as `view` shows them, paged by `cursor` (the one asked with);
    /// as many as fit in an answer under 1 MB (a companies row may list 50 subscriptions),
    /// the next page starting after the last one shown.
    fn reply(
        self,
        report: &Report<'_>,
        month: Period,
        tail: &str,
        cursor: Option<&str>,
        view: impl Fn(&MonthRow) -> Value,
    ) -> Reply {
        let items = envelope::views_within_budget(&self.rows, view);
        let next = if items.len() < self.rows.len() {
            let last = self.rows.get(items.len().saturating_sub(1));
            last.map(|row| name_position(&row.account.name, &row.account.account_id))
        } else {
            self.next
        };
        let extent = Extent::continued(self.total, cursor, next.as_deref());
        let reply = Reply::page(
            report.info,
            &path(month, tail),
            &[],
            items,
            extent,
            report.page,
        );
        reply.meta("period", report.period_view(month, &self.ledger))
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

/// The accounts with a subscription overlapping the month, in name order.
pub async fn companies(
    report: &Report<'_>,
    month: Period,
    cursor: Option<String>,
) -> Result<Reply, ApiError> {
    let start = PageStart::of(cursor.as_deref(), report.page.offset);
    let rows = MonthRows::read(report, month, MonthList::Subscribed, &start).await?;
    let day = reference_day(report, month);
    Ok(
        rows.reply(report, month, "companies", cursor.as_deref(), |row| {
            let account = &row.account;
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
        }),
    )
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

/// The accounts with a subscription or some use in the month, in name order, with their
/// licences and use per product.
pub async fn usage(
    report: &Report<'_>,
    month: Period,
    cursor: Option<String>,
) -> Result<Reply, ApiError> {
    let start = PageStart::of(cursor.as_deref(), report.page.offset);
    let rows = MonthRows::read(report, month, MonthList::Usage, &start).await?;
    Ok(rows.reply(report, month, "usage", cursor.as_deref(), |row| {
        let subs = row.account.overlapping(month);
        let lines: Vec<Value> = row
            .products(month)
            .iter()
            .map(|product| {
                let used = row.daily.get(product.code).map_or(&[][..], Vec::as_slice);
                let figures = product_month(&subs, product.code, month, used);
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
            "id": row.account.account_id,
            "name": row.account.name,
            "products": lines,
            "_links": { "account": report.account_link(&row.account.account_id) },
        })
    }))
}
