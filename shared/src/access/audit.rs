//! The audit trail: every admin action and every security event, newest first, kept for
//! at least a year (items carry a TTL of 400 days). Admin actions are written in the same
//! transaction as the change they record; security events on refusal paths are written on
//! their own and never turn a refusal into a server error.

use std::net::IpAddr;

use serde_json::Value;

use crate::App;
use crate::platform::clock::EpochMillis;
use crate::storage::records::{AuditRecord, ttl_for};

/// Audit entries live at least a year; DynamoDB TTL removes them after 400 days.
pub const RETENTION_MS: i64 = 400 * 24 * 60 * 60 * 1000;

/// Actor of entries written by the service itself (scheduled checks).
pub const SYSTEM: &str = "system";

/// The `action` names of the trail.
pub mod action {
    pub const SESSION_CREATED: &str = "session.created";
    pub const SESSION_ENDED: &str = "session.ended";
    pub const SESSION_LIMIT_REACHED: &str = "session.limit_reached";
    pub const SESSION_CREATION_LIMITED: &str = "session.creation_limited";
    pub const ORIGIN_REFUSED: &str = "session.origin_refused";
    pub const WRONG_IP: &str = "session.wrong_ip";
    pub const KEY_EXPIRED: &str = "api_key.expired_use";
    pub const WRONG_ORGANIZATION_KEY: &str = "api_key.wrong_organization_key";
    pub const ORGANIZATION_KEY_READ: &str = "api_access.organization_key_read";
    pub const SESSION_INVALIDATED: &str = "session.invalidated";
    pub const API_ACCESS_ENABLED: &str = "api_access.enabled";
    pub const API_ACCESS_DISABLED: &str = "api_access.disabled";
    pub const KEY_CREATED: &str = "api_key.created";
    pub const KEY_UPDATED: &str = "api_key.updated";
    pub const KEY_ROTATED: &str = "api_key.rotated";
    pub const KEY_REVOKED: &str = "api_key.revoked";
    pub const KEY_ROTATION_DUE: &str = "api_key.rotation_due";
    pub const KEY_SHARED: &str = "api_key.shared";
    pub const KEY_SHARE_REVEALED: &str = "api_key.share_revealed";
    pub const KEY_UNSHARED: &str = "api_key.unshared";
    pub const COMMITMENT_SET: &str = "commitment.set";
    pub const ADMIN_ADDED: &str = "admin.added";
    pub const ADMIN_REMOVED: &str = "admin.removed";
}

pub fn entry(
    now: EpochMillis,
    actor: &str,
    action: &str,
    target: String,
    ip: Option<IpAddr>,
    detail: Value,
) -> AuditRecord {
    AuditRecord {
        audit_id: crate::platform::request::new_id(),
        at_ms: now,
        actor: actor.to_owned(),
        actor_label: None,
        action: action.to_owned(),
        target,
        ip: ip.map(|ip| ip.to_string()),
        detail,
        ttl_epoch_seconds: ttl_for(now + RETENTION_MS),
        occurrences: None,
        last_at_ms: None,
    }
}

/// An entry of something `actor` (an admin or an operator) did: their id, their label
/// (an admin's e-mail) and address.
pub fn by(
    actor: &crate::access::api_keys::Actor,
    now: EpochMillis,
    action: &str,
    target: String,
    detail: Value,
) -> AuditRecord {
    AuditRecord {
        actor_label: actor.label.clone(),
        ..entry(now, &actor.id, action, target, actor.ip, detail)
    }
}

/// Records a security event, at most once per kind, actor (the API key or admin it is
/// about) and minute — repeats are counted on that entry — so a flood of refusals cannot
/// flood the trail. A failure is logged, not raised (the refusal stands).
pub async fn record_event(app: &App, org_id: &str, entry: AuditRecord) {
    let dedupe = format!("{}#{}", entry.action, entry.actor);
    if let Err(err) = app
        .store
        .record_security_event(org_id, &entry, &dedupe)
        .await
    {
        tracing::error!(org_id, action = %entry.action, error = %err, "cannot write the audit entry");
    }
}
