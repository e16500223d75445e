//! API keys, their shares, sessions and session slots, admins and the audit trail.

use serde::{Deserialize, Serialize};

use crate::platform::clock::EpochMillis;

use super::partners::Partnership;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Revoked,
}

/// An API key as its admins manage it: the source of truth, in the organization's
/// partition. Revoked keys stay here for audit; only active ones have a lookup item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub key_id: String,
    /// HMAC of the secret: the lookup item's key.
    pub key_hash: String,
    pub name: String,
    pub partnership: Partnership,
    pub scopes: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub allow_any_origin: bool,
    /// Web origins (`https://app.example.com`) whose pages may call the API with this key:
    /// their answers carry CORS headers (`cors`). Validated on write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_origins: Vec<String>,
    pub prefix: String,
    pub status: KeyStatus,
    pub created_at_ms: EpochMillis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<EpochMillis>,
    /// When this key's secret was last replaced (a rotated key starts its life here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rotated_at_ms: Option<EpochMillis>,
    /// Marked by the daily rotation check; advisory, the key keeps working.
    #[serde(default)]
    pub rotation_due: bool,
    /// Last session creation with this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at_ms: Option<EpochMillis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<EpochMillis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_from: Option<String>,
    /// Version of the settings a session is bound by (allowed origins): every edit adds
    /// one, and a session is claimed only under the version its creator read, so an edit
    /// committed meanwhile cannot leave a session bound to the old settings. Records from
    /// before versioning read as 0.
    #[serde(default)]
    pub access_version: u32,
}

/// A key's secret handed to another admin of its organization (`sharing`): kept sealed
/// (`handover`) until the recipient reveals it, once, within its lifetime; deleted then, on
/// unshare and on the key's revocation, and by the TTL after it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRecord {
    pub share_id: String,
    pub key_id: String,
    pub key_name: String,
    pub key_prefix: String,
    /// The recipient: an admin's portal user id (token subject).
    pub recipient: String,
    /// Who shared it (`admin:<subject>`), and his e-mail as a label.
    pub shared_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_by_label: Option<String>,
    /// The secret sealed for this share only (`HandoverKey::seal`).
    pub sealed_secret: String,
    pub created_at_ms: EpochMillis,
    pub expires_at_ms: EpochMillis,
    pub ttl_epoch_seconds: i64,
}

/// What an admin may do in the organization of a membership. One role today; stored so a
/// narrower one can come without migrating memberships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// Every admin route: API access, keys, sessions, audit.
    Admin,
}

/// A signed-in identity (token issuer and subject) that administers one organization.
/// Created and removed by operators (`portalctl add-admin` / `remove-admin`); the only
/// thing that makes someone an admin — no token claim does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminMembership {
    pub issuer: String,
    pub subject: String,
    pub org_id: String,
    pub role: AdminRole,
    /// A label for people reading the trail; never used to decide anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub added_at_ms: EpochMillis,
    pub added_by: String,
}

/// An entry of the audit trail: admin actions and security events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub audit_id: String,
    pub at_ms: EpochMillis,
    /// Who acted: `admin:<token subject>`, `api_key:<id>`, `operator:<name>` or `system`.
    pub actor: String,
    /// The admin's e-mail when the actor is an admin: a label, not an identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_label: Option<String>,
    pub action: String,
    /// What was acted on, e.g. `api_key:<id>` or `session:<id>`.
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    pub detail: serde_json::Value,
    pub ttl_epoch_seconds: i64,
    /// A security event repeated within its minute is counted here (absent: once) rather
    /// than written again; `last_at_ms` is the latest repeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrences: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at_ms: Option<EpochMillis>,
}

/// The lookup copy of an active API key, stored under the HMAC of its secret: everything
/// session creation needs in one GetItem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub org_id: String,
    pub org_name: String,
    /// HMAC of the organization key this API key must be presented with. Only the hash, so
    /// the session path never reads an organization key in clear.
    pub organization_key_hash: String,
    pub partnership: Partnership,
    pub name: String,
    /// First characters of the secret, shown to admins.
    pub prefix: String,
    pub scopes: Vec<String>,
    /// As entered by the admin, validated on write (`origins::AllowedOrigin`).
    pub allowed_origins: Vec<String>,
    /// The key's CORS origins, copied onto each session it opens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_origins: Vec<String>,
    pub status: KeyStatus,
    pub created_at_ms: EpochMillis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<EpochMillis>,
    /// `KeyRecord::access_version` these settings are: the claim requires it unchanged.
    #[serde(default)]
    pub access_version: u32,
}

/// The identity of the key behind a session, as `GET /v1/me` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeySummary {
    pub id: String,
    pub name: String,
    pub prefix: String,
}

/// `locked_to` of a session that is not locked to an address (its creator's address was
/// unknown and its key has no allowed origins).
pub const ANY_ADDRESS: &str = "*";

/// A live (or expired but not yet collected) session, stored under the HMAC of its token.
/// Carries everything `GET /v1/me` shows so the hot path needs no second read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session_id: String,
    pub org_id: String,
    pub org_name: String,
    pub partnership: Partnership,
    pub api_key: ApiKeySummary,
    pub scopes: Vec<String>,
    /// The client address the session is locked to, or [`ANY_ADDRESS`]. One attribute, so
    /// the hot-path condition checks it with a single `locked_to IN (:ip, :any)`.
    pub locked_to: String,
    /// Present when the session was admitted through a domain entry of its key's allowed
    /// origins: every request's Origin/Referer host must match one of these entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_hosts: Option<Vec<String>>,
    /// The key's CORS origins: a request whose `Origin` is one of them gets its answer with
    /// CORS headers. Follows edits of the key like `origin_hosts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_origins: Vec<String>,
    pub slot: u8,
    pub created_at_ms: EpochMillis,
    pub expires_at_ms: EpochMillis,
    /// GCRA with capacity 1: the earliest time the next request is allowed.
    pub next_allowed_ms: EpochMillis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at_ms: Option<EpochMillis>,
    pub ttl_epoch_seconds: i64,
}

impl SessionRecord {
    pub fn ip_locked(&self) -> bool {
        self.locked_to != ANY_ADDRESS
    }

    /// The address the session is locked to, if it is.
    pub fn client_ip(&self) -> Option<&str> {
        self.ip_locked().then_some(self.locked_to.as_str())
    }

    /// Would a request from `client_ip` pass the address lock?
    pub fn admits_address(&self, client_ip: Option<&str>) -> bool {
        !self.ip_locked() || client_ip == Some(self.locked_to.as_str())
    }
}

/// One of an organization's five session slots; free when absent or expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRecord {
    /// Hex HMAC of the session token holding the slot.
    pub session_hash: String,
    pub session_id: String,
    /// The key the session was created with (revocation ends exactly these).
    pub api_key_id: String,
    /// The session's `locked_to`, so origin edits can re-check it without reading it.
    pub locked_to: String,
    pub expires_at_ms: EpochMillis,
    pub ttl_epoch_seconds: i64,
}
