//! Raw platform records: stored per account, day and product (or activity day); a record
//! replaces the stored one only if the platform observed it later — a conditional write, so
//! arrival order never decides. Also where accounts are found for records and the
//! per-account sequence that orders the recomputations of what derives from them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::NaiveDate;
use futures::StreamExt;

use super::records::{AccountRecord, AccountRef, ActivityRecord, UsageRecord};
use super::{
    Item, Store, StoreError, build_error, decode, encode, is_condition_failure, keys, n, s,
};
use crate::calendar::Period;

/// TransactWriteItems takes at most 100 actions.
const TRANSACTION_MAX: usize = 100;
/// Conditional writes of one account's records in flight at once.
const CONCURRENT_PUTS: usize = 8;
/// Rounds of a transaction that met another one before giving up (the queue retries).
const RETRY_ROUNDS: usize = 8;

/// Raw records of one account, as stored.
#[derive(Debug, Clone, Default)]
pub struct RawRecords {
    pub usage: Vec<UsageRecord>,
    pub activity: Vec<ActivityRecord>,
}

/// What became of a raw record offered for storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawOutcome {
    /// Stored: there was none for its key, or an older one.
    Stored,
    /// The same observation (same `observed_at`, same content) was already stored.
    Unchanged,
    /// A later observation is stored (or arrived in the same batch): ignored.
    Superseded,
}

/// Which closed periods a stored record counts in as late.
pub type LateCount = Vec<Period>;

/// The outcome of storing a batch of raw records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawWriteSummary {
    pub stored: usize,
    pub unchanged: usize,
    pub superseded: usize,
    /// Days of the records now current (stored or unchanged): what a recomputation covers.
    pub current_days: BTreeSet<NaiveDate>,
}

impl RawWriteSummary {
    fn merge(&mut self, other: Self) {
        self.stored += other.stored;
        self.unchanged += other.unchanged;
        self.superseded += other.superseded;
        self.current_days.extend(other.current_days);
    }

    fn count(&mut self, outcome: RawOutcome, day: NaiveDate) {
        match outcome {
            RawOutcome::Stored => self.stored += 1,
            RawOutcome::Unchanged => self.unchanged += 1,
            RawOutcome::Superseded => self.superseded += 1,
        }
        if outcome != RawOutcome::Superseded {
            self.current_days.insert(day);
        }
    }
}

/// What decides between two observations of one key with the same `observed_at`: the
/// larger content wins, so every order of delivery ends in the same state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Content {
    Units(u64),
    Packed(String),
}

impl Content {
    fn attribute(&self) -> (&'static str, AttributeValue) {
        match self {
            Self::Units(units) => ("units", AttributeValue::N(units.to_string())),
            Self::Packed(packed) => ("activity", AttributeValue::S(packed.clone())),
        }
    }
}

/// One raw record ready to be written.
struct RawWrite {
    day: NaiveDate,
    item: Item,
    observed_at_ms: i64,
    content: Content,
    late: LateCount,
}

impl RawWrite {
    fn rank(&self) -> (i64, &Content) {
        (self.observed_at_ms, &self.content)
    }

    /// Compares with the stored item a failed condition returned: the same observation, or
    /// a later one.
    fn outcome_against(&self, stored: Option<&Item>) -> RawOutcome {
        let Some(stored) = stored else {
            return RawOutcome::Superseded;
        };
        let (name, value) = self.content.attribute();
        let same_time = stored.get("observed_at_ms")
            == Some(&AttributeValue::N(self.observed_at_ms.to_string()));
        if same_time && stored.get(name) == Some(&value) {
            RawOutcome::Unchanged
        } else {
            RawOutcome::Superseded
        }
    }

    /// Only a later observation replaces the stored one (at the same instant, the larger
    /// content).
    const CONDITION: &str = "attribute_not_exists(pk) OR observed_at_ms < :observed \
         OR (observed_at_ms = :observed AND #content < :content)";

    fn put(&self, table: &str) -> Result<TransactWriteItem, StoreError> {
        let (name, value) = self.content.attribute();
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(self.item.clone()))
            .condition_expression(Self::CONDITION)
            .expression_attribute_names("#content", name)
            .expression_attribute_values(":observed", n(self.observed_at_ms))
            .expression_attribute_values(":content", value)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

impl Store {
    /// Where each of `account_ids` lives (unknown ones are absent).
    pub async fn account_refs(
        &self,
        account_ids: &[String],
    ) -> Result<HashMap<String, AccountRef>, StoreError> {
        let keys = account_ids.iter().map(|id| keys::account_ref(id)).collect();
        let mut found = HashMap::new();
        for item in self.batch_get(keys).await? {
            let pointer: AccountRef = decode(item)?;
            found.insert(pointer.account_id.clone(), pointer);
        }
        Ok(found)
    }

    /// Stores raw records: each replaces the stored one of its key only if observed later
    /// (at the same instant, the larger content wins), by a conditional write. A record
    /// stored for a day of a closed period (`late` names them) counts in that period's
    /// ledger in the same transaction, so a redelivered late record is not counted twice.
    pub async fn put_raw_records(
        &self,
        partnership_id: &str,
        records: &RawRecords,
        late: impl Fn(NaiveDate) -> LateCount,
    ) -> Result<RawWriteSummary, StoreError> {
        let mut summary = RawWriteSummary::default();
        // One write per key, the winning observation: a transaction refuses two actions on
        // one item, and a batch may carry a day twice.
        let mut by_key: BTreeMap<String, RawWrite> = BTreeMap::new();
        let mut offered = Vec::new();
        for record in &records.usage {
            let key = keys::raw_usage(
                partnership_id,
                &record.account_id,
                &record.date.to_string(),
                &record.product,
            );
            offered.push((
                key.sk.clone(),
                RawWrite {
                    day: record.date,
                    observed_at_ms: record.observed_at_ms,
                    content: Content::Units(record.units),
                    late: late(record.date),
                    item: encode(record, key)?,
                },
            ));
        }
        for record in &records.activity {
            let key =
                keys::raw_activity(partnership_id, &record.account_id, &record.date.to_string());
            offered.push((
                key.sk.clone(),
                RawWrite {
                    day: record.date,
                    observed_at_ms: record.observed_at_ms,
                    content: Content::Packed(String::from(record.activity)),
                    late: late(record.date),
                    item: encode(record, key)?,
                },
            ));
        }
        for (sk, write) in offered {
            match by_key.get(&sk) {
                Some(kept) if kept.rank() >= write.rank() => {
                    let outcome = if kept.rank() == write.rank() {
                        RawOutcome::Unchanged
                    } else {
                        RawOutcome::Superseded
                    };
                    summary.count(outcome, write.day);
                }
                Some(_) => {
                    if let Some(replaced) = by_key.insert(sk, write) {
                        summary.count(RawOutcome::Superseded, replaced.day);
                    }
                }
                None => {
                    by_key.insert(sk, write);
                }
            }
        }
        // A record on time is one conditional PutItem; a late one goes in a transaction with
        // its ledger counts (rare, and it must count exactly once).
        let (mut late, on_time): (Vec<RawWrite>, Vec<RawWrite>) =
            by_key.into_values().partition(|w| !w.late.is_empty());
        let puts: Vec<Result<(RawOutcome, NaiveDate), StoreError>> = futures::stream::iter(on_time)
            .map(|write| self.put_raw(write))
            .buffer_unordered(CONCURRENT_PUTS)
            .collect()
            .await;
        for put in puts {
            let (outcome, day) = put?;
            summary.count(outcome, day);
        }
        while !late.is_empty() {
            let chunk = take_chunk(&mut late);
            summary.merge(self.put_raw_chunk(partnership_id, chunk).await?);
        }
        Ok(summary)
    }

    /// One raw record by a conditional PutItem.
    async fn put_raw(&self, write: RawWrite) -> Result<(RawOutcome, NaiveDate), StoreError> {
        use aws_sdk_dynamodb::operation::put_item::PutItemError;
        let (name, value) = write.content.attribute();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(write.item.clone()))
            .condition_expression(RawWrite::CONDITION)
            .expression_attribute_names("#content", name)
            .expression_attribute_values(":observed", n(write.observed_at_ms))
            .expression_attribute_values(":content", value)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok((RawOutcome::Stored, write.day)),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    Ok((write.outcome_against(failed.item()), write.day))
                }
                _ => Err(StoreError::sdk("PutItem", err)),
            },
        }
    }

    /// One transaction of late raw writes and their ledger counts; writes whose condition
    /// fails are settled from the stored item and the rest retried.
    async fn put_raw_chunk(
        &self,
        partnership_id: &str,
        mut chunk: Vec<RawWrite>,
    ) -> Result<RawWriteSummary, StoreError> {
        let mut summary = RawWriteSummary::default();
        for round in 0..RETRY_ROUNDS {
            if chunk.is_empty() {
                return Ok(summary);
            }
            let mut items = chunk
                .iter()
                .map(|w| w.put(&self.table))
                .collect::<Result<Vec<_>, _>>()?;
            let mut late_counts: BTreeMap<Period, u64> = BTreeMap::new();
            for period in chunk.iter().flat_map(|w| &w.late) {
                *late_counts.entry(*period).or_default() += 1;
            }
            for (period, count) in late_counts {
                items.push(self.count_late(partnership_id, period, count)?);
            }
            match self.transact_with_reasons(items).await? {
                Ok(()) => {
                    for write in &chunk {
                        summary.count(RawOutcome::Stored, write.day);
                    }
                    return Ok(summary);
                }
                Err(reasons) => {
                    let failed: Vec<Option<RawOutcome>> = chunk
                        .iter()
                        .enumerate()
                        .map(|(index, write)| {
                            let reason = reasons.get(index)?;
                            (reason.code() == Some("ConditionalCheckFailed"))
                                .then(|| write.outcome_against(reason.item()))
                        })
                        .collect();
                    let settled = failed.iter().flatten().count();
                    let mut kept = Vec::with_capacity(chunk.len());
                    for (write, outcome) in chunk.into_iter().zip(failed) {
                        match outcome {
                            Some(outcome) => summary.count(outcome, write.day),
                            None => kept.push(write),
                        }
                    }
                    chunk = kept;
                    if settled == 0 {
                        // Another transaction touched these items: back off and retry.
                        let wait = 10 * (1u64 << round.min(6)) + u64::from(jitter_ms());
                        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                    }
                }
            }
        }
        Err(StoreError::Sdk {
            operation: "TransactWriteItems",
            message: "raw records left unwritten after retries".into(),
        })
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
}

/// Takes from the front of `pending` as many writes as one transaction holds together with
/// their ledger counts.
fn take_chunk(pending: &mut Vec<RawWrite>) -> Vec<RawWrite> {
    let mut ledgers: BTreeSet<Period> = BTreeSet::new();
    let mut taken = 0;
    for write in pending.iter() {
        let mut with = ledgers.clone();
        with.extend(write.late.iter().copied());
        if taken + 1 + with.len() > TRANSACTION_MAX {
            break;
        }
        ledgers = with;
        taken += 1;
    }
    pending.drain(..taken.max(1)).collect()
}
/// A few random milliseconds, so retries of colliding writers spread out.
fn jitter_ms() -> u32 {
    getrandom::u32().unwrap_or(0) % 20
}
