//! An MSSP period's daily totals, kept on its ledger item so its summary reads one item
//! however many companies it has: per product and day, the units of every company and how
//! many companies had units; and how many companies are eligible (units on some day).
//!
//! Every company row write adds its difference to them in the same transaction (ADD, so
//! rows of different companies never wait for each other), conditioned on the row it
//! replaces. A period whose totals were never built (rows written before they existed) is
//! rebuilt from its rows on first read; the rebuild is written only if no row write and no
//! late count came in between (`totals_revision`, `late_records`), so it is exact in every
//! order.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::records::{Commitments, MsspCompanyUsage, PeriodLedger};
use super::reports::MSSP;
use super::{Item, Store, StoreError, build_error, encode, keys, n, s, to_i64};
use crate::partner_data::calendar::Period;

const UNITS: &str = "t_units_";
const COMPANIES: &str = "t_companies_";
const ELIGIBLE: &str = "t_eligible";

/// A period's totals over its company rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodTotals {
    /// Companies with units on some day (the eligible ones).
    pub eligible: u64,
    /// Per product, each day's units of all companies (index 0: the period's first day).
    pub units: BTreeMap<String, Vec<u64>>,
    /// Per product, how many companies had units on each day.
    pub companies: BTreeMap<String, Vec<u64>>,
}

/// A period's totals counted from its rows.
#[derive(Debug, Clone)]
pub struct TotalsBuild {
    pub ledger: PeriodLedger,
    pub totals: PeriodTotals,
    /// The rows they were counted from.
    pub rows: Vec<MsspCompanyUsage>,
    /// Stored, with the listing: later reads use them.
    pub stored: bool,
}

/// One stored total and what to add to it.
pub(super) type Change = (String, i64);

pub(super) fn is_eligible(row: &MsspCompanyUsage) -> bool {
    row.daily_units.values().flatten().any(|units| *units > 0)
}

fn units_name(product: &str, day: usize) -> String {
    format!("{UNITS}{product}_{day:02}")
}

fn companies_name(product: &str, day: usize) -> String {
    format!("{COMPANIES}{product}_{day:02}")
}

/// The ledger and totals of a period's ledger item, if its totals and company items were
/// built (else the rows must be counted first).
pub(super) fn built_totals(
    period: Period,
    item: &Item,
) -> Result<Option<(PeriodLedger, PeriodTotals)>, StoreError> {
    let ledger: PeriodLedger = super::decode(item.clone())?;
    Ok((ledger.totals_complete && ledger.company_days_complete)
        .then(|| (ledger, PeriodTotals::from_item(period, item))))
}

/// The stored totals that `row` adds, each with `sign` (1: counted in, -1: counted out).
fn contributions(row: &MsspCompanyUsage, sign: i64) -> Vec<Change> {
    let mut changes = Vec::new();
    if is_eligible(row) {
        changes.push((ELIGIBLE.to_owned(), sign));
    }
    for (product, series) in &row.daily_units {
        for (day, units) in series.iter().enumerate().filter(|(_, u)| **u > 0) {
            changes.push((units_name(product, day), sign * to_i64(*units)));
            changes.push((companies_name(product, day), sign));
        }
    }
    changes
}

/// What replacing `old` (none: a new row) by `new` adds to the stored totals, without the
/// totals it leaves unchanged.
pub(super) fn row_changes(old: Option<&MsspCompanyUsage>, new: &MsspCompanyUsage) -> Vec<Change> {
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    let all = old
        .map(|o| contributions(o, -1))
        .unwrap_or_default()
        .into_iter()
        .chain(contributions(new, 1));
    for (name, delta) in all {
        let sum = sums.entry(name).or_insert(0);
        *sum = sum.saturating_add(delta);
    }
    sums.into_iter().filter(|(_, delta)| *delta != 0).collect()
}

impl PeriodTotals {
    /// The totals of `rows`, counted from scratch.
    pub fn of_rows<'a>(
        period: Period,
        rows: impl IntoIterator<Item = &'a MsspCompanyUsage>,
    ) -> Self {
        let mut stored: BTreeMap<String, i64> = BTreeMap::new();
        for (name, delta) in rows.into_iter().flat_map(|row| contributions(row, 1)) {
            let sum = stored.entry(name).or_insert(0);
            *sum = sum.saturating_add(delta);
        }
        Self::from_stored(period, stored)
    }

    /// The totals in a ledger item's attributes.
    pub(super) fn from_item(period: Period, item: &Item) -> Self {
        let stored = item
            .iter()
            .filter(|(name, _)| name.starts_with("t_"))
            .filter_map(|(name, value)| match value {
                AttributeValue::N(number) => Some((name.clone(), number.parse().ok()?)),
                _ => None,
            })
            .collect();
        Self::from_stored(period, stored)
    }

    fn from_stored(period: Period, stored: BTreeMap<String, i64>) -> Self {
        let days = period.days().count();
        let mut totals = Self::default();
        for (name, value) in stored {
            // A total below 0 would be a bug in the arithmetic above; it shows as 0. A total
            // added back to 0 is as absent (a product no company uses any more).
            let value = u64::try_from(value).unwrap_or(0);
            if value == 0 {
                continue;
            }
            if name == ELIGIBLE {
                totals.eligible = value;
                continue;
            }
            let (series, rest) = if let Some(rest) = name.strip_prefix(UNITS) {
                (&mut totals.units, rest)
            } else if let Some(rest) = name.strip_prefix(COMPANIES) {
                (&mut totals.companies, rest)
            } else {
                continue;
            };
            let Some((product, day)) = rest.rsplit_once('_') else {
                continue;
            };
            let Ok(day) = day.parse::<usize>() else {
                continue;
            };
            let days_of = series
                .entry(product.to_owned())
                .or_insert_with(|| vec![0; days]);
            if let Some(slot) = days_of.get_mut(day) {
                *slot = value;
            }
        }
        totals
    }

    /// The attributes that store these totals (zeros left out: absent is 0).
    fn attributes(&self) -> Item {
        let mut item = Item::new();
        if self.eligible > 0 {
            item.insert(ELIGIBLE.to_owned(), n(to_i64(self.eligible)));
        }
        for (series, name) in [
            (&self.units, units_name as fn(&str, usize) -> String),
            (&self.companies, companies_name),
        ] {
            for (product, days) in series {
                for (day, value) in days.iter().enumerate().filter(|(_, v)| **v > 0) {
                    item.insert(name(product, day), n(to_i64(*value)));
                }
            }
        }
        item
    }
}

impl Store {
    /// Adds `changes` to a period's totals and counts the write in `totals_revision`.
    pub(super) fn add_to_totals(
        &self,
        partnership_id: &str,
        period: Period,
        changes: &[Change],
    ) -> Result<TransactWriteItem, StoreError> {
        let key = keys::report_ledger(partnership_id, MSSP, &period.id());
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .expression_attribute_names("#rev", "totals_revision")
            .expression_attribute_values(":one", n(1));
        let mut clauses = vec!["#rev :one".to_owned()];
        for (index, (name, delta)) in changes.iter().enumerate() {
            clauses.push(format!("#{index} :{index}"));
            update = update
                .expression_attribute_names(format!("#{index}"), name)
                .expression_attribute_values(format!(":{index}"), n(*delta));
        }
        let update = update
            .update_expression(format!("ADD {}", clauses.join(", ")))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// What a period's summary reads: its ledger and totals, and the partnership's
    /// commitments, in one BatchGetItem; the first time, the totals are rebuilt from the
    /// rows (one Query and a conditional PutItem more).
    pub async fn mssp_summary(
        &self,
        partnership_id: &str,
        period: Period,
    ) -> Result<(PeriodLedger, PeriodTotals, Commitments), StoreError> {
        let ledger_key = keys::report_ledger(partnership_id, MSSP, &period.id());
        let commitments_key = keys::commitments(partnership_id);
        let mut ledger_item = None;
        let mut commitments = Commitments::none(partnership_id);
        let read = self
            .batch_get(vec![ledger_key.clone(), commitments_key.clone()])
            .await?;
        for item in read {
            match item.get("sk") {
                Some(AttributeValue::S(sk)) if *sk == ledger_key.sk => ledger_item = Some(item),
                Some(AttributeValue::S(sk)) if *sk == commitments_key.sk => {
                    commitments = super::decode(item)?;
                }
                _ => {}
            }
        }
        if let Some((ledger, totals)) = ledger_item
            .map(|item| built_totals(period, &item))
            .transpose()?
            .flatten()
        {
            return Ok((ledger, totals, commitments));
        }
        let build = self.rebuild_mssp_totals(partnership_id, period).await?;
        Ok((build.ledger, build.totals, commitments))
    }

    /// Counts a period's totals from its rows and stores them, with its company items,
    /// unless a row write or a late count reached the period since it was read: then the
    /// counted totals (exact as of the read) are answered but not stored, and the next read
    /// builds them again.
    pub async fn rebuild_mssp_totals(
        &self,
        partnership_id: &str,
        period: Period,
    ) -> Result<TotalsBuild, StoreError> {
        let rows = self.mssp_usage(partnership_id, period).await?;
        let totals = PeriodTotals::of_rows(period, &rows.rows);
        let read = rows.ledger;
        let ledger = PeriodLedger {
            late_records: read.late_records,
            totals_revision: read.totals_revision + 1,
            totals_complete: true,
            company_days_complete: true,
        };
        let mut build = TotalsBuild {
            ledger,
            totals,
            rows: rows.rows,
            stored: false,
        };
        if !self
            .build_company_index(partnership_id, period, &build.rows)
            .await?
        {
            return Ok(build);
        }
        let key = keys::report_ledger(partnership_id, MSSP, &period.id());
        let mut item = encode(&build.ledger, key)?;
        item.extend(build.totals.attributes());
        // Absent attributes read as 0, so "unchanged" is "absent or still the value read".
        let unchanged = |name: &str, value: u64| {
            if value == 0 {
                format!("(attribute_not_exists({name}) OR {name} = :zero)")
            } else {
                format!("{name} = :{name}")
            }
        };
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(format!(
                "{} AND {}",
                unchanged("totals_revision", read.totals_revision),
                unchanged("late_records", read.late_records)
            ));
        for (name, value) in [
            ("totals_revision", read.totals_revision),
            ("late_records", read.late_records),
        ] {
            // DynamoDB refuses a value the expression does not use.
            put = if value > 0 {
                put.expression_attribute_values(format!(":{name}"), n(to_i64(value)))
            } else {
                put.expression_attribute_values(":zero", n(0))
            };
        }
        match put.send().await {
            Ok(_) => build.stored = true,
            Err(err) if super::is_condition_failure(&err) => self.count_write_retry(),
            Err(err) => return Err(StoreError::sdk("PutItem", err)),
        }
        Ok(build)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::partner_data::calendar::PeriodKind;

    /// A row of account `a` with `series` per product.
    pub(in crate::storage) fn row(series: &[(&str, Vec<u64>)]) -> MsspCompanyUsage {
        MsspCompanyUsage {
            account_id: "a".into(),
            name: "Acme".into(),
            daily_units: series
                .iter()
                .map(|(p, days)| ((*p).to_owned(), days.clone()))
                .collect(),
            seq: 1,
            ttl_epoch_seconds: 0,
        }
    }

    fn period() -> Period {
        Period::parse(PeriodKind::Mssp, "2026-11").unwrap()
    }

    #[test]
    fn a_new_row_adds_its_units_its_company_per_day_and_one_eligible_company() {
        let new = row(&[("SNS", vec![3, 0, 12]), ("DA", vec![0, 0, 0])]);
        assert_eq!(
            row_changes(None, &new),
            vec![
                ("t_companies_SNS_00".to_owned(), 1),
                ("t_companies_SNS_02".to_owned(), 1),
                ("t_eligible".to_owned(), 1),
                ("t_units_SNS_00".to_owned(), 3),
                ("t_units_SNS_02".to_owned(), 12),
            ]
        );
    }

    #[test]
    fn a_replaced_row_changes_only_what_moved() {
        let old = row(&[("SNS", vec![3, 0, 12])]);
        let new = row(&[("SNS", vec![3, 5, 0])]);
        assert_eq!(
            row_changes(Some(&old), &new),
            vec![
                ("t_companies_SNS_01".to_owned(), 1),
                ("t_companies_SNS_02".to_owned(), -1),
                ("t_units_SNS_01".to_owned(), 5),
                ("t_units_SNS_02".to_owned(), -12),
            ]
        );
        // A row that loses every billable day (a state change) leaves the eligible count.
        let none = row(&[("SNS", vec![0, 0, 0])]);
        assert!(row_changes(Some(&old), &none).contains(&("t_eligible".to_owned(), -1)));
        assert!(row_changes(Some(&old), &old).is_empty());
    }

    #[test]
    fn totals_stored_as_attributes_read_back_the_same() {
        let rows = [
            row(&[("SNS", vec![3, 0, 12]), ("WAS", vec![1])]),
            row(&[("SNS", vec![4, 0, 1])]),
            row(&[("SNS", vec![0, 0, 0])]),
        ];
        let totals = PeriodTotals::of_rows(period(), &rows);
        assert_eq!(totals.eligible, 2);
        assert_eq!(&totals.units["SNS"][..3], &[7, 0, 13]);
        assert_eq!(&totals.companies["SNS"][..3], &[2, 0, 2]);
        assert_eq!(totals.units["SNS"].len(), 31);
        assert_eq!(
            PeriodTotals::from_item(period(), &totals.attributes()),
            totals
        );
    }
}
