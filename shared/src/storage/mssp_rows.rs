//! Writing an account's row of an MSSP period with everything derived from it: the period's
//! totals, the row's listing item and its company-day items move in the row's own
//! transaction, conditioned on the row as read, so none of them can drift from the rows.
//!
//! A transaction holds at most 100 actions, and a row whose every day changed moves up to
//! two company-day items per product and day. Such a replacement is written in steps: the
//! row as read with a few more of the new row's days set at each step, each step a write
//! conditioned on the one before, the last step the new row itself. A write met by another
//! one stops there (`Stale`): the days written so far are exact for the records read, and
//! the caller derives the rest onto what it reads again.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::records::MsspCompanyUsage;
use super::reports::{MSSP, next_revision, row_as_read};
use super::{Store, StoreError, WriteOutcome, build_error, encode, keys};
use crate::partner_data::calendar::Period;

/// Actions one transaction may hold (DynamoDB's limit).
const TRANSACTION_ACTIONS: usize = 100;
/// What a step needs besides its company-day items: the row, the totals, and the listing
/// item moved (a delete and a put).
const ROW_ACTIONS: usize = 4;
/// Rounds of re-reading a company row whose write met another write of it.
const ROW_WRITE_ROUNDS: usize = 8;

/// The rows to write in turn to replace `old` (none: absent) by `new`, each within one
/// transaction: `new` alone when it fits, else `old` with `new`'s days set a few days at a
/// time, ending with `new` itself. Revisions are set by the writer.
pub(super) fn steps(
    old: Option<&MsspCompanyUsage>,
    new: &MsspCompanyUsage,
) -> Vec<MsspCompanyUsage> {
    let mut current = MsspCompanyUsage {
        daily_units: old.map(|o| o.daily_units.clone()).unwrap_or_default(),
        ..new.clone()
    };
    let products: BTreeSet<String> = current
        .daily_units
        .keys()
        .chain(new.daily_units.keys())
        .cloned()
        .collect();
    let days = current
        .daily_units
        .values()
        .chain(new.daily_units.values())
        .map(Vec::len)
        .max()
        .unwrap_or(0);
    let mut steps = Vec::new();
    let mut moves = 0;
    for day in 0..days {
        // A changed cell deletes its old item (if it had units) and puts its new one (if
        // it has units).
        let day_moves: usize = products
            .iter()
            .map(|product| {
                let (was, is) = (current.units_on(product, day), new.units_on(product, day));
                if was == is {
                    0
                } else {
                    usize::from(was > 0) + usize::from(is > 0)
                }
            })
            .sum();
        if day_moves == 0 {
            continue;
        }
        if moves > 0 && moves + day_moves > TRANSACTION_ACTIONS - ROW_ACTIONS {
            steps.push(current.clone());
            moves = 0;
        }
        moves += day_moves;
        for product in &products {
            let series = current
                .daily_units
                .entry(product.clone())
                .or_insert_with(|| vec![0; days]);
            if series.len() < days {
                series.resize(days, 0);
            }
            series[day] = new.units_on(product, day);
        }
    }
    steps.push(new.clone());
    steps
}

impl Store {
    /// Replaces an account's row of an MSSP period if it is still as `read` (none: still
    /// absent), with its difference added to the period's totals and its listing and
    /// company-day items moved in the same transaction (in steps when they do not fit in
    /// one). The revision `row` carries is replaced by the writer's.
    pub async fn replace_mssp_row(
        &self,
        partnership_id: &str,
        period: Period,
        read: Option<&MsspCompanyUsage>,
        row: &MsspCompanyUsage,
    ) -> Result<WriteOutcome, StoreError> {
        let mut before = read.cloned();
        for mut step in steps(read, row) {
            step.seq = next_revision(before.as_ref().map(|r| r.seq));
            let outcome = self
                .write_mssp_step(partnership_id, period, before.as_ref(), &step)
                .await?;
            if outcome == WriteOutcome::Stale {
                return Ok(outcome);
            }
            before = Some(step);
        }
        Ok(WriteOutcome::Written)
    }

    /// One transaction of [`Store::replace_mssp_row`].
    async fn write_mssp_step(
        &self,
        partnership_id: &str,
        period: Period,
        read: Option<&MsspCompanyUsage>,
        row: &MsspCompanyUsage,
    ) -> Result<WriteOutcome, StoreError> {
        let key = keys::report_usage(partnership_id, MSSP, &period.id(), &row.account_id);
        let (condition, values) = row_as_read(read.map(|r| r.seq));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(encode(row, key)?))
            .condition_expression(condition)
            .set_expression_attribute_values(values);
        let mut actions = vec![
            TransactWriteItem::builder()
                .put(put.build().map_err(build_error)?)
                .build(),
        ];
        let changes = super::period_totals::row_changes(read, row);
        if !changes.is_empty() {
            actions.push(self.add_to_totals(partnership_id, period, &changes)?);
        }
        actions.extend(self.company_index_actions(partnership_id, period, read, row)?);
        self.write_as_read(actions).await
    }

    /// Writes an account's row of an MSSP period over whatever is stored, keeping the
    /// totals, the listing and the company-day items (seeding data sets and tests;
    /// ingestion derives rows onto the ones it read).
    pub async fn put_mssp_usage(
        &self,
        partnership_id: &str,
        period: Period,
        usage: &MsspCompanyUsage,
    ) -> Result<(), StoreError> {
        let key = keys::report_usage(partnership_id, MSSP, &period.id(), &usage.account_id);
        for round in 0..ROW_WRITE_ROUNDS {
            if round > 0 {
                super::backoff(round).await;
            }
            let read: Option<MsspCompanyUsage> = self.get_record(key.clone()).await?;
            let outcome = self
                .replace_mssp_row(partnership_id, period, read.as_ref(), usage)
                .await?;
            if outcome == WriteOutcome::Written {
                return Ok(());
            }
        }
        Err(StoreError::Contention {
            operation: "TransactWriteItems",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::period_totals::tests::row;

    /// The actions a step from `old` to `new` takes for its company-day items.
    fn moves(old: &MsspCompanyUsage, new: &MsspCompanyUsage) -> usize {
        let mut count = 0;
        let products: BTreeSet<&String> = old
            .daily_units
            .keys()
            .chain(new.daily_units.keys())
            .collect();
        for product in products {
            for day in 0..31 {
                let (was, is) = (old.units_on(product, day), new.units_on(product, day));
                if was != is {
                    count += usize::from(was > 0) + usize::from(is > 0);
                }
            }
        }
        count
    }

    #[test]
    fn a_small_change_is_one_step_the_new_row_itself() {
        let old = row(&[("SNS", vec![3, 0, 12])]);
        let new = row(&[("SNS", vec![3, 5, 12]), ("DA", vec![0, 0, 1])]);
        assert_eq!(steps(Some(&old), &new), vec![new.clone()]);
        assert_eq!(steps(None, &new), vec![new]);
    }

    #[test]
    fn a_whole_period_of_six_products_is_written_in_steps_that_each_fit_a_transaction() {
        let products = ["SNS", "DA", "WAS", "CS", "PAT", "XDR"];
        let old = row(&products.map(|p| (p, (1..=31).collect::<Vec<u64>>())));
        let new = row(&products.map(|p| (p, (101..=131).collect::<Vec<u64>>())));
        let written = steps(Some(&old), &new);
        // 6 products × 31 days × (delete + put) = 372 moves, at most 96 per step.
        assert_eq!(written.len(), 4);
        assert_eq!(written.last(), Some(&new));
        let mut before = old.clone();
        for step in &written {
            let moved = moves(&before, step);
            assert!(
                moved > 0 && moved <= TRANSACTION_ACTIONS - ROW_ACTIONS,
                "{moved}"
            );
            before = step.clone();
        }
        // Each step sets whole days: the first has the new row's first days only.
        assert_eq!(written[0].units_on("DA", 0), 101);
        assert_eq!(written[0].units_on("DA", 30), 31);
        // From nothing (a new row): puts only, 186 of them.
        let from_nothing = steps(None, &new);
        assert_eq!(from_nothing.len(), 2);
        assert_eq!(moves(&row(&[]), &from_nothing[0]), 96);
    }

    #[test]
    fn a_product_dropped_from_the_new_row_is_zeroed_day_by_day_then_gone() {
        let days: Vec<u64> = vec![7; 31];
        let old = row(&[
            ("SNS", days.clone()),
            ("DA", days.clone()),
            ("WAS", days.clone()),
            ("CS", days),
        ]);
        let new = row(&[]);
        let written = steps(Some(&old), &new);
        assert_eq!(written.len(), 2);
        assert_eq!(written[0].units_on("SNS", 0), 0);
        assert_eq!(written[0].units_on("SNS", 30), 7);
        assert_eq!(written[1], new);
    }
}
