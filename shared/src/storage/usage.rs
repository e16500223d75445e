//! Usage ingestion's storage: raw records (keyed by account, day and product, so a re-sent
//! record overwrites), the per-account sequence that orders recomputations, and the
//! derived report items, each written only if computed at a later sequence than the stored
//! one — concurrent or re-delivered batches can never leave an older result behind.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, ReturnValue, WriteRequest};

use super::records::{
    AccountRecord, AccountRef, ActivityRecord, Engagement, MsspCompanyUsage, ResellerCompanyUsage,
    UsageRecord,
};
use super::{Item, Store, StoreError, decode, encode, keys, n, s};

/// BatchWriteItem takes at most 25 requests, BatchGetItem 100 keys.
const BATCH_WRITE_MAX: usize = 25;
const BATCH_GET_MAX: usize = 100;
/// Rounds of re-sending what DynamoDB left unprocessed before giving up (SQS retries).
const UNPROCESSED_ROUNDS: usize = 8;

pub const MSSP: &str = "MSSP";
pub const RESELLER: &str = "RESELLER";

/// Raw records of one account, as stored.
#[derive(Debug, Clone, Default)]
pub struct RawRecords {
    pub usage: Vec<UsageRecord>,
    pub activity: Vec<ActivityRecord>,
}

impl Store {
    /// Where each of `account_ids` lives (unknown ones are absent).
    pub async fn account_refs(
        &self,
        account_ids: &[String],
    ) -> Result<HashMap<String, AccountRef>, StoreError> {
        let mut found = HashMap::new();
        for chunk in account_ids.chunks(BATCH_GET_MAX) {
            let mut keys_and_attributes = KeysAndAttributes::builder().consistent_read(true);
            for id in chunk {
                let key = keys::account_ref(id);
                keys_and_attributes = keys_and_attributes.keys(HashMap::from([
                    ("pk".to_owned(), s(key.pk)),
                    ("sk".to_owned(), s(key.sk)),
                ]));
            }
            let mut request = Some(keys_and_attributes.build().map_err(super::build_error)?);
            for _ in 0..UNPROCESSED_ROUNDS {
                let Some(pending) = request.take() else {
                    break;
                };
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| StoreError::sdk("BatchGetItem", e))?;
                let items = output
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default();
                self.count_read(items.len());
                for item in items {
                    let pointer: AccountRef = decode(item)?;
                    found.insert(pointer.account_id.clone(), pointer);
                }
                request = output
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
            }
            if request.is_some() {
                return Err(StoreError::Sdk {
                    operation: "BatchGetItem",
                    message: "keys left unprocessed after retries".into(),
                });
            }
        }
        Ok(found)
    }

    /// Stores raw records, replacing any earlier ones of the same account, day and product.
    pub async fn put_raw_records(
        &self,
        partnership_id: &str,
        records: &RawRecords,
    ) -> Result<(), StoreError> {
        // One item per key, the later record winning: a batch may carry a day twice, and
        // BatchWriteItem refuses duplicate keys.
        let mut by_key: std::collections::BTreeMap<String, Item> = Default::default();
        for record in &records.usage {
            let date = record.date.to_string();
            let key = keys::raw_usage(partnership_id, &record.account_id, &date, &record.product);
            by_key.insert(key.sk.clone(), encode(record, key)?);
        }
        for record in &records.activity {
            let key =
                keys::raw_activity(partnership_id, &record.account_id, &record.date.to_string());
            by_key.insert(key.sk.clone(), encode(record, key)?);
        }
        let items: Vec<Item> = by_key.into_values().collect();
        for chunk in items.chunks(BATCH_WRITE_MAX) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map(|put| WriteRequest::builder().put_request(put).build())
                        .map_err(super::build_error)
                })
                .collect::<Result<_, _>>()?;
            for _ in 0..UNPROCESSED_ROUNDS {
                if requests.is_empty() {
                    break;
                }
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| StoreError::sdk("BatchWriteItem", e))?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
            }
            if !requests.is_empty() {
                return Err(StoreError::Sdk {
                    operation: "BatchWriteItem",
                    message: "items left unprocessed after retries".into(),
                });
            }
        }
        Ok(())
    }

    /// Takes the account's next usage sequence number; returns the account as it is after
    /// that, or `None` when it no longer exists.
    pub async fn next_usage_seq(
        &self,
        partnership_id: &str,
        account_id: &str,
    ) -> Result<Option<AccountRecord>, StoreError> {
        let key = keys::account(partnership_id, account_id);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .update_expression("ADD usage_seq :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => output.attributes.map(decode).transpose(),
            Err(err) if is_condition_failure(&err) => Ok(None),
            Err(err) => Err(StoreError::sdk("UpdateItem", err)),
        }
    }

    /// An account's raw records from `from` to `to` (inclusive): one Query.
    pub async fn raw_records(
        &self,
        partnership_id: &str,
        account_id: &str,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<RawRecords, StoreError> {
        let (low, high) = keys::raw_range(account_id, &from.to_string(), &to.to_string());
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s(keys::partner_partition(partnership_id)))
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s(high))
            .consistent_read(true);
        let mut records = RawRecords::default();
        for item in self.query_pages(query, None).await? {
            let is_usage = matches!(item.get("sk"), Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) if sk.contains("#USAGE#"));
            if is_usage {
                records.usage.push(decode(item)?);
            } else {
                records.activity.push(decode(item)?);
            }
        }
        Ok(records)
    }

    /// Writes a report item unless one computed at the same or a later sequence is stored.
    async fn put_if_newer(&self, item: Item, seq: u64) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR seq < :seq")
            .expression_attribute_values(":seq", n(seq_value(seq)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(StoreError::sdk("PutItem", err)),
        }
    }

    pub async fn put_mssp_usage(
        &self,
        partnership_id: &str,
        period_id: &str,
        usage: &MsspCompanyUsage,
    ) -> Result<bool, StoreError> {
        let key = keys::report_usage(partnership_id, MSSP, period_id, &usage.account_id);
        self.put_if_newer(encode(usage, key)?, usage.seq).await
    }

    pub async fn put_reseller_usage(
        &self,
        partnership_id: &str,
        month_id: &str,
        usage: &ResellerCompanyUsage,
    ) -> Result<bool, StoreError> {
        let key = keys::report_usage(partnership_id, RESELLER, month_id, &usage.account_id);
        self.put_if_newer(encode(usage, key)?, usage.seq).await
    }

    /// Stores an account's engagement computed at `seq`, unless a later one is stored.
    pub async fn set_engagement(
        &self,
        partnership_id: &str,
        account_id: &str,
        engagement: &Engagement,
        seq: u64,
    ) -> Result<bool, StoreError> {
        let key = keys::account(partnership_id, account_id);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .update_expression("SET engagement = :engagement, derived_seq = :seq")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(derived_seq) OR derived_seq < :seq)",
            )
            .expression_attribute_values(
                ":engagement",
                serde_dynamo::to_attribute_value(engagement)?,
            )
            .expression_attribute_values(":seq", n(seq_value(seq)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(StoreError::sdk("UpdateItem", err)),
        }
    }

    /// Every account's usage items of one MSSP period or reseller month: one Query.
    async fn report_items<T: serde::de::DeserializeOwned>(
        &self,
        partnership_id: &str,
        kind: &str,
        period_id: &str,
    ) -> Result<Vec<T>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::partner_partition(partnership_id)))
            .expression_attribute_values(":prefix", s(keys::report_usage_prefix(kind, period_id)))
            .consistent_read(true);
        self.query_pages(query, None)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    pub async fn mssp_usage(
        &self,
        partnership_id: &str,
        period_id: &str,
    ) -> Result<Vec<MsspCompanyUsage>, StoreError> {
        self.report_items(partnership_id, MSSP, period_id).await
    }

    pub async fn reseller_usage(
        &self,
        partnership_id: &str,
        month_id: &str,
    ) -> Result<Vec<ResellerCompanyUsage>, StoreError> {
        self.report_items(partnership_id, RESELLER, month_id).await
    }
}

fn seq_value(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// Did a conditional write fail its condition (as opposed to failing)?
fn is_condition_failure<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(aws_sdk_dynamodb::error::ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}
