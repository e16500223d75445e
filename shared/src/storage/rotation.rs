//! Storage side of the daily rotation check: active keys whose rotation clock started
//! before a cutoff (from the sparse `gsi1` listing, no Scan), and marking one as due
//! together with its audit entry.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::records::{AuditRecord, KeyStatus, OrganizationRecord};
use super::table::INDEX_GSI1;
use super::{Store, StoreError, decode, encode, keys, s};

impl Store {
    /// (organization id, key id) of active keys created or last rotated before `cutoff_ms`.
    /// The index is eventually consistent; callers re-check each key with a condition.
    pub async fn keys_rotation_started_before(
        &self,
        cutoff_ms: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_GSI1)
            .key_condition_expression("gsi1pk = :index AND gsi1sk < :cutoff")
            .expression_attribute_values(":index", s(keys::ACTIVE_KEYS_INDEX))
            .expression_attribute_values(":cutoff", s(format!("{cutoff_ms:013}")))
            .projection_expression("gsi1sk");
        let items = self.query_pages(query, None).await?;
        Ok(items
            .iter()
            .filter_map(|item| match item.get("gsi1sk") {
                Some(AttributeValue::S(sort)) => keys::parse_active_key_index(sort),
                _ => None,
            })
            .collect())
    }

    /// Marks the key rotation-due and writes `audit`, only if it is active and not marked
    /// yet. Returns whether it was newly marked.
    pub async fn mark_rotation_due(
        &self,
        org_id: &str,
        key_id: &str,
        audit: &AuditRecord,
    ) -> Result<bool, StoreError> {
        self.set_rotation_due(org_id, key_id, true, Some(audit))
            .await
    }

    /// Takes a mark back (its notification could not be sent: the next run retries).
    pub async fn clear_rotation_due(&self, org_id: &str, key_id: &str) -> Result<bool, StoreError> {
        self.set_rotation_due(org_id, key_id, false, None).await
    }

    async fn set_rotation_due(
        &self,
        org_id: &str,
        key_id: &str,
        due: bool,
        audit: Option<&AuditRecord>,
    ) -> Result<bool, StoreError> {
        let build_error = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Sdk {
            operation: "TransactWriteItems",
            message: e.to_string(),
        };
        let key = keys::key_record(org_id, key_id);
        // A key rotated or revoked meanwhile is no longer active here: left alone.
        let condition = if due {
            "#status = :active AND (attribute_not_exists(rotation_due) OR rotation_due = :other)"
        } else {
            "#status = :active AND rotation_due = :other"
        };
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .condition_expression(condition)
            .update_expression("SET rotation_due = :due")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(
                ":active",
                serde_dynamo::to_attribute_value(KeyStatus::Active)?,
            )
            .expression_attribute_values(":due", AttributeValue::Bool(due))
            .expression_attribute_values(":other", AttributeValue::Bool(!due))
            .build()
            .map_err(build_error)?;
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build());
        if let Some(entry) = audit {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(encode(
                    entry,
                    keys::audit(org_id, entry.at_ms, &entry.audit_id),
                )?))
                .build()
                .map_err(build_error)?;
            request = request.transact_items(TransactWriteItem::builder().put(put).build());
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(_)) => Ok(false),
                _ => Err(StoreError::sdk("TransactWriteItems", err)),
            },
        }
    }

    /// Every organization, by name (the operator CLI's listing).
    pub async fn organizations(&self) -> Result<Vec<OrganizationRecord>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_GSI1)
            .key_condition_expression("gsi1pk = :index")
            .expression_attribute_values(":index", s(keys::ORGANIZATIONS_INDEX));
        self.query_pages(query, None)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }
}
