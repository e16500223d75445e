//! The MSSP report of a period (26th to 25th). A company's units on a day count only if the
//! account was `paying` on that day; the eligible companies are those with billable units
//! on some day. Per product, the peak is the highest daily total across the eligible
//! companies (the first day it was reached), and billable units are the larger of the peak
//! and the minimum commitment in force on the period's first day. Each company row shows
//! its units on each product's peak date, which add up exactly to the peak.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{Map, Value, json};
use shared::partner_data::calendar::{Period, format_date};
use shared::partner_data::catalogue;
use shared::partner_data::usage::peak_of;
use shared::platform::envelope::Extent;
use shared::storage::records::{MsspCompanyUsage, Peak};
use shared::storage::{PageStart, PeriodTotals};
use shared::{ApiError, Reply};

use crate::Report;

/// Per product used in the period, the peak of its daily totals across the companies.
fn peaks_of(period: Period, totals: &PeriodTotals) -> BTreeMap<&str, Peak> {
    totals
        .units
        .iter()
        .filter_map(|(product, series)| {
            let peak = peak_of(period.days().zip(series.iter().copied()))?;
            Some((product.as_str(), peak))
        })
        .collect()
}

/// How many companies had units of `product` on day `index` of the period.
fn companies_on(totals: &PeriodTotals, product: &str, index: usize) -> u64 {
    totals
        .companies
        .get(product)
        .and_then(|days| days.get(index))
        .copied()
        .unwrap_or(0)
}

fn day_index(period: Period, day: NaiveDate) -> usize {
    usize::try_from(shared::partner_data::calendar::days_between(
        period.start(),
        day,
    ))
    .unwrap_or(0)
}

fn path(period: Period, tail: &str) -> String {
    format!("/v1/mssp/periods/{}/{tail}", period.id())
}

/// A company row: its own peak per product and its units on the period's peak dates.
fn company_view(
    report: &Report<'_>,
    period: Period,
    peaks: &BTreeMap<&str, Peak>,
    company: &MsspCompanyUsage,
) -> Value {
    let mut own_units = Map::new();
    let mut own_dates = Map::new();
    let mut on_peak_date = Map::new();
    for (product, series) in &company.daily_units {
        let Some(own) = peak_of(period.days().zip(series.iter().copied())) else {
            continue;
        };
        own_units.insert(product.clone(), json!(own.units));
        own_dates.insert(product.clone(), json!(format_date(own.date)));
        if let Some(peak) = peaks.get(product.as_str()) {
            let units = company.units_on(product, day_index(period, peak.date));
            on_peak_date.insert(product.clone(), json!(units));
        }
    }
    json!({
        "id": company.account_id,
        "name": company.name,
        "company_peak_units": own_units,
        "company_peak_date": own_dates,
        "units_on_peak_date": on_peak_date,
        "_links": { "account": report.account_link(&company.account_id) },
    })
}

/// The period's eligible companies in name order: a page of the period's listing (its
/// `_links.next` carries a `cursor`, so following it reads only that page), with the peak
/// dates from the period's totals.
pub async fn companies(
    report: &Report<'_>,
    period: Period,
    cursor: Option<String>,
) -> Result<Reply, ApiError> {
    let start = PageStart::of(cursor.as_deref(), report.page.offset);
    let page = report
        .app
        .store
        .mssp_company_page(report.partnership_id(), period, &start, report.page.limit)
        .await
        .map_err(ApiError::internal)?;
    let peaks = peaks_of(period, &page.totals);
    let items = page
        .rows
        .iter()
        .map(|company| company_view(report, period, &peaks, company))
        .collect();
    let extent = Extent::continued(
        page.totals.eligible,
        cursor.as_deref(),
        page.next.as_deref(),
    );
    let reply = Reply::page(
        report.info,
        &path(period, "companies"),
        &[],
        items,
        extent,
        report.page,
    );
    Ok(reply.meta("period", report.period_view(period, &page.ledger)))
}

/// The companies with units of `product` on its peak date, the largest contribution first
/// (then by account id): the breakdown behind the summary's peak. A page of the period's
/// companies of that day (its `_links.next` carries a `cursor`), with the peak date and the
/// count from the period's totals.
pub async fn peak_date_companies(
    report: &Report<'_>,
    period: Period,
    product: &str,
    cursor: Option<String>,
) -> Result<Reply, ApiError> {
    let product = catalogue::product(product).map(|p| p.code).ok_or_else(|| {
        ApiError::InvalidParameters(format!(
            "peak_product must be one of {}",
            catalogue::product_codes()
        ))
    })?;
    let store = &report.app.store;
    let (ledger, totals, _) = store
        .mssp_summary(report.partnership_id(), period)
        .await
        .map_err(ApiError::internal)?;
    let peaks = peaks_of(period, &totals);
    let (rows, next, total) = match peaks.get(product) {
        None => (Vec::new(), None, 0),
        Some(peak) => {
            let day = day_index(period, peak.date);
            let start = PageStart::of(cursor.as_deref(), report.page.offset);
            let page = store
                .mssp_company_day_page(
                    report.partnership_id(),
                    period,
                    (product, day),
                    &start,
                    report.page.limit,
                )
                .await
                .map_err(ApiError::internal)?;
            (page.rows, page.next, companies_on(&totals, product, day))
        }
    };
    let items = rows
        .iter()
        .map(|company| company_view(report, period, &peaks, company))
        .collect();
    let extent = Extent::continued(total, cursor.as_deref(), next.as_deref());
    let reply = Reply::page(
        report.info,
        &path(period, "companies"),
        &[("peak_product", product.to_owned())],
        items,
        extent,
        report.page,
    );
    Ok(reply.meta("period", report.period_view(period, &ledger)))
}

/// Per product, the peak of the daily totals, its eligible companies and billable units:
/// read from the period's totals (one item, whatever the number of companies), with the
/// companies on the peak date a link to their own paged list.
pub async fn usage(report: &Report<'_>, period: Period) -> Result<Reply, ApiError> {
    let partnership = &report.session.partnership;
    let store = &report.app.store;
    let (ledger, totals, commitments) = store
        .mssp_summary(&partnership.id, period)
        .await
        .map_err(ApiError::internal)?;
    let peaks = peaks_of(period, &totals);
    // Every product the partnership sells, and any other one that was used.
    let products: Vec<&catalogue::Product> = catalogue::PRODUCTS
        .iter()
        .filter(|p| partnership.sells(p.code) || peaks.contains_key(p.code))
        .collect();
    let reply = report.page(&path(period, "usage"), &products, |product| {
        let peak = peaks.get(product.code);
        let companies_on_peak = peak.map_or(0, |peak| {
            companies_on(&totals, product.code, day_index(period, peak.date))
        });
        let peak_units = peak.map_or(0, |p| p.units);
        let commitment = commitments.for_period(product.code, period.start());
        let on_peak_href = report.info.link(&format!(
            "{}?peak_product={}",
            path(period, "companies"),
            product.code
        ));
        json!({
            "product": product.code,
            "unit": product.unit,
            "peak_units": peak_units,
            "peak_date": peak.map(|p| format_date(p.date)),
            "peak_date_companies": companies_on_peak,
            "minimum_commitment": commitment,
            "billable_units": peak_units.max(commitment.unwrap_or(0)),
            "_links": { "peak_date_companies": { "href": on_peak_href } },
        })
    });
    Ok(reply
        .meta("period", report.period_view(period, &ledger))
        .meta("eligible_companies", json!(totals.eligible)))
}
