//! Raw platform records: one item per account and day, one entry per product's usage and
//! one for the day's activity; an entry replaces the stored one only if the platform
//! observed it later — a conditional write, so arrival order never decides. Also where accounts are found for records and the
//! per-account sequence that orders the recomputations of what derives from them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::NaiveDate;
use futures::StreamExt;

use super::records::{AccountRef, ActivityRecord, DayActivity, UsageRecord};
use super::{Item, Store, StoreError, build_error, decode, keys, n, s};
use crate::partner_data::calendar::Period;

/// Day items of one account written at once.
const CONCURRENT_WRITES: usize = 8;
/// Rounds of a write that met another one before giving up (the queue retries).
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

/// What decides between two observations of one entry with the same `observed_at`: the
/// larger content wins, so every order of delivery ends in the same state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Content {
    Units(u64),
    Packed(String),
}

impl Content {
    fn value(&self) -> AttributeValue {
        match self {
            Self::Units(units) => AttributeValue::N(units.to_string()),
            Self::Packed(packed) => AttributeValue::S(packed.clone()),
        }
    }
}

/// One raw record as an entry of its account's day item: `usage_<product>` or `activity`.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    observed_at_ms: i64,
    received_at_ms: i64,
    content: Content,
}

impl Entry {
    fn rank(&self) -> (i64, &Content) {
        (self.observed_at_ms, &self.content)
    }

    fn value(&self) -> AttributeValue {
        AttributeValue::M(HashMap::from([
            ("observed_at_ms".to_owned(), n(self.observed_at_ms)),
            ("received_at_ms".to_owned(), n(self.received_at_ms)),
            ("content".to_owned(), self.content.value()),
        ]))
    }

    /// What the stored day item says of this entry: writable (absent, or an older
    /// observation), or settled as the same observation or a later one.
    fn against(&self, stored: &Item) -> Option<RawOutcome> {
        let Some(AttributeValue::M(entry)) = stored.get(&self.name) else {
            return None;
        };
        let observed = match entry.get("observed_at_ms") {
            Some(AttributeValue::N(ms)) => ms.parse::<i64>().ok()?,
            _ => return None,
        };
        let content = match entry.get("content") {
            Some(AttributeValue::N(units)) => Content::Units(units.parse().ok()?),
            Some(AttributeValue::S(packed)) => Content::Packed(packed.clone()),
            _ => return None,
        };
        match (observed, &content).cmp(&self.rank()) {
            std::cmp::Ordering::Less => None,
            std::cmp::Ordering::Equal => Some(RawOutcome::Unchanged),
            std::cmp::Ordering::Greater => Some(RawOutcome::Superseded),
        }
    }
}

/// The entries of one account and day to write, and the closed periods that day counts
/// late in.
struct DayWrite {
    account_id: String,
    day: NaiveDate,
    entries: Vec<Entry>,
    late: LateCount,
    ttl_epoch_seconds: i64,
}

impl DayWrite {
    /// One UpdateItem of the day item: each entry is set only if the stored one is an older
    /// observation (at the same instant, the larger content wins) — every condition must
    /// hold, so a failure is settled entry by entry from the stored item.
    fn update(&self, table: &str, key: keys::Key) -> Result<Update, StoreError> {
        let mut update = Update::builder()
            .table_name(table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .expression_attribute_names("#date", "date")
            .expression_attribute_values(":account", s(&self.account_id))
            .expression_attribute_values(":date", s(self.day.to_string()))
            .expression_attribute_values(":ttl", n(self.ttl_epoch_seconds));
        let mut sets = vec![
            "account_id = :account".to_owned(),
            "#date = :date".to_owned(),
            "ttl_epoch_seconds = :ttl".to_owned(),
        ];
        let mut conditions = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            let (name, value, observed, content) = (
                format!("#e{index}"),
                format!(":v{index}"),
                format!(":o{index}"),
                format!(":c{index}"),
            );
            sets.push(format!("{name} = {value}"));
            conditions.push(format!(
                "(attribute_not_exists({name}) OR {name}.observed_at_ms < {observed} \
                 OR ({name}.observed_at_ms = {observed} AND {name}.content < {content}))"
            ));
            update = update
                .expression_attribute_names(name, &entry.name)
                .expression_attribute_values(value, entry.value())
                .expression_attribute_values(observed, n(entry.observed_at_ms))
                .expression_attribute_values(content, entry.content.value());
        }
        update
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(conditions.join(" AND "))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)
    }

    /// Settles the entries a stored day item shows are not writable; keeps the rest.
    /// Returns how many were settled.
    fn settle(&mut self, stored: Option<&Item>, summary: &mut RawWriteSummary) -> usize {
        let Some(stored) = stored else {
            return 0;
        };
        let before = self.entries.len();
        let day = self.day;
        self.entries.retain(|entry| match entry.against(stored) {
            Some(outcome) => {
                summary.count(outcome, day);
                false
            }
            None => true,
        });
        before - self.entries.len()
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

    /// Stores raw records in one item per account and day, each record an entry that
    /// replaces the stored one only if observed later (at the same instant, the larger
    /// content wins), by a conditional write. The entries of a day of a closed period
    /// (`late` names them) count in that period's ledger in the same transaction, so a
    /// redelivered late record is not counted twice.
    pub async fn put_raw_records(
        &self,
        partnership_id: &str,
        records: &RawRecords,
        late: impl Fn(NaiveDate) -> LateCount,
    ) -> Result<RawWriteSummary, StoreError> {
        let mut summary = RawWriteSummary::default();
        // The winning observation of each entry: a batch may carry a record twice.
        let mut days: BTreeMap<(String, NaiveDate), (BTreeMap<String, Entry>, i64)> =
            BTreeMap::new();
        let offered = records
            .usage
            .iter()
            .map(|r| {
                let entry = Entry {
                    name: format!("usage_{}", r.product),
                    observed_at_ms: r.observed_at_ms,
                    received_at_ms: r.received_at_ms,
                    content: Content::Units(r.units),
                };
                (&r.account_id, r.date, r.ttl_epoch_seconds, entry)
            })
            .chain(records.activity.iter().map(|r| {
                let entry = Entry {
                    name: "activity".to_owned(),
                    observed_at_ms: r.observed_at_ms,
                    received_at_ms: r.received_at_ms,
                    content: Content::Packed(String::from(r.activity)),
                };
                (&r.account_id, r.date, r.ttl_epoch_seconds, entry)
            }));
        for (account_id, day, ttl, entry) in offered {
            let (entries, _) = days
                .entry((account_id.clone(), day))
                .or_insert_with(|| (BTreeMap::new(), ttl));
            match entries.get(&entry.name) {
                Some(kept) if kept.rank() >= entry.rank() => {
                    let outcome = if kept.rank() == entry.rank() {
                        RawOutcome::Unchanged
                    } else {
                        RawOutcome::Superseded
                    };
                    summary.count(outcome, day);
                }
                Some(_) => {
                    summary.count(RawOutcome::Superseded, day);
                    entries.insert(entry.name.clone(), entry);
                }
                None => {
                    entries.insert(entry.name.clone(), entry);
                }
            }
        }
        let writes =
            days.into_iter().map(
                |((account_id, day), (entries, ttl_epoch_seconds))| DayWrite {
                    late: late(day),
                    account_id,
                    day,
                    entries: entries.into_values().collect(),
                    ttl_epoch_seconds,
                },
            );
        let outcomes: Vec<Result<RawWriteSummary, StoreError>> = futures::stream::iter(writes)
            .map(|write| self.write_day(partnership_id, write))
            .buffer_unordered(CONCURRENT_WRITES)
            .collect()
            .await;
        for outcome in outcomes {
            summary.merge(outcome?);
        }
        Ok(summary)
    }

    /// Writes one day item: an UpdateItem, or — for a day of a closed period — a
    /// transaction with the ledger counts. Entries a failed condition shows are not
    /// writable are settled from the stored item, the rest retried.
    async fn write_day(
        &self,
        partnership_id: &str,
        mut write: DayWrite,
    ) -> Result<RawWriteSummary, StoreError> {
        use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
        let mut summary = RawWriteSummary::default();
        for round in 0..RETRY_ROUNDS {
            if write.entries.is_empty() {
                return Ok(summary);
            }
            let key = keys::raw_day(partnership_id, &write.account_id, &write.day.to_string());
            let update = write.update(&self.table, key)?;
            let settled = if write.late.is_empty() {
                // On time: the same update, sent on its own.
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(update.key().clone().into())
                    .update_expression(update.update_expression())
                    .set_condition_expression(update.condition_expression().map(str::to_owned))
                    .set_expression_attribute_names(update.expression_attribute_names().cloned())
                    .set_expression_attribute_values(update.expression_attribute_values().cloned())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
                    .await;
                match result {
                    Ok(_) => None,
                    Err(err) => match err.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                            Some(write.settle(failed.item(), &mut summary))
                        }
                        _ => return Err(StoreError::sdk("UpdateItem", err)),
                    },
                }
            } else {
                let count = u64::try_from(write.entries.len()).unwrap_or(u64::MAX);
                let mut items = vec![TransactWriteItem::builder().update(update).build()];
                for period in &write.late {
                    items.push(self.count_late(partnership_id, *period, count)?);
                }
                match self.transact_with_reasons(items).await? {
                    Ok(()) => None,
                    Err(reasons) => {
                        let stored = reasons
                            .first()
                            .filter(|r| r.code() == Some("ConditionalCheckFailed"))
                            .and_then(|r| r.item());
                        Some(write.settle(stored, &mut summary))
                    }
                }
            };
            match settled {
                None => {
                    for _ in &write.entries {
                        summary.count(RawOutcome::Stored, write.day);
                    }
                    return Ok(summary);
                }
                // Another writer came between: back off and retry.
                Some(0) => super::backoff(round).await,
                Some(_) => {}
            }
        }
        Err(StoreError::Contention {
            operation: "UpdateItem",
        })
    }

    /// An account's raw records of `days` (one item per day, strongly consistent): what a
    /// batch of records changed, read in O(days of the batch) whatever the history.
    pub async fn raw_days(
        &self,
        partnership_id: &str,
        account_id: &str,
        days: &BTreeSet<NaiveDate>,
    ) -> Result<RawRecords, StoreError> {
        let keys = days
            .iter()
            .map(|day| keys::raw_day(partnership_id, account_id, &day.to_string()))
            .collect();
        let items = self.batch_get(keys).await?;
        let mut records = RawRecords::default();
        for item in &items {
            day_records(item, &mut records)?;
        }
        Ok(records)
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
            day_records(&item, &mut records)?;
        }
        Ok(records)
    }
}

/// The records of one stored day item.
fn day_records(item: &Item, records: &mut RawRecords) -> Result<(), StoreError> {
    let corrupt = |what: &str| StoreError::Sdk {
        operation: "Query",
        message: format!("a raw day item has no valid {what}"),
    };
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(text)) => Ok(text.clone()),
        _ => Err(corrupt(name)),
    };
    let number = |value: Option<&AttributeValue>, what: &str| match value {
        Some(AttributeValue::N(n)) => n.parse::<i64>().map_err(|_| corrupt(what)),
        _ => Err(corrupt(what)),
    };
    let account_id = text("account_id")?;
    let date = chrono::NaiveDate::parse_from_str(&text("date")?, "%Y-%m-%d")
        .map_err(|_| corrupt("date"))?;
    let ttl_epoch_seconds = number(item.get("ttl_epoch_seconds"), "ttl")?;
    // In name order, so reads are repeatable.
    let mut entries: Vec<(&String, &AttributeValue)> = item.iter().collect();
    entries.sort_by_key(|(name, _)| *name);
    for (name, value) in entries {
        let AttributeValue::M(entry) = value else {
            continue;
        };
        let observed_at_ms = number(entry.get("observed_at_ms"), name)?;
        let received_at_ms = number(entry.get("received_at_ms"), name)?;
        if let Some(product) = name.strip_prefix("usage_") {
            let units = number(entry.get("content"), name)?;
            records.usage.push(UsageRecord {
                account_id: account_id.clone(),
                product: product.to_owned(),
                date,
                units: u64::try_from(units).map_err(|_| corrupt(name))?,
                observed_at_ms,
                received_at_ms,
                ttl_epoch_seconds,
            });
        } else if name == "activity" {
            let Some(AttributeValue::S(packed)) = entry.get("content") else {
                return Err(corrupt(name));
            };
            records.activity.push(ActivityRecord {
                account_id: account_id.clone(),
                date,
                activity: DayActivity::try_from(packed.clone()).map_err(|_| corrupt(name))?,
                observed_at_ms,
                received_at_ms,
                ttl_epoch_seconds,
            });
        }
    }
    Ok(())
}
