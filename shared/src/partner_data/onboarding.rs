//! Partner organizations: onboarding (by the vendor's operators: `portalctl` and the demo
//! seed of `make run` use the same function) and enabling or disabling their API access
//! (by their admins).

use serde_json::json;

use crate::access::api_keys::{self, Actor};
use crate::access::audit::{self, action};
use crate::access::credentials::{Credential, CredentialHash, CredentialKind};
use crate::partner_data::calendar::{self, Period, PeriodKind};
use crate::partner_data::catalogue::{self, PRODUCTS};
use crate::partner_data::commitments::{self, CommitmentChange};
use crate::platform::clock::EpochMillis;
use crate::platform::config::DEFAULT_REPORT_GRACE_DAYS;
use crate::platform::error::ApiError;
use crate::storage::records::{
    KeyRecord, KeyStatus, OrganizationRecord, Partnership, PartnershipType,
};
use crate::storage::{AccessChange, AccessOutcome, KeyWrite, OrgGuard, SessionPlan, Store};

/// A partnership to onboard. Without SKUs it sells every product; commitments are per
/// product code it sells.
#[derive(Debug, Clone)]
pub struct NewPartnership {
    pub name: String,
    pub kind: PartnershipType,
    pub skus: Vec<String>,
    pub minimum_commitments: std::collections::BTreeMap<String, u64>,
}

impl NewPartnership {
    pub fn new(name: &str, kind: PartnershipType) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            skus: Vec::new(),
            minimum_commitments: Default::default(),
        }
    }

    /// The partnership, and the commitments it starts with.
    fn validate(&self) -> Result<(Partnership, Vec<(String, u64)>), ApiError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ApiError::InvalidParameters(
                "a partnership name must be 1 to 200 characters".into(),
            ));
        }
        let mut skus: Vec<String> = if self.skus.is_empty() {
            PRODUCTS.iter().map(|p| p.code.to_owned()).collect()
        } else {
            self.skus
                .iter()
                .map(|s| s.trim().to_ascii_uppercase())
                .collect()
        };
        skus.dedup();
        if let Some(unknown) = skus.iter().find(|s| catalogue::product(s).is_none()) {
            return Err(ApiError::InvalidParameters(format!(
                "`{unknown}` is not a product code ({})",
                catalogue::product_codes()
            )));
        }
        let mut minimum_commitments = Vec::new();
        for (code, units) in &self.minimum_commitments {
            let code = code.trim().to_ascii_uppercase();
            if !skus.contains(&code) {
                return Err(ApiError::InvalidParameters(format!(
                    "a minimum commitment for `{code}`, which partnership `{name}` does not sell"
                )));
            }
            if *units == 0 {
                return Err(ApiError::InvalidParameters(format!(
                    "the minimum commitment for `{code}` must be above 0"
                )));
            }
            minimum_commitments.push((code, *units));
        }
        let partnership = Partnership {
            id: crate::platform::request::new_id(),
            name: name.to_owned(),
            kind: self.kind,
            skus,
        };
        Ok((partnership, minimum_commitments))
    }
}

/// Creates an organization with its partnerships; API access stays off until an admin
/// enables it (or `enable_api_access` is set, as for the demo partner).
pub async fn create_organization(
    store: &Store,
    now: EpochMillis,
    name: &str,
    partnerships: &[NewPartnership],
    enable_api_access: bool,
) -> Result<OrganizationRecord, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::InvalidParameters(
            "the organization name must be 1 to 200 characters".into(),
        ));
    }
    if partnerships.is_empty() {
        return Err(ApiError::InvalidParameters(
            "an organization needs at least one partnership".into(),
        ));
    }
    let validated: Vec<(Partnership, Vec<(String, u64)>)> = partnerships
        .iter()
        .map(NewPartnership::validate)
        .collect::<Result<_, _>>()?;
    let mut record = OrganizationRecord {
        org_id: crate::platform::request::new_id(),
        name: name.to_owned(),
        partnerships: validated.iter().map(|(p, _)| p.clone()).collect(),
        organization_key: None,
        api_access_enabled_at_ms: None,
        created_at_ms: now,
    };
    if enable_api_access {
        with_new_organization_key(&mut record, now)?;
    }
    store
        .put_organization(&record)
        .await
        .map_err(ApiError::internal)?;
    // Commitments known at onboarding apply from the start of the current MSSP period.
    let from = Period::containing(PeriodKind::Mssp, calendar::stockholm_date(now)).start();
    for (partnership, commitments) in &validated {
        for (product, units) in commitments {
            let change = CommitmentChange {
                product: product.clone(),
                units: *units,
                from,
                until: None,
            };
            commitments::set_commitment(
                store,
                &record.org_id,
                partnership,
                &change,
                now,
                DEFAULT_REPORT_GRACE_DAYS,
                audit::SYSTEM,
            )
            .await?;
        }
    }
    Ok(record)
}

fn with_new_organization_key(
    record: &mut OrganizationRecord,
    now: EpochMillis,
) -> Result<(), ApiError> {
    let key = Credential::generate(CredentialKind::OrganizationKey).map_err(ApiError::internal)?;
    record.organization_key = Some(key.expose().to_owned());
    record.api_access_enabled_at_ms = Some(now);
    Ok(())
}

pub async fn organization(store: &Store, org_id: &str) -> Result<OrganizationRecord, ApiError> {
    store
        .organization(org_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::ObjectNotFound)
}

/// The organization as its admin reads it, organization key included: a read of the key
/// is a security event in the trail (once per admin and minute).
pub async fn read_api_access(
    app: &crate::App,
    org_id: &str,
    admin: &Actor,
) -> Result<OrganizationRecord, ApiError> {
    let org = organization(&app.store, org_id).await?;
    if org.organization_key.is_some() {
        let entry = audit::by(
            admin,
            app.clock.now_ms(),
            action::ORGANIZATION_KEY_READ,
            format!("organization:{org_id}"),
            json!({}),
        );
        audit::record_event(app, org_id, entry).await;
    }
    Ok(org)
}

/// Enables API access with a new organization key; 409 if it is enabled already.
pub async fn enable_api_access(
    store: &Store,
    now: EpochMillis,
    org_id: &str,
    actor: &Actor,
) -> Result<OrganizationRecord, ApiError> {
    let mut org = organization(store, org_id).await?;
    if org.organization_key.is_some() {
        return Err(ApiError::Conflict("API access is already enabled".into()));
    }
    with_new_organization_key(&mut org, now)?;
    let entry = audit::by(
        actor,
        now,
        action::API_ACCESS_ENABLED,
        format!("organization:{org_id}"),
        json!({}),
    );
    let change = AccessChange {
        org_id: org_id.to_owned(),
        organization: Some(org.clone()),
        org_guard: Some(OrgGuard::Disabled),
        audit: vec![entry],
        ..AccessChange::default()
    };
    match store
        .commit_access_change(&change)
        .await
        .map_err(ApiError::internal)?
    {
        AccessOutcome::Applied => Ok(org),
        _ => Err(ApiError::Conflict("API access is already enabled".into())),
    }
}

/// Items one transaction of the disable writes at most (DynamoDB allows 100).
const ITEMS_PER_TRANSACTION: usize = 96;
/// Rounds of revoking what is still active, when keys change while access is disabled.
const DISABLE_ATTEMPTS: usize = 5;
/// `revoked_reason` of the keys disabling API access revokes.
const DISABLED_REASON: &str = "api access disabled";

/// Disables API access, in three steps: the organization key goes (and with it every key
/// creation and rotation, which require it); then every active API key is revoked (their
/// records stay, revoked, for the audit trail, as a revocation leaves them); then every live
/// session ends — all before it answers. Returns how many keys it revoked. A disable cut
/// short is completed by the next one (which then answers as the first would have).
pub async fn disable_api_access(
    store: &Store,
    now: EpochMillis,
    org_id: &str,
    actor: &Actor,
) -> Result<usize, ApiError> {
    let mut org = organization(store, org_id).await?;
    match org.organization_key.take() {
        Some(key) => {
            org.api_access_enabled_at_ms = None;
            let entry = audit::by(
                actor,
                now,
                action::API_ACCESS_DISABLED,
                format!("organization:{org_id}"),
                json!({}),
            );
            let change = AccessChange {
                org_id: org_id.to_owned(),
                organization: Some(org),
                org_guard: Some(OrgGuard::KeyIs(key)),
                audit: vec![entry],
                ..AccessChange::default()
            };
            if store
                .commit_access_change(&change)
                .await
                .map_err(ApiError::internal)?
                != AccessOutcome::Applied
            {
                return Err(ApiError::Conflict(
                    "API access was disabled or re-enabled meanwhile".into(),
                ));
            }
        }
        None if active_keys(store, org_id).await?.is_empty() => {
            return Err(ApiError::Conflict("API access is not enabled".into()));
        }
        None => {}
    }
    let revoked = revoke_all(store, now, org_id).await?;
    store
        .settle_sessions(org_id, now, &|_| SessionPlan::End)
        .await
        .map_err(ApiError::internal)?;
    // Every key is revoked: no secret handed over stays.
    crate::access::sharing::drop_shares(store, org_id, |_| true).await?;
    Ok(revoked)
}

async fn active_keys(store: &Store, org_id: &str) -> Result<Vec<KeyRecord>, ApiError> {
    Ok(store
        .key_records(org_id)
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .filter(|k| k.status == KeyStatus::Active)
        .collect())
}

/// `keys` in runs that each fit one transaction: a key takes its record and its lookup
/// item, and at most one count item per CORS origin it lists.
fn revocation_batches(keys: &[KeyRecord]) -> Vec<&[KeyRecord]> {
    let mut batches = Vec::new();
    let (mut start, mut items) = (0, 0);
    for (at, key) in keys.iter().enumerate() {
        let cost = 2 + key.cors_origins.len();
        if at > start && items + cost > ITEMS_PER_TRANSACTION {
            batches.push(&keys[start..at]);
            (start, items) = (at, 0);
        }
        items += cost;
    }
    if start < keys.len() {
        batches.push(&keys[start..]);
    }
    batches
}

/// Revokes every active key of an organization whose access is disabled; how many.
async fn revoke_all(store: &Store, now: EpochMillis, org_id: &str) -> Result<usize, ApiError> {
    let mut revoked = 0;
    for round in 0..=DISABLE_ATTEMPTS {
        let active = active_keys(store, org_id).await?;
        if active.is_empty() {
            return Ok(revoked);
        }
        if round == DISABLE_ATTEMPTS {
            break;
        }
        for batch in revocation_batches(&active) {
            let change = AccessChange {
                org_id: org_id.to_owned(),
                update_records: batch
                    .iter()
                    .map(|k| {
                        KeyWrite::unchanged_version(api_keys::revoked(
                            k.clone(),
                            now,
                            DISABLED_REASON,
                            None,
                        ))
                    })
                    .collect(),
                delete_lookups: batch
                    .iter()
                    .map(|k| CredentialHash(k.key_hash.clone()))
                    .collect(),
                ..AccessChange::default()
            };
            // A key revoked or edited meanwhile: the next round reads again.
            if store
                .commit_access_change(&change)
                .await
                .map_err(ApiError::internal)?
                == AccessOutcome::Applied
            {
                revoked += batch.len();
            }
        }
    }
    Err(ApiError::ServiceBusy {
        retry_after_ms: 1000,
    })
}
