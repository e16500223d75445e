//! The only module that talks to DynamoDB. One table holds everything; key strings are
//! built in [`keys`], stored shapes live in [`records`], and each concern has its own file
//! of operations. Every operation is counted so tests and `make bench` can assert how many
//! round trips a request costs.

mod access;
mod account_list;
mod accounts;
mod admins;
mod audit;
mod customer_levels;
mod delivery;
pub mod keys;
mod month_lists;
mod mssp_rows;
mod period_companies;
mod period_totals;
mod raw;
pub mod records;
mod reports;
mod rotation;
mod sessions;
mod shares;
mod table;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_types::config_bag::ConfigBag;

pub use access::{AccessChange, AccessOutcome, KeyWrite, OrgGuard, SessionPlan};
pub use account_list::{
    AccountPage, ListingRebuild, PageStart, is_listing_position, listing_position, name_position,
};
pub use accounts::{RefChange, WriteOutcome};
pub use admins::AddOutcome;
pub use audit::EventOutcome;
pub use customer_levels::{CustomerLevels, Level, LevelFilter, RecomputeDays};
pub use month_lists::{
    MonthList, MonthMembership, MonthPage, WholeMonth, month_membership, month_memberships,
};
pub use period_companies::{CompanyDayPage, CompanyPage, is_units_position};
pub use period_totals::{PeriodTotals, TotalsBuild};
pub use raw::{LateCount, RawOutcome, RawRecords, RawWriteSummary};
pub use reports::{ClosedPeriodWrites, DerivedState, ReportRows, next_revision};
pub use sessions::{ClaimOutcome, CreationCounter, EndOutcome, TouchOutcome, TouchRequest};
pub use table::{INDEX_GSI1, TTL_ATTRIBUTE, TableOptions};

/// A DynamoDB item as the SDK sees it.
pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} failed: {message}")]
    Sdk {
        operation: &'static str,
        message: String,
    },
    #[error("stored item {key} is not a valid record: {source}")]
    Corrupt {
        key: String,
        source: serde_dynamo::Error,
    },
    #[error("cannot encode record: {0}")]
    Encode(#[from] serde_dynamo::Error),
    #[error("a session's packed identity is not valid: {0}")]
    SessionIdentity(#[from] serde_json::Error),
    /// Concurrent writers kept cancelling the transaction: retrying later will do (503).
    #[error("DynamoDB {operation}: contention did not clear after retries")]
    Contention { operation: &'static str },
    /// DynamoDB could not be reached in time (connection refused, timed out) or kept
    /// throttling through the bounded retries: retrying later will do (503).
    #[error("DynamoDB {operation} unavailable: {message}")]
    Unavailable {
        operation: &'static str,
        message: String,
    },
}

/// Error codes DynamoDB answers when it sheds load; after the SDK's retries, a 503.
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
];

impl StoreError {
    fn sdk<E, R>(operation: &'static str, err: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self
    where
        E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
        R: std::fmt::Debug,
    {
        use aws_sdk_dynamodb::error::SdkError;
        let unavailable = match &err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => true,
            SdkError::ServiceError(service) => {
                THROTTLING_CODES.contains(&service.err().code().unwrap_or_default())
            }
            _ => false,
        };
        let message = aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string();
        if unavailable {
            Self::Unavailable { operation, message }
        } else {
            Self::Sdk { operation, message }
        }
    }

    /// Will the same call likely succeed a little later (503, not 500)?
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Contention { .. } | Self::Unavailable { .. })
    }
}

/// Bounds on every DynamoDB call, so that a request answers even when the database does not:
/// a connection within 1 s, each attempt within 2 s, at most 3 attempts (backoff from 25 ms),
/// the whole operation within 4 s. The hot path's UpdateItem takes about 1 ms.
pub mod limits {
    use std::time::Duration;

    pub const CONNECT: Duration = Duration::from_secs(1);
    pub const ATTEMPT: Duration = Duration::from_secs(2);
    pub const OPERATION: Duration = Duration::from_secs(4);
    pub const MAX_ATTEMPTS: u32 = 3;
    pub const INITIAL_BACKOFF: Duration = Duration::from_millis(25);
    pub const MAX_BACKOFF: Duration = Duration::from_millis(250);
}

/// Handle on the table, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    calls: Arc<AtomicU64>,
    items_read: Arc<AtomicU64>,
    bytes_read: Arc<AtomicU64>,
    write_retries: Arc<AtomicU64>,
}

impl Store {
    /// Wraps `client` so that every operation it sends is counted and bounded in time
    /// ([`limits`]).
    pub fn new(client: Client, table: &str) -> Self {
        let calls = Arc::new(AtomicU64::new(0));
        let timeouts = aws_smithy_types::timeout::TimeoutConfig::builder()
            .connect_timeout(limits::CONNECT)
            .operation_attempt_timeout(limits::ATTEMPT)
            .operation_timeout(limits::OPERATION)
            .build();
        let retries = aws_smithy_types::retry::RetryConfig::standard()
            .with_max_attempts(limits::MAX_ATTEMPTS)
            .with_initial_backoff(limits::INITIAL_BACKOFF)
            .with_max_backoff(limits::MAX_BACKOFF);
        let config = client
            .config()
            .to_builder()
            .timeout_config(timeouts)
            .retry_config(retries)
            .interceptor(CallCounter(Arc::clone(&calls)))
            .build();
        Self {
            client: Client::from_conf(config),
            table: table.to_owned(),
            calls,
            items_read: Arc::new(AtomicU64::new(0)),
            bytes_read: Arc::new(AtomicU64::new(0)),
            write_retries: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// DynamoDB operations sent through this store so far (all clones share the count).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Items read by Query, GetItem and BatchGetItem so far (before any filtering).
    pub fn items_read(&self) -> u64 {
        self.items_read.load(Ordering::SeqCst)
    }

    /// Writes done again (or given up) because another write of the same item came first:
    /// the evidence of contention that race tests look for.
    pub fn write_retries(&self) -> u64 {
        self.write_retries.load(Ordering::SeqCst)
    }

    fn count_write_retry(&self) {
        self.write_retries.fetch_add(1, Ordering::SeqCst);
    }

    /// Bytes of the items read so far, by DynamoDB's item size rules (what read capacity is
    /// charged on).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::SeqCst)
    }

    fn count_read(&self, items: &[Item]) {
        self.items_read.fetch_add(
            u64::try_from(items.len()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
        let bytes: u64 = items.iter().map(item_bytes).sum();
        self.bytes_read.fetch_add(bytes, Ordering::SeqCst);
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A strongly consistent Query of partition `pk`'s items whose sort key starts with
    /// `prefix`, in sort-key order.
    ///
    /// A prefix ending in `#` (every one in `keys`) is asked as the range from it to the
    /// same text ending in `$` instead of `begins_with`: the same items (no key has a `$`
    /// where its prefix has a `#`), and DynamoDB Local walks the partition from its start
    /// for a `begins_with` but not for a range (measured: 10–12 ms against 4.4 ms for 101
    /// items behind 30,000 others).
    fn prefix_query(
        &self,
        pk: String,
        prefix: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.prefix_query_after(pk, prefix, None)
    }

    /// [`Store::prefix_query`] of the items after the sort key `after` (a page's
    /// continuation). For a `#` prefix the range itself starts at `after` (the exclusive
    /// start key then leaves that one item out): DynamoDB Local walks a range from its
    /// lower bound to an exclusive start key, so a deep page would cost what all the pages
    /// before it do (measured: the last of 50 pages took twice the first); DynamoDB seeks
    /// either way.
    fn prefix_query_after(
        &self,
        pk: String,
        prefix: &str,
        after: Option<&str>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let exclusive_start = after.map(|sk| {
            key_attributes(keys::Key {
                pk: pk.clone(),
                sk: sk.to_owned(),
            })
        });
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(true)
            .set_exclusive_start_key(exclusive_start);
        match prefix.strip_suffix('#') {
            Some(stem) => query
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :past")
                .expression_attribute_values(":from", s(after.unwrap_or(prefix)))
                .expression_attribute_values(":past", s(format!("{stem}$"))),
            None => query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", s(prefix)),
        }
    }

    /// The items of `query`, following every page (or until `max` items), from the query's
    /// own exclusive start key if it has one.
    async fn query_pages(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        max: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = query.get_exclusive_start_key().clone();
        loop {
            let remaining = max.map(|m| {
                i32::try_from(m.saturating_sub(items.len()))
                    .unwrap_or(i32::MAX)
                    .max(1)
            });
            let output = query
                .clone()
                .set_limit(remaining)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::sdk("Query", e))?;
            let page = output.items.unwrap_or_default();
            self.count_read(&page);
            items.extend(page);
            start = output.last_evaluated_key;
            if start.is_none() || max.is_some_and(|m| items.len() >= m) {
                return Ok(items);
            }
        }
    }

    /// One item by key, strongly consistent: a write that has answered is always seen.
    async fn get_record<T: serde::de::DeserializeOwned>(
        &self,
        key: keys::Key,
    ) -> Result<Option<T>, StoreError> {
        self.get_item(key).await?.map(decode).transpose()
    }

    /// One item by key, strongly consistent.
    async fn get_item(&self, key: keys::Key) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        self.count_read(output.item.as_slice());
        Ok(output.item)
    }
}

/// BatchGetItem takes at most 100 keys.
const BATCH_GET_MAX: usize = 100;

/// The attributes a read asks for (the answer shrinks; DynamoDB charges whole items all the
/// same): a projection expression of `#p0`, `#p1`… and their names.
pub(super) struct Projection {
    expression: String,
    names: HashMap<String, String>,
}

impl Projection {
    pub(super) fn of<'a>(fields: impl IntoIterator<Item = &'a str>) -> Self {
        let names: Vec<(String, String)> = fields
            .into_iter()
            .enumerate()
            .map(|(index, field)| (format!("#p{index}"), field.to_owned()))
            .collect();
        Self {
            expression: names
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            names: names.into_iter().collect(),
        }
    }

    /// `query` asking for these attributes only.
    pub(super) fn on_query(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        query
            .projection_expression(&self.expression)
            .set_expression_attribute_names(Some(self.names.clone()))
    }
}
/// Rounds of re-sending what DynamoDB left unprocessed before giving up.
const UNPROCESSED_ROUNDS: usize = 8;

impl Store {
    /// Items by key, strongly consistent, re-sending what DynamoDB leaves unprocessed.
    async fn batch_get(&self, keys: Vec<keys::Key>) -> Result<Vec<Item>, StoreError> {
        self.batch_get_projected(keys, None).await
    }

    /// [`Store::batch_get`] with only the attributes of `projection` (all without).
    async fn batch_get_projected(
        &self,
        keys: Vec<keys::Key>,
        projection: Option<&Projection>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut keys_and_attributes =
                aws_sdk_dynamodb::types::KeysAndAttributes::builder().consistent_read(true);
            if let Some(projection) = projection {
                keys_and_attributes = keys_and_attributes
                    .projection_expression(&projection.expression)
                    .set_expression_attribute_names(Some(projection.names.clone()));
            }
            for key in chunk {
                keys_and_attributes = keys_and_attributes.keys(HashMap::from([
                    ("pk".to_owned(), s(&key.pk)),
                    ("sk".to_owned(), s(&key.sk)),
                ]));
            }
            let mut request = Some(keys_and_attributes.build().map_err(build_error)?);
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
                self.count_read(&items);
                found.extend(items);
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

    /// Runs a transaction; a cancelled one (a condition failed, or a conflict) gives its
    /// cancellation reason codes, one per item.
    async fn transact(
        &self,
        items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    ) -> Result<Result<(), Vec<String>>, StoreError> {
        Ok(self.transact_with_reasons(items).await?.map_err(|reasons| {
            reasons
                .iter()
                .map(|reason| reason.code().unwrap_or("None").to_owned())
                .collect()
        }))
    }

    /// [`Store::transact`], giving a cancelled transaction's full reasons (with the stored
    /// item, for writes that ask for it on a failed condition).
    async fn transact_with_reasons(
        &self,
        items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    ) -> Result<Result<(), Vec<aws_sdk_dynamodb::types::CancellationReason>>, StoreError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    Ok(Err(cancelled.cancellation_reasons().to_vec()))
                }
                _ => Err(StoreError::sdk("TransactWriteItems", err)),
            },
        }
    }
}

/// Did a conditional write fail its condition (as opposed to failing)?
pub(super) fn is_condition_failure<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(aws_sdk_dynamodb::error::ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

/// Waits before retry `round` of a write that met another one: exponential from 10 ms, with
/// a few random milliseconds so colliding writers spread out.
pub(crate) async fn backoff(round: usize) {
    let jitter = u64::from(getrandom::u32().unwrap_or(0) % 20);
    let wait = 10 * (1u64 << round.min(6)) + jitter;
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
}

/// Was a cancelled transaction cancelled (also) by another transaction on its items?
/// The key attributes of `key`, as a Query's exclusive start key.
fn key_attributes(key: keys::Key) -> Item {
    [("pk".to_owned(), s(key.pk)), ("sk".to_owned(), s(key.sk))].into()
}

fn conflicted(reasons: &[String]) -> bool {
    reasons.iter().any(|code| code == "TransactionConflict")
}

fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Sdk {
        operation: "TransactWriteItems",
        message: err.to_string(),
    }
}

#[derive(Debug)]
struct CallCounter(Arc<AtomicU64>);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// An item's size as DynamoDB counts it: each attribute's name and value (strings and
/// binaries their bytes, numbers about one byte per two digits plus one, booleans and nulls
/// one, lists and maps three plus their elements).
fn item_bytes(item: &Item) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_bytes(value))
        .sum()
}

fn value_bytes(value: &AttributeValue) -> u64 {
    let number = |text: &str| {
        let digits = text.chars().filter(char::is_ascii_digit).count() as u64;
        digits.div_ceil(2) + 1
    };
    match value {
        AttributeValue::S(text) => text.len() as u64,
        AttributeValue::N(text) => number(text),
        AttributeValue::B(blob) => blob.as_ref().len() as u64,
        AttributeValue::Ss(texts) => texts.iter().map(|t| t.len() as u64).sum(),
        AttributeValue::Ns(numbers) => numbers.iter().map(|t| number(t)).sum(),
        AttributeValue::Bs(blobs) => blobs.iter().map(|b| b.as_ref().len() as u64).sum(),
        AttributeValue::L(values) => 3 + values.iter().map(|v| 1 + value_bytes(v)).sum::<u64>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() as u64 + value_bytes(v))
                .sum::<u64>()
        }
        _ => 1,
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A count, sequence number or revision as DynamoDB stores it (a signed 64-bit number; none
/// comes near the limit, where it would saturate).
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Decodes a stored item into its record type, naming the item on failure.
fn decode<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    let key = match (item.get("pk"), item.get("sk")) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => format!("{pk}/{sk}"),
        _ => "(no key)".into(),
    };
    serde_dynamo::from_item(item).map_err(|source| StoreError::Corrupt { key, source })
}

/// Encodes a record and adds its key attributes.
fn encode<T: serde::Serialize>(record: &T, key: keys::Key) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(record)?;
    item.insert("pk".into(), s(key.pk));
    item.insert("sk".into(), s(key.sk));
    Ok(item)
}

/// Encodes a record with a `gsi1` entry.
fn encode_indexed<T: serde::Serialize>(
    record: &T,
    key: keys::Key,
    index: Option<keys::IndexEntry>,
) -> Result<Item, StoreError> {
    let mut item = encode(record, key)?;
    if let Some((partition, sort)) = index {
        item.insert("gsi1pk".into(), s(partition));
        item.insert("gsi1sk".into(), s(sort));
    }
    Ok(item)
}

/// An organization item, listed in the organizations index.
fn encode_organization(record: &records::OrganizationRecord) -> Result<Item, StoreError> {
    let index = keys::organization_index(&record.name, &record.org_id);
    encode_indexed(record, keys::organization(&record.org_id), Some(index))
}

/// A key record; active keys not yet replaced are listed in the rotation index.
fn encode_key_record(org_id: &str, record: &records::KeyRecord) -> Result<Item, StoreError> {
    // A key rotated with an overlap is active until it expires, but already replaced.
    let listed = record.status == records::KeyStatus::Active && record.replaced_by.is_none();
    let index = listed.then(|| {
        keys::active_key_index(
            record.last_rotated_at_ms.unwrap_or(record.created_at_ms),
            org_id,
            &record.key_id,
        )
    });
    encode_indexed(record, keys::key_record(org_id, &record.key_id), index)
}

/// A client for DynamoDB Local (or any endpoint that accepts dummy credentials).
pub fn local_client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "local",
        ))
        .build();
    Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_sizes_follow_dynamodbs_rules() {
        let item: Item = [
            ("pk".to_owned(), s("PARTNER#1")),
            ("seq".to_owned(), n(12_345)),
            (
                "days".to_owned(),
                AttributeValue::M([("SNS".to_owned(), s("3,,12"))].into()),
            ),
            ("done".to_owned(), AttributeValue::Bool(true)),
        ]
        .into();
        // pk 2 + 9; seq 3 + (3 + 1); days 4 + 3 + (1 + 3 + 5); done 4 + 1.
        assert_eq!(item_bytes(&item), 11 + 7 + 16 + 5);
    }
}
