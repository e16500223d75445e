//! Creating partner organizations and their API keys. The demo seed of `make run` and the
//! test fixtures use these functions (the operator CLI and admin routes will too), so every
//! key in any table was made the same way.

use crate::clock::EpochMillis;
use crate::credentials::{Credential, CredentialKind, Pepper};
use crate::error::ApiError;
use crate::origins::AllowedOrigin;
use crate::storage::Store;
use crate::storage::records::{
    ApiKeyRecord, KeyStatus, OrganizationRecord, PartnershipRef, PartnershipType,
};

/// Scopes an admin may add to a key; the report scope follows from the partnership type.
pub const OPTIONAL_SCOPES: &[&str] = &["customers:read", "accounts:read", "accounts:write"];

/// Creates an organization with its partnerships and API access enabled (a fresh
/// organization key).
pub async fn create_organization(
    store: &Store,
    now: EpochMillis,
    name: &str,
    partnerships: &[(&str, PartnershipType)],
) -> Result<OrganizationRecord, ApiError> {
    let organization_key =
        Credential::generate(CredentialKind::OrganizationKey).map_err(ApiError::internal)?;
    let record = OrganizationRecord {
        org_id: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        partnerships: partnerships
            .iter()
            .map(|(name, kind)| PartnershipRef {
                id: uuid::Uuid::new_v4().to_string(),
                name: (*name).to_owned(),
                kind: *kind,
            })
            .collect(),
        organization_key: Some(organization_key.expose().to_owned()),
        created_at_ms: now,
    };
    store
        .put_organization(&record)
        .await
        .map_err(ApiError::internal)?;
    Ok(record)
}

/// What an admin asks for when creating a key.
#[derive(Debug, Clone)]
pub struct ApiKeySpec {
    pub name: String,
    pub partnership_id: String,
    pub optional_scopes: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub expires_at_ms: Option<EpochMillis>,
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

/// Creates an API key for one of `org`'s partnerships. Returns the secret, which exists
/// nowhere else afterwards: only its HMAC is stored.
pub async fn create_api_key(
    store: &Store,
    pepper: &Pepper,
    now: EpochMillis,
    org: &OrganizationRecord,
    spec: ApiKeySpec,
) -> Result<(Credential, ApiKeyRecord), ApiError> {
    let organization_key = org
        .organization_key
        .as_deref()
        .and_then(|text| Credential::parse(CredentialKind::OrganizationKey, text).ok())
        .ok_or_else(|| {
            ApiError::InvalidParameters("API access is not enabled for this organization".into())
        })?;
    let partnership = org
        .partnerships
        .iter()
        .find(|p| p.id == spec.partnership_id)
        .cloned()
        .ok_or(ApiError::ObjectNotFound)?;
    let allowed_origins = spec
        .allowed_origins
        .iter()
        .map(|entry| entry.parse::<AllowedOrigin>().map(|o| o.to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::InvalidParameters(e.to_string()))?;
    let secret = Credential::generate(CredentialKind::ApiKey).map_err(ApiError::internal)?;
    let record = ApiKeyRecord {
        key_id: uuid::Uuid::new_v4().to_string(),
        org_id: org.org_id.clone(),
        org_name: org.name.clone(),
        organization_key_hash: pepper.hash(&organization_key).0,
        scopes: key_scopes(partnership.kind, &spec.optional_scopes)?,
        partnership,
        name: spec.name,
        prefix: secret.display_prefix(),
        allowed_origins,
        status: KeyStatus::Active,
        created_at_ms: now,
        expires_at_ms: spec.expires_at_ms,
    };
    store
        .put_api_key(&pepper.hash(&secret), &record)
        .await
        .map_err(ApiError::internal)?;
    Ok((secret, record))
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
}
