//! Sessions: exchanging an organization key + API key for a one-hour session token
//! (`create`), the authenticated hot path, logout, and the admins' view of live sessions.
//! Decisions are in DESIGN.md §4; the storage side of each step is in `storage::sessions`.

mod create;

pub use create::{
    Binding, CREATION_WINDOW_MS, CreationLimit, LimitScope, bind_session, create_session,
};

use serde_json::json;

use crate::App;
use crate::access::audit::{self, action};
use crate::access::credentials::Credential;
use crate::access::origins;
use crate::platform::clock::EpochMillis;
use crate::platform::error::ApiError;
use crate::platform::request::{RateWindow, RequestInfo};
use crate::storage::records::SessionRecord;
use crate::storage::{EndOutcome, TouchOutcome, TouchRequest};

pub const SESSION_LIFETIME_MS: i64 = 60 * 60 * 1000;
/// Live sessions an organization may hold at once (one slot item each).
pub const MAX_LIVE_SESSIONS: u8 = 5;
/// One request per second per session (GCRA, capacity 1).
pub const REQUEST_SPACING_MS: i64 = 1000;
/// Warning in `_meta.warnings` of a session that could not be locked to an address.
pub const UNLOCKED_WARNING: &str = "the client address could not be determined, so this session is not locked to an IP address; add allowed origins to the API key to require one";

/// A session just created: the token is shown once, here, and never again.
#[derive(Debug)]
pub struct NewSession {
    pub token: Credential,
    pub record: SessionRecord,
    pub warnings: Vec<String>,
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
    let token = crate::platform::request::session_token(req.headers())?;
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
    if info.origin_refused {
        return Err(ApiError::OriginNotAllowed);
    }
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
        TouchOutcome::Allowed(session) => {
            crate::access::cors::grant(info, &session.cors_origins);
            let spacing = app.config.request_spacing_ms.max(0).unsigned_abs();
            let _ = info.rate_window.set(RateWindow::one_per(spacing, spacing));
            Ok(session)
        }
        TouchOutcome::OriginUnusable => Err(ApiError::OriginNotAllowed),
        TouchOutcome::Refused(stored) => {
            // A page of the session's key reads its refusals too (a 429 to wait out).
            if let Some(session) = &stored {
                crate::access::cors::grant(info, &session.cors_origins);
            }
            let refusal = refusal(stored.as_ref(), &request);
            if let ApiError::RateLimited { retry_after_ms } = &refusal {
                let spacing = app.config.request_spacing_ms.max(0).unsigned_abs();
                let window = RateWindow::one_per(spacing, *retry_after_ms);
                let _ = info.rate_window.set(window);
            }
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

/// `DELETE /v1/auth/session`: ends the session, frees its slot and records it in the
/// audit trail, in one transaction.
pub async fn end_session(
    app: &App,
    info: &RequestInfo,
    token: &Credential,
) -> Result<(), ApiError> {
    let now = app.clock.now_ms();
    let client_ip = info.client_ip.map(|ip| ip.to_string());
    let ended = |session: &SessionRecord| {
        audit::entry(
            now,
            &format!("api_key:{}", session.api_key.id),
            action::SESSION_ENDED,
            format!("session:{}", session.session_id),
            info.client_ip,
            json!({}),
        )
    };
    let outcome = app
        .store
        .end_session(&app.pepper.hash(token), now, client_ip.as_deref(), &ended)
        .await
        .map_err(ApiError::internal)?;
    match outcome {
        EndOutcome::Ended(session) => {
            crate::access::cors::grant(info, &session.cors_origins);
            tracing::info!(org_id = %session.org_id, session_id = %session.session_id, "session ended");
            Ok(())
        }
        EndOutcome::Refused(stored) => {
            if let Some(session) = &stored {
                crate::access::cors::grant(info, &session.cors_origins);
            }
            Err(
                identity_refusal(stored.as_ref(), now, client_ip.as_deref()).unwrap_or_else(|| {
                    ApiError::internal(
                        "the logout condition failed but the stored session satisfies it",
                    )
                }),
            )
        }
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
    actor: &crate::access::api_keys::Actor,
) -> Result<(), ApiError> {
    let wanted = session_id.to_owned();
    let plan = move |slot: &crate::storage::records::SlotRecord| {
        if slot.session_id == wanted {
            crate::storage::SessionPlan::End
        } else {
            crate::storage::SessionPlan::Keep
        }
    };
    if crate::access::api_keys::settle(app, org_id, &plan)
        .await?
        .is_empty()
    {
        return Err(ApiError::ObjectNotFound);
    }
    let entry = audit::by(
        actor,
        app.clock.now_ms(),
        action::SESSION_INVALIDATED,
        format!("session:{session_id}"),
        json!({}),
    );
    app.store
        .put_audit(org_id, &entry)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(org_id, session_id, "session invalidated by an admin");
    Ok(())
}
