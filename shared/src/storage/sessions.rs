//! Session storage: the slot-claiming transaction (exact five-session cap), the hot-path
//! UpdateItem (verify + rate limit + record use in one round trip) and logout.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::records::{ANY_ADDRESS, AuditRecord, KeyStatus, SessionRecord, SlotRecord};
use super::{Store, StoreError, decode, encode, keys, n, s};
use crate::access::credentials::CredentialHash;
use crate::platform::clock::EpochMillis;

/// Result of trying to take a slot for a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    Claimed,
    /// Another live session holds the slot (someone else won the race).
    SlotTaken,
    /// DynamoDB cancelled the transaction because another one touched the same items.
    Conflict,
    /// The key was revoked (or removed) after it was read.
    KeyNotActive,
    /// The key's session creations of this minute are at their maximum.
    KeyLimitReached,
}

/// A counter of session creations in one minute, counted only below `max`.
#[derive(Debug, Clone)]
pub struct CreationCounter {
    pub key: keys::Key,
    pub max: u32,
    /// When the minute ends (the item's TTL follows).
    pub window_end_ms: EpochMillis,
}

const COUNT_ONE: &str =
    "SET creations = if_not_exists(creations, :zero) + :one, ttl_epoch_seconds = :ttl";
const BELOW_MAX: &str = "attribute_not_exists(creations) OR creations < :max";

impl CreationCounter {
    fn values(&self) -> [(&'static str, aws_sdk_dynamodb::types::AttributeValue); 4] {
        [
            (":zero", n(0)),
            (":one", n(1)),
            (":max", n(i64::from(self.max))),
            (
                ":ttl",
                n(super::records::ttl_for(self.window_end_ms + 60_000)),
            ),
        ]
    }
}

/// What the hot path needs to know about the request.
#[derive(Debug, Clone)]
pub struct TouchRequest<'a> {
    pub now_ms: EpochMillis,
    pub client_ip: Option<&'a str>,
    /// `origins::host_patterns` of the request's origin host (empty when it sent none).
    pub origin_patterns: &'a [String],
    /// Spacing the rate limiter enforces between two requests of one session.
    pub spacing_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TouchOutcome {
    /// The session is valid and the request is within the rate limit; the updated session.
    Allowed(SessionRecord),
    /// A condition failed; the session as stored (`None`: no such session) tells which.
    Refused(Option<SessionRecord>),
    /// DynamoDB refused the request itself (ValidationException) while it carried origin
    /// patterns: the origin host made it unusable. Request hosts are capped so that this
    /// cannot happen; should DynamoDB's limits ever shrink, it is still a refusal, not a 500.
    OriginUnusable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndOutcome {
    Ended(SessionRecord),
    Refused(Option<SessionRecord>),
}

impl Store {
    /// Counts one session creation attempt on `counter`, in one conditional UpdateItem;
    /// false (and nothing counted) when the minute's maximum is reached.
    pub async fn count_creation(&self, counter: &CreationCounter) -> Result<bool, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(counter.key.pk.clone()))
            .key("sk", s(counter.key.sk.clone()))
            .update_expression(COUNT_ONE)
            .condition_expression(BELOW_MAX);
        for (name, value) in counter.values() {
            update = update.expression_attribute_values(name, value);
        }
        match update.send().await {
            Ok(_) => Ok(true),
            Err(err) if super::is_condition_failure(&err) => Ok(false),
            Err(err) => Err(StoreError::sdk("UpdateItem", err)),
        }
    }

    /// The organization's slot items, strongly consistent (a slot claimed a moment ago counts).
    pub async fn session_slots(&self, org_id: &str) -> Result<Vec<(u8, SlotRecord)>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("pk = :pk AND begins_with(sk, :slot)")
            .expression_attribute_values(":pk", s(keys::org_partition(org_id)))
            .expression_attribute_values(":slot", s(keys::SLOT_PREFIX))
            .send()
            .await
            .map_err(|e| StoreError::sdk("Query", e))?;
        let mut slots = Vec::new();
        for item in output.items.unwrap_or_default() {
            let number = match item.get("sk") {
                Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) => keys::slot_number(sk),
                _ => None,
            };
            if let Some(number) = number {
                slots.push((number, decode(item)?));
            }
        }
        Ok(slots)
    }

    /// One transaction: take `session.slot` if it is free or its session has expired,
    /// store the session, record the key's last use — on condition that the key record is
    /// still active and at `access_version` (the settings the session was bound by), so a
    /// key revoked or edited meanwhile opens no session — and write the audit entry.
    /// Either all happen or none does.
    pub async fn claim_slot(
        &self,
        now_ms: EpochMillis,
        session_hash: &CredentialHash,
        session: &SessionRecord,
        access_version: u32,
        key_counter: &CreationCounter,
        audit: &AuditRecord,
    ) -> Result<ClaimOutcome, StoreError> {
        let slot_record = SlotRecord {
            session_hash: session_hash.as_str().to_owned(),
            session_id: session.session_id.clone(),
            api_key_id: session.api_key.id.clone(),
            locked_to: session.locked_to.clone(),
            expires_at_ms: session.expires_at_ms,
            ttl_epoch_seconds: session.ttl_epoch_seconds,
        };
        let build_error = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Sdk {
            operation: "TransactWriteItems",
            message: e.to_string(),
        };
        let claim = Put::builder()
            .table_name(&self.table)
            .set_item(Some(encode(
                &slot_record,
                keys::slot(&session.org_id, session.slot),
            )?))
            .condition_expression("attribute_not_exists(pk) OR expires_at_ms <= :now")
            .expression_attribute_values(":now", n(now_ms))
            .build()
            .map_err(build_error)?;
        let put_session = Put::builder()
            .table_name(&self.table)
            .set_item(Some(encode_session(session, keys::session(session_hash))?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_error)?;
        let key = keys::key_record(&session.org_id, &session.api_key.id);
        let mark_key_used = Update::builder()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .condition_expression(format!(
                "#status = :active AND {}",
                super::access::version_condition(access_version)
            ))
            .update_expression("SET last_used_at_ms = :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(
                ":active",
                serde_dynamo::to_attribute_value(KeyStatus::Active)?,
            )
            .expression_attribute_values(":version", n(i64::from(access_version)))
            .expression_attribute_values(":now", n(now_ms))
            .build()
            .map_err(build_error)?;
        let put_audit = Put::builder()
            .table_name(&self.table)
            .set_item(Some(encode(
                audit,
                keys::audit(&session.org_id, audit.at_ms, &audit.audit_id),
            )?))
            .build()
            .map_err(build_error)?;
        let mut count_creation = Update::builder()
            .table_name(&self.table)
            .key("pk", s(key_counter.key.pk.clone()))
            .key("sk", s(key_counter.key.sk.clone()))
            .update_expression(COUNT_ONE)
            .condition_expression(BELOW_MAX);
        for (name, value) in key_counter.values() {
            count_creation = count_creation.expression_attribute_values(name, value);
        }
        let count_creation = count_creation.build().map_err(build_error)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(claim).build())
            .transact_items(TransactWriteItem::builder().put(put_session).build())
            .transact_items(TransactWriteItem::builder().update(mark_key_used).build())
            .transact_items(TransactWriteItem::builder().put(put_audit).build())
            .transact_items(TransactWriteItem::builder().update(count_creation).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(ClaimOutcome::Claimed),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let codes: Vec<&str> = cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|reason| reason.code().unwrap_or("None"))
                        .collect();
                    if codes.get(2) == Some(&"ConditionalCheckFailed") {
                        Ok(ClaimOutcome::KeyNotActive)
                    } else if codes.get(4) == Some(&"ConditionalCheckFailed") {
                        Ok(ClaimOutcome::KeyLimitReached)
                    } else if codes.contains(&"TransactionConflict") {
                        Ok(ClaimOutcome::Conflict)
                    } else if codes.first() == Some(&"ConditionalCheckFailed") {
                        Ok(ClaimOutcome::SlotTaken)
                    } else {
                        Err(StoreError::sdk("TransactWriteItems", err))
                    }
                }
                _ => Err(StoreError::sdk("TransactWriteItems", err)),
            },
        }
    }

    /// The hot path: one conditional UpdateItem that verifies the session (exists and not
    /// expired — a missing item has no `expires_at_ms` —, same address where locked, origin
    /// host where required), enforces the rate limit and records the use. A failed
    /// condition changes nothing, so a request from another IP never spends the holder's
    /// allowance.
    pub async fn touch_session(
        &self,
        session_hash: &CredentialHash,
        request: &TouchRequest<'_>,
    ) -> Result<TouchOutcome, StoreError> {
        let key = keys::session(session_hash);
        let mut origin_clause = String::from("attribute_not_exists(origin_hosts)");
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk));
        for (index, pattern) in request.origin_patterns.iter().enumerate() {
            origin_clause.push_str(&format!(" OR contains(origin_hosts, :origin{index})"));
            update = update.expression_attribute_values(format!(":origin{index}"), s(pattern));
        }
        let condition = format!(
            "expires_at_ms > :now AND locked_to IN (:ip, :any) \
             AND ({origin_clause}) AND next_allowed_ms <= :now"
        );
        let result = update
            .condition_expression(condition)
            .update_expression("SET next_allowed_ms = :next, last_used_at_ms = :now")
            .expression_attribute_values(":now", n(request.now_ms))
            .expression_attribute_values(":next", n(request.now_ms + request.spacing_ms))
            .expression_attribute_values(":ip", s(request.client_ip.unwrap_or("")))
            .expression_attribute_values(":any", s(ANY_ADDRESS))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let item = output.attributes.unwrap_or_default();
                Ok(TouchOutcome::Allowed(decode_session(item)?))
            }
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let old = failed.item().cloned().map(decode_session).transpose()?;
                    Ok(TouchOutcome::Refused(old))
                }
                Some(service)
                    if !request.origin_patterns.is_empty()
                        && aws_sdk_dynamodb::error::ProvideErrorMetadata::code(service)
                            == Some("ValidationException") =>
                {
                    tracing::error!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&err), patterns = request.origin_patterns.len(), "DynamoDB refused the hot path with these origin patterns");
                    Ok(TouchOutcome::OriginUnusable)
                }
                _ => Err(StoreError::sdk("UpdateItem", err)),
            },
        }
    }

    /// The session stored under `session_hash`, live or not (one strongly consistent read).
    pub async fn session_by_hash(
        &self,
        session_hash: &CredentialHash,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.get_item(keys::session(session_hash))
            .await?
            .map(decode_session)
            .transpose()
    }

    /// Logout, in one transaction: deletes the live session (used from its own address
    /// where locked), frees its slot and writes the audit entry `audit` makes of it. Never
    /// rate limited. Two calls: the session is read first, for its slot and its audit entry.
    pub async fn end_session(
        &self,
        session_hash: &CredentialHash,
        now_ms: EpochMillis,
        client_ip: Option<&str>,
        audit: &(dyn Fn(&SessionRecord) -> AuditRecord + Sync),
    ) -> Result<EndOutcome, StoreError> {
        let key = keys::session(session_hash);
        let mut slot_held = true;
        for round in 0..super::access::SETTLE_ATTEMPTS {
            let stored = self
                .get_item(key.clone())
                .await?
                .map(decode_session)
                .transpose()?;
            let Some(session) = stored
                .as_ref()
                .filter(|s| s.expires_at_ms > now_ms && s.admits_address(client_ip))
            else {
                return Ok(EndOutcome::Refused(stored));
            };
            let entry = audit(session);
            let delete = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(key.pk.clone()))
                .key("sk", s(key.sk.clone()))
                .condition_expression("expires_at_ms > :now AND locked_to IN (:ip, :any)")
                .expression_attribute_values(":now", n(now_ms))
                .expression_attribute_values(":ip", s(client_ip.unwrap_or("")))
                .expression_attribute_values(":any", s(ANY_ADDRESS))
                .build()
                .map_err(super::build_error)?;
            let mut items = vec![TransactWriteItem::builder().delete(delete).build()];
            if slot_held {
                items.push(self.delete_slot_item(
                    &session.org_id,
                    session.slot,
                    &session_hash.0,
                )?);
            }
            items.push(self.put_item(
                encode(
                    &entry,
                    keys::audit(&session.org_id, entry.at_ms, &entry.audit_id),
                )?,
                None,
            )?);
            match self.transact(items).await? {
                Ok(()) => return Ok(EndOutcome::Ended(session.clone())),
                Err(codes) if super::conflicted(&codes) => super::backoff(round).await,
                // The session changed meanwhile (ended by an admin): read it again.
                Err(codes) if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") => {}
                // Its slot no longer holds it (freed already): end the session alone.
                Err(_) => slot_held = false,
            }
        }
        Err(StoreError::Contention {
            operation: "TransactWriteItems",
        })
    }
}

/// How a session item is stored: the attributes the hot path's condition checks and
/// updates, and everything else — fixed for the session's life — as one JSON attribute.
/// The hot path returns the whole item with every request, and one attribute is cheaper
/// for DynamoDB to return and for us to decode than a dozen nested ones.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredSession {
    identity: String,
    locked_to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin_hosts: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    cors_origins: Vec<String>,
    expires_at_ms: EpochMillis,
    next_allowed_ms: EpochMillis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_used_at_ms: Option<EpochMillis>,
    ttl_epoch_seconds: i64,
}

/// The part of a session packed into `identity`.
#[derive(serde::Serialize, serde::Deserialize)]
struct SessionIdentity {
    session_id: String,
    org_id: String,
    org_name: String,
    partnership: super::records::Partnership,
    api_key: super::records::ApiKeySummary,
    scopes: Vec<String>,
    slot: u8,
    created_at_ms: EpochMillis,
}

pub(super) fn encode_session(
    session: &SessionRecord,
    key: keys::Key,
) -> Result<super::Item, StoreError> {
    let identity = SessionIdentity {
        session_id: session.session_id.clone(),
        org_id: session.org_id.clone(),
        org_name: session.org_name.clone(),
        partnership: session.partnership.clone(),
        api_key: session.api_key.clone(),
        scopes: session.scopes.clone(),
        slot: session.slot,
        created_at_ms: session.created_at_ms,
    };
    let stored = StoredSession {
        identity: serde_json::to_string(&identity)?,
        locked_to: session.locked_to.clone(),
        origin_hosts: session.origin_hosts.clone(),
        cors_origins: session.cors_origins.clone(),
        expires_at_ms: session.expires_at_ms,
        next_allowed_ms: session.next_allowed_ms,
        last_used_at_ms: session.last_used_at_ms,
        ttl_epoch_seconds: session.ttl_epoch_seconds,
    };
    encode(&stored, key)
}

pub(super) fn decode_session(item: super::Item) -> Result<SessionRecord, StoreError> {
    let stored: StoredSession = decode(item)?;
    let identity: SessionIdentity = serde_json::from_str(&stored.identity)?;
    Ok(SessionRecord {
        session_id: identity.session_id,
        org_id: identity.org_id,
        org_name: identity.org_name,
        partnership: identity.partnership,
        api_key: identity.api_key,
        scopes: identity.scopes,
        locked_to: stored.locked_to,
        origin_hosts: stored.origin_hosts,
        cors_origins: stored.cors_origins,
        slot: identity.slot,
        created_at_ms: identity.created_at_ms,
        expires_at_ms: stored.expires_at_ms,
        next_allowed_ms: stored.next_allowed_ms,
        last_used_at_ms: stored.last_used_at_ms,
        ttl_epoch_seconds: stored.ttl_epoch_seconds,
    })
}
