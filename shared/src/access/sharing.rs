//! Sharing a key with another admin, without e-mail or chat: at creation or rotation,
//! `share_with` names admins of the same organization (their portal user ids); each can
//! reveal the secret once, within seven days (`GET /v1/admin/shared-keys`,
//! `POST /v1/admin/shared-keys/{id}/reveal`). Until then it is kept only sealed
//! (`handover`); it is deleted on reveal, on unshare, on the key's revocation, and by the
//! TTL once expired. Unsharing does not revoke the key. Every step is audited.

use serde_json::json;

use crate::App;
use crate::access::admin::Admin;
use crate::access::api_keys::Actor;
use crate::access::audit::{self, action};
use crate::access::credentials::Credential;
use crate::platform::clock::{EpochMillis, iso8601};
use crate::platform::error::ApiError;
use crate::storage::Store;
use crate::storage::records::{AuditRecord, KeyRecord, KeyStatus, ShareRecord, ttl_for};

/// Admins one key can be handed to at once.
pub const MAX_RECIPIENTS: usize = 5;
/// How long a recipient has to reveal a shared secret.
pub const SHARE_LIFETIME_MS: EpochMillis = 7 * 24 * 60 * 60 * 1000;

/// What a share's seal is bound to: the share, its key and its recipient.
fn bound_to(share: &ShareRecord) -> String {
    format!("{}|{}|{}", share.share_id, share.key_id, share.recipient)
}

/// Admins a new key's secret is handed to: checked by [`recipients`], the only way to
/// make one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients(Vec<String>);

impl Recipients {
    /// Nobody: the secret is only in the creator's answer.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn ids(&self) -> &[String] {
        &self.0
    }
}

/// `share_with` checked: each an admin of the organization (one Query), named once, and
/// not the admin sharing (he sees the secret in his answer).
pub async fn recipients(
    app: &App,
    org_id: &str,
    share_with: &[String],
    sharer: &Admin,
) -> Result<Recipients, ApiError> {
    if share_with.is_empty() {
        return Ok(Recipients::none());
    }
    if share_with.len() > MAX_RECIPIENTS {
        return Err(ApiError::InvalidParameters(format!(
            "share_with names at most {MAX_RECIPIENTS} admins"
        )));
    }
    let admins = app
        .store
        .organization_admins(org_id)
        .await
        .map_err(ApiError::internal)?;
    let mut recipients: Vec<String> = Vec::new();
    for entry in share_with {
        let id = entry.trim();
        if id == sharer.subject {
            return Err(ApiError::InvalidParameters(
                "share_with names you: the secret is in this answer".into(),
            ));
        }
        if !admins.iter().any(|admin| admin.subject == id) {
            return Err(ApiError::InvalidParameters(format!(
                "share_with: `{}` is not an admin of this organization (name admins by their portal user id)",
                crate::platform::request::redact_credentials(id)
            )));
        }
        if !recipients.iter().any(|r| r == id) {
            recipients.push(id.to_owned());
        }
    }
    Ok(Recipients(recipients))
}

/// The shares handing `secret` (of the new `key`) to `recipients`, each sealed for itself,
/// with their audit entries; written in the key's own transaction.
pub fn seal(
    app: &App,
    key: &KeyRecord,
    secret: &Credential,
    recipients: &Recipients,
    actor: &Actor,
    now: EpochMillis,
) -> Result<(Vec<ShareRecord>, Vec<AuditRecord>), ApiError> {
    let mut shares = Vec::new();
    let mut entries = Vec::new();
    for recipient in recipients.ids() {
        let expires_at_ms = now + SHARE_LIFETIME_MS;
        let mut share = ShareRecord {
            share_id: crate::platform::request::new_id(),
            key_id: key.key_id.clone(),
            key_name: key.name.clone(),
            key_prefix: key.prefix.clone(),
            recipient: recipient.clone(),
            shared_by: actor.id.clone(),
            shared_by_label: actor.label.clone(),
            sealed_secret: String::new(),
            created_at_ms: now,
            expires_at_ms,
            ttl_epoch_seconds: ttl_for(expires_at_ms),
        };
        share.sealed_secret = app
            .handover
            .seal(&bound_to(&share), secret.expose())
            .map_err(ApiError::internal)?;
        entries.push(audit::by(
            actor,
            now,
            action::KEY_SHARED,
            format!("api_key:{}", key.key_id),
            json!({ "share_id": share.share_id, "recipient": recipient, "expires_at": iso8601(expires_at_ms) }),
        ));
        shares.push(share);
    }
    Ok((shares, entries))
}

/// The organization's shares not yet revealed, unshared or expired, oldest first.
pub async fn in_flight(app: &App, org_id: &str) -> Result<Vec<ShareRecord>, ApiError> {
    let now = app.clock.now_ms();
    let mut shares = app.store.shares(org_id).await.map_err(ApiError::internal)?;
    shares.retain(|share| share.expires_at_ms > now);
    shares.sort_by_key(|share| (share.created_at_ms, share.share_id.clone()));
    Ok(shares)
}

/// A share of the admin's organization that is still in flight, or 404.
async fn live_share(app: &App, admin: &Admin, share_id: &str) -> Result<ShareRecord, ApiError> {
    app.store
        .share(&admin.org_id, share_id)
        .await
        .map_err(ApiError::internal)?
        .filter(|share| share.expires_at_ms > app.clock.now_ms())
        .ok_or(ApiError::ObjectNotFound)
}

/// Reveals a share to its recipient, once: the share is deleted (with its audit entry)
/// before the secret is returned, so of two reveals at once only one gets it. 404 for a
/// share that is not the admin's, expired, revealed or unshared; 409 when its key was
/// revoked or has expired meanwhile (the share is deleted).
pub async fn reveal(
    app: &App,
    admin: &Admin,
    share_id: &str,
) -> Result<(ShareRecord, String), ApiError> {
    let now = app.clock.now_ms();
    let share = live_share(app, admin, share_id).await?;
    if share.recipient != admin.subject {
        return Err(ApiError::ObjectNotFound);
    }
    let key = app
        .store
        .key_record(&admin.org_id, &share.key_id)
        .await
        .map_err(ApiError::internal)?;
    let usable = key.as_ref().is_some_and(|key| {
        key.status == KeyStatus::Active && key.expires_at_ms.is_none_or(|at| at > now)
    });
    if !usable {
        app.store
            .remove_share(&admin.org_id, share_id, None)
            .await
            .map_err(ApiError::internal)?;
        return Err(ApiError::Conflict(
            "the shared key was revoked or has expired; its secret is gone".into(),
        ));
    }
    let secret = app
        .handover
        .open(&bound_to(&share), &share.sealed_secret)
        .map_err(ApiError::internal)?;
    let detail = json!({ "share_id": share.share_id, "shared_by": share.shared_by });
    take(app, admin, &share, action::KEY_SHARE_REVEALED, detail).await?;
    Ok((share, secret))
}

/// Withdraws a share (any admin of the organization); the key keeps working. 404 when it
/// is not in flight.
pub async fn unshare(app: &App, admin: &Admin, share_id: &str) -> Result<ShareRecord, ApiError> {
    let share = live_share(app, admin, share_id).await?;
    let detail = json!({ "share_id": share.share_id, "recipient": share.recipient });
    take(app, admin, &share, action::KEY_UNSHARED, detail).await?;
    Ok(share)
}

/// Deletes `share` with the admin's audit entry `action`; 404 when it went meanwhile (a
/// concurrent reveal or unshare between the read and the delete).
async fn take(
    app: &App,
    admin: &Admin,
    share: &ShareRecord,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let entry = audit::by(
        &admin.actor,
        app.clock.now_ms(),
        action,
        format!("api_key:{}", share.key_id),
        detail,
    );
    let removed = app
        .store
        .remove_share(&admin.org_id, &share.share_id, Some(&entry))
        .await
        .map_err(ApiError::internal)?;
    if removed {
        Ok(())
    } else {
        Err(ApiError::ObjectNotFound)
    }
}

/// Deletes the shares of revoked keys (`of_key` picks them by key id), after the
/// revocation committed: from then on a reveal finds the key revoked anyway; this removes
/// the sealed secrets themselves.
pub async fn drop_shares(
    store: &Store,
    org_id: &str,
    of_key: impl Fn(&str) -> bool,
) -> Result<(), ApiError> {
    let shares = store.shares(org_id).await.map_err(ApiError::internal)?;
    for share in shares.iter().filter(|s| of_key(&s.key_id)) {
        store
            .remove_share(org_id, &share.share_id, None)
            .await
            .map_err(ApiError::internal)?;
    }
    Ok(())
}
