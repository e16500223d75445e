//! Changes to an organization's API access that must take effect on its live sessions in
//! the same transaction: creating, revoking, rotating and editing keys, ending sessions,
//! disabling access. Every change re-reads the five slots (strongly consistent) and
//! conditions the transaction on each slot being as it was read, so a session created
//! concurrently either is seen and handled, or makes the transaction fail and be retried;
//! session creation in turn requires its key record to be active. No session of an
//! affected key survives a change that has answered.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};

use super::records::{
    ApiKeyRecord, AuditRecord, KeyRecord, KeyStatus, OrganizationRecord, SlotRecord,
};
use super::{
    Item, Store, StoreError, build_error, decode, encode, encode_key_record, encode_organization,
    keys, s,
};
use crate::clock::EpochMillis;
use crate::credentials::CredentialHash;

/// What happens to one live session when an access change is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionPlan {
    Keep,
    End,
    /// Keep it, with a new origin-host requirement (`None`: none).
    Rebind(Option<Vec<String>>),
}

/// The key and organization writes of one change; applied together with the session plan.
#[derive(Debug, Clone, Default)]
pub struct AccessChange {
    pub org_id: String,
    /// A new key: its lookup item (under the secret's HMAC) and its record.
    pub create: Option<(CredentialHash, ApiKeyRecord, KeyRecord)>,
    /// Key records to overwrite; each must still be active when the change applies.
    pub update_records: Vec<KeyRecord>,
    /// Lookup items to overwrite (origins edited).
    pub put_lookups: Vec<(CredentialHash, ApiKeyRecord)>,
    /// Lookup items to delete (key revoked): the key stops opening sessions.
    pub delete_lookups: Vec<CredentialHash>,
    pub organization: Option<OrganizationRecord>,
    pub audit: Vec<AuditRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessOutcome {
    /// Applied; the ids of the sessions it ended.
    Applied { ended: Vec<String> },
    /// A key record in `update_records` is no longer active (revoked meanwhile).
    KeyNotActive,
    /// `require_session_change` was set and no live session was affected: nothing written.
    NoSessionAffected,
}

/// Changes retried after a concurrent session change before giving up.
const ATTEMPTS: usize = 8;

impl Store {
    /// Applies `change` and, in the same transaction, `plan` to each live session of the
    /// organization. With `require_session_change`, writes nothing unless a session is
    /// ended or rebound.
    pub async fn apply_access_change(
        &self,
        change: &AccessChange,
        now_ms: EpochMillis,
        plan: Option<&(dyn Fn(&SlotRecord) -> SessionPlan + Sync)>,
        require_session_change: bool,
    ) -> Result<AccessOutcome, StoreError> {
        for round in 0..ATTEMPTS {
            let mut items = self.change_items(change)?;
            let Some(plan) = plan else {
                // No session can be affected (a new key): the key items alone; a conflict
                // with another transaction is retried.
                match self.transact(items).await? {
                    Ok(()) => return Ok(AccessOutcome::Applied { ended: Vec::new() }),
                    Err(codes) if super::conflicted(&codes) => {
                        super::backoff(round).await;
                        continue;
                    }
                    Err(codes) => {
                        return Err(StoreError::Sdk {
                            operation: "TransactWriteItems",
                            message: format!("access change refused: {codes:?}"),
                        });
                    }
                }
            };
            let slots = self.session_slots(&change.org_id).await?;
            let record_items = change.update_records.len();
            let mut ended = Vec::new();
            let mut changed_sessions = 0;
            for slot_number in 0..crate::sessions::MAX_LIVE_SESSIONS {
                let observed = slots
                    .iter()
                    .find(|(n, _)| *n == slot_number)
                    .map(|(_, s)| s);
                let live = observed.filter(|slot| slot.expires_at_ms > now_ms);
                match live.map(|slot| (slot, plan(slot))) {
                    Some((slot, SessionPlan::End)) => {
                        items.push(self.delete_session_item(&slot.session_hash)?);
                        items.push(self.delete_slot_item(&change.org_id, slot_number, slot)?);
                        ended.push(slot.session_id.clone());
                        changed_sessions += 1;
                    }
                    Some((slot, SessionPlan::Rebind(hosts))) => {
                        items.push(self.rebind_session_item(&slot.session_hash, hosts.as_deref())?);
                        items.push(self.slot_guard_item(&change.org_id, slot_number, observed)?);
                        changed_sessions += 1;
                    }
                    Some((_, SessionPlan::Keep)) | None => {
                        items.push(self.slot_guard_item(&change.org_id, slot_number, observed)?);
                    }
                }
            }
            if require_session_change && changed_sessions == 0 {
                return Ok(AccessOutcome::NoSessionAffected);
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(AccessOutcome::Applied { ended }),
                Err(err) => match err.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                        let reasons: Vec<&str> = cancelled
                            .cancellation_reasons()
                            .iter()
                            .map(|r| r.code().unwrap_or("None"))
                            .collect();
                        let record_failed = reasons
                            .iter()
                            .skip(self.record_offset(change))
                            .take(record_items)
                            .any(|code| *code == "ConditionalCheckFailed");
                        if record_failed {
                            return Ok(AccessOutcome::KeyNotActive);
                        }
                        if reasons.iter().any(|code| {
                            *code == "ConditionalCheckFailed" || *code == "TransactionConflict"
                        }) {
                            continue;
                        }
                        return Err(StoreError::sdk("TransactWriteItems", err));
                    }
                    _ => return Err(StoreError::sdk("TransactWriteItems", err)),
                },
            }
        }
        Err(StoreError::Contention {
            operation: "TransactWriteItems",
        })
    }

    /// Index of the first `update_records` item in the transaction.
    fn record_offset(&self, change: &AccessChange) -> usize {
        usize::from(change.create.is_some()) * 2
    }

    fn change_items(&self, change: &AccessChange) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut items = Vec::new();
        if let Some((hash, lookup, record)) = &change.create {
            items.push(self.put_item(
                encode(lookup, keys::api_key(hash))?,
                Some("attribute_not_exists(pk)"),
            )?);
            items.push(self.put_item(
                encode_key_record(&change.org_id, record)?,
                Some("attribute_not_exists(pk)"),
            )?);
        }
        for record in &change.update_records {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(encode_key_record(&change.org_id, record)?))
                .condition_expression("#status = :active")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(
                    ":active",
                    serde_dynamo::to_attribute_value(KeyStatus::Active)?,
                )
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        for (hash, lookup) in &change.put_lookups {
            items.push(self.put_item(encode(lookup, keys::api_key(hash))?, None)?);
        }
        for hash in &change.delete_lookups {
            items.push(self.delete_item(keys::api_key(hash), None)?);
        }
        if let Some(organization) = &change.organization {
            items.push(self.put_item(encode_organization(organization)?, None)?);
        }
        for entry in &change.audit {
            items.push(self.put_item(
                encode(
                    entry,
                    keys::audit(&change.org_id, entry.at_ms, &entry.audit_id),
                )?,
                None,
            )?);
        }
        Ok(items)
    }

    pub(super) fn put_item(
        &self,
        item: Item,
        condition: Option<&str>,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub(super) fn delete_item(
        &self,
        key: keys::Key,
        condition: Option<&str>,
    ) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    fn delete_session_item(&self, session_hash: &str) -> Result<TransactWriteItem, StoreError> {
        self.delete_item(
            keys::session(&CredentialHash(session_hash.to_owned())),
            None,
        )
    }

    /// Frees a slot only if it still holds the session that was read.
    fn delete_slot_item(
        &self,
        org_id: &str,
        slot: u8,
        observed: &SlotRecord,
    ) -> Result<TransactWriteItem, StoreError> {
        let key = keys::slot(org_id, slot);
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .condition_expression("session_hash = :hash")
            .expression_attribute_values(":hash", s(&observed.session_hash))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Fails the transaction if the slot changed since it was read.
    fn slot_guard_item(
        &self,
        org_id: &str,
        slot: u8,
        observed: Option<&SlotRecord>,
    ) -> Result<TransactWriteItem, StoreError> {
        let key = keys::slot(org_id, slot);
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk));
        let check = match observed {
            None => check.condition_expression("attribute_not_exists(pk)"),
            Some(slot) => check
                .condition_expression("session_hash = :hash")
                .expression_attribute_values(":hash", s(&slot.session_hash)),
        };
        Ok(TransactWriteItem::builder()
            .condition_check(check.build().map_err(build_error)?)
            .build())
    }

    fn rebind_session_item(
        &self,
        session_hash: &str,
        hosts: Option<&[String]>,
    ) -> Result<TransactWriteItem, StoreError> {
        let key = keys::session(&CredentialHash(session_hash.to_owned()));
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .condition_expression("attribute_exists(pk)");
        let update = match hosts {
            None => update.update_expression("REMOVE origin_hosts"),
            Some(hosts) => update
                .update_expression("SET origin_hosts = :hosts")
                .expression_attribute_values(":hosts", serde_dynamo::to_attribute_value(hosts)?),
        };
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(build_error)?)
            .build())
    }

    /// One key record by id.
    pub async fn key_record(
        &self,
        org_id: &str,
        key_id: &str,
    ) -> Result<Option<KeyRecord>, StoreError> {
        self.get_record(keys::key_record(org_id, key_id)).await
    }

    /// All of an organization's key records (active and revoked), oldest first by id order.
    pub async fn key_records(&self, org_id: &str) -> Result<Vec<KeyRecord>, StoreError> {
        self.query_prefix(org_id, keys::KEY_PREFIX, true, None)
            .await
    }

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

    /// Records one audit entry on its own (security events outside a transaction).
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

    /// Items of the organization's partition whose sort key starts with `prefix`, all pages
    /// (or the first `max` items), strongly consistent.
    async fn query_prefix<T: serde::de::DeserializeOwned>(
        &self,
        org_id: &str,
        prefix: &str,
        ascending: bool,
        max: Option<usize>,
    ) -> Result<Vec<T>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .scan_index_forward(ascending)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::org_partition(org_id)))
            .expression_attribute_values(":prefix", s(prefix));
        self.query_pages(query, max)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    /// Sessions by hash in one BatchGetItem, strongly consistent (the admin session list;
    /// at most five hashes, far below the 100-key limit).
    pub async fn sessions_by_hash(
        &self,
        hashes: &[String],
    ) -> Result<Vec<super::records::SessionRecord>, StoreError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        // BatchGetItem may leave keys unprocessed under load: `batch_get` re-sends them, so
        // an admin never sees a live session missing from the list.
        let keys = hashes
            .iter()
            .map(|hash| keys::session(&CredentialHash(hash.clone())))
            .collect();
        let items = self.batch_get(keys).await?;
        items
            .into_iter()
            .map(super::sessions::decode_session)
            .collect()
    }
}
