//! Admins are people signed in to the portal. API Gateway's JWT authorizer verifies their
//! token; the handler takes the token's issuer and subject — the identity the identity
//! provider vouches for — and reads the membership item operators created for it
//! (`portalctl add-admin`). The organization and role come from that item only: no claim
//! the user could write to himself (`custom:organization_id` and the like) grants anything.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use serde_json::json;

use crate::App;
use crate::access::api_keys::Actor;
use crate::access::audit::{self, action};
use crate::platform::clock::EpochMillis;
use crate::platform::error::ApiError;
use crate::platform::request::RequestInfo;
use crate::storage::records::{AdminMembership, AdminRole};
use crate::storage::{AddOutcome, Store};

/// A verified admin of one organization.
#[derive(Debug, Clone)]
pub struct Admin {
    pub org_id: String,
    /// The portal user id (token subject): what other admins name him by (key sharing).
    pub subject: String,
    pub actor: Actor,
}

/// Who a token says the user is: what a membership is keyed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's `iss`: one identity provider's subjects never match another's.
    pub issuer: String,
    /// The token's `sub`: stable for the user's life, unlike the e-mail.
    pub subject: String,
}

/// Longest issuer and subject taken from a token (Cognito's are far shorter); longer ones
/// cannot be members, and must not make the membership key exceed DynamoDB's limits.
const MAX_IDENTITY_PART: usize = 512;

/// The signed-in identity behind `req`, from the verified claims (no database call): 401
/// without claims (only possible when the function is invoked around the authorizer),
/// 403 (12007) without an issuer and subject.
pub fn identity_from_request(req: &Request) -> Result<SignedIn, ApiError> {
    let claims = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    };
    let Some(claims) = claims.filter(|c| !c.is_empty()) else {
        return Err(ApiError::AuthRequired(
            "sign in: send Authorization: Bearer <admin token>",
        ));
    };
    let part = |name: &str| {
        claims
            .get(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty() && value.len() <= MAX_IDENTITY_PART)
    };
    let (Some(issuer), Some(subject)) = (part("iss"), part("sub")) else {
        return Err(ApiError::AdminRoleRequired);
    };
    Ok(SignedIn {
        identity: Identity { issuer, subject },
        email: part("email"),
    })
}

/// A verified token's identity, and its e-mail as a label.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub identity: Identity,
    pub email: Option<String>,
}

/// The admin `signed_in` is: 403 (12007) unless an operator made the identity an admin.
/// One GetItem. Every membership has the one role there is (`AdminRole::Admin`), which
/// opens every admin route; a narrower role would be checked here.
pub async fn admin_of(
    app: &App,
    signed_in: SignedIn,
    info: &RequestInfo,
) -> Result<Admin, ApiError> {
    let Identity { issuer, subject } = signed_in.identity;
    let membership = app
        .store
        .admin_membership(&issuer, &subject)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::AdminRoleRequired)?;
    Ok(Admin {
        org_id: membership.org_id,
        subject: subject.clone(),
        actor: Actor {
            id: format!("admin:{subject}"),
            label: signed_in.email.or(membership.email),
            ip: info.client_ip,
        },
    })
}

/// Makes `identity` an admin of `org_id` (operators only, through `portalctl`); audited in
/// the organization's trail. 409 if the identity is an admin already.
pub async fn add_admin(
    store: &Store,
    now: EpochMillis,
    org_id: &str,
    identity: &Identity,
    email: Option<String>,
    operator: &Actor,
) -> Result<AdminMembership, ApiError> {
    for (name, value) in [("issuer", &identity.issuer), ("subject", &identity.subject)] {
        if value.trim().is_empty() || value.len() > MAX_IDENTITY_PART || value.contains('#') {
            return Err(ApiError::InvalidParameters(format!(
                "the {name} must be 1 to {MAX_IDENTITY_PART} characters without `#`"
            )));
        }
    }
    crate::partner_data::onboarding::organization(store, org_id).await?;
    let membership = AdminMembership {
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
        org_id: org_id.to_owned(),
        role: AdminRole::Admin,
        email,
        added_at_ms: now,
        added_by: operator.id.clone(),
    };
    let entry = audit::by(
        operator,
        now,
        action::ADMIN_ADDED,
        format!("admin:{}", identity.subject),
        json!({ "issuer": identity.issuer, "role": membership.role, "email": membership.email }),
    );
    match store
        .add_admin(&membership, &entry)
        .await
        .map_err(ApiError::internal)?
    {
        AddOutcome::Added => Ok(membership),
        AddOutcome::AlreadyMember => Err(ApiError::Conflict(
            "this identity is an admin already (remove it first to move it)".into(),
        )),
    }
}

/// Ends `identity`'s membership: from then on its tokens open no admin route. Audited in
/// the organization's trail; 404 if it is no admin.
pub async fn remove_admin(
    store: &Store,
    now: EpochMillis,
    identity: &Identity,
    operator: &Actor,
) -> Result<AdminMembership, ApiError> {
    let membership = store
        .admin_membership(&identity.issuer, &identity.subject)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::ObjectNotFound)?;
    let entry = audit::by(
        operator,
        now,
        action::ADMIN_REMOVED,
        format!("admin:{}", identity.subject),
        json!({ "issuer": identity.issuer }),
    );
    if store
        .remove_admin(&membership, &entry)
        .await
        .map_err(ApiError::internal)?
    {
        Ok(membership)
    } else {
        Err(ApiError::ObjectNotFound)
    }
}
