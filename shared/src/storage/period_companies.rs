//! The listing of an MSSP period's eligible companies in name order, so that a page of the
//! period's companies costs O(limit) at any size: one small item per eligible company row,
//! at the row's own name (the name it was computed under), written in the transaction that
//! writes the row ([`Store::put_mssp_usage`]) and built with the period's totals for a
//! period written before listings were kept. Its length is the totals' `eligible`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};

use super::account_list::{PageStart, name_position};
use super::period_totals::{PeriodTotals, TotalsBuild, built_totals, is_eligible};
use super::records::{MsspCompanyUsage, PeriodLedger};
use super::reports::MSSP;
use super::reports::row_as_read;
use super::{Item, Store, StoreError, decode, keys, n, s};
use crate::calendar::Period;

/// Actions of one transaction when a listing is built (DynamoDB takes at most 100).
const BUILD_ACTIONS: usize = 100;

/// One page of a period's eligible companies in name order, with what the page shows
/// beside them.
#[derive(Debug, Clone)]
pub struct CompanyPage {
    pub ledger: PeriodLedger,
    pub totals: PeriodTotals,
    pub rows: Vec<MsspCompanyUsage>,
    /// The listing position of the page's last company, when more follow.
    pub next: Option<String>,
}

/// The listing item of `row`, if it is eligible.
fn listing_key(partnership_id: &str, period: Period, row: &MsspCompanyUsage) -> Option<keys::Key> {
    is_eligible(row).then(|| {
        let position = name_position(&row.name, &row.account_id);
        keys::mssp_company_listing(partnership_id, &period.id(), &position)
    })
}

fn listing_item(key: &keys::Key, row: &MsspCompanyUsage) -> Item {
    [
        ("pk".to_owned(), s(&key.pk)),
        ("sk".to_owned(), s(&key.sk)),
        ("account_id".to_owned(), s(&row.account_id)),
        (super::TTL_ATTRIBUTE.to_owned(), n(row.ttl_epoch_seconds)),
    ]
    .into()
}

impl Store {
    /// What replacing `old` (none: a new row) by `new` does to the listing: the old item
    /// deleted and the new one put, when the row's name or eligibility changed.
    pub(super) fn company_listing_actions(
        &self,
        partnership_id: &str,
        period: Period,
        old: Option<&MsspCompanyUsage>,
        new: &MsspCompanyUsage,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let before = old.and_then(|row| listing_key(partnership_id, period, row));
        let after = listing_key(partnership_id, period, new);
        let mut actions = Vec::new();
        if before == after {
            return Ok(actions);
        }
        if let Some(key) = before {
            actions.push(self.delete_item(key, None)?);
        }
        if let Some(key) = after {
            actions.push(self.put_item(listing_item(&key, new), None)?);
        }
        Ok(actions)
    }

    /// Makes a period's listing match `rows` (a period written before listings were kept):
    /// puts the missing items and deletes the stray ones, each with a check that its
    /// account's row is still the one read, so that a row written meanwhile (which keeps the
    /// listing itself) is never undone. `false` when such a row came in between: the
    /// listing is then not complete.
    pub(super) async fn build_company_listing(
        &self,
        partnership_id: &str,
        period: Period,
        rows: &[MsspCompanyUsage],
    ) -> Result<bool, StoreError> {
        let prefix = keys::mssp_company_listing_prefix(&period.id());
        let query = self
            .prefix_query(keys::partner_partition(partnership_id), &prefix)
            .projection_expression("sk, account_id");
        let mut stored: HashMap<String, Vec<keys::Key>> = HashMap::new();
        for item in self.query_pages(query, None).await? {
            if let (Some(AttributeValue::S(sk)), Some(AttributeValue::S(id))) =
                (item.get("sk"), item.get("account_id"))
            {
                let key = keys::Key {
                    pk: keys::partner_partition(partnership_id),
                    sk: sk.clone(),
                };
                stored.entry(id.clone()).or_default().push(key);
            }
        }
        let rows_by_account: HashMap<&str, &MsspCompanyUsage> =
            rows.iter().map(|r| (r.account_id.as_str(), r)).collect();
        let accounts: std::collections::BTreeSet<String> = stored
            .keys()
            .cloned()
            .chain(rows_by_account.keys().map(|id| (*id).to_owned()))
            .collect();
        // Per account: its listing writes and the check of its row (one transaction may
        // not touch an item twice, so an account's writes stay together).
        let mut groups: Vec<Vec<TransactWriteItem>> = Vec::new();
        for account_id in accounts {
            let row = rows_by_account.get(account_id.as_str()).copied();
            let wanted = row.and_then(|r| listing_key(partnership_id, period, r));
            let had = stored.remove(&account_id).unwrap_or_default();
            let mut group = Vec::new();
            for key in had.iter().filter(|k| Some(*k) != wanted.as_ref()) {
                group.push(self.delete_item(key.clone(), None)?);
            }
            if let (Some(key), Some(row)) = (&wanted, row)
                && !had.contains(key)
            {
                group.push(self.put_item(listing_item(key, row), None)?);
            }
            if !group.is_empty() {
                group.push(self.row_unchanged(partnership_id, period, &account_id, row)?);
                groups.push(group);
            }
        }
        // Whole accounts per transaction (an account's strays are few: a group stays far
        // below the limit).
        let mut transactions: Vec<Vec<TransactWriteItem>> = Vec::new();
        for group in groups {
            match transactions.last_mut() {
                Some(actions) if actions.len() + group.len() <= BUILD_ACTIONS => {
                    actions.extend(group);
                }
                _ => transactions.push(group),
            }
        }
        for actions in transactions {
            if self.transact(actions).await?.is_err() {
                self.count_write_retry();
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A transaction check that an account's row of `period` is still `row` as read
    /// (none: still absent).
    fn row_unchanged(
        &self,
        partnership_id: &str,
        period: Period,
        account_id: &str,
        row: Option<&MsspCompanyUsage>,
    ) -> Result<TransactWriteItem, StoreError> {
        let key = keys::report_usage(partnership_id, MSSP, &period.id(), account_id);
        let (condition, read) = row_as_read(row.map(|r| r.seq));
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .condition_expression(condition)
            .set_expression_attribute_values(read)
            .build()
            .map_err(super::build_error)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// The page of `limit` eligible companies of an MSSP period in name order from `start`,
    /// with the period's ledger and totals: the listing's Query beside the ledger's
    /// GetItem, then one BatchGetItem of the page's rows. A period whose totals were never
    /// built has them and its listing built first.
    pub async fn mssp_company_page(
        &self,
        partnership_id: &str,
        period: Period,
        start: &PageStart,
        limit: usize,
    ) -> Result<CompanyPage, StoreError> {
        let prefix = keys::mssp_company_listing_prefix(&period.id());
        let read = self.listing_read(partnership_id, prefix, start, limit);
        let ledger_key = keys::report_ledger(partnership_id, MSSP, &period.id());
        let (mut listed, ledger_item) =
            futures::try_join!(read.items(self), self.get_item(ledger_key))?;
        let built = ledger_item
            .map(|item| built_totals(period, &item))
            .transpose()?
            .flatten();
        let (ledger, totals) = match built {
            Some(ledger_and_totals) => ledger_and_totals,
            None => {
                let build = self.rebuild_mssp_totals(partnership_id, period).await?;
                if !build.stored {
                    // Rows changed while the listing was built: this page from the rows read.
                    return Ok(page_of_rows(build, start, limit));
                }
                listed = read.items(self).await?;
                (build.ledger, build.totals)
            }
        };
        let (page, next) = read.page(listed);
        let wanted: Vec<keys::Key> = page
            .iter()
            .map(|(_, id)| keys::report_usage(partnership_id, MSSP, &period.id(), id))
            .collect();
        let mut found = std::collections::HashMap::new();
        if !wanted.is_empty() {
            for item in self.batch_get(wanted).await? {
                let row: MsspCompanyUsage = decode(item)?;
                found.insert(row.account_id.clone(), row);
            }
        }
        // A row changed since its listing item was read (renamed, no longer eligible) is
        // left out of this page; it is listed at its new place.
        let rows = page
            .iter()
            .filter_map(|(position, id)| {
                let row = found.remove(id)?;
                (is_eligible(&row) && name_position(&row.name, &row.account_id) == *position)
                    .then_some(row)
            })
            .collect();
        Ok(CompanyPage {
            ledger,
            totals,
            rows,
            next,
        })
    }
}

/// The page the listing would give, from a period's rows themselves.
fn page_of_rows(build: TotalsBuild, start: &PageStart, limit: usize) -> CompanyPage {
    let mut eligible: Vec<(String, MsspCompanyUsage)> = build
        .rows
        .into_iter()
        .filter(is_eligible)
        .map(|row| (name_position(&row.name, &row.account_id), row))
        .collect();
    eligible.sort_by(|a, b| a.0.cmp(&b.0));
    let (rows, next) = start.page_of(eligible, limit);
    CompanyPage {
        ledger: build.ledger,
        totals: build.totals,
        rows,
        next,
    }
}
