//! The MSSP report of a period (26th to 25th). A company's units on a day count only if the
//! account was `paying` on that day; the eligible companies are those with billable units
//! on some day. Per product, the peak is the highest daily total across the eligible
//! companies (the first day it was reached), and billable units are the larger of the peak
//! and the minimum commitment in force on the period's first day. Each company row shows
//! its units on each product's peak date, which add up exactly to the peak.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde_json::{Map, Value, json};
use shared::calendar::{Period, format_date};
use shared::catalogue;
use shared::storage::records::{MsspCompanyUsage, Peak, PeriodLedger};
use shared::usage::peak_of;
use shared::{ApiError, Reply};

use crate::Report;

/// A period's eligible companies in name order, with its ledger.
struct PeriodRows {
    ledger: PeriodLedger,
    companies: Vec<MsspCompanyUsage>,
}

impl PeriodRows {
    async fn read(report: &Report<'_>, period: Period) -> Result<Self, ApiError> {
        let rows = report
            .app
            .store
            .mssp_usage(report.partnership_id(), period)
            .await
            .map_err(ApiError::internal)?;
        let mut companies = rows.rows;
        companies.retain(|c| c.daily_units.values().flatten().any(|units| *units > 0));
        companies.sort_by_cached_key(|c| (c.name.to_lowercase(), c.account_id.clone()));
        Ok(Self {
            ledger: rows.ledger,
            companies,
        })
    }

    /// Per product used in the period, the peak of the daily totals across the companies.
    fn peaks(&self, period: Period) -> BTreeMap<&str, Peak> {
        let products: BTreeSet<&str> = self
            .companies
            .iter()
            .flat_map(|c| c.daily_units.keys().map(String::as_str))
            .collect();
        products
            .into_iter()
            .filter_map(|product| {
                let totals = period.days().enumerate().map(|(index, day)| {
                    let total = self
                        .companies
                        .iter()
                        .map(|c| units_on(c, product, index))
                        .fold(0u64, u64::saturating_add);
                    (day, total)
                });
                Some((product, peak_of(totals)?))
            })
            .collect()
    }
}

fn units_on(company: &MsspCompanyUsage, product: &str, index: usize) -> u64 {
    company
        .daily_units
        .get(product)
        .and_then(|series| series.get(index))
        .copied()
        .unwrap_or(0)
}

fn day_index(period: Period, day: NaiveDate) -> usize {
    usize::try_from(shared::calendar::days_between(period.start(), day)).unwrap_or(0)
}

fn path(period: Period, tail: &str) -> String {
    format!("/v1/mssp/periods/{}/{tail}", period.id())
}

pub async fn companies(report: &Report<'_>, period: Period) -> Result<Reply, ApiError> {
    let rows = PeriodRows::read(report, period).await?;
    let peaks = rows.peaks(period);
    let reply = report.page(&path(period, "companies"), &rows.companies, |company| {
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
                let units = units_on(company, product, day_index(period, peak.date));
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
    });
    Ok(reply.meta("period", report.period_view(period, &rows.ledger)))
}

pub async fn usage(report: &Report<'_>, period: Period) -> Result<Reply, ApiError> {
    let partnership = &report.session.partnership;
    let store = &report.app.store;
    let (rows, commitments) = tokio::join!(
        PeriodRows::read(report, period),
        store.commitments(&partnership.id)
    );
    let rows = rows?;
    let commitments = commitments.map_err(ApiError::internal)?;
    let peaks = rows.peaks(period);
    // Every product the partnership sells, and any other one that was used.
    let products: Vec<&catalogue::Product> = catalogue::PRODUCTS
        .iter()
        .filter(|p| partnership.sells(p.code) || peaks.contains_key(p.code))
        .collect();
    let reply = report.page(&path(period, "usage"), &products, |product| {
        let peak = peaks.get(product.code);
        let mut on_peak_day: Vec<Value> = Vec::new();
        if let Some(peak) = peak {
            let index = day_index(period, peak.date);
            let mut contributors: Vec<(&MsspCompanyUsage, u64)> = rows
                .companies
                .iter()
                .map(|c| (c, units_on(c, product.code, index)))
                .filter(|(_, units)| *units > 0)
                .collect();
            contributors.sort_by_key(|(_, units)| std::cmp::Reverse(*units));
            on_peak_day = contributors
                .into_iter()
                .map(|(c, units)| json!({ "id": c.account_id, "name": c.name, "units": units }))
                .collect();
        }
        let peak_units = peak.map_or(0, |p| p.units);
        let commitment = commitments.for_period(product.code, period.start());
        json!({
            "product": product.code,
            "unit": product.unit,
            "peak_units": peak_units,
            "peak_date": peak.map(|p| format_date(p.date)),
            "companies_on_peak_date": on_peak_day,
            "minimum_commitment": commitment,
            "billable_units": peak_units.max(commitment.unwrap_or(0)),
        })
    });
    Ok(reply.meta("period", report.period_view(period, &rows.ledger)))
}
