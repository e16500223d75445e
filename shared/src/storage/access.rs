//! Changes to an organization's API access — creating, revoking, rotating and editing keys,
//! enabling and disabling access, ending sessions — in two phases.
//!
//! Phase one commits the key and organization writes in one transaction. From then on no
//! session can be claimed under the old state: a claim requires its key record active and
//! at the access version its creator read (`claim_slot`). Phase two settles the live
//! sessions the change affects, each on its own, guarding only that session's slot, retried
//! until done. A holder of a leaked key who creates and ends sessions in a loop cannot keep
//! a revocation from completing: after phase one he can create none, and his logouts only
//! touch slots phase two does not guard.

use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};

use super::records::{
    ApiKeyRecord, AuditRecord, KeyRecord, KeyStatus, OrganizationRecord, ShareRecord, SlotRecord,
    ttl_for,
};
use super::{
    Item, Store, StoreError, build_error, decode, encode, encode_key_record, encode_organization,
    keys, n, s,
};
use crate::access::credentials::CredentialHash;
use crate::platform::clock::EpochMillis;

/// What happens to one live session when an access change is settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionPlan {
    Keep,
    End,
    /// Keep it, bound by its key's edited origins: a new origin-host requirement (`None`:
    /// none) and the key's CORS origins.
    Rebind {
        origin_hosts: Option<Vec<String>>,
        cors_origins: Vec<String>,
    },
    /// Keep it until this time at the latest (its key stops working then).
    Shorten(EpochMillis),
}

/// A key record to overwrite, on condition that it is still active at the version read.
#[derive(Debug, Clone)]
pub struct KeyWrite {
    pub record: KeyRecord,
    pub read_version: u32,
    /// The CORS origins of the record as read (fixed by its version): the counts of active
    /// keys per origin move from these to the written record's.
    pub read_cors_origins: Vec<String>,
}

impl KeyWrite {
    /// `record` written over `read`, which it edits (a new version).
    pub fn edit(record: KeyRecord, read: &KeyRecord) -> Self {
        Self {
            record,
            read_version: read.access_version,
            read_cors_origins: read.cors_origins.clone(),
        }
    }

    /// `record` written over itself as read (its version and settings unchanged; revoking
    /// it, for one).
    pub fn unchanged_version(record: KeyRecord) -> Self {
        Self {
            read_version: record.access_version,
            read_cors_origins: record.cors_origins.clone(),
            record,
        }
    }
}

/// What the organization item must be for a change to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgGuard {
    /// API access is enabled with this organization key (not disabled or re-enabled since).
    KeyIs(String),
    /// API access is disabled.
    Disabled,
}

/// The key and organization writes of one change (phase one).
#[derive(Debug, Clone, Default)]
pub struct AccessChange {
    pub org_id: String,
    /// A new key: its lookup item (under the secret's HMAC) and its record.
    pub create: Option<(CredentialHash, ApiKeyRecord, KeyRecord)>,
    pub update_records: Vec<KeyWrite>,
    /// Lookup items to overwrite (origins edited).
    pub put_lookups: Vec<(CredentialHash, ApiKeyRecord)>,
    /// Lookup items to delete (key revoked): the key stops opening sessions.
    pub delete_lookups: Vec<CredentialHash>,
    pub organization: Option<OrganizationRecord>,
    /// The new key's secret handed to other admins (written only with the key).
    pub put_shares: Vec<ShareRecord>,
    /// Condition on the organization item (on its write when there is one).
    pub org_guard: Option<OrgGuard>,
    pub audit: Vec<AuditRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessOutcome {
    Applied,
    /// A record of `update_records` was revoked or edited since it was read.
    KeyChanged,
    /// The organization's access state is no longer what `org_guard` requires.
    OrganizationChanged,
}

/// What an item of the phase-one transaction is, to read its cancellation reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    KeyRecord,
    Organization,
    Other,
}

/// Phase-one transactions retried after a transaction conflict before giving up (503).
const ATTEMPTS: usize = 8;
/// Phase-two rounds per session before giving up (503; the change itself stands, and
/// repeating the call settles the rest). Only conflicts with a write on that very
/// session or slot cost a round, so this is never reached without a fault.
pub(super) const SETTLE_ATTEMPTS: usize = 30;
const CONDITION_FAILED: &str = "ConditionalCheckFailed";

impl Store {
    /// Phase one: the key, organization and audit writes of `change`, in one transaction.
    pub async fn commit_access_change(
        &self,
        change: &AccessChange,
    ) -> Result<AccessOutcome, StoreError> {
        for round in 0..ATTEMPTS {
            let (items, roles) = self.change_items(change)?;
            let codes = match self.transact(items).await? {
                Ok(()) => return Ok(AccessOutcome::Applied),
                Err(codes) => codes,
            };
            let failed = |role: Role| {
                codes
                    .iter()
                    .zip(&roles)
                    .any(|(code, r)| *r == role && code == CONDITION_FAILED)
            };
            if failed(Role::KeyRecord) {
                return Ok(AccessOutcome::KeyChanged);
            }
            if failed(Role::Organization) {
                return Ok(AccessOutcome::OrganizationChanged);
            }
            if !super::conflicted(&codes) {
                return Err(StoreError::Sdk {
                    operation: "TransactWriteItems",
                    message: format!("access change refused: {codes:?}"),
                });
            }
            super::backoff(round).await;
        }
        Err(StoreError::Contention {
            operation: "TransactWriteItems",
        })
    }

    /// Phase two: applies `plan` to each live session of the organization, one at a time,
    /// guarding only that session's own slot. Read after phase one committed, the slots
    /// show every session claimed under the old state. Returns the ids of the sessions it
    /// ended.
    pub async fn settle_sessions(
        &self,
        org_id: &str,
        now_ms: EpochMillis,
        plan: &(dyn Fn(&SlotRecord) -> SessionPlan + Sync),
    ) -> Result<Vec<String>, StoreError> {
        let slots = self.session_slots(org_id).await?;
        let mut ended = Vec::new();
        for (number, slot) in slots.iter().filter(|(_, slot)| slot.expires_at_ms > now_ms) {
            match plan(slot) {
                SessionPlan::Keep => {}
                SessionPlan::End => {
                    if self.end_slot_session(org_id, *number, slot).await? {
                        ended.push(slot.session_id.clone());
                    }
                }
                SessionPlan::Rebind {
                    origin_hosts,
                    cors_origins,
                } => {
                    self.rebind_session(&slot.session_hash, origin_hosts.as_deref(), &cors_origins)
                        .await?;
                }
                SessionPlan::Shorten(until) => {
                    self.shorten_session(org_id, *number, slot, until).await?;
                }
            }
        }
        Ok(ended)
    }

    /// Deletes the session in `slot` and frees the slot while it still holds that session.
    /// True if this call deleted the session (false: it had ended already).
    async fn end_slot_session(
        &self,
        org_id: &str,
        number: u8,
        slot: &SlotRecord,
    ) -> Result<bool, StoreError> {
        let session_key = keys::session(&CredentialHash(slot.session_hash.clone()));
        let (mut session_present, mut slot_held) = (true, true);
        for round in 0..SETTLE_ATTEMPTS {
            let mut items = Vec::new();
            if session_present {
                items.push(self.delete_item(session_key.clone(), Some("attribute_exists(pk)"))?);
            }
            if slot_held {
                items.push(self.delete_slot_item(org_id, number, &slot.session_hash)?);
            }
            if items.is_empty() {
                return Ok(false);
            }
            match self.transact(items).await? {
                Ok(()) => return Ok(session_present),
                Err(codes) if super::conflicted(&codes) => super::backoff(round).await,
                Err(codes) => {
                    // The session ended (logout, another admin) or its slot moved on: do
                    // what is left without it.
                    let mut codes = codes.iter();
                    if session_present {
                        session_present = codes.next().is_none_or(|c| c != CONDITION_FAILED);
                    }
                    if slot_held {
                        slot_held = codes.next().is_none_or(|c| c != CONDITION_FAILED);
                    }
                }
            }
        }
        Err(StoreError::Contention {
            operation: "TransactWriteItems",
        })
    }

    /// Sets a live session's origin-host requirement and CORS origins (nothing if it has
    /// ended).
    async fn rebind_session(
        &self,
        session_hash: &str,
        hosts: Option<&[String]>,
        cors_origins: &[String],
    ) -> Result<(), StoreError> {
        for round in 0..SETTLE_ATTEMPTS {
            let item = self.rebind_session_item(session_hash, hosts, cors_origins)?;
            match self.transact(vec![item]).await? {
                Ok(()) => return Ok(()),
                Err(codes) if super::conflicted(&codes) => super::backoff(round).await,
                Err(_) => return Ok(()),
            }
        }
        Err(StoreError::Contention {
            operation: "TransactWriteItems",
        })
    }

    /// Moves a live session's expiry (and its slot's, so the slot frees then) forward to
    /// `until`. Each write is conditional on the item still being that session with a later
    /// expiry: a session that ended or expired meanwhile is left as it is.
    async fn shorten_session(
        &self,
        org_id: &str,
        number: u8,
        slot: &SlotRecord,
        until: EpochMillis,
    ) -> Result<(), StoreError> {
        let session_key = keys::session(&CredentialHash(slot.session_hash.clone()));
        let slot_key = keys::slot(org_id, number);
        for (key, condition) in [
            (
                session_key,
                "attribute_exists(pk) AND expires_at_ms > :until",
            ),
            (slot_key, "session_hash = :hash AND expires_at_ms > :until"),
        ] {
            let mut update = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(key.pk))
                .key("sk", s(key.sk))
                .update_expression("SET expires_at_ms = :until, ttl_epoch_seconds = :ttl")
                .condition_expression(condition)
                .expression_attribute_values(":until", n(until))
                .expression_attribute_values(":ttl", n(ttl_for(until)));
            if condition.contains(":hash") {
                update = update.expression_attribute_values(":hash", s(&slot.session_hash));
            }
            match update.send().await {
                Ok(_) => {}
                Err(err) if super::is_condition_failure(&err) => {}
                Err(err) => return Err(StoreError::sdk("UpdateItem", err)),
            }
        }
        Ok(())
    }

    fn change_items(
        &self,
        change: &AccessChange,
    ) -> Result<(Vec<TransactWriteItem>, Vec<Role>), StoreError> {
        let mut items = Vec::new();
        let mut roles = Vec::new();
        if let Some((hash, lookup, record)) = &change.create {
            items.push(self.put_item(
                encode(lookup, keys::api_key(hash))?,
                Some("attribute_not_exists(pk)"),
            )?);
            items.push(self.put_item(
                encode_key_record(&change.org_id, record)?,
                Some("attribute_not_exists(pk)"),
            )?);
            roles.extend([Role::Other, Role::Other]);
        }
        for write in &change.update_records {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(encode_key_record(&change.org_id, &write.record)?))
                .condition_expression(format!(
                    "#status = :active AND {}",
                    version_condition(write.read_version)
                ))
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(
                    ":active",
                    serde_dynamo::to_attribute_value(KeyStatus::Active)?,
                )
                .expression_attribute_values(":version", super::n(i64::from(write.read_version)))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().put(put).build());
            roles.push(Role::KeyRecord);
        }
        for (hash, lookup) in &change.put_lookups {
            items.push(self.put_item(encode(lookup, keys::api_key(hash))?, None)?);
            roles.push(Role::Other);
        }
        for hash in &change.delete_lookups {
            items.push(self.delete_item(keys::api_key(hash), None)?);
            roles.push(Role::Other);
        }
        let guard = change.org_guard.as_ref().map(org_condition);
        match (&change.organization, guard) {
            (Some(organization), guard) => {
                let (condition, value) = guard.unzip();
                let put =
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(encode_organization(organization)?))
                        .set_condition_expression(condition)
                        .set_expression_attribute_values(value.flatten().map(|v| {
                            std::collections::HashMap::from([(":org_key".to_owned(), s(v))])
                        }))
                        .build()
                        .map_err(build_error)?;
                items.push(TransactWriteItem::builder().put(put).build());
                roles.push(Role::Organization);
            }
            (None, Some((condition, value))) => {
                let key = keys::organization(&change.org_id);
                let check =
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .key("pk", s(key.pk))
                        .key("sk", s(key.sk))
                        .condition_expression(condition)
                        .set_expression_attribute_values(value.map(|v| {
                            std::collections::HashMap::from([(":org_key".to_owned(), s(v))])
                        }))
                        .build()
                        .map_err(build_error)?;
                items.push(TransactWriteItem::builder().condition_check(check).build());
                roles.push(Role::Organization);
            }
            (None, None) => {}
        }
        for share in &change.put_shares {
            items.push(self.put_item(
                encode(share, keys::share(&change.org_id, &share.share_id))?,
                Some("attribute_not_exists(pk)"),
            )?);
            roles.push(Role::Other);
        }
        for entry in &change.audit {
            items.push(self.put_item(
                encode(
                    entry,
                    keys::audit(&change.org_id, entry.at_ms, &entry.audit_id),
                )?,
                None,
            )?);
            roles.push(Role::Other);
        }
        for (origin, delta) in cors_deltas(change) {
            let key = keys::cors_origin(origin);
            let update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(key.pk))
                .key("sk", s(key.sk))
                .update_expression("ADD active_keys :delta")
                .expression_attribute_values(":delta", n(delta))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().update(update).build());
            roles.push(Role::Other);
        }
        Ok((items, roles))
    }

    /// Does some active key list the CORS `origin`? One GetItem, a preflight's only read.
    pub async fn cors_origin_listed(&self, origin: &str) -> Result<bool, StoreError> {
        let count: Option<CorsOriginCount> = self.get_record(keys::cors_origin(origin)).await?;
        Ok(count.is_some_and(|c| c.active_keys > 0))
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

    /// Frees a slot only if it still holds the session that was read.
    pub(super) fn delete_slot_item(
        &self,
        org_id: &str,
        slot: u8,
        session_hash: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let key = keys::slot(org_id, slot);
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .condition_expression("session_hash = :hash")
            .expression_attribute_values(":hash", s(session_hash))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    fn rebind_session_item(
        &self,
        session_hash: &str,
        hosts: Option<&[String]>,
        cors_origins: &[String],
    ) -> Result<TransactWriteItem, StoreError> {
        let key = keys::session(&CredentialHash(session_hash.to_owned()));
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .condition_expression("attribute_exists(pk)");
        let (mut set, mut remove) = (Vec::new(), Vec::new());
        match hosts {
            None => remove.push("origin_hosts"),
            Some(hosts) => {
                set.push("origin_hosts = :hosts");
                update = update.expression_attribute_values(
                    ":hosts",
                    serde_dynamo::to_attribute_value(hosts)?,
                );
            }
        }
        if cors_origins.is_empty() {
            remove.push("cors_origins");
        } else {
            set.push("cors_origins = :cors");
            update = update.expression_attribute_values(
                ":cors",
                serde_dynamo::to_attribute_value(cors_origins)?,
            );
        }
        let mut expression = Vec::new();
        if !set.is_empty() {
            expression.push(format!("SET {}", set.join(", ")));
        }
        if !remove.is_empty() {
            expression.push(format!("REMOVE {}", remove.join(", ")));
        }
        let update = update.update_expression(expression.join(" "));
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

    /// Items of the organization's partition whose sort key starts with `prefix`, all pages
    /// (or the first `max` items), strongly consistent.
    pub(super) async fn query_prefix<T: serde::de::DeserializeOwned>(
        &self,
        org_id: &str,
        prefix: &str,
        ascending: bool,
        max: Option<usize>,
    ) -> Result<Vec<T>, StoreError> {
        let query = self
            .prefix_query(keys::org_partition(org_id), prefix)
            .scan_index_forward(ascending);
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

#[derive(serde::Deserialize)]
struct CorsOriginCount {
    active_keys: i64,
}

/// How `change` moves the count of active keys per CORS origin: a key counts for its
/// origins while it is active. Every write of `update_records` finds its record active
/// (its condition), so it takes the origins as read away and adds the written ones if the
/// record stays active. Origins whose count does not move are left out (a rotation hands
/// them from the old key to the new one).
fn cors_deltas(change: &AccessChange) -> std::collections::BTreeMap<&str, i64> {
    fn count<'a>(
        deltas: &mut std::collections::BTreeMap<&'a str, i64>,
        origins: &'a [String],
        by: i64,
    ) {
        for origin in origins {
            *deltas.entry(origin.as_str()).or_default() += by;
        }
    }
    let mut deltas = std::collections::BTreeMap::new();
    if let Some((_, _, record)) = &change.create {
        count(&mut deltas, &record.cors_origins, 1);
    }
    for write in &change.update_records {
        count(&mut deltas, &write.read_cors_origins, -1);
        if write.record.status == KeyStatus::Active {
            count(&mut deltas, &write.record.cors_origins, 1);
        }
    }
    deltas.retain(|_, delta| *delta != 0);
    deltas
}

/// The condition that a key record's `access_version` is `:version` (records from before
/// versioning have none and count as 0).
pub(super) fn version_condition(version: u32) -> &'static str {
    if version == 0 {
        "(attribute_not_exists(access_version) OR access_version = :version)"
    } else {
        "access_version = :version"
    }
}

/// Condition (and its `:org_key` value) on the organization item for `guard`.
fn org_condition(guard: &OrgGuard) -> (String, Option<String>) {
    match guard {
        OrgGuard::KeyIs(key) => ("organization_key = :org_key".into(), Some(key.clone())),
        OrgGuard::Disabled => (
            "attribute_exists(pk) AND attribute_not_exists(organization_key)".into(),
            None,
        ),
    }
}
