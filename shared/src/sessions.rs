//! Sessions: exchanging an organization key + API key for a one-hour session token, the
//! authenticated hot path, and logout. Decisions are in DESIGN.md §4; the storage side of
//! each step is in `storage::sessions`.

use std::net::IpAddr;

use subtle::ConstantTimeEq;

use serde_json::json;

use crate::App;
use crate::audit::{self, action};
use crate::clock::EpochMillis;
use crate::clock::iso8601;
use crate::credentials::{Credential, CredentialHash, CredentialKind};
use crate::error::ApiError;
use crate::origins::{self, AllowedOrigin, OriginMatch};
use crate::request::RequestInfo;
use crate::storage::records::{
    ANY_ADDRESS, ApiKeyRecord, ApiKeySummary, KeyStatus, SessionRecord, ttl_for,
};
use crate::storage::{ClaimOutcome, EndOutcome, TouchOutcome, TouchRequest};

pub const SESSION_LIFETIME_MS: i64 = 60 * 60 * 1000;
/// Live sessions an organization may hold at once (one slot item each).
pub const MAX_LIVE_SESSIONS: u8 = 5;
/// One request per second per session (GCRA, capacity 1).
pub const REQUEST_SPACING_MS: i64 = 1000;
/// Slot races lost before giving up with 503; each loss means another session was created,
/// so more than five in a row only happens under heavy logout/login churn.
const CLAIM_ATTEMPTS: usize = 12;

/// Warning in `_meta.warnings` of a session that could not be locked to an address.
pub const UNLOCKED_WARNING: &str = "the client address could not be determined, so this session is not locked to an IP address; add allowed origins to the API key to require one";

/// A session just created: the token is shown once, here, and never again.
#[derive(Debug)]
pub struct NewSession {
    pub token: Credential,
    pub record: SessionRecord,
    pub warnings: Vec<String>,
}

/// How a new session is tied to its client (the four rows of DESIGN.md §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The client address, or `ANY_ADDRESS` when it is unknown.
    pub locked_to: String,
    /// The key's domain entries when the session was admitted by its origin host.
    pub origin_hosts: Option<Vec<String>>,
    pub warning: Option<&'static str>,
}

/// Decides how a session for a key with `allowed_origins` binds to a client at `client_ip`
/// whose request names `origin_host`, or why it is refused.
pub fn bind_session(
    allowed_origins: &[String],
    client_ip: Option<IpAddr>,
    origin_host: Option<&str>,
) -> Result<Binding, ApiError> {
    let Some(ip) = client_ip else {
        if allowed_origins.is_empty() {
            return Ok(Binding {
                locked_to: ANY_ADDRESS.to_owned(),
                origin_hosts: None,
                warning: Some(UNLOCKED_WARNING),
            });
        }
        return Err(ApiError::ClientAddressUnknown);
    };
    let locked = |origin_hosts| Binding {
        locked_to: ip.to_string(),
        origin_hosts,
        warning: None,
    };
    if allowed_origins.is_empty() {
        return Ok(locked(None));
    }
    // Entries were validated on write; one that no longer parses admits nobody.
    let allowed: Vec<AllowedOrigin> = allowed_origins
        .iter()
        .filter_map(|e| e.parse().ok())
        .collect();
    match origins::match_origin(&allowed, ip, origin_host) {
        // The locked address is itself allowed: the address lock is the whole later check.
        Some(OriginMatch::ClientAddress) => Ok(locked(None)),
        Some(OriginMatch::Host) => Ok(locked(Some(origins::host_entries(&allowed)))),
        None => Err(ApiError::OriginNotAllowed),
    }
}

const BAD_KEY_PAIR: &str = "the organization key and API key do not identify an active API key";

/// `POST /v1/auth/session`: checks the key pair, binds the session to the client and takes
/// one of the organization's five slots. Three round trips: GetItem, Query, TransactWriteItems.
pub async fn create_session(
    app: &App,
    info: &RequestInfo,
    organization_key: &Credential,
    api_key: &Credential,
) -> Result<NewSession, ApiError> {
    let now = app.clock.now_ms();
    let key = app
        .store
        .api_key(&app.pepper.hash(api_key))
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::InvalidCredentials(BAD_KEY_PAIR))?;
    // The key acts, and is what the security events are about.
    let actor = format!("api_key:{}", key.key_id);
    let target = actor.clone();
    if let Err(refusal) = check_key(&key, &app.pepper.hash(organization_key), now) {
        if matches!(refusal, ApiError::CredentialsExpired(_)) {
            let event = audit::entry(
                now,
                &actor,
                action::KEY_EXPIRED,
                target,
                info.client_ip,
                json!({}),
            );
            audit::record_event(app, &key.org_id, event).await;
        }
        return Err(refusal);
    }
    let binding = match bind_session(
        &key.allowed_origins,
        info.client_ip,
        info.origin_host.as_deref(),
    ) {
        Ok(binding) => binding,
        Err(refusal) => {
            tracing::warn!(org_id = %key.org_id, key_id = %key.key_id, client_ip = ?info.client_ip, error_code = refusal.code(), "session refused by allowed origins");
            let detail = json!({ "origin_host": info.origin_host, "error_code": refusal.code() });
            let event = audit::entry(
                now,
                &actor,
                action::ORIGIN_REFUSED,
                target,
                info.client_ip,
                detail,
            );
            audit::record_event(app, &key.org_id, event).await;
            return Err(refusal);
        }
    };
    let token = Credential::generate(CredentialKind::SessionToken).map_err(ApiError::internal)?;
    let token_hash = app.pepper.hash(&token);
    let expires_at_ms = key
        .expires_at_ms
        .map_or(now + SESSION_LIFETIME_MS, |key_expiry| {
            key_expiry.min(now + SESSION_LIFETIME_MS)
        });
    let mut record = SessionRecord {
        session_id: crate::request::new_id(),
        org_id: key.org_id.clone(),
        org_name: key.org_name.clone(),
        partnership: key.partnership.clone(),
        api_key: ApiKeySummary {
            id: key.key_id.clone(),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
        },
        scopes: key.scopes.clone(),
        locked_to: binding.locked_to,
        origin_hosts: binding.origin_hosts,
        slot: 0,
        created_at_ms: now,
        expires_at_ms,
        next_allowed_ms: now,
        last_used_at_ms: None,
        ttl_epoch_seconds: ttl_for(expires_at_ms),
    };
    for _ in 0..CLAIM_ATTEMPTS {
        let slots = app
            .store
            .session_slots(&key.org_id)
            .await
            .map_err(ApiError::internal)?;
        let live: Vec<(u8, EpochMillis)> = slots
            .iter()
            .filter(|(_, slot)| slot.expires_at_ms > now)
            .map(|(number, slot)| (*number, slot.expires_at_ms))
            .collect();
        let free: Vec<u8> = (0..MAX_LIVE_SESSIONS)
            .filter(|number| !live.iter().any(|(taken, _)| taken == number))
            .collect();
        let Some(slot) = pick(&free) else {
            let earliest = live
                .iter()
                .map(|(_, expires)| *expires)
                .min()
                .unwrap_or(now + 1);
            tracing::warn!(org_id = %key.org_id, key_id = %key.key_id, "session limit reached");
            let event = audit::entry(
                now,
                &actor,
                action::SESSION_LIMIT_REACHED,
                target,
                info.client_ip,
                json!({ "live_sessions": live.len() }),
            );
            audit::record_event(app, &key.org_id, event).await;
            return Err(ApiError::SessionLimitReached {
                retry_after_ms: millis_until(earliest, now),
            });
        };
        record.slot = slot;
        let created = audit::entry(
            now,
            &actor,
            action::SESSION_CREATED,
            format!("session:{}", record.session_id),
            info.client_ip,
            json!({ "ip_locked": record.ip_locked(), "expires_at": iso8601(record.expires_at_ms) }),
        );
        match app
            .store
            .claim_slot(now, &token_hash, &record, &created)
            .await
            .map_err(ApiError::internal)?
        {
            ClaimOutcome::Claimed => {
                tracing::info!(org_id = %record.org_id, key_id = %record.api_key.id, session_id = %record.session_id, slot, ip_locked = record.ip_locked(), "session created");
                let warnings = binding.warning.iter().map(|w| (*w).to_owned()).collect();
                return Ok(NewSession {
                    token,
                    record,
                    warnings,
                });
            }
            ClaimOutcome::SlotTaken | ClaimOutcome::Conflict => continue,
            ClaimOutcome::KeyNotActive => return Err(ApiError::InvalidCredentials(BAD_KEY_PAIR)),
        }
    }
    Err(ApiError::ServiceBusy {
        retry_after_ms: 1000,
    })
}

fn check_key(
    key: &ApiKeyRecord,
    organization_key: &CredentialHash,
    now: EpochMillis,
) -> Result<(), ApiError> {
    let same_org: bool = key
        .organization_key_hash
        .as_bytes()
        .ct_eq(organization_key.as_str().as_bytes())
        .into();
    if !same_org || key.status != KeyStatus::Active {
        return Err(ApiError::InvalidCredentials(BAD_KEY_PAIR));
    }
    if key.expires_at_ms.is_some_and(|expiry| expiry <= now) {
        return Err(ApiError::CredentialsExpired("the API key has expired"));
    }
    Ok(())
}

/// A random element, so concurrent creators spread over the free slots.
fn pick(free: &[u8]) -> Option<u8> {
    if free.is_empty() {
        return None;
    }
    let random = getrandom::u32().unwrap_or(0) as usize;
    free.get(random % free.len()).copied()
}

fn millis_until(at: EpochMillis, now: EpochMillis) -> u64 {
    u64::try_from(at - now).unwrap_or(0).max(1)
}

/// A partner request: the session from the `Authorization` header (one UpdateItem), which
/// must carry `scope` (else 404, as if the object did not exist).
pub async fn authorize(
    app: &App,
    info: &RequestInfo,
    req: &lambda_http::Request,
    scope: &str,
) -> Result<SessionRecord, ApiError> {
    let token = crate::request::session_token(req.headers())?;
    let session = authenticate(app, info, &token).await?;
    require_scope(&session, scope)?;
    Ok(session)
}

/// Every authenticated request: verifies the session, enforces 1 request/second and
/// records the use, in one UpdateItem. Returns the session (with everything `/me` shows).
pub async fn authenticate(
    app: &App,
    info: &RequestInfo,
    token: &Credential,
) -> Result<SessionRecord, ApiError> {
    let now = app.clock.now_ms();
    let origin_patterns = info
        .origin_host
        .as_deref()
        .map(origins::host_patterns)
        .unwrap_or_default();
    let client_ip = info.client_ip.map(|ip| ip.to_string());
    let request = TouchRequest {
        now_ms: now,
        client_ip: client_ip.as_deref(),
        origin_patterns: &origin_patterns,
        spacing_ms: app.config.request_spacing_ms,
    };
    match app
        .store
        .touch_session(&app.pepper.hash(token), &request)
        .await
        .map_err(ApiError::internal)?
    {
        TouchOutcome::Allowed(session) => Ok(session),
        TouchOutcome::Refused(stored) => {
            let refusal = refusal(stored.as_ref(), &request);
            if let (Some(session), ApiError::WrongClientAddress | ApiError::OriginNotAllowed) =
                (&stored, &refusal)
            {
                tracing::warn!(org_id = %session.org_id, session_id = %session.session_id, client_ip = ?client_ip, error_code = refusal.code(), "session used from a refused address or origin");
                let event_action = match refusal {
                    ApiError::WrongClientAddress => action::WRONG_IP,
                    _ => action::ORIGIN_REFUSED,
                };
                let detail =
                    json!({ "origin_host": info.origin_host, "locked_to": session.client_ip() });
                let event = audit::entry(
                    now,
                    &format!("api_key:{}", session.api_key.id),
                    event_action,
                    format!("session:{}", session.session_id),
                    info.client_ip,
                    detail,
                );
                audit::record_event(app, &session.org_id, event).await;
            }
            Err(refusal)
        }
    }
}

/// Why the hot-path condition failed, from the session as it was stored. Checked in this
/// order so a caller from another address learns nothing about the rate limit.
pub fn refusal(stored: Option<&SessionRecord>, request: &TouchRequest<'_>) -> ApiError {
    if let Some(refusal) = identity_refusal(stored, request.now_ms, request.client_ip) {
        return refusal;
    }
    let Some(session) = stored else {
        return ApiError::InvalidCredentials(UNKNOWN_SESSION);
    };
    if let Some(hosts) = &session.origin_hosts
        && !request.origin_patterns.iter().any(|p| hosts.contains(p))
    {
        return ApiError::OriginNotAllowed;
    }
    if session.next_allowed_ms > request.now_ms {
        return ApiError::RateLimited {
            retry_after_ms: millis_until(session.next_allowed_ms, request.now_ms),
        };
    }
    ApiError::internal("the session condition failed but the stored session satisfies it")
}

const UNKNOWN_SESSION: &str = "the session token is unknown or the session has ended";

/// The checks every use of a session makes, logout included: it exists, has not expired,
/// and is used from its own address where locked.
fn identity_refusal(
    stored: Option<&SessionRecord>,
    now: EpochMillis,
    client_ip: Option<&str>,
) -> Option<ApiError> {
    let Some(session) = stored else {
        return Some(ApiError::InvalidCredentials(UNKNOWN_SESSION));
    };
    if session.expires_at_ms <= now {
        return Some(ApiError::CredentialsExpired(
            "the session has expired; create a new one",
        ));
    }
    if !session.admits_address(client_ip) {
        return Some(ApiError::WrongClientAddress);
    }
    None
}

/// `DELETE /v1/auth/session`: ends the session and frees its slot at once.
pub async fn end_session(
    app: &App,
    info: &RequestInfo,
    token: &Credential,
) -> Result<(), ApiError> {
    let now = app.clock.now_ms();
    let client_ip = info.client_ip.map(|ip| ip.to_string());
    let outcome = app
        .store
        .end_session(&app.pepper.hash(token), now, client_ip.as_deref())
        .await
        .map_err(ApiError::internal)?;
    match outcome {
        EndOutcome::Ended(session) => {
            tracing::info!(org_id = %session.org_id, session_id = %session.session_id, "session ended");
            Ok(())
        }
        EndOutcome::Refused(stored) => Err(identity_refusal(
            stored.as_ref(),
            now,
            client_ip.as_deref(),
        )
        .unwrap_or_else(|| {
            ApiError::internal("the logout condition failed but the stored session satisfies it")
        })),
    }
}

/// 404 (11011) unless the session's key carries `scope`: the API does not reveal what exists.
pub fn require_scope(session: &SessionRecord, scope: &str) -> Result<(), ApiError> {
    if session.scopes.iter().any(|s| s == scope) {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied)
    }
}

/// The organization's live sessions (at most five), for its admins.
pub async fn live_sessions(app: &App, org_id: &str) -> Result<Vec<SessionRecord>, ApiError> {
    let now = app.clock.now_ms();
    let slots = app
        .store
        .session_slots(org_id)
        .await
        .map_err(ApiError::internal)?;
    let hashes: Vec<String> = slots
        .iter()
        .filter(|(_, slot)| slot.expires_at_ms > now)
        .map(|(_, slot)| slot.session_hash.clone())
        .collect();
    let mut sessions = app
        .store
        .sessions_by_hash(&hashes)
        .await
        .map_err(ApiError::internal)?;
    sessions.retain(|session| session.expires_at_ms > now);
    sessions.sort_by(|a, b| {
        a.created_at_ms
            .cmp(&b.created_at_ms)
            .then_with(|| a.session_id.cmp(&b.session_id))
    });
    Ok(sessions)
}

/// Ends one live session of the organization by its id (not its token); 404 if there is
/// no such live session.
pub async fn invalidate_session(
    app: &App,
    org_id: &str,
    session_id: &str,
    actor: &crate::api_keys::Actor,
) -> Result<(), ApiError> {
    let now = app.clock.now_ms();
    let entry = audit::entry(
        now,
        &actor.id,
        action::SESSION_INVALIDATED,
        format!("session:{session_id}"),
        actor.ip,
        json!({}),
    );
    let change = crate::storage::AccessChange {
        org_id: org_id.to_owned(),
        audit: vec![entry],
        ..Default::default()
    };
    let wanted = session_id.to_owned();
    let plan = move |slot: &crate::storage::records::SlotRecord| {
        if slot.session_id == wanted {
            crate::storage::SessionPlan::End
        } else {
            crate::storage::SessionPlan::Keep
        }
    };
    match app
        .store
        .apply_access_change(&change, now, Some(&plan), true)
        .await
        .map_err(ApiError::internal)?
    {
        crate::storage::AccessOutcome::Applied { .. } => {
            tracing::info!(org_id, session_id, "session invalidated by an admin");
            Ok(())
        }
        _ => Err(ApiError::ObjectNotFound),
    }
}
