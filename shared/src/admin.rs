//! Admins are people signed in to the portal: API Gateway's JWT authorizer verifies their
//! token, and the handler reads the organization and role from the verified claims in the
//! request context — never from anything the request itself says.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::api_keys::Actor;
use crate::config::AdminClaims;
use crate::error::ApiError;
use crate::request::RequestInfo;

/// A verified admin of one organization.
#[derive(Debug, Clone)]
pub struct Admin {
    pub org_id: String,
    pub actor: Actor,
}

/// The admin behind `req`: 401 without verified claims (only possible when the function
/// is invoked around the authorizer), 403 for a signed-in user without the admin role.
pub fn admin_from_request(
    req: &Request,
    info: &RequestInfo,
    claims_config: &AdminClaims,
) -> Result<Admin, ApiError> {
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
    let roles = claims
        .get(&claims_config.role_claim)
        .map(String::as_str)
        .unwrap_or("");
    if !claim_values(roles).any(|role| role == claims_config.admin_role) {
        return Err(ApiError::AdminRoleRequired);
    }
    let org_id = claims
        .get(&claims_config.organization_claim)
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .ok_or(ApiError::AdminRoleRequired)?;
    let who = ["email", "username", "cognito:username", "sub"]
        .iter()
        .find_map(|name| claims.get(*name).filter(|v| !v.is_empty()))
        .cloned()
        .unwrap_or_else(|| "admin".into());
    Ok(Admin {
        org_id,
        actor: Actor {
            id: format!("admin:{who}"),
            ip: info.client_ip,
        },
    })
}

/// The values of a list claim as API Gateway passes them: `[a b c]`, a JSON array, or a
/// comma- or space-separated string.
pub fn claim_values(raw: &str) -> impl Iterator<Item = &str> {
    raw.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split([',', ' '])
        .map(|value| value.trim().trim_matches('"'))
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_claims_in_every_shape_are_read() {
        for raw in [
            "[partner-admin viewer]",
            r#"["viewer","partner-admin"]"#,
            "viewer, partner-admin",
            "partner-admin",
        ] {
            assert!(claim_values(raw).any(|v| v == "partner-admin"), "{raw}");
        }
        assert!(!claim_values("[partner-admins]").any(|v| v == "partner-admin"));
    }
}
