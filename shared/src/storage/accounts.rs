//! End-customer accounts and their subscriptions. An account is one item in its
//! partnership's partition; its subscriptions live inside it, so every provisioning change
//! is one conditional write on `revision` (optimistic concurrency: a lost race re-reads and
//! re-applies). Two small pointer items let a usage record (which names only the account)
//! and a subscription id find their account.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};

use super::records::{AccountRecord, AccountRef, SubscriptionRef};
use super::reports::ClosedPeriodWrites;
use super::{Item, Store, StoreError, build_error, decode, encode, keys, n, s, to_i64};

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
        items.extend(self.listing_actions(&account.partnership_id, None, Some(account))?);
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
        let key = keys::account(&account.partnership_id, &account.account_id);
        let item: Item = serde_dynamo::to_item(account)?;
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&key.pk))
            .key("sk", s(&key.sk))
            .condition_expression("revision = :read_revision")
            .expression_attribute_values(":read_revision", n(to_i64(before.revision)));
        let mut sets = Vec::new();
        for (index, name) in AccountRecord::PROVISIONED.iter().enumerate() {
            if let Some(value) = item.get(*name) {
                sets.push(format!("#f{index} = :f{index}"));
                update = update
                    .expression_attribute_names(format!("#f{index}"), *name)
                    .expression_attribute_values(format!(":f{index}"), value.clone());
            }
        }
        let update = update
            .update_expression(format!("SET {}", sets.join(", ")))
            .build()
            .map_err(build_error)?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
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
        items.extend(self.listing_actions(&account.partnership_id, Some(before), Some(account))?);
        items.extend(self.closed_period_actions(&account.partnership_id, closed)?);
        Ok(match self.transact(items).await? {
            Ok(()) => WriteOutcome::Written,
            Err(_) => WriteOutcome::Stale,
        })
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
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .condition_expression("revision = :revision")
            .expression_attribute_values(":revision", n(to_i64(account.revision)))
            .build()
            .map_err(build_error)?;
        let mut items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            self.delete_item(keys::account_ref(&account.account_id), None)?,
        ];
        for id in account.subscriptions.keys() {
            items
                .push(self.delete_item(keys::subscription_ref(&account.partnership_id, id), None)?);
        }
        items.extend(self.listing_actions(&account.partnership_id, Some(account), None)?);
        items.extend(self.closed_period_actions(&account.partnership_id, closed)?);
        Ok(match self.transact(items).await? {
            Ok(()) => WriteOutcome::Written,
            Err(_) => WriteOutcome::Stale,
        })
    }
}
