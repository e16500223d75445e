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
//! from the first complete daily recompute on or after its first day.
//!
//! A closed month is final: the daily recompute freezes its lists once (`FROZEN`), each item
//! holding the account as the month's report shows it — name and state as of the freeze,
//! the subscriptions as of the close (its snapshot, when a change came after) — so that
//! neither a rename nor a deletion afterwards moves it. Until frozen, it is read whole.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::account_list::{CountMoves, PageStart, listing_position, name_position, number, string};
use super::accounts::contract_fields;
use super::customer_levels::complete_day;
use super::records::{AccountRecord, PeriodLedger, ResellerCompanyUsage, ResellerSnapshot};
use super::reports::RESELLER;
use super::{Item, Projection, Store, StoreError, decode, encode, keys, n, s};
use crate::partner_data::calendar::{Period, PeriodKind};

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

    /// Does an account of `membership` belong in this list?
    pub fn holds(self, membership: MonthMembership) -> bool {
        self == Self::Usage || membership == MonthMembership::Subscribed
    }

    fn prefix(self, month: Period, frozen: bool) -> String {
        let list = if frozen {
            format!("FROZEN#{}", self.name())
        } else {
            self.name().to_owned()
        };
        keys::month_list_prefix(&month.id(), &list)
    }
}

/// The lists `account` (as the month's report shows it, with its daily units there) is in.
pub fn month_membership(
    account: &ResellerSnapshot,
    daily: Option<&BTreeMap<String, Vec<u64>>>,
    month: Period,
) -> Option<MonthMembership> {
    if !account.overlapping(month).is_empty() {
        Some(MonthMembership::Subscribed)
    } else if daily.is_some_and(|d| d.values().flatten().any(|units| *units > 0)) {
        Some(MonthMembership::UsageOnly)
    } else {
        None
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
            let subscribed = account.subscriptions.values().any(|s| s.overlaps(month));
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
    /// The page's accounts as the month's report shows them.
    pub accounts: Vec<ResellerSnapshot>,
    /// The month's daily units of the page's accounts (usage list only; absent: no row).
    pub usage: HashMap<String, ResellerCompanyUsage>,
    /// The listing position of the page's last account, when more follow.
    pub next: Option<String>,
    /// Accounts in the list, from the maintained counts.
    pub total: u64,
}

/// A month read whole: its ledger, its accounts as its report shows them (a closed month:
/// with the subscriptions its snapshots kept, and the accounts deleted since) and their
/// daily units.
#[derive(Debug, Clone)]
pub struct WholeMonth {
    pub ledger: PeriodLedger,
    pub accounts: Vec<ResellerSnapshot>,
    pub daily_units: HashMap<String, BTreeMap<String, Vec<u64>>>,
}

/// Actions per transaction when a closed month's lists are frozen (DynamoDB takes 100).
const FREEZE_ACTIONS: usize = 100;

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
    /// the month's ledger: the list's Query beside one BatchGetItem of its counts and the
    /// ledger (and the recompute's status), then the page's accounts and usage rows. A
    /// `closed` month reads its frozen lists, whose items hold the accounts. `None` when
    /// the lists are not complete (not yet listed, or not yet frozen): the caller reads the
    /// month whole.
    pub async fn month_page(
        &self,
        partnership_id: &str,
        month: Period,
        list: MonthList,
        closed: bool,
        start: &PageStart,
        limit: usize,
    ) -> Result<Option<MonthPage>, StoreError> {
        let mut read = self.listing_read(partnership_id, list.prefix(month, closed), start, limit);
        if closed {
            read = read.whole_items();
        }
        let counts_key = if closed {
            keys::month_lists_frozen(partnership_id, &month.id())
        } else {
            keys::month_list_counts(partnership_id, &month.id())
        };
        let status_key = keys::customer_index_status(partnership_id);
        let ledger_key = keys::report_ledger(partnership_id, RESELLER, &month.id());
        let mut singles = vec![counts_key.clone(), ledger_key.clone()];
        if !closed {
            singles.push(status_key.clone());
        }
        let (listed, singles) = futures::try_join!(read.items(self), self.batch_get(singles))?;
        let single = |key: &keys::Key| {
            singles
                .iter()
                .find(|item| matches!(item.get("sk"), Some(AttributeValue::S(sk)) if *sk == key.sk))
        };
        let complete = if closed {
            single(&counts_key).is_some_and(|item| item.contains_key(FROZEN_COMPLETE))
        } else {
            single(&status_key)
                .and_then(complete_day)
                .is_some_and(|day| day >= month.start())
        };
        if !complete {
            return Ok(None);
        }
        let ledger = match single(&ledger_key) {
            Some(item) => decode(item.clone())?,
            None => PeriodLedger::default(),
        };
        let total = single(&counts_key)
            .and_then(|item| number(item, list.count()))
            .unwrap_or(0);
        let (page, next) = read.page_items(listed);
        let ids: Vec<String> = page
            .iter()
            .filter_map(|(_, item)| string(item, "account_id").map(str::to_owned))
            .collect();
        let usage_keys: Vec<keys::Key> = match list {
            MonthList::Subscribed => Vec::new(),
            MonthList::Usage => ids
                .iter()
                .map(|id| keys::report_usage(partnership_id, RESELLER, &month.id(), id))
                .collect(),
        };
        let read_usage = async {
            if usage_keys.is_empty() {
                return Ok(Vec::new());
            }
            self.batch_get(usage_keys).await
        };
        let read_accounts = async {
            if closed {
                // The frozen items are the accounts.
                return page
                    .iter()
                    .map(|(_, item)| decode::<ResellerSnapshot>(item.clone()))
                    .collect::<Result<Vec<_>, _>>();
            }
            let positions: Vec<(String, String)> = page
                .iter()
                .zip(&ids)
                .map(|((position, _), id)| (position.clone(), id.clone()))
                .collect();
            let contracts = Projection::of(contract_fields());
            let accounts = self
                .listed_accounts(partnership_id, &positions, Some(&contracts))
                .await?;
            // An account renamed or moved out of the list since its item was read is left
            // out of this page (it is listed at its new place, if any).
            Ok(accounts
                .into_iter()
                .filter(|a| {
                    positions.iter().any(|(position, id)| {
                        *id == a.account_id && *position == listing_position(a)
                    }) && a
                        .month_lists
                        .get(&month.id())
                        .is_some_and(|membership| list.holds(*membership))
                })
                .map(ResellerSnapshot::live)
                .collect())
        };
        let (accounts, rows) = futures::try_join!(read_accounts, read_usage)?;
        let usage = rows
            .into_iter()
            .map(|item| decode::<ResellerCompanyUsage>(item).map(|u| (u.account_id.clone(), u)))
            .collect::<Result<_, _>>()?;
        Ok(Some(MonthPage {
            ledger,
            accounts,
            usage,
            next,
            total,
        }))
    }

    /// A month read whole: the accounts' Query (their contract fields), then the month's
    /// (ledger, rows, snapshots). In this order, so that a change that reached a closed
    /// month after the accounts were read is seen by its snapshot (written with it).
    pub async fn whole_month(
        &self,
        partnership_id: &str,
        month: Period,
        closed: bool,
    ) -> Result<WholeMonth, StoreError> {
        let accounts = self.account_contracts(partnership_id).await?;
        let rows = self.reseller_usage(partnership_id, month).await?;
        let mut kept: HashMap<String, ResellerSnapshot> = if closed {
            rows.snapshots
                .into_iter()
                .map(|s| (s.account_id.clone(), s))
                .collect()
        } else {
            HashMap::new()
        };
        let mut month_accounts: Vec<ResellerSnapshot> = accounts
            .into_iter()
            .map(|account| match kept.remove(&account.account_id) {
                Some(snapshot) => ResellerSnapshot {
                    subscriptions: snapshot.subscriptions,
                    ..ResellerSnapshot::live(account)
                },
                None => ResellerSnapshot::live(account),
            })
            .collect();
        // Deleted since: they stay in the closed month as they were.
        month_accounts.extend(kept.into_values());
        Ok(WholeMonth {
            ledger: rows.ledger,
            accounts: month_accounts,
            daily_units: rows
                .rows
                .into_iter()
                .map(|u| (u.account_id, u.daily_units))
                .collect(),
        })
    }

    /// Freezes a closed month's lists (once; `false` if they already were): the month read
    /// whole, one item per account and list holding the account as the report shows it
    /// (subscriptions overlapping the month only), collected at `ttl_epoch_seconds` like the
    /// month's rows; strays of an earlier, interrupted freeze deleted; then the counts,
    /// which mark the lists complete.
    pub async fn freeze_month_lists(
        &self,
        partnership_id: &str,
        month: Period,
        ttl_epoch_seconds: i64,
    ) -> Result<bool, StoreError> {
        let marker = keys::month_lists_frozen(partnership_id, &month.id());
        if self
            .get_item(marker.clone())
            .await?
            .is_some_and(|item| item.contains_key(FROZEN_COMPLETE))
        {
            return Ok(false);
        }
        let whole = self.whole_month(partnership_id, month, true).await?;
        let mut wanted: HashMap<keys::Key, Item> = HashMap::new();
        let mut counts = [0i64; 2];
        for mut account in whole.accounts {
            let daily = whole.daily_units.get(&account.account_id);
            let Some(membership) = month_membership(&account, daily, month) else {
                continue;
            };
            account.subscriptions = account.overlapping(month).into_iter().cloned().collect();
            let position = name_position(&account.name, &account.account_id);
            for (index, list) in [MonthList::Subscribed, MonthList::Usage]
                .into_iter()
                .enumerate()
            {
                if !list.holds(membership) {
                    continue;
                }
                counts[index] += 1;
                let key = keys::Key {
                    pk: keys::partner_partition(partnership_id),
                    sk: format!("{}{position}", list.prefix(month, true)),
                };
                let mut item = encode(&account, key.clone())?;
                item.insert(super::TTL_ATTRIBUTE.to_owned(), n(ttl_epoch_seconds));
                wanted.insert(key, item);
            }
        }
        let mut actions = Vec::new();
        for list in [MonthList::Subscribed, MonthList::Usage] {
            let query = self
                .prefix_query(
                    keys::partner_partition(partnership_id),
                    &list.prefix(month, true),
                )
                .projection_expression("pk, sk");
            for item in self.query_pages(query, None).await? {
                let key = keys::Key {
                    pk: keys::partner_partition(partnership_id),
                    sk: string(&item, "sk").unwrap_or_default().to_owned(),
                };
                if !wanted.contains_key(&key) {
                    actions.push(self.delete_item(key, None)?);
                }
            }
        }
        for item in wanted.into_values() {
            actions.push(self.put_item(item, None)?);
        }
        let mut counted: Item = [
            ("pk".to_owned(), s(&marker.pk)),
            ("sk".to_owned(), s(&marker.sk)),
            (MonthList::Subscribed.count().to_owned(), n(counts[0])),
            (MonthList::Usage.count().to_owned(), n(counts[1])),
            (FROZEN_COMPLETE.to_owned(), AttributeValue::Bool(true)),
        ]
        .into();
        counted.insert(super::TTL_ATTRIBUTE.to_owned(), n(ttl_epoch_seconds));
        let chunks: Vec<Vec<TransactWriteItem>> = actions
            .chunks(FREEZE_ACTIONS)
            .map(<[TransactWriteItem]>::to_vec)
            .collect();
        for chunk in chunks {
            if let Err(codes) = self.transact(chunk).await? {
                return Err(StoreError::Sdk {
                    operation: "TransactWriteItems",
                    message: format!("freezing month lists: {codes:?}"),
                });
            }
        }
        // Last: the lists are complete once this is stored.
        self.transact(vec![self.put_item(counted, None)?])
            .await?
            .map_err(|codes| StoreError::Sdk {
                operation: "TransactWriteItems",
                message: format!("marking month lists frozen: {codes:?}"),
            })?;
        Ok(true)
    }
}

/// The attribute of a closed month's counts item that marks its frozen lists complete.
const FROZEN_COMPLETE: &str = "complete";
