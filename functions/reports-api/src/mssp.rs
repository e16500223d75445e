//! The MSSP report: eligible companies (paying accounts with usage in the period) and, per
//! product, the peak of the daily totals across them, the companies behind the peak day,
//! the minimum commitment and the billable units (the larger of peak and commitment).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use shared::calendar::{Period, format_date};
use shared::catalogue;
use shared::storage::records::MsspCompanyUsage;
use shared::usage::peak_of;
use shared::{ApiError, Reply};

use crate::Report;

/// The period's eligible companies in name order: paying, with some usage.
async fn eligible(report: &Report<'_>, period: Period) -> Result<Vec<MsspCompanyUsage>, ApiError> {
    let mut companies = report
        .app
        .store
        .mssp_usage(report.partnership_id(), &period.id())
        .await
        .map_err(ApiError::internal)?;
    companies.retain(|c| c.paying && c.daily_units.values().flatten().any(|units| *units > 0));
    companies.sort_by_cached_key(|c| (c.name.to_lowercase(), c.account_id.clone()));
    Ok(companies)
}

fn path(period: Period, tail: &str) -> String {
    format!("/v1/mssp/periods/{}/{tail}", period.id())
}

pub async fn companies(report: &Report<'_>, period: Period) -> Result<Reply, ApiError> {
    let companies = eligible(report, period).await?;
    Ok(
        report.page(&path(period, "companies"), &companies, |company| {
            let peak_units: Map<String, Value> = company
                .daily_units
                .iter()
                .filter_map(|(product, days)| {
                    let peak = days.iter().copied().max().filter(|units| *units > 0)?;
                    Some((product.clone(), json!(peak)))
                })
                .collect();
            json!({
                "id": company.account_id,
                "name": company.name,
                "peak_units": peak_units,
                "_links": { "account": report.account_link(&company.account_id) },
            })
        }),
    )
}

pub async fn usage(report: &Report<'_>, period: Period) -> Result<Reply, ApiError> {
    let companies = eligible(report, period).await?;
    let partnership = &report.session.partnership;
    // Every product the partnership sells, and any other one that was used.
    let used: BTreeSet<&str> = companies
        .iter()
        .flat_map(|c| c.daily_units.keys().map(String::as_str))
        .collect();
    let products: Vec<&catalogue::Product> = catalogue::PRODUCTS
        .iter()
        .filter(|p| partnership.sells(p.code) || used.contains(p.code))
        .collect();
    let days: Vec<_> = period.days().collect();
    Ok(report.page(&path(period, "usage"), &products, |product| {
        let units_on = |company: &MsspCompanyUsage, index: usize| {
            company
                .daily_units
                .get(product.code)
                .and_then(|series| series.get(index))
                .copied()
                .unwrap_or(0)
        };
        let totals = days.iter().enumerate().map(|(index, day)| {
            let total: u64 = companies.iter().map(|c| units_on(c, index)).sum();
            (*day, total)
        });
        let peak = peak_of(totals);
        let mut on_peak_day: Vec<Value> = Vec::new();
        if let Some(peak) = peak {
            let index = days.iter().position(|d| *d == peak.date).unwrap_or(0);
            let mut contributors: Vec<(&MsspCompanyUsage, u64)> = companies
                .iter()
                .map(|c| (c, units_on(c, index)))
                .filter(|(_, units)| *units > 0)
                .collect();
            contributors.sort_by_key(|(_, units)| std::cmp::Reverse(*units));
            on_peak_day = contributors
                .into_iter()
                .map(|(c, units)| json!({ "id": c.account_id, "name": c.name, "units": units }))
                .collect();
        }
        let peak_units = peak.map_or(0, |p| p.units);
        let commitment = partnership.minimum_commitments.get(product.code).copied();
        json!({
            "product": product.code,
            "unit": product.unit,
            "peak_units": peak_units,
            "peak_date": peak.map(|p| format_date(p.date)),
            "companies_on_peak_date": on_peak_day,
            "minimum_commitment": commitment,
            "billable_units": peak_units.max(commitment.unwrap_or(0)),
        })
    }))
}
