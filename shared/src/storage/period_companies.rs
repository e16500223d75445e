//! What lets a page of an MSSP period's companies cost O(limit) at any size:
//! - the listing of its eligible companies in name order: one small item per eligible row,
//!   at the row's own name (the name it was computed under); its length is the totals'
//!   `eligible`;
//! - per product and day, the companies with units that day, the largest first (then by
//!   account id): one small item per row, product and day with units; a day's count is the
//!   totals' companies of that day. The companies on a product's peak date are one of them.
//!
//! Both are written in the transaction that writes the row ([`Store::replace_mssp_row`]) and
//! built with the period's totals for a period written before they were kept.

use std::collections::{BTreeSet, HashMap, HashSet};

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};

use super::account_list::{PageStart, name_position};
use super::period_totals::{PeriodTotals, TotalsBuild, built_totals, is_eligible};
use super::records::{MsspCompanyUsage, PeriodLedger};
use super::reports::MSSP;
use super::reports::row_as_read;
use super::{Item, Store, StoreError, decode, keys, n, s};
use crate::partner_data::calendar::Period;

/// Actions of one transaction when the items are built (DynamoDB takes at most 100).
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

/// One page of the companies with units of a product on one day, the largest first.
#[derive(Debug, Clone)]
pub struct CompanyDayPage {
    pub rows: Vec<MsspCompanyUsage>,
    /// The position of the page's last company, when more follow.
    pub next: Option<String>,
}

/// Where a company sorts among those with units on a day: the most units first (the units
/// subtracted from the largest number, in 20 digits), then by account id.
fn units_position(units: u64, account_id: &str) -> String {
    format!("{:020}\u{1}{account_id}", u64::MAX - units)
}

/// Is `text` shaped like a position among the companies of a day (so that it can start a
/// page)?
pub fn is_units_position(text: &str) -> bool {
    text.split_once('\u{1}').is_some_and(|(units, id)| {
        units.len() == 20
            && units.bytes().all(|b| b.is_ascii_digit())
            && !id.is_empty()
            && id.len() <= 200
            && !id.contains('\u{1}')
    })
}

/// The listing item of `row` (if it is eligible) and its company-day items.
fn index_keys(partnership_id: &str, period: Period, row: &MsspCompanyUsage) -> Vec<keys::Key> {
    let period_id = period.id();
    let mut keys: Vec<keys::Key> = is_eligible(row)
        .then(|| {
            let position = name_position(&row.name, &row.account_id);
            keys::mssp_company_listing(partnership_id, &period_id, &position)
        })
        .into_iter()
        .collect();
    for (product, series) in &row.daily_units {
        for (day, units) in series.iter().enumerate().filter(|(_, u)| **u > 0) {
            let position = units_position(*units, &row.account_id);
            keys.push(keys::mssp_company_day(
                partnership_id,
                &period_id,
                product,
                day,
                &position,
            ));
        }
    }
    keys
}

fn index_item(key: &keys::Key, row: &MsspCompanyUsage) -> Item {
    [
        ("pk".to_owned(), s(&key.pk)),
        ("sk".to_owned(), s(&key.sk)),
        ("account_id".to_owned(), s(&row.account_id)),
        (super::TTL_ATTRIBUTE.to_owned(), n(row.ttl_epoch_seconds)),
    ]
    .into()
}

impl Store {
    /// What replacing `old` (none: a new row) by `new` does to its listing and company-day
    /// items: the items it no longer has deleted, its new ones put.
    pub(super) fn company_index_actions(
        &self,
        partnership_id: &str,
        period: Period,
        old: Option<&MsspCompanyUsage>,
        new: &MsspCompanyUsage,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let before = old.map_or_else(Vec::new, |row| index_keys(partnership_id, period, row));
        let after = index_keys(partnership_id, period, new);
        let mut actions = Vec::new();
        for key in before.iter().filter(|key| !after.contains(key)) {
            actions.push(self.delete_item(key.clone(), None)?);
        }
        for key in after.iter().filter(|key| !before.contains(key)) {
            actions.push(self.put_item(index_item(key, new), None)?);
        }
        Ok(actions)
    }

    /// Makes a period's listing and company-day items match `rows` (a period written before
    /// they were kept): puts the missing items and deletes the stray ones, each with a
    /// check that its account's row is still the one read, so that a row written meanwhile
    /// (which keeps its items itself) is never undone. `false` when such a row came in
    /// between: the items are then not complete.
    pub(super) async fn build_company_index(
        &self,
        partnership_id: &str,
        period: Period,
        rows: &[MsspCompanyUsage],
    ) -> Result<bool, StoreError> {
        let mut stored: HashMap<String, HashSet<keys::Key>> = HashMap::new();
        for prefix in [
            keys::mssp_company_listing_prefix(&period.id()),
            keys::mssp_company_days_prefix(&period.id()),
        ] {
            let query = self
                .prefix_query(keys::partner_partition(partnership_id), &prefix)
                .projection_expression("sk, account_id");
            for item in self.query_pages(query, None).await? {
                if let (Some(AttributeValue::S(sk)), Some(AttributeValue::S(id))) =
                    (item.get("sk"), item.get("account_id"))
                {
                    let key = keys::Key {
                        pk: keys::partner_partition(partnership_id),
                        sk: sk.clone(),
                    };
                    stored.entry(id.clone()).or_default().insert(key);
                }
            }
        }
        let rows_by_account: HashMap<&str, &MsspCompanyUsage> =
            rows.iter().map(|r| (r.account_id.as_str(), r)).collect();
        let accounts: BTreeSet<String> = stored
            .keys()
            .cloned()
            .chain(rows_by_account.keys().map(|id| (*id).to_owned()))
            .collect();
        // Per account: its writes, in groups that each carry the check of its row.
        let mut groups: Vec<(String, Vec<TransactWriteItem>)> = Vec::new();
        for account_id in accounts {
            let row = rows_by_account.get(account_id.as_str()).copied();
            let wanted = row.map_or_else(Vec::new, |r| index_keys(partnership_id, period, r));
            let had = stored.remove(&account_id).unwrap_or_default();
            let mut writes = Vec::new();
            for key in had.iter().filter(|k| !wanted.contains(k)) {
                writes.push(self.delete_item(key.clone(), None)?);
            }
            if let Some(row) = row {
                for key in wanted.iter().filter(|k| !had.contains(k)) {
                    writes.push(self.put_item(index_item(key, row), None)?);
                }
            }
            for chunk in writes.chunks(BUILD_ACTIONS - 1) {
                let mut group = chunk.to_vec();
                group.push(self.row_unchanged(partnership_id, period, &account_id, row)?);
                groups.push((account_id.clone(), group));
            }
        }
        // Groups per transaction, never two of one account (a transaction may not touch an
        // item twice, and each group checks its account's row).
        let mut transactions: Vec<(HashSet<String>, Vec<TransactWriteItem>)> = Vec::new();
        for (account_id, group) in groups {
            match transactions.last_mut() {
                Some((accounts, actions))
                    if actions.len() + group.len() <= BUILD_ACTIONS
                        && !accounts.contains(&account_id) =>
                {
                    accounts.insert(account_id);
                    actions.extend(group);
                }
                _ => transactions.push(([account_id].into(), group)),
            }
        }
        for (_, actions) in transactions {
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
        // A row changed since its listing item was read (renamed, no longer eligible) is
        // left out of this page; it is listed at its new place.
        let rows = self
            .listed_rows(partnership_id, period, page, |row, position| {
                is_eligible(row) && name_position(&row.name, &row.account_id) == position
            })
            .await?;
        Ok(CompanyPage {
            ledger,
            totals,
            rows,
            next,
        })
    }

    /// The page of `limit` companies with units of `product` on day `day` of an MSSP period
    /// (0: its first day), the most units first, from `start`: one Query of their items,
    /// then one BatchGetItem of their rows. The period's totals must be built (see
    /// [`Store::mssp_summary`]); the day's count is theirs.
    pub async fn mssp_company_day_page(
        &self,
        partnership_id: &str,
        period: Period,
        (product, day): (&str, usize),
        start: &PageStart,
        limit: usize,
    ) -> Result<CompanyDayPage, StoreError> {
        let prefix = keys::mssp_company_day_prefix(&period.id(), product, day);
        let read = self.listing_read(partnership_id, prefix, start, limit);
        let (page, next) = read.page(read.items(self).await?);
        // A row whose units that day changed since its item was read is left out of this
        // page; it is listed at its new place.
        let rows = self
            .listed_rows(partnership_id, period, page, |row, position| {
                let units = row.units_on(product, day);
                units > 0 && units_position(units, &row.account_id) == position
            })
            .await?;
        Ok(CompanyDayPage { rows, next })
    }

    /// The rows of a page of listed accounts (positions and account ids), in one
    /// BatchGetItem, each only if it is still at its position.
    async fn listed_rows(
        &self,
        partnership_id: &str,
        period: Period,
        page: Vec<(String, String)>,
        still_at: impl Fn(&MsspCompanyUsage, &str) -> bool,
    ) -> Result<Vec<MsspCompanyUsage>, StoreError> {
        let wanted: Vec<keys::Key> = page
            .iter()
            .map(|(_, id)| keys::report_usage(partnership_id, MSSP, &period.id(), id))
            .collect();
        let mut found = HashMap::new();
        if !wanted.is_empty() {
            for item in self.batch_get(wanted).await? {
                let row: MsspCompanyUsage = decode(item)?;
                found.insert(row.account_id.clone(), row);
            }
        }
        Ok(page
            .iter()
            .filter_map(|(position, id)| {
                let row = found.remove(id)?;
                still_at(&row, position).then_some(row)
            })
            .collect())
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
