//! What reports read: the derived report items (each replaced only if still as its writer
//! read it), each period's ledger (late records) and the snapshots that
//! keep closed reseller months as they stood, and the partnership's commitments.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::WriteOutcome;
use super::records::{
    AccountRecord, AuditRecord, Commitments, MsspCompanyUsage, PeriodLedger, ResellerCompanyUsage,
    ResellerSnapshot,
};
use super::{
    Item, Store, StoreError, build_error, decode, encode, is_condition_failure, keys, n, s, to_i64,
};
use crate::partner_data::calendar::{Period, PeriodKind};

pub const MSSP: &str = "MSSP";
pub const RESELLER: &str = "RESELLER";

fn kind_prefix(kind: PeriodKind) -> &'static str {
    match kind {
        PeriodKind::Mssp => MSSP,
        PeriodKind::Reseller => RESELLER,
    }
}

/// Report rows of one period: its ledger, one row per account, and (closed reseller months)
/// the subscriptions of the accounts changed after it closed, as they stood then.
#[derive(Debug, Clone, Default)]
pub struct ReportRows<T> {
    pub ledger: PeriodLedger,
    pub rows: Vec<T>,
    pub snapshots: Vec<ResellerSnapshot>,
}

/// An account and its report rows, as read before deriving onto them.
#[derive(Debug, Clone, Default)]
pub struct DerivedState {
    /// None: the account no longer exists.
    pub account: Option<AccountRecord>,
    pub mssp_rows: BTreeMap<Period, MsspCompanyUsage>,
    pub reseller_rows: BTreeMap<Period, ResellerCompanyUsage>,
}

/// What a provisioning write does to closed periods, in the same transaction: their late
/// counts, and the snapshots that keep closed reseller months as they stood.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClosedPeriodWrites {
    pub late: Vec<Period>,
    pub snapshots: Vec<(Period, ResellerSnapshot)>,
}

/// The condition that a report row is still at the revision `read` (none: still absent),
/// with its values.
pub(super) fn row_as_read(
    read: Option<u64>,
) -> (
    &'static str,
    Option<std::collections::HashMap<String, AttributeValue>>,
) {
    match read {
        None => ("attribute_not_exists(pk)", None),
        Some(revision) => (
            "seq = :read",
            Some([(":read".to_owned(), n(to_i64(revision)))].into()),
        ),
    }
}

/// The revision of a report row replacing the one read at `read` (none: absent).
pub fn next_revision(read: Option<u64>) -> u64 {
    read.map_or(1, |revision| revision + 1)
}

impl Store {
    /// The transaction actions of `writes`: late counts, and snapshots that are written only
    /// where none exists yet (the first one taken after the month closed is the truth).
    pub(super) fn closed_period_actions(
        &self,
        partnership_id: &str,
        writes: &ClosedPeriodWrites,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut actions = Vec::new();
        for period in &writes.late {
            actions.push(self.count_late(partnership_id, *period, 1)?);
        }
        for (month, snapshot) in &writes.snapshots {
            let key = keys::reseller_snapshot(partnership_id, &month.id(), &snapshot.account_id);
            let fields: Item = serde_dynamo::to_item(snapshot)?;
            let mut update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(key.pk))
                .key("sk", s(key.sk));
            let mut sets = Vec::new();
            for (index, (name, value)) in fields.into_iter().enumerate() {
                sets.push(format!("#f{index} = if_not_exists(#f{index}, :f{index})"));
                update = update
                    .expression_attribute_names(format!("#f{index}"), name)
                    .expression_attribute_values(format!(":f{index}"), value);
            }
            let update = update
                .update_expression(format!("SET {}", sets.join(", ")))
                .build()
                .map_err(build_error)?;
            actions.push(TransactWriteItem::builder().update(update).build());
        }
        Ok(actions)
    }

    /// Adds `count` to the late records of `period`'s ledger (a transaction action).
    pub(super) fn count_late(
        &self,
        partnership_id: &str,
        period: Period,
        count: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let key = keys::report_ledger(partnership_id, kind_prefix(period.kind()), &period.id());
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .update_expression("ADD late_records :count")
            .expression_attribute_values(":count", n(to_i64(count)))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// What an account's report rows are derived onto: the account and its rows of
    /// `periods` (absent ones left out), strongly consistent, in one BatchGetItem.
    pub async fn derived_state(
        &self,
        partnership_id: &str,
        account_id: &str,
        periods: &BTreeSet<Period>,
    ) -> Result<DerivedState, StoreError> {
        let account_key = keys::account(partnership_id, account_id);
        let rows: Vec<(keys::Key, Period)> = periods
            .iter()
            .map(|period| {
                let kind = kind_prefix(period.kind());
                let key = keys::report_usage(partnership_id, kind, &period.id(), account_id);
                (key, *period)
            })
            .collect();
        let keys = rows
            .iter()
            .map(|(key, _)| key.clone())
            .chain([account_key.clone()])
            .collect();
        let row_periods: HashMap<String, Period> = rows
            .into_iter()
            .map(|(key, period)| (key.sk, period))
            .collect();
        let mut state = DerivedState::default();
        for item in self.batch_get(keys).await? {
            let sk = match item.get("sk") {
                Some(AttributeValue::S(sk)) => sk.clone(),
                _ => continue,
            };
            if sk == account_key.sk {
                state.account = Some(decode(item)?);
                continue;
            }
            let Some(period) = row_periods.get(&sk) else {
                continue;
            };
            match period.kind() {
                PeriodKind::Mssp => {
                    state.mssp_rows.insert(*period, decode(item)?);
                }
                PeriodKind::Reseller => {
                    state.reseller_rows.insert(*period, decode(item)?);
                }
            }
        }
        Ok(state)
    }

    /// Replaces an account's row of a reseller month if it is still as `read` (none: still
    /// absent); `row` carries the next revision.
    pub async fn replace_reseller_row(
        &self,
        partnership_id: &str,
        month_id: &str,
        read: Option<&ResellerCompanyUsage>,
        row: &ResellerCompanyUsage,
    ) -> Result<WriteOutcome, StoreError> {
        let key = keys::report_usage(partnership_id, RESELLER, month_id, &row.account_id);
        let (condition, values) = row_as_read(read.map(|r| r.seq));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(row, key)?))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(WriteOutcome::Written),
            Err(err) if is_condition_failure(&err) => {
                self.count_write_retry();
                Ok(WriteOutcome::Stale)
            }
            Err(err) => Err(StoreError::sdk("PutItem", err)),
        }
    }

    /// Writes an account's row of a reseller month over whatever is stored (seeding data
    /// sets; ingestion derives rows onto the ones it read).
    pub async fn put_reseller_usage(
        &self,
        partnership_id: &str,
        month_id: &str,
        usage: &ResellerCompanyUsage,
    ) -> Result<(), StoreError> {
        let key = keys::report_usage(partnership_id, RESELLER, month_id, &usage.account_id);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(usage, key)?))
            .send()
            .await
            .map_err(|e| StoreError::sdk("PutItem", e))?;
        Ok(())
    }

    /// One MSSP period's or reseller month's ledger and rows: one Query (the ledger item
    /// sorts first in the period's key range).
    async fn report_rows<T: serde::de::DeserializeOwned>(
        &self,
        partnership_id: &str,
        period: Period,
    ) -> Result<ReportRows<T>, StoreError> {
        let prefix = keys::report_usage_prefix(kind_prefix(period.kind()), &period.id());
        let query = self.prefix_query(keys::partner_partition(partnership_id), &prefix);
        let ledger_sk = format!("{prefix}{}", keys::LEDGER_SUFFIX);
        let mut rows = ReportRows {
            ledger: PeriodLedger::default(),
            rows: Vec::new(),
            snapshots: Vec::new(),
        };
        for item in self.query_pages(query, None).await? {
            match item.get("sk") {
                Some(AttributeValue::S(sk)) if *sk == ledger_sk => rows.ledger = decode(item)?,
                Some(AttributeValue::S(sk)) if sk.contains(keys::SNAPSHOT_MARK) => {
                    rows.snapshots.push(decode(item)?);
                }
                _ => rows.rows.push(decode(item)?),
            }
        }
        Ok(rows)
    }

    pub async fn mssp_usage(
        &self,
        partnership_id: &str,
        period: Period,
    ) -> Result<ReportRows<MsspCompanyUsage>, StoreError> {
        self.report_rows(partnership_id, period).await
    }

    pub async fn reseller_usage(
        &self,
        partnership_id: &str,
        month: Period,
    ) -> Result<ReportRows<ResellerCompanyUsage>, StoreError> {
        self.report_rows(partnership_id, month).await
    }

    /// The ledgers of `periods` (absent ones are empty): one BatchGetItem.
    pub async fn period_ledgers(
        &self,
        partnership_id: &str,
        periods: &[Period],
    ) -> Result<HashMap<Period, PeriodLedger>, StoreError> {
        let by_sk: HashMap<String, Period> = periods
            .iter()
            .map(|p| {
                let key = keys::report_ledger(partnership_id, kind_prefix(p.kind()), &p.id());
                (key.sk, *p)
            })
            .collect();
        let keys = periods
            .iter()
            .map(|p| keys::report_ledger(partnership_id, kind_prefix(p.kind()), &p.id()))
            .collect();
        let mut ledgers = HashMap::new();
        for item in self.batch_get(keys).await? {
            let period = match item.get("sk") {
                Some(AttributeValue::S(sk)) => by_sk.get(sk).copied(),
                _ => None,
            };
            if let Some(period) = period {
                ledgers.insert(period, decode(item)?);
            }
        }
        Ok(ledgers)
    }

    /// The partnership's minimum commitments (none when never set).
    pub async fn commitments(&self, partnership_id: &str) -> Result<Commitments, StoreError> {
        Ok(self
            .get_record(keys::commitments(partnership_id))
            .await?
            .unwrap_or_else(|| Commitments::none(partnership_id)))
    }

    /// Writes commitments, with their audit entry in `org_id`'s trail, if their stored
    /// revision is still `read_revision` (0: none stored); `false` when another change came
    /// first.
    pub async fn save_commitments(
        &self,
        commitments: &Commitments,
        read_revision: u64,
        org_id: &str,
        audit: &AuditRecord,
    ) -> Result<bool, StoreError> {
        let item = encode(commitments, keys::commitments(&commitments.partnership_id))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR revision = :read")
            .expression_attribute_values(":read", n(to_i64(read_revision)))
            .build()
            .map_err(build_error)?;
        let audit = encode(audit, keys::audit(org_id, audit.at_ms, &audit.audit_id))?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            self.put_item(audit, None)?,
        ];
        Ok(self.transact(items).await?.is_ok())
    }
}
