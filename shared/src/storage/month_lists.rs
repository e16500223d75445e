//! The month lists of a reseller partnership, so that a page of a month's companies or usage
//! costs O(limit): per month, one small item per account in name order in the list of
//! accounts with a subscription overlapping the month (`SUBSCRIBED`, the companies report)
//! and one in the list of accounts with a subscription or some use there (`USAGE`, the
//! usage report), and one item counting both.
//!
//! Which lists an account is in is stored on the account itself (`month_lists`), for the
//! current and the previous month of the day of its last write, so every write of the
//! account moves exactly the items it had: create, change and delete (provisioning), the
//! engagement write (ingestion adds the months with use) and the daily recompute (which,
//! on a month's first day, adds the new month and drops the one before the previous).
//! Membership does not change as days pass within a month, so a month's lists are complete
//! from the first complete daily recompute on or after its first day. A closed month is
//! read whole (its snapshots keep accounts deleted since, which the lists drop).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::account_list::{CountMoves, PageStart, listing_position, number};
use super::customer_levels::complete_day;
use super::records::{AccountRecord, PeriodLedger, ResellerCompanyUsage};
use super::reports::RESELLER;
use super::{Store, StoreError, decode, keys};
use crate::calendar::{Period, PeriodKind};

/// Why an account is in a month's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonthMembership {
    /// A subscription overlaps the month: in both lists.
    Subscribed,
    /// No subscription, but some use that month: in the usage list only.
    UsageOnly,
}

/// One of a month's two lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonthList {
    /// Accounts with a subscription overlapping the month (the companies report).
    Subscribed,
    /// Accounts with a subscription or some use in the month (the usage report).
    Usage,
}

impl MonthList {
    const fn name(self) -> &'static str {
        match self {
            Self::Subscribed => "SUBSCRIBED",
            Self::Usage => "USAGE",
        }
    }

    /// The counts item's attribute of this list.
    const fn count(self) -> &'static str {
        match self {
            Self::Subscribed => "subscribed",
            Self::Usage => "usage",
        }
    }

    fn holds(self, membership: MonthMembership) -> bool {
        self == Self::Usage || membership == MonthMembership::Subscribed
    }
}

/// The month lists `account` belongs in, as a write on `day` stores them: for the month of
/// `day` and the one before.
pub fn month_memberships(
    account: &AccountRecord,
    day: NaiveDate,
) -> BTreeMap<String, MonthMembership> {
    let current = Period::containing(PeriodKind::Reseller, day);
    [current, current.previous()]
        .into_iter()
        .filter_map(|month| {
            let subscribed = account
                .subscriptions
                .values()
                .any(|s| s.start_date <= month.end() && s.end_date >= month.start());
            let membership = if subscribed {
                MonthMembership::Subscribed
            } else if account.usage_months.contains(&month.id()) {
                MonthMembership::UsageOnly
            } else {
                return None;
            };
            Some((month.id(), membership))
        })
        .collect()
}

/// One page of a month's list, with what the page shows beside it.
#[derive(Debug, Clone)]
pub struct MonthPage {
    pub ledger: PeriodLedger,
    pub accounts: Vec<AccountRecord>,
    /// The month's daily units of the page's accounts (usage list only; absent: no row).
    pub usage: HashMap<String, ResellerCompanyUsage>,
    /// The listing position of the page's last account, when more follow.
    pub next: Option<String>,
    /// Accounts in the list, from the maintained counts.
    pub total: u64,
}

impl Store {
    /// What an account going from `before` to `after` (`None`: absent) does to the month
    /// lists, per the lists each of them records: items moved and counts moved.
    pub(super) fn month_list_actions(
        &self,
        partnership_id: &str,
        before: Option<&AccountRecord>,
        after: Option<&AccountRecord>,
    ) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, StoreError> {
        let lists_of = |account: Option<&AccountRecord>| -> Vec<(String, MonthList)> {
            account.map_or_else(Vec::new, |a| {
                a.month_lists
                    .iter()
                    .flat_map(|(month, membership)| {
                        [MonthList::Subscribed, MonthList::Usage]
                            .into_iter()
                            .filter(|list| list.holds(*membership))
                            .map(|list| (month.clone(), list))
                    })
                    .collect()
            })
        };
        let entries = |account: Option<&AccountRecord>| -> Vec<(keys::Key, String)> {
            let Some(account) = account else {
                return Vec::new();
            };
            let position = listing_position(account);
            lists_of(Some(account))
                .into_iter()
                .map(|(month, list)| {
                    let key = keys::month_list(partnership_id, &month, list.name(), &position);
                    (key, account.account_id.clone())
                })
                .collect()
        };
        let mut actions = self.listing_item_moves(&entries(before), &entries(after))?;
        let mut moves: BTreeMap<String, CountMoves> = BTreeMap::new();
        for (account, by) in [(before, -1), (after, 1)] {
            for (month, list) in lists_of(account) {
                moves
                    .entry(month)
                    .or_default()
                    .add(list.count().to_owned(), by);
            }
        }
        for (month, moves) in moves {
            let key = keys::month_list_counts(partnership_id, &month);
            actions.extend(self.count_update(key, moves, None)?);
        }
        Ok(actions)
    }

    /// The page of `limit` accounts of `month`'s `list` in name order from `start`, with
    /// the month's ledger: the list's Query beside one BatchGetItem of the recompute's
    /// status, the counts and the ledger, then the page's accounts (and usage rows). `None`
    /// when the lists are not complete for the month yet (the caller reads the month whole).
    pub async fn month_page(
        &self,
        partnership_id: &str,
        month: Period,
        list: MonthList,
        start: &PageStart,
        limit: usize,
    ) -> Result<Option<MonthPage>, StoreError> {
        let prefix = keys::month_list_prefix(&month.id(), list.name());
        let read = self.listing_read(partnership_id, prefix, start, limit);
        let status_key = keys::customer_index_status(partnership_id);
        let counts_key = keys::month_list_counts(partnership_id, &month.id());
        let ledger_key = keys::report_ledger(partnership_id, RESELLER, &month.id());
        let singles = vec![status_key.clone(), counts_key.clone(), ledger_key.clone()];
        let (listed, singles) = futures::try_join!(read.items(self), self.batch_get(singles))?;
        let single = |key: &keys::Key| {
            singles.iter().find(|item| {
                matches!(item.get("sk"), Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) if *sk == key.sk)
            })
        };
        if single(&status_key)
            .and_then(complete_day)
            .is_none_or(|day| day < month.start())
        {
            return Ok(None);
        }
        let ledger = match single(&ledger_key) {
            Some(item) => decode(item.clone())?,
            None => PeriodLedger::default(),
        };
        let total = single(&counts_key)
            .and_then(|item| number(item, list.count()))
            .unwrap_or(0);
        let (page, next) = read.page(listed);
        let usage_keys: Vec<keys::Key> = match list {
            MonthList::Subscribed => Vec::new(),
            MonthList::Usage => page
                .iter()
                .map(|(_, id)| keys::report_usage(partnership_id, RESELLER, &month.id(), id))
                .collect(),
        };
        let read_usage = async {
            if usage_keys.is_empty() {
                return Ok(Vec::new());
            }
            self.batch_get(usage_keys).await
        };
        let (accounts, rows) =
            futures::try_join!(self.listed_accounts(partnership_id, &page), read_usage)?;
        let usage = rows
            .into_iter()
            .map(|item| decode::<ResellerCompanyUsage>(item).map(|u| (u.account_id.clone(), u)))
            .collect::<Result<_, _>>()?;
        // An account renamed or moved out of the list since its item was read is left out
        // of this page (it is listed at its new place, if any).
        let positions: HashMap<&str, &str> = page
            .iter()
            .map(|(position, id)| (id.as_str(), position.as_str()))
            .collect();
        let accounts = accounts
            .into_iter()
            .filter(|a| {
                positions.get(a.account_id.as_str()) == Some(&listing_position(a).as_str())
                    && a.month_lists
                        .get(&month.id())
                        .is_some_and(|membership| list.holds(*membership))
            })
            .collect();
        Ok(Some(MonthPage {
            ledger,
            accounts,
            usage,
            next,
            total,
        }))
    }
}
