//! The listing of a partnership's accounts, so that a page costs O(limit) at any size: one
//! small listing item per account in name order, one in its state's name order, and one
//! item counting the accounts in all and per state. All of them are written in the
//! transaction that creates, renames, moves or deletes the account, so a listing is exact
//! the moment a write has answered. A page is one Query of `limit + 1` listing items with
//! the counts' GetItem beside it, then one BatchGetItem of the page's accounts.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::records::{AccountRecord, AccountState};
use super::{Item, Store, StoreError, build_error, decode, keys, n, s};

/// Where an account sorts in its listings: its name, case folded, then its id. The
/// separator sorts below every character a name may hold (names are printable text), so a
/// name that is the start of another comes first, as it does when comparing the pairs.
pub fn listing_position(account: &AccountRecord) -> String {
    name_position(&account.name, &account.account_id)
}

/// Where something named `name` with id `id` sorts in a listing in name order (accounts,
/// a period's companies).
pub fn name_position(name: &str, id: &str) -> String {
    format!("{}\u{1}{id}", name.to_lowercase())
}

/// Is `text` shaped like a listing position (so that it can start a page)?
pub fn is_listing_position(text: &str) -> bool {
    text.len() <= MAX_POSITION_BYTES
        && text
            .split_once('\u{1}')
            .is_some_and(|(_, id)| !id.is_empty() && !id.contains('\u{1}'))
}

/// Far above any position (a 200-character name folds to at most 600 bytes, plus an id);
/// DynamoDB's sort-key limit is 1,024 bytes.
const MAX_POSITION_BYTES: usize = 900;

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStart {
    /// After skipping this many accounts (reads the skipped listing items too).
    Offset(usize),
    /// Right after the account at this listing position (reads only the page).
    After(String),
}

impl PageStart {
    /// Right after `cursor`'s position when one is given, else after `offset` accounts.
    pub fn of(cursor: Option<&str>, offset: usize) -> Self {
        cursor.map_or(Self::Offset(offset), |position| {
            Self::After(position.to_owned())
        })
    }
}

impl PageStart {
    /// The page of `limit` items from this start of `sorted` (items with their listing
    /// positions, in position order: what a listing would hold, computed from a full read),
    /// and the position the next page starts after, when more follow.
    pub fn page_of<T>(&self, sorted: Vec<(String, T)>, limit: usize) -> (Vec<T>, Option<String>) {
        let from = match self {
            Self::Offset(skip) => *skip,
            Self::After(position) => sorted.partition_point(|(p, _)| p <= position),
        };
        let more = sorted.len() > from.saturating_add(limit);
        let page: Vec<(String, T)> = sorted.into_iter().skip(from).take(limit).collect();
        let next = more.then(|| page.last().map(|(p, _)| p.clone())).flatten();
        (page.into_iter().map(|(_, item)| item).collect(), next)
    }
}

/// The read of one page of a listing (items under `prefix` in the partnership's partition,
/// each naming an `account_id`): a Query from where the page starts, of `limit + 1` items
/// past any skipped ones, so that it shows whether more follow.
pub(super) struct ListingRead {
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    prefix: String,
    skip: usize,
    limit: usize,
}

impl ListingRead {
    pub(super) async fn items(&self, store: &Store) -> Result<Vec<Item>, StoreError> {
        store
            .query_pages(self.query.clone(), Some(self.skip + self.limit + 1))
            .await
    }

    /// The page's listing positions with their account ids, and the position the next
    /// page starts after, when more follow.
    pub(super) fn page(&self, listed: Vec<Item>) -> (Vec<(String, String)>, Option<String>) {
        let (page, next) = self.page_items(listed);
        let page = page
            .into_iter()
            .filter_map(|(position, item)| {
                Some((position, string(&item, "account_id")?.to_owned()))
            })
            .collect();
        (page, next)
    }

    /// The page's listing positions with their items, and the position the next page
    /// starts after, when more follow.
    pub(super) fn page_items(&self, listed: Vec<Item>) -> (Vec<(String, Item)>, Option<String>) {
        let more = listed.len() > self.skip + self.limit;
        let page: Vec<(String, Item)> = listed
            .into_iter()
            .skip(self.skip)
            .take(self.limit)
            .filter_map(|item| {
                let position = string(&item, "sk")?.strip_prefix(&self.prefix)?.to_owned();
                Some((position, item))
            })
            .collect();
        let next = more
            .then(|| page.last().map(|(position, _)| position.clone()))
            .flatten();
        (page, next)
    }

    /// The same read of whole listing items (those that carry more than an account id).
    pub(super) fn whole_items(mut self) -> Self {
        self.query = self.query.set_projection_expression(None);
        self
    }
}

impl Store {
    pub(super) fn listing_read(
        &self,
        partnership_id: &str,
        prefix: String,
        start: &PageStart,
        limit: usize,
    ) -> ListingRead {
        let pk = keys::partner_partition(partnership_id);
        let (skip, after) = match start {
            PageStart::Offset(skip) => (*skip, None),
            PageStart::After(position) => (0, Some(format!("{prefix}{position}"))),
        };
        let query = self
            .prefix_query_after(pk, &prefix, after.as_deref())
            .projection_expression("sk, account_id");
        ListingRead {
            query,
            prefix,
            skip,
            limit,
        }
    }
}

/// The keys of an account's two listing items: in name order, and in its state's.
fn listing_keys(partnership_id: &str, account: &AccountRecord) -> [keys::Key; 2] {
    let position = listing_position(account);
    [None, Some(account.state.as_str())]
        .map(|state| keys::account_listing(partnership_id, state, &position))
}

/// One page of accounts in name order.
#[derive(Debug, Clone)]
pub struct AccountPage {
    pub accounts: Vec<AccountRecord>,
    /// The listing position of the page's last account, when more accounts follow.
    pub next: Option<String>,
    /// Accounts in the listing (of the state asked for), from the maintained counts.
    pub total: u64,
}

const TOTAL: &str = "total";

fn state_count_attribute(state: AccountState) -> String {
    format!("state_{}", state.as_str())
}

impl Store {
    /// The page of `limit` accounts (of `state`, if given) in name order from `start`.
    pub async fn account_page(
        &self,
        partnership_id: &str,
        state: Option<AccountState>,
        start: PageStart,
        limit: usize,
    ) -> Result<AccountPage, StoreError> {
        let prefix = keys::account_listing_prefix(state.map(AccountState::as_str));
        let read = self.listing_read(partnership_id, prefix, &start, limit);
        // The counts are read beside the listing (a page of 100 accounts fills a BatchGetItem).
        let counts_key = keys::account_counts(partnership_id);
        let (listed, counts) = futures::try_join!(read.items(self), self.get_item(counts_key))?;
        let (page, next) = read.page(listed);

        let accounts = self.listed_accounts(partnership_id, &page, None).await?;
        let total_attribute = state.map_or_else(|| TOTAL.to_owned(), state_count_attribute);
        let total = counts
            .as_ref()
            .and_then(|item| number(item, &total_attribute))
            .unwrap_or(0);
        // An account moved to another state since its listing item was read is left out.
        let accounts = accounts
            .into_iter()
            .filter(|account| state.is_none_or(|s| account.state == s))
            .collect();
        Ok(AccountPage {
            accounts,
            next,
            total,
        })
    }

    /// What an account going from `before` to `after` (`None`: absent) does to the listing:
    /// listing items to delete and put, and the counts to move. Empty when neither the
    /// account's position nor its state changed.
    pub(super) fn listing_actions(
        &self,
        partnership_id: &str,
        before: Option<&AccountRecord>,
        after: Option<&AccountRecord>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let entries = |account: Option<&AccountRecord>| -> Vec<(keys::Key, String)> {
            account
                .map(|a| {
                    listing_keys(partnership_id, a)
                        .map(|key| (key, a.account_id.clone()))
                        .into()
                })
                .unwrap_or_default()
        };
        let mut actions = self.listing_item_moves(&entries(before), &entries(after))?;
        let mut moves = CountMoves::default();
        for (account, by) in [(before, -1), (after, 1)] {
            if let Some(account) = account {
                moves.add(TOTAL.to_owned(), by);
                moves.add(state_count_attribute(account.state), by);
            }
        }
        let counts = self.count_update(keys::account_counts(partnership_id), moves, None)?;
        actions.extend(counts);
        Ok(actions)
    }

    /// The deletes and puts that turn listing items `old` into `new` (each a key and the
    /// account id it lists): items in both stay untouched.
    pub(super) fn listing_item_moves(
        &self,
        old: &[(keys::Key, String)],
        new: &[(keys::Key, String)],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut actions = Vec::new();
        for (key, _) in old {
            if !new.iter().any(|(k, _)| k == key) {
                actions.push(self.delete_item(key.clone(), None)?);
            }
        }
        for (key, account_id) in new {
            if !old.iter().any(|(k, _)| k == key) {
                let item: Item = [
                    ("pk".to_owned(), s(&key.pk)),
                    ("sk".to_owned(), s(&key.sk)),
                    ("account_id".to_owned(), s(account_id)),
                ]
                .into();
                actions.push(self.put_item(item, None)?);
            }
        }
        Ok(actions)
    }

    /// The update of a counts item adding `moves`, under `condition` (its names and values
    /// with it); `None` when nothing moves and there is no condition to check.
    pub(super) fn count_update(
        &self,
        key: keys::Key,
        moves: CountMoves,
        condition: Option<(&str, Vec<(&str, AttributeValue)>)>,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        let moves: Vec<(String, i64)> = moves.0.into_iter().filter(|(_, by)| *by != 0).collect();
        if moves.is_empty() {
            let Some((expression, values)) = condition else {
                return Ok(None);
            };
            let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
                .table_name(&self.table)
                .key("pk", s(key.pk))
                .key("sk", s(key.sk))
                .condition_expression(expression)
                .set_expression_attribute_values(Some(
                    values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                ))
                .build()
                .map_err(build_error)?;
            return Ok(Some(
                TransactWriteItem::builder().condition_check(check).build(),
            ));
        }
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk));
        let mut adds = Vec::new();
        for (index, (attribute, by)) in moves.into_iter().enumerate() {
            adds.push(format!("#c{index} :c{index}"));
            update = update
                .expression_attribute_names(format!("#c{index}"), attribute)
                .expression_attribute_values(format!(":c{index}"), n(by));
        }
        if let Some((expression, values)) = condition {
            update = update.condition_expression(expression);
            for (name, value) in values {
                update = update.expression_attribute_values(name, value);
            }
        }
        let update = update
            .update_expression(format!("ADD {}", adds.join(", ")))
            .build()
            .map_err(build_error)?;
        Ok(Some(TransactWriteItem::builder().update(update).build()))
    }

    /// The accounts listed on a page (listing positions with account ids), in its order, with
    /// the attributes of `projection` (all without): one BatchGetItem. An account deleted
    /// since its listing item was read is left out.
    pub(super) async fn listed_accounts(
        &self,
        partnership_id: &str,
        page: &[(String, String)],
        projection: Option<&super::Projection>,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        let wanted: Vec<keys::Key> = page
            .iter()
            .map(|(_, id)| keys::account(partnership_id, id))
            .collect();
        let mut accounts = std::collections::HashMap::new();
        if !wanted.is_empty() {
            for item in self.batch_get_projected(wanted, projection).await? {
                let account: AccountRecord = decode(item)?;
                accounts.insert(account.account_id.clone(), account);
            }
        }
        Ok(page
            .iter()
            .filter_map(|(_, id)| accounts.remove(id))
            .collect())
    }
}

/// Additions to the attributes of a counts item (the same attribute twice adds up).
#[derive(Debug, Default)]
pub(super) struct CountMoves(Vec<(String, i64)>);

impl CountMoves {
    pub(super) fn add(&mut self, attribute: String, by: i64) {
        match self.0.iter_mut().find(|(a, _)| *a == attribute) {
            Some((_, total)) => *total += by,
            None => self.0.push((attribute, by)),
        }
    }
}

/// What [`Store::rebuild_account_listing`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ListingRebuild {
    pub accounts: usize,
    pub listing_items_written: usize,
    pub listing_items_deleted: usize,
}

/// Listing writes per transaction of a rebuild.
const REBUILD_CHUNK: usize = 25;

impl Store {
    /// Makes a partnership's listing and counts match its accounts: for a table written
    /// before listings were kept, or after a repair. Reads the whole partition (an operator's
    /// one-off, not a request path); running it again changes nothing. A provisioning write
    /// while it runs may leave the counts one off: run it again in a quiet moment.
    pub async fn rebuild_account_listing(
        &self,
        partnership_id: &str,
    ) -> Result<ListingRebuild, StoreError> {
        let accounts = self.accounts(partnership_id).await?;
        let query = self
            .prefix_query(
                keys::partner_partition(partnership_id),
                keys::ACCOUNT_LISTING_PREFIX,
            )
            .projection_expression("sk");
        let stored: std::collections::HashSet<String> = self
            .query_pages(query, None)
            .await?
            .iter()
            .filter_map(|item| string(item, "sk").map(str::to_owned))
            .collect();
        let mut wanted = std::collections::HashMap::new();
        let mut counts: Vec<(String, i64)> = std::iter::once(TOTAL.to_owned())
            .chain(AccountState::ALL.into_iter().map(state_count_attribute))
            .map(|attribute| (attribute, 0))
            .collect();
        for account in &accounts {
            for key in listing_keys(partnership_id, account) {
                wanted.insert(key.sk, account.account_id.clone());
            }
            for (attribute, count) in &mut counts {
                if *attribute == TOTAL || *attribute == state_count_attribute(account.state) {
                    *count += 1;
                }
            }
        }
        let pk = keys::partner_partition(partnership_id);
        let mut actions = Vec::new();
        let mut report = ListingRebuild {
            accounts: accounts.len(),
            listing_items_written: 0,
            listing_items_deleted: 0,
        };
        for sk in stored.iter().filter(|sk| !wanted.contains_key(*sk)) {
            let key = keys::Key {
                pk: pk.clone(),
                sk: sk.clone(),
            };
            actions.push(self.delete_item(key, None)?);
            report.listing_items_deleted += 1;
        }
        for (sk, account_id) in wanted.iter().filter(|(sk, _)| !stored.contains(*sk)) {
            let item: Item = [
                ("pk".to_owned(), s(&pk)),
                ("sk".to_owned(), s(sk)),
                ("account_id".to_owned(), s(account_id)),
            ]
            .into();
            actions.push(self.put_item(item, None)?);
            report.listing_items_written += 1;
        }
        let key = keys::account_counts(partnership_id);
        let mut item: Item = [("pk".to_owned(), s(key.pk)), ("sk".to_owned(), s(key.sk))].into();
        item.extend(
            counts
                .into_iter()
                .map(|(attribute, count)| (attribute, n(count))),
        );
        actions.push(self.put_item(item, None)?);
        for chunk in actions.chunks(REBUILD_CHUNK) {
            if let Err(codes) = self.transact(chunk.to_vec()).await? {
                return Err(StoreError::Sdk {
                    operation: "TransactWriteItems",
                    message: format!("a listing rebuild write was cancelled: {codes:?}"),
                });
            }
        }
        Ok(report)
    }
}

pub(super) fn string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Some(text),
        _ => None,
    }
}

pub(super) fn number(item: &Item, name: &str) -> Option<u64> {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text.parse::<i64>().ok().map(|n| n.max(0).unsigned_abs()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str, id: &str) -> AccountRecord {
        serde_json::from_value(serde_json::json!({
            "account_id": id, "org_id": "o", "partnership_id": "p", "created_at_ms": 0,
            "name": name, "state": "paying", "trial_ends_at": null, "country": "SE",
            "updated_at_ms": 0, "revision": 1,
        }))
        .unwrap()
    }

    #[test]
    fn positions_sort_as_case_folded_names_then_ids() {
        let mut accounts = [
            account("acme ab", "2"),
            account("Acme", "9"),
            account("ACME", "1"),
            account("Ähren", "3"),
            account("bravo", "0"),
        ];
        let mut by_position: Vec<String> = accounts.iter().map(listing_position).collect();
        by_position.sort();
        accounts.sort_by_cached_key(|a| (a.name.to_lowercase(), a.account_id.clone()));
        let by_pair: Vec<String> = accounts.iter().map(listing_position).collect();
        assert_eq!(by_position, by_pair);
        assert_eq!(by_pair[0], "acme\u{1}1");
        assert!(is_listing_position(&by_pair[0]));
        assert!(!is_listing_position("acme"));
        assert!(!is_listing_position("acme\u{1}"));
        assert!(!is_listing_position(&format!("{}\u{1}1", "a".repeat(1000))));
    }
}
