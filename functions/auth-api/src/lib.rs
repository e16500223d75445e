//! `auth-api`: `POST /v1/auth/session` exchanges an organization key and an API key for a
//! one-hour session token; `DELETE /v1/auth/session` ends a session and frees its slot;
//! `POST /v1/secret-scanning/alerts` takes a code host's signed report of leaked tokens.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::access::credentials::CredentialKind;
use shared::access::notices::Notifier;
use shared::access::secret_scanning::{self, SignatureError};
use shared::platform::clock::iso8601;
use shared::platform::request::{self, RequestInfo};
use shared::platform::routes::{self, Function, RouteId};
use shared::{ApiError, App, Reply, access::sessions, platform::envelope};

/// Answers one request; `notifier` takes the notices of leaked keys and sessions ended by
/// an alert.
pub async fn handle(app: &App, notifier: &impl Notifier, req: Request) -> Response<Body> {
    let info = RequestInfo::from_request(&req, &app.config.addressing);
    let result = match routes::route_for(Function::AuthApi, &info) {
        Ok((RouteId::CreateSession, _)) => create_session(app, &info, &req).await,
        Ok((RouteId::EndSession, _)) => end_session(app, &info, &req).await,
        Ok((RouteId::ReportLeakedTokens, _)) => {
            return match leaked_tokens(app, notifier, &req).await {
                Ok(verdicts) => {
                    envelope::bare_json(&info, lambda_http::http::StatusCode::OK, &verdicts)
                }
                Err(err) => envelope::error_response(&info, &err),
            };
        }
        Ok(_) => Err(ApiError::RouteNotFound),
        Err(err) => Err(err),
    };
    envelope::respond(&info, result)
}

/// Body of `POST /v1/auth/session`. `organizer_key` is accepted because published clients
/// of this kind of API send that name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSessionBody {
    #[serde(alias = "organizer_key")]
    organization_key: Option<String>,
    api_key: Option<String>,
}

async fn create_session(app: &App, info: &RequestInfo, req: &Request) -> Result<Reply, ApiError> {
    let body: CreateSessionBody = request::json_body(req)?;
    let (Some(organization_key), Some(api_key)) = (body.organization_key, body.api_key) else {
        return Err(ApiError::RequestNotUnderstood(
            "the body must contain organization_key and api_key".into(),
        ));
    };
    let organization_key =
        request::parse_credential(CredentialKind::OrganizationKey, &organization_key)?;
    let api_key = request::parse_credential(CredentialKind::ApiKey, &api_key)?;
    let session = sessions::create_session(app, info, &organization_key, &api_key).await?;
    let data = json!({
        "session_token": session.token.expose(),
        "expires_at": iso8601(session.record.expires_at_ms),
        "ip_locked": session.record.ip_locked(),
        "ip": session.record.client_ip(),
        "scopes": session.record.scopes,
    });
    let mut reply = Reply::created(vec![data]).link("me", info.link("/v1/me"));
    for warning in session.warnings {
        reply = reply.warning(warning);
    }
    Ok(reply)
}

async fn end_session(app: &App, info: &RequestInfo, req: &Request) -> Result<Reply, ApiError> {
    request::expect_no_body(req)?;
    let token = request::session_token(req.headers())?;
    sessions::end_session(app, info, &token).await?;
    Ok(Reply::ok(Vec::new()).link("create", info.link("/v1/auth/session")))
}

/// `POST /v1/secret-scanning/alerts`: the body's signature is checked before anything else
/// (a refusal makes no database call); the answer is the code host's own format, one
/// verdict per token, the token named by its SHA-256.
async fn leaked_tokens(
    app: &App,
    notifier: &impl Notifier,
    req: &Request,
) -> Result<serde_json::Value, ApiError> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > secret_scanning::MAX_ALERT_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit_bytes: secret_scanning::MAX_ALERT_BYTES,
        });
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let verified = app.config.secret_scanning_keys.verify(
        header(secret_scanning::KEY_IDENTIFIER_HEADER),
        header(secret_scanning::SIGNATURE_HEADER),
        body,
    );
    match verified {
        Ok(()) => {}
        Err(SignatureError::Missing) => {
            return Err(ApiError::AuthRequired(
                "an alert needs the Github-Public-Key-Identifier and Github-Public-Key-Signature headers",
            ));
        }
        Err(SignatureError::UnknownKey | SignatureError::Malformed | SignatureError::Invalid) => {
            return Err(ApiError::InvalidCredentials(
                "the alert's signature does not verify with a published key of the code host",
            ));
        }
    }
    let tokens = secret_scanning::parse_alert(body)?;
    let verdicts = secret_scanning::handle_alert(app, notifier, &tokens).await?;
    Ok(verdicts
        .iter()
        .map(|v| {
            json!({ "token_hash": v.token_hash, "token_type": v.token_type, "label": v.label.as_str() })
        })
        .collect())
}
