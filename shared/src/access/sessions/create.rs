//! Session creation: `POST /v1/auth/session`. Counts the attempt against the client
//! address, checks the key pair, binds the session to the client (DESIGN.md §4) and claims
//! one of the organization's five slots, counting it against the key in the same
//! transaction.

use std::net::IpAddr;

use serde_json::json;
use subtle::ConstantTimeEq;

use super::{NewSession, UNLOCKED_WARNING, millis_until};
use crate::App;
use crate::access::audit::{self, action};
use crate::access::credentials::{Credential, CredentialHash, CredentialKind};
use crate::access::origins::{self, AllowedOrigin, OriginMatch};
use crate::platform::clock::{EpochMillis, iso8601};
use crate::platform::error::ApiError;
use crate::platform::request::RequestInfo;
use crate::storage::records::{
    ANY_ADDRESS, ApiKeyRecord, ApiKeySummary, KeyStatus, SessionRecord, ttl_for,
};
use crate::storage::{ClaimOutcome, CreationCounter};

use super::{MAX_LIVE_SESSIONS, SESSION_LIFETIME_MS};

/// Slot races lost before giving up with 503; each loss means another session was created,
/// so more than five in a row only happens under heavy logout/login churn.
const CLAIM_ATTEMPTS: usize = 12;
/// Session creations are counted per minute (a fixed window, starting on the minute).
pub const CREATION_WINDOW_MS: i64 = 60_000;

/// What a session-creation limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// Sessions created with one API key (a loop with a leaked key).
    ApiKey,
    /// Attempts from one client address, wrong and unknown keys included (guessing).
    ClientAddress,
}

impl LimitScope {
    pub fn describe(self) -> &'static str {
        match self {
            Self::ApiKey => "per API key",
            Self::ClientAddress => "per client address",
        }
    }
}

/// One of the two session-creation limits, as the 429 (12008) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreationLimit {
    pub scope: LimitScope,
    pub per_minute: u32,
}

impl CreationLimit {
    pub fn per_key(per_minute: u32) -> Self {
        Self {
            scope: LimitScope::ApiKey,
            per_minute,
        }
    }

    pub fn per_address(per_minute: u32) -> Self {
        Self {
            scope: LimitScope::ClientAddress,
            per_minute,
        }
    }

    /// The counter of `subject` (key id or address) for the minute holding `now`.
    fn counter(self, subject: &str, now: EpochMillis) -> CreationCounter {
        let window_start = now - now.rem_euclid(CREATION_WINDOW_MS);
        let scope = match self.scope {
            LimitScope::ApiKey => "KEY",
            LimitScope::ClientAddress => "ADDR",
        };
        CreationCounter {
            key: crate::storage::keys::creation_counter(scope, subject, window_start),
            max: self.per_minute,
            window_end_ms: window_start + CREATION_WINDOW_MS,
        }
    }

    /// The 429 once this limit is reached: retry when the minute is over.
    fn refusal(self, counter: &CreationCounter, now: EpochMillis) -> ApiError {
        ApiError::SessionCreationLimited {
            limit: self,
            retry_after_ms: millis_until(counter.window_end_ms, now),
        }
    }
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

/// `POST /v1/auth/session`: counts the attempt against the client address, checks the key
/// pair, binds the session to the client and takes one of the organization's five slots,
/// counting it against the key in the same transaction. Four round trips: UpdateItem,
/// GetItem, Query, TransactWriteItems.
pub async fn create_session(
    app: &App,
    info: &RequestInfo,
    organization_key: &Credential,
    api_key: &Credential,
) -> Result<NewSession, ApiError> {
    let now = app.clock.now_ms();
    if info.origin_refused {
        return Err(ApiError::OriginNotAllowed);
    }
    // Before anything else, so wrong and unknown keys count: guessing is limited too.
    let address_limit = CreationLimit::per_address(app.config.session_creates_per_address);
    let address = info
        .client_ip
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let address_counter = address_limit.counter(&address, now);
    if !app
        .store
        .count_creation(&address_counter)
        .await
        .map_err(ApiError::internal)?
    {
        tracing::warn!(client_ip = %address, "session creations from this address over the limit");
        return Err(address_limit.refusal(&address_counter, now));
    }
    let key = app
        .store
        .api_key(&app.pepper.hash(api_key))
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::InvalidCredentials(BAD_KEY_PAIR))?;
    // The key acts, and is what the security events are about.
    let actor = format!("api_key:{}", key.key_id);
    let target = actor.clone();
    if let Err((refusal, event)) = check_key(&key, &app.pepper.hash(organization_key), now) {
        if let Some(event_action) = event {
            // A valid API key with the wrong organization key, or an expired key: someone
            // holds a real secret. Worth an entry; repeats are counted on it.
            let event = audit::entry(now, &actor, event_action, target, info.client_ip, json!({}));
            audit::record_event(app, &key.org_id, event).await;
        }
        return Err(refusal);
    }
    // The pair is genuine: the key's own pages may read every answer from here on.
    crate::access::cors::grant(info, &key.cors_origins);
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
        session_id: crate::platform::request::new_id(),
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
        cors_origins: key.cors_origins.clone(),
        slot: 0,
        created_at_ms: now,
        expires_at_ms,
        next_allowed_ms: now,
        last_used_at_ms: None,
        ttl_epoch_seconds: ttl_for(expires_at_ms),
    };
    let key_limit = CreationLimit::per_key(app.config.session_creates_per_key);
    let key_counter = key_limit.counter(&key.key_id, now);
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
            .claim_slot(
                now,
                &token_hash,
                &record,
                key.access_version,
                &key_counter,
                &created,
            )
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
            ClaimOutcome::KeyLimitReached => {
                tracing::warn!(org_id = %key.org_id, key_id = %key.key_id, "session creations with this key over the limit");
                let refusal = key_limit.refusal(&key_counter, now);
                let event = audit::entry(
                    now,
                    &actor,
                    action::SESSION_CREATION_LIMITED,
                    target,
                    info.client_ip,
                    json!({ "per_minute": key_limit.per_minute }),
                );
                audit::record_event(app, &key.org_id, event).await;
                return Err(refusal);
            }
        }
    }
    Err(ApiError::ServiceBusy {
        retry_after_ms: 1000,
    })
}

/// Why a key pair is refused, and the security event it is (if any).
fn check_key(
    key: &ApiKeyRecord,
    organization_key: &CredentialHash,
    now: EpochMillis,
) -> Result<(), (ApiError, Option<&'static str>)> {
    let same_org: bool = key
        .organization_key_hash
        .as_bytes()
        .ct_eq(organization_key.as_str().as_bytes())
        .into();
    if key.status != KeyStatus::Active {
        return Err((ApiError::InvalidCredentials(BAD_KEY_PAIR), None));
    }
    if !same_org {
        return Err((
            ApiError::InvalidCredentials(BAD_KEY_PAIR),
            Some(action::WRONG_ORGANIZATION_KEY),
        ));
    }
    if key.expires_at_ms.is_some_and(|expiry| expiry <= now) {
        return Err((
            ApiError::CredentialsExpired("the API key has expired"),
            Some(action::KEY_EXPIRED),
        ));
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
