//! The API-key lifecycle admins drive: create (the secret is shown once), edit allowed
//! origins, rotate, revoke. Every change commits first (from then on no session can be
//! claimed under the old state), then settles the live sessions it affects
//! (`storage::access`), so it is in force for every session when the call answers.

use std::net::IpAddr;

use serde_json::json;

use crate::App;
use crate::access::audit::{self, action};
use crate::access::credentials::{Credential, CredentialHash, CredentialKind, Pepper};
use crate::access::origins::{self, AllowedOrigin, OriginMatch};
use crate::access::sharing::{self, Recipients};
use crate::platform::clock::{EpochMillis, iso8601};
use crate::platform::error::ApiError;
use crate::platform::request;
use crate::storage::records::{
    ANY_ADDRESS, ApiKeyRecord, KeyRecord, KeyStatus, OrganizationRecord, PartnershipType,
    SlotRecord,
};
use crate::storage::{AccessChange, AccessOutcome, KeyWrite, OrgGuard, SessionPlan, Store};

/// Scopes an admin may add to a key; the report scope follows from the partnership type.
pub const OPTIONAL_SCOPES: &[&str] = &["customers:read", "accounts:read", "accounts:write"];
pub const MAX_NAME_CHARS: usize = 100;

/// What an admin asks for when creating a key.
#[derive(Debug, Clone)]
pub struct ApiKeySpec {
    pub name: String,
    pub partnership_id: String,
    pub optional_scopes: Vec<String>,
    pub allowed_origins: Vec<String>,
    /// The acknowledgement an empty `allowed_origins` needs.
    pub allow_any_origin: bool,
    /// Web origins whose pages may call the API with the key (`cors`).
    pub cors_origins: Vec<String>,
    pub expires_at_ms: Option<EpochMillis>,
    /// Admins the secret is handed to (`sharing`).
    pub share_with: Recipients,
}

/// The only change `PATCH /v1/admin/keys/{id}` allows: the key's origins.
#[derive(Debug, Clone, Default)]
pub struct OriginsUpdate {
    /// `None` keeps the current list.
    pub allowed_origins: Option<Vec<String>>,
    /// `None` keeps the acknowledgement only while the list stays empty.
    pub allow_any_origin: Option<bool>,
    /// `None` keeps the current CORS origins.
    pub cors_origins: Option<Vec<String>>,
}

/// Who does something, for the audit trail.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `admin:<token subject>`, `operator:<name>`, …
    pub id: String,
    /// An admin's e-mail, shown beside the id; never used to decide anything.
    pub label: Option<String>,
    pub ip: Option<IpAddr>,
}

/// The scopes of a key: `me:read`, the partnership's report scope, then the optional ones
/// (`accounts:write` implies `accounts:read`).
pub fn key_scopes(kind: PartnershipType, optional: &[String]) -> Result<Vec<String>, ApiError> {
    let mut scopes = vec!["me:read".to_owned(), kind.report_scope().to_owned()];
    for scope in optional {
        if !OPTIONAL_SCOPES.contains(&scope.as_str()) {
            return Err(ApiError::InvalidParameters(format!(
                "`{scope}` is not an optional scope; choose from {}",
                OPTIONAL_SCOPES.join(", ")
            )));
        }
    }
    for scope in OPTIONAL_SCOPES {
        let implied = *scope == "accounts:read" && optional.iter().any(|s| s == "accounts:write");
        if optional.iter().any(|s| s == scope) || implied {
            scopes.push((*scope).to_owned());
        }
    }
    Ok(scopes)
}

/// Validates allowed origins into their canonical text; an empty list needs the explicit
/// `allow_any_origin` acknowledgement.
pub fn validate_origins(
    entries: &[String],
    allow_any_origin: bool,
) -> Result<Vec<String>, ApiError> {
    if entries.is_empty() && !allow_any_origin {
        return Err(ApiError::InvalidParameters(
            "allowed_origins is empty: list the IPs, CIDR ranges or domains the key may be used from, or set allow_any_origin to true to accept any origin".into(),
        ));
    }
    if !entries.is_empty() && allow_any_origin {
        return Err(ApiError::InvalidParameters(
            "allow_any_origin must be false when allowed_origins lists entries".into(),
        ));
    }
    if entries.len() > 50 {
        return Err(ApiError::InvalidParameters(
            "allowed_origins takes at most 50 entries".into(),
        ));
    }
    let mut canonical: Vec<String> = Vec::new();
    for entry in entries {
        let origin: AllowedOrigin = entry
            .parse()
            .map_err(|e: origins::InvalidOrigin| ApiError::InvalidParameters(e.to_string()))?;
        let text = origin.to_string();
        if !canonical.contains(&text) {
            canonical.push(text);
        }
    }
    Ok(canonical)
}

fn validate_name(name: &str) -> Result<String, ApiError> {
    request::printable_text("name", name, MAX_NAME_CHARS)
}

/// The lookup copy of a key: what session creation reads.
fn lookup_item(
    org: &OrganizationRecord,
    record: &KeyRecord,
    organization_key_hash: &CredentialHash,
) -> ApiKeyRecord {
    ApiKeyRecord {
        key_id: record.key_id.clone(),
        org_id: org.org_id.clone(),
        org_name: org.name.clone(),
        organization_key_hash: organization_key_hash.as_str().to_owned(),
        partnership: record.partnership.clone(),
        name: record.name.clone(),
        prefix: record.prefix.clone(),
        scopes: record.scopes.clone(),
        allowed_origins: record.allowed_origins.clone(),
        cors_origins: record.cors_origins.clone(),
        status: record.status,
        created_at_ms: record.created_at_ms,
        expires_at_ms: record.expires_at_ms,
        access_version: record.access_version,
    }
}

fn organization_key_hash(
    pepper: &Pepper,
    org: &OrganizationRecord,
) -> Result<CredentialHash, ApiError> {
    org.organization_key
        .as_deref()
        .and_then(|text| Credential::parse(CredentialKind::OrganizationKey, text).ok())
        .map(|key| pepper.hash(&key))
        .ok_or_else(|| {
            ApiError::Conflict(
                "API access is not enabled for this organization; enable it first".into(),
            )
        })
}

/// A new API key secret and its hash (the only form stored).
fn new_secret(pepper: &Pepper) -> Result<(Credential, CredentialHash), ApiError> {
    let secret = Credential::generate(CredentialKind::ApiKey).map_err(ApiError::internal)?;
    let hash = pepper.hash(&secret);
    Ok((secret, hash))
}

/// Creates a key; returns the secret (shown once) and the record.
pub async fn create_key(
    app: &App,
    org: &OrganizationRecord,
    spec: ApiKeySpec,
    actor: &Actor,
) -> Result<(Credential, KeyRecord), ApiError> {
    let (store, pepper, now) = (&app.store, &app.pepper, app.clock.now_ms());
    let name = validate_name(&spec.name)?;
    let partnership = org
        .partnerships
        .iter()
        .find(|p| p.id == spec.partnership_id)
        .cloned()
        .ok_or_else(|| ApiError::InvalidParameters("partnership_id is not one of this organization's partnerships (GET /v1/admin/partnerships)".into()))?;
    let scopes = key_scopes(partnership.kind, &spec.optional_scopes)?;
    let allowed_origins = validate_origins(&spec.allowed_origins, spec.allow_any_origin)?;
    let cors_origins = crate::access::cors::validate_origins(&spec.cors_origins)?;
    if spec.expires_at_ms.is_some_and(|at| at <= now) {
        return Err(ApiError::InvalidParameters(
            "expires_at must be in the future".into(),
        ));
    }
    let org_key_hash = organization_key_hash(pepper, org)?;
    let (secret, hash) = new_secret(pepper)?;
    let record = KeyRecord {
        key_id: crate::platform::request::new_id(),
        key_hash: hash.as_str().to_owned(),
        name,
        partnership,
        scopes,
        allowed_origins,
        allow_any_origin: spec.allow_any_origin,
        cors_origins,
        prefix: secret.display_prefix(),
        status: KeyStatus::Active,
        created_at_ms: now,
        expires_at_ms: spec.expires_at_ms,
        last_rotated_at_ms: None,
        rotation_due: false,
        last_used_at_ms: None,
        revoked_at_ms: None,
        revoked_reason: None,
        replaced_by: None,
        rotated_from: None,
        access_version: 0,
    };
    let entry = audit::by(
        actor,
        now,
        action::KEY_CREATED,
        format!("api_key:{}", record.key_id),
        json!({ "name": record.name, "prefix": record.prefix, "scopes": record.scopes, "allowed_origins": record.allowed_origins, "cors_origins": record.cors_origins }),
    );
    let (put_shares, shared) = sharing::seal(app, &record, &secret, &spec.share_with, actor, now)?;
    let change = AccessChange {
        org_id: org.org_id.clone(),
        create: Some((
            hash,
            lookup_item(org, &record, &org_key_hash),
            record.clone(),
        )),
        org_guard: Some(enabled_with(org)?),
        put_shares,
        audit: [vec![entry], shared].concat(),
        ..AccessChange::default()
    };
    commit(store, &change).await?;
    Ok((secret, record))
}

async fn active_key(store: &Store, org_id: &str, key_id: &str) -> Result<KeyRecord, ApiError> {
    let record = store
        .key_record(org_id, key_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::ObjectNotFound)?;
    if record.status == KeyStatus::Revoked {
        return Err(ApiError::Conflict(
            "the API key is revoked; revoked keys cannot be changed".into(),
        ));
    }
    Ok(record)
}

/// `record`, revoked at `now` for `reason`.
pub(crate) fn revoked(
    mut record: KeyRecord,
    now: EpochMillis,
    reason: &str,
    replaced_by: Option<String>,
) -> KeyRecord {
    record.status = KeyStatus::Revoked;
    record.revoked_at_ms = Some(now);
    record.revoked_reason = Some(reason.to_owned());
    record.replaced_by = replaced_by;
    record.rotation_due = false;
    record
}

fn ends_sessions_of(key_id: String) -> impl Fn(&SlotRecord) -> SessionPlan {
    move |slot| {
        if slot.api_key_id == key_id {
            SessionPlan::End
        } else {
            SessionPlan::Keep
        }
    }
}

/// The organization's access state a key creation requires: enabled with the key read.
fn enabled_with(org: &OrganizationRecord) -> Result<OrgGuard, ApiError> {
    org.organization_key
        .clone()
        .map(OrgGuard::KeyIs)
        .ok_or_else(|| {
            ApiError::Conflict(
                "API access is not enabled for this organization; enable it first".into(),
            )
        })
}

/// Phase one of a key change: 409 if the key or the organization's access changed since
/// they were read.
async fn commit(store: &Store, change: &AccessChange) -> Result<(), ApiError> {
    match store
        .commit_access_change(change)
        .await
        .map_err(ApiError::internal)?
    {
        AccessOutcome::Applied => Ok(()),
        AccessOutcome::KeyChanged => Err(ApiError::Conflict(
            "the API key was revoked or changed meanwhile; read it again".into(),
        )),
        AccessOutcome::OrganizationChanged => Err(ApiError::Conflict(
            "API access was disabled or re-enabled meanwhile; read the organization again".into(),
        )),
    }
}

/// Phase two: `plan` applied to the organization's live sessions; the ids of those ended.
pub(crate) async fn settle(
    app: &App,
    org_id: &str,
    plan: &(dyn Fn(&SlotRecord) -> SessionPlan + Sync),
) -> Result<Vec<String>, ApiError> {
    app.store
        .settle_sessions(org_id, app.clock.now_ms(), plan)
        .await
        .map_err(ApiError::internal)
}

/// Times a revocation reads the key again after an edit committed between its read and
/// its write (each such round means another admin changed the key meanwhile).
const REVOKE_ATTEMPTS: usize = 5;

/// Revokes a key, then ends its sessions; answers once no session of the key can make a
/// request. Returns the revoked record and the ids of the ended sessions. Revoking a key
/// that is revoked already is a 409 — after ending any session of it a revocation cut
/// short left behind. An edit of the key committed meanwhile does not stop it: it reads
/// the key again and revokes that.
pub async fn revoke_key(
    app: &App,
    org_id: &str,
    key_id: &str,
    reason: &str,
    actor: &Actor,
) -> Result<(KeyRecord, Vec<String>), ApiError> {
    let (store, now) = (&app.store, app.clock.now_ms());
    for _ in 0..REVOKE_ATTEMPTS {
        let record = match active_key(store, org_id, key_id).await {
            Err(ApiError::Conflict(message)) => {
                settle(app, org_id, &ends_sessions_of(key_id.to_owned())).await?;
                return Err(ApiError::Conflict(message));
            }
            other => other?,
        };
        let hash = CredentialHash(record.key_hash.clone());
        // A key rotated with an overlap keeps naming its successor.
        let successor = record.replaced_by.clone();
        let record = revoked(record, now, reason, successor);
        let entry = audit::by(
            actor,
            now,
            action::KEY_REVOKED,
            format!("api_key:{key_id}"),
            json!({ "reason": reason }),
        );
        let change = AccessChange {
            org_id: org_id.to_owned(),
            update_records: vec![KeyWrite::unchanged_version(record.clone())],
            delete_lookups: vec![hash],
            audit: vec![entry],
            ..AccessChange::default()
        };
        match store
            .commit_access_change(&change)
            .await
            .map_err(ApiError::internal)?
        {
            AccessOutcome::Applied => {
                let ended = settle(app, org_id, &ends_sessions_of(key_id.to_owned())).await?;
                sharing::drop_shares(store, org_id, |key| key == key_id).await?;
                return Ok((record, ended));
            }
            // Edited or revoked since it was read: the next round reads which.
            AccessOutcome::KeyChanged => {}
            AccessOutcome::OrganizationChanged => {
                return Err(ApiError::Conflict(
                    "API access was disabled or re-enabled meanwhile; read the organization again"
                        .into(),
                ));
            }
        }
    }
    Err(ApiError::ServiceBusy {
        retry_after_ms: 1000,
    })
}

/// Replaces a key by a new one with the same name, partnership, scopes, origins and expiry;
/// the old key is revoked in the same transaction, then its sessions end.
/// Longest overlap a rotation may give the old key (a day).
pub const MAX_ROTATION_OVERLAP_MS: EpochMillis = 86_400_000;

/// Replaces a key with a new one. Without an overlap (`overlap_ms` 0) the old key is
/// revoked and its sessions end before this answers. With one, the old key keeps working
/// until then: its expiry moves to that time (never later than it was), its live sessions
/// are shortened to it, and it is marked as replaced (it cannot be rotated again; it can
/// still be revoked at once).
pub async fn rotate_key(
    app: &App,
    org: &OrganizationRecord,
    key_id: &str,
    overlap_ms: EpochMillis,
    share_with: &Recipients,
    actor: &Actor,
) -> Result<(Credential, KeyRecord), ApiError> {
    let (store, pepper, now) = (&app.store, &app.pepper, app.clock.now_ms());
    let old = active_key(store, &org.org_id, key_id).await?;
    if let Some(successor) = &old.replaced_by {
        return Err(ApiError::Conflict(format!(
            "the API key was rotated already (replaced by {successor}); it stops working at {}",
            old.expires_at_ms.map(iso8601).unwrap_or_default()
        )));
    }
    let org_key_hash = organization_key_hash(pepper, org)?;
    let (secret, hash) = new_secret(pepper)?;
    let new = KeyRecord {
        key_id: crate::platform::request::new_id(),
        key_hash: hash.as_str().to_owned(),
        prefix: secret.display_prefix(),
        status: KeyStatus::Active,
        created_at_ms: now,
        last_rotated_at_ms: Some(now),
        rotation_due: false,
        last_used_at_ms: None,
        revoked_at_ms: None,
        revoked_reason: None,
        replaced_by: None,
        rotated_from: Some(old.key_id.clone()),
        access_version: 0,
        ..old.clone()
    };
    let old_hash = CredentialHash(old.key_hash.clone());
    let stops_at = (overlap_ms > 0).then(|| {
        old.expires_at_ms
            .map_or(now + overlap_ms, |at| at.min(now + overlap_ms))
    });
    let entry = audit::by(
        actor,
        now,
        action::KEY_ROTATED,
        format!("api_key:{key_id}"),
        json!({
            "replaced_by": new.key_id,
            "prefix": new.prefix,
            "overlap_seconds": overlap_ms / 1000,
            "old_key_stops_at": stops_at.map(iso8601),
        }),
    );
    let (put_shares, shared) = sharing::seal(app, &new, &secret, share_with, actor, now)?;
    let mut change = AccessChange {
        org_id: org.org_id.clone(),
        create: Some((hash, lookup_item(org, &new, &org_key_hash), new.clone())),
        org_guard: Some(enabled_with(org)?),
        put_shares,
        audit: [vec![entry], shared].concat(),
        ..AccessChange::default()
    };
    match stops_at {
        None => {
            let old = revoked(old, now, "rotated", Some(new.key_id.clone()));
            change.update_records = vec![KeyWrite::unchanged_version(old)];
            change.delete_lookups = vec![old_hash];
            commit(store, &change).await?;
            settle(app, &org.org_id, &ends_sessions_of(key_id.to_owned())).await?;
            sharing::drop_shares(store, &org.org_id, |key| key == key_id).await?;
        }
        Some(until) => {
            // A new access version: a session being created under the old expiry is
            // refused its slot, so no session of the old key outlives the overlap.
            let mut kept = old.clone();
            kept.expires_at_ms = Some(until);
            kept.replaced_by = Some(new.key_id.clone());
            kept.rotation_due = false;
            kept.access_version = old.access_version.wrapping_add(1);
            change.put_lookups = vec![(old_hash, lookup_item(org, &kept, &org_key_hash))];
            change.update_records = vec![KeyWrite::edit(kept, &old)];
            commit(store, &change).await?;
            let key = key_id.to_owned();
            let plan = move |slot: &SlotRecord| {
                if slot.api_key_id == key && slot.expires_at_ms > until {
                    SessionPlan::Shorten(until)
                } else {
                    SessionPlan::Keep
                }
            };
            settle(app, &org.org_id, &plan).await?;
        }
    }
    Ok((secret, new))
}

/// What a live session of a key becomes when the key's allowed origins change to `allowed`
/// (the same rules as at session creation, for the address the session is locked to) and
/// its CORS origins to `cors_origins`.
pub fn rebind(allowed: &[String], cors_origins: &[String], locked_to: &str) -> SessionPlan {
    let keep = |origin_hosts| SessionPlan::Rebind {
        origin_hosts,
        cors_origins: cors_origins.to_vec(),
    };
    if allowed.is_empty() {
        return keep(None);
    }
    let Ok(ip) = locked_to.parse::<IpAddr>() else {
        // Unlocked (address unknown at creation): a key with origins admits no such session.
        debug_assert_eq!(locked_to, ANY_ADDRESS);
        return SessionPlan::End;
    };
    let parsed: Vec<AllowedOrigin> = allowed.iter().filter_map(|e| e.parse().ok()).collect();
    if origins::match_origin(&parsed, ip, None) == Some(OriginMatch::ClientAddress) {
        return keep(None);
    }
    let hosts = origins::host_entries(&parsed);
    if hosts.is_empty() {
        SessionPlan::End
    } else {
        keep(Some(hosts))
    }
}

/// Changes a key's allowed and CORS origins (a new access version: a session being created
/// under the old origins is refused its slot); its live sessions follow before it answers.
pub async fn update_origins(
    app: &App,
    org: &OrganizationRecord,
    key_id: &str,
    origins: &OriginsUpdate,
    actor: &Actor,
) -> Result<KeyRecord, ApiError> {
    let (store, pepper, now) = (&app.store, &app.pepper, app.clock.now_ms());
    let read = active_key(store, &org.org_id, key_id).await?;
    let mut record = read.clone();
    let allowed_origins = origins
        .allowed_origins
        .clone()
        .unwrap_or_else(|| record.allowed_origins.clone());
    let allow_any_origin = origins
        .allow_any_origin
        .unwrap_or(allowed_origins.is_empty() && record.allow_any_origin);
    record.allowed_origins = validate_origins(&allowed_origins, allow_any_origin)?;
    record.allow_any_origin = allow_any_origin;
    if let Some(cors_origins) = &origins.cors_origins {
        record.cors_origins = crate::access::cors::validate_origins(cors_origins)?;
    }
    record.access_version = read.access_version.wrapping_add(1);
    let org_key_hash = organization_key_hash(pepper, org)?;
    let entry = audit::by(
        actor,
        now,
        action::KEY_UPDATED,
        format!("api_key:{key_id}"),
        json!({ "allowed_origins": record.allowed_origins, "allow_any_origin": allow_any_origin, "cors_origins": record.cors_origins }),
    );
    let change = AccessChange {
        org_id: org.org_id.clone(),
        update_records: vec![KeyWrite::edit(record.clone(), &read)],
        put_lookups: vec![(
            CredentialHash(record.key_hash.clone()),
            lookup_item(org, &record, &org_key_hash),
        )],
        audit: vec![entry],
        ..AccessChange::default()
    };
    let (origins_now, cors_now) = (record.allowed_origins.clone(), record.cors_origins.clone());
    let key = key_id.to_owned();
    let plan = move |slot: &SlotRecord| {
        if slot.api_key_id == key {
            rebind(&origins_now, &cors_now, &slot.locked_to)
        } else {
            SessionPlan::Keep
        }
    };
    commit(store, &change).await?;
    settle(app, &org.org_id, &plan).await?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_scope_follows_the_partnership() {
        let mssp = key_scopes(PartnershipType::Mssp, &[]).unwrap();
        assert_eq!(mssp, ["me:read", "mssp-report:read"]);
        let reseller = key_scopes(PartnershipType::Reseller, &["customers:read".into()]).unwrap();
        assert_eq!(
            reseller,
            ["me:read", "reseller-report:read", "customers:read"]
        );
    }

    #[test]
    fn write_implies_read() {
        let scopes = key_scopes(PartnershipType::Mssp, &["accounts:write".into()]).unwrap();
        assert_eq!(
            scopes,
            [
                "me:read",
                "mssp-report:read",
                "accounts:read",
                "accounts:write"
            ]
        );
    }

    #[test]
    fn report_scopes_cannot_be_chosen() {
        assert!(key_scopes(PartnershipType::Mssp, &["reseller-report:read".into()]).is_err());
    }

    #[test]
    fn an_empty_origin_list_needs_the_acknowledgement() {
        assert!(validate_origins(&[], false).is_err());
        assert_eq!(validate_origins(&[], true).unwrap(), Vec::<String>::new());
        assert!(validate_origins(&["10.0.0.1".into()], true).is_err());
        assert_eq!(
            validate_origins(&["Example.com".into(), "example.com".into()], false).unwrap(),
            ["example.com"]
        );
        assert!(validate_origins(&["not a host".into()], false).is_err());
    }

    #[test]
    fn origin_edits_rebind_or_end_sessions() {
        let cors = ["https://app.example.com".to_owned()];
        let rebound = |origin_hosts: Option<Vec<String>>| SessionPlan::Rebind {
            origin_hosts,
            cors_origins: cors.to_vec(),
        };
        assert_eq!(rebind(&[], &cors, "203.0.113.1"), rebound(None));
        assert_eq!(
            rebind(&["203.0.113.0/24".into()], &cors, "203.0.113.1"),
            rebound(None)
        );
        assert_eq!(
            rebind(&["198.51.100.1".into()], &cors, "203.0.113.1"),
            SessionPlan::End
        );
        assert_eq!(
            rebind(
                &["198.51.100.1".into(), "*.example.com".into()],
                &cors,
                "203.0.113.1"
            ),
            rebound(Some(vec!["*.example.com".into()]))
        );
        assert_eq!(
            rebind(&["203.0.113.1".into()], &cors, ANY_ADDRESS),
            SessionPlan::End
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("").is_err());
        assert!(validate_name("   ").is_err());
        assert!(validate_name(&"x".repeat(101)).is_err());
        assert_eq!(
            validate_name(&"é".repeat(100)).unwrap().chars().count(),
            100
        );
        assert!(validate_name("a\nb").is_err());
    }
}
