//! End-customer accounts and their subscriptions. An account is one item in its
//! partnership's partition; its subscriptions live inside it, so every provisioning change
//! is one conditional write on `revision` (optimistic concurrency: a lost race re-reads and
//! re-applies). Two small pointer items let a usage record (which names only the account)
//! and a subscription id find their account.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};

use super::customer_levels::unchanged_since_read;
use super::records::{AccountRecord, AccountRef, SubscriptionRef};
use super::reports::ClosedPeriodWrites;
use super::{Item, Projection, Store, StoreError, build_error, decode, encode, keys, s};

/// The fields of an account the reseller month reports read: who it is, its provisioned
/// fields and its month lists — not its engagement or levels, which are most of an account
/// item's size. DynamoDB charges the whole items all the same; the answer is a fraction.
pub(super) fn contract_fields() -> impl Iterator<Item = &'static str> {
    [
        "account_id",
        "org_id",
        "partnership_id",
        "created_at_ms",
        "month_lists",
    ]
    .into_iter()
    .chain(AccountRecord::PROVISIONED.iter().copied())
}

/// The fields every write of an account computes anew for the day of the write (indexes
/// follow them): its levels and its month lists.
const INDEXED: &[&str] = &["levels", "month_lists"];

/// Attempts of an account creation that met another transaction before answering 503.
const CREATE_ATTEMPTS: usize = 5;

/// The pointer items a provisioning write adds or removes with the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefChange {
    None,
    AddSubscription(String),
    RemoveSubscription(String),
}

/// Result of a write guarded by the revision the caller read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Written,
    /// The account changed (or went) since it was read: read again and re-apply.
    Stale,
}

impl Store {
    pub async fn account(
        &self,
        partnership_id: &str,
        account_id: &str,
    ) -> Result<Option<AccountRecord>, StoreError> {
        self.get_record(keys::account(partnership_id, account_id))
            .await
    }

    /// Every account of a partnership: one strongly consistent Query.
    pub async fn accounts(&self, partnership_id: &str) -> Result<Vec<AccountRecord>, StoreError> {
        let query = self.prefix_query(
            keys::partner_partition(partnership_id),
            keys::ACCOUNT_PREFIX,
        );
        self.query_pages(query, None)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    /// Every account of a partnership with its contract fields only (`contract_fields`):
    /// what a reseller month read whole reads.
    pub async fn account_contracts(
        &self,
        partnership_id: &str,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        let query = self.prefix_query(
            keys::partner_partition(partnership_id),
            keys::ACCOUNT_PREFIX,
        );
        let query = Projection::of(contract_fields()).on_query(query);
        self.query_pages(query, None)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    /// Up to `limit` of a partnership's accounts in id order, after the account `after`
    /// (one Query); with the id to continue after when more follow. Walks every account in
    /// bounded memory (the nightly customer-levels run).
    pub async fn accounts_after(
        &self,
        partnership_id: &str,
        after: Option<&str>,
        limit: i32,
    ) -> Result<(Vec<AccountRecord>, Option<String>), StoreError> {
        let start = after.map(|id| {
            let key = keys::account(partnership_id, id);
            Item::from([("pk".to_owned(), s(key.pk)), ("sk".to_owned(), s(key.sk))])
        });
        let output = self
            .prefix_query(
                keys::partner_partition(partnership_id),
                keys::ACCOUNT_PREFIX,
            )
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await
            .map_err(|e| StoreError::sdk("Query", e))?;
        let items = output.items.unwrap_or_default();
        self.count_read(&items);
        let accounts: Vec<AccountRecord> =
            items.into_iter().map(decode).collect::<Result<_, _>>()?;
        let next = output
            .last_evaluated_key
            .and(accounts.last().map(|a| a.account_id.clone()));
        Ok((accounts, next))
    }

    pub async fn account_ref(&self, account_id: &str) -> Result<Option<AccountRef>, StoreError> {
        self.get_record(keys::account_ref(account_id)).await
    }

    pub async fn subscription_ref(
        &self,
        partnership_id: &str,
        subscription_id: &str,
    ) -> Result<Option<SubscriptionRef>, StoreError> {
        self.get_record(keys::subscription_ref(partnership_id, subscription_id))
            .await
    }

    /// Creates an account, its pointer, its subscriptions' pointers and its listing items
    /// (counted), in one transaction.
    pub async fn create_account(&self, account: &AccountRecord) -> Result<(), StoreError> {
        let key = keys::account(&account.partnership_id, &account.account_id);
        let pointer = AccountRef {
            account_id: account.account_id.clone(),
            org_id: account.org_id.clone(),
            partnership_id: account.partnership_id.clone(),
        };
        let new = Some("attribute_not_exists(pk)");
        let mut items = vec![
            self.put_item(encode(account, key)?, new)?,
            self.put_item(
                encode(&pointer, keys::account_ref(&account.account_id))?,
                new,
            )?,
        ];
        for id in account.subscriptions.keys() {
            let pointer = SubscriptionRef {
                subscription_id: id.clone(),
                account_id: account.account_id.clone(),
            };
            let key = keys::subscription_ref(&account.partnership_id, id);
            items.push(self.put_item(encode(&pointer, key)?, new)?);
        }
        items.extend(self.account_index_actions(&account.partnership_id, None, Some(account))?);
        for round in 0..CREATE_ATTEMPTS {
            match self.transact(items.clone()).await? {
                Ok(()) => return Ok(()),
                Err(codes) if super::conflicted(&codes) => super::backoff(round).await,
                Err(codes) => {
                    return Err(StoreError::Sdk {
                        operation: "TransactWriteItems",
                        message: format!("a new account's id is taken: {codes:?}"),
                    });
                }
            }
        }
        Err(StoreError::Contention {
            operation: "TransactWriteItems",
        })
    }

    /// Writes the provisioned fields of `account` if the stored account is still `before`
    /// (its revision; `account.revision` is the new one), with what the change does to the
    /// account listing and to closed periods (late counts, snapshots), in one transaction.
    pub async fn save_account(
        &self,
        before: &AccountRecord,
        account: &AccountRecord,
        refs: RefChange,
        closed: &ClosedPeriodWrites,
    ) -> Result<WriteOutcome, StoreError> {
        // The indexed fields go with the write that changes what they depend on (never
        // left stale).
        let fields = AccountRecord::PROVISIONED.iter().chain(INDEXED);
        let mut items = vec![self.update_as_read(before, account, fields)?];
        match refs {
            RefChange::None => {}
            RefChange::AddSubscription(id) => {
                let pointer = SubscriptionRef {
                    subscription_id: id.clone(),
                    account_id: account.account_id.clone(),
                };
                let key = keys::subscription_ref(&account.partnership_id, &id);
                items.push(self.put_item(encode(&pointer, key)?, None)?);
            }
            RefChange::RemoveSubscription(id) => {
                items.push(
                    self.delete_item(keys::subscription_ref(&account.partnership_id, &id), None)?,
                );
            }
        }
        items.extend(self.account_index_actions(
            &account.partnership_id,
            Some(before),
            Some(account),
        )?);
        items.extend(self.closed_period_actions(&account.partnership_id, closed)?);
        self.write_as_read(items).await
    }

    /// Deletes an account, its pointer, its subscriptions' pointers and its listing items if
    /// its stored revision is still `account.revision`, with what that does to closed
    /// periods.
    pub async fn delete_account(
        &self,
        account: &AccountRecord,
        closed: &ClosedPeriodWrites,
    ) -> Result<WriteOutcome, StoreError> {
        let key = keys::account(&account.partnership_id, &account.account_id);
        let (condition, values) = unchanged_since_read(account)?;
        let mut delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .condition_expression(condition);
        for (name, value) in values {
            delete = delete.expression_attribute_values(name, value);
        }
        let delete = delete.build().map_err(build_error)?;
        let mut items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            self.delete_item(keys::account_ref(&account.account_id), None)?,
        ];
        for id in account.subscriptions.keys() {
            items
                .push(self.delete_item(keys::subscription_ref(&account.partnership_id, id), None)?);
        }
        items.extend(self.account_index_actions(&account.partnership_id, Some(account), None)?);
        items.extend(self.closed_period_actions(&account.partnership_id, closed)?);
        self.write_as_read(items).await
    }

    /// Stores the engagement `after` carries (computed at usage sequence `after.derived_seq`)
    /// with its levels, if the account is still as `before` was read, with the index moves.
    /// A stale write is read again by the caller: skipped if a later engagement is stored.
    pub async fn set_engagement(
        &self,
        before: &AccountRecord,
        after: &AccountRecord,
    ) -> Result<WriteOutcome, StoreError> {
        let fields = ["engagement", "derived_seq", "usage_months"]
            .iter()
            .chain(INDEXED);
        self.write_derived(before, after, fields).await
    }

    /// Stores `indexed` fields of `after` (the daily recompute's write: levels and month
    /// lists) if the account is still as `before` was read, with the index moves.
    pub async fn set_indexed_fields(
        &self,
        before: &AccountRecord,
        after: &AccountRecord,
    ) -> Result<WriteOutcome, StoreError> {
        self.write_derived(before, after, INDEXED.iter()).await
    }

    /// Writes derived `fields` of `after` if the account is still as `before` was read, with
    /// the index moves.
    async fn write_derived<'f>(
        &self,
        before: &AccountRecord,
        after: &AccountRecord,
        fields: impl Iterator<Item = &'f &'static str>,
    ) -> Result<WriteOutcome, StoreError> {
        let mut items = vec![self.update_as_read(before, after, fields)?];
        items.extend(self.account_index_actions(
            &before.partnership_id,
            Some(before),
            Some(after),
        )?);
        self.write_as_read(items).await
    }

    /// The update of an existing account writing `fields` as `after` has them (removing
    /// those it lacks), if the account is still as `before` was read.
    fn update_as_read<'f>(
        &self,
        before: &AccountRecord,
        after: &AccountRecord,
        fields: impl Iterator<Item = &'f &'static str>,
    ) -> Result<TransactWriteItem, StoreError> {
        let key = keys::account(&before.partnership_id, &before.account_id);
        let item: Item = serde_dynamo::to_item(after)?;
        let (condition, values) = unchanged_since_read(before)?;
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .condition_expression(format!("attribute_exists(pk) AND {condition}"));
        for (name, value) in values {
            update = update.expression_attribute_values(name, value);
        }
        let (mut sets, mut removes) = (Vec::new(), Vec::new());
        for (index, name) in fields.enumerate() {
            update = update.expression_attribute_names(format!("#f{index}"), *name);
            match item.get(*name) {
                Some(value) => {
                    sets.push(format!("#f{index} = :f{index}"));
                    update =
                        update.expression_attribute_values(format!(":f{index}"), value.clone());
                }
                None => removes.push(format!("#f{index}")),
            }
        }
        let mut expression = Vec::new();
        if !sets.is_empty() {
            expression.push(format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            expression.push(format!("REMOVE {}", removes.join(", ")));
        }
        let update = update
            .update_expression(expression.join(" "))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// What an account going from `before` to `after` (`None`: absent) does to every listing
    /// and index kept of it: the account listing, the customers index, the month lists.
    fn account_index_actions(
        &self,
        partnership_id: &str,
        before: Option<&AccountRecord>,
        after: Option<&AccountRecord>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut actions = self.listing_actions(partnership_id, before, after)?;
        actions.extend(self.customer_index_actions(partnership_id, before, after)?);
        actions.extend(self.month_list_actions(partnership_id, before, after)?);
        Ok(actions)
    }

    /// Runs a transaction whose writes are conditioned on their items as read (an account,
    /// a report row): a cancelled one means one changed (or went) meanwhile.
    pub(super) async fn write_as_read(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<WriteOutcome, StoreError> {
        Ok(match self.transact(items).await? {
            Ok(()) => WriteOutcome::Written,
            Err(_) => {
                self.count_write_retry();
                WriteOutcome::Stale
            }
        })
    }
}
