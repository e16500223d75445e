//! The audit trail's items: entries in the organization's partition, newest first by
//! sort key, and the markers that keep a security event from being written more than once
//! per subject and minute.

use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};

use super::records::AuditRecord;
use super::{Store, StoreError, build_error, encode, keys, n, s};

/// What recording a security event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// The first of its kind this minute: a new entry.
    Recorded,
    /// Counted on the minute's entry (`occurrences`), no new entry.
    Counted,
}

impl Store {
    /// Newest-first audit entries, at most `limit` after skipping `offset`.
    pub async fn audit_entries(
        &self,
        org_id: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let entries: Vec<AuditRecord> = self
            .query_prefix(org_id, keys::AUDIT_PREFIX, false, Some(offset + limit))
            .await?;
        Ok(entries.into_iter().skip(offset).take(limit).collect())
    }

    /// Records one audit entry on its own.
    pub async fn put_audit(&self, org_id: &str, entry: &AuditRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(
                entry,
                keys::audit(org_id, entry.at_ms, &entry.audit_id),
            )?))
            .send()
            .await
            .map_err(|e| StoreError::sdk("PutItem", e))?;
        Ok(())
    }

    /// Records a security event once per `dedupe` (its kind and subject) and minute: the
    /// first writes the entry together with a marker naming it; later ones find the marker
    /// and add one to the entry's `occurrences`. One call for the first, two for the rest,
    /// and the trail grows by one entry a minute however often the event repeats.
    pub async fn record_security_event(
        &self,
        org_id: &str,
        entry: &AuditRecord,
        dedupe: &str,
    ) -> Result<EventOutcome, StoreError> {
        let minute = entry.at_ms - entry.at_ms.rem_euclid(60_000);
        let marker_key = keys::event_marker(org_id, dedupe, minute);
        let entry_key = keys::audit(org_id, entry.at_ms, &entry.audit_id);
        let marker = Put::builder()
            .table_name(&self.table)
            .item("pk", s(marker_key.pk.clone()))
            .item("sk", s(marker_key.sk.clone()))
            .item("entry_sk", s(entry_key.sk.clone()))
            .item(
                super::TTL_ATTRIBUTE,
                n(super::records::ttl_for(minute + 120_000)),
            )
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)?;
        let mut reasons = Vec::new();
        for round in 0..super::access::SETTLE_ATTEMPTS {
            let items = vec![
                TransactWriteItem::builder().put(marker.clone()).build(),
                self.put_item(encode(entry, entry_key.clone())?, None)?,
            ];
            reasons = match self.transact_with_reasons(items).await? {
                Ok(()) => return Ok(EventOutcome::Recorded),
                Err(reasons) => reasons,
            };
            // Another instance recording the same event at the same moment: try again.
            if reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
            {
                super::backoff(round).await;
                continue;
            }
            break;
        }
        let existing = reasons
            .first()
            .filter(|r| r.code() == Some("ConditionalCheckFailed"))
            .and_then(|r| r.item())
            .and_then(|item| item.get("entry_sk"))
            .and_then(|value| value.as_s().ok())
            .cloned();
        let Some(entry_sk) = existing else {
            return Err(StoreError::Sdk {
                operation: "TransactWriteItems",
                message: format!(
                    "security event refused: {:?}",
                    reasons.iter().map(|r| r.code()).collect::<Vec<_>>()
                ),
            });
        };
        // The entry counts itself as the first occurrence.
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::org_partition(org_id)))
            .key("sk", s(entry_sk))
            .condition_expression("attribute_exists(pk)")
            .update_expression(
                "SET occurrences = if_not_exists(occurrences, :one) + :one, last_at_ms = :now",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(entry.at_ms))
            .send()
            .await
            .map_err(|e| StoreError::sdk("UpdateItem", e))?;
        Ok(EventOutcome::Counted)
    }
}
