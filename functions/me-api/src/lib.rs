//! `me-api`: `GET /v1/me` — who the session belongs to. Exactly one DynamoDB round trip:
//! the session UpdateItem returns everything shown here.

use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::platform::clock::iso8601;
use shared::platform::request::{self, RequestInfo};
use shared::platform::routes::{self, Function, RouteId};
use shared::{ApiError, App, Reply, access::sessions, platform::envelope};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let info = RequestInfo::from_request(&req, &app.config.addressing);
    let result = match routes::route_for(Function::MeApi, &info) {
        Ok((RouteId::GetMe, _)) => me(app, &info, &req).await,
        Ok(_) => Err(ApiError::RouteNotFound),
        Err(err) => Err(err),
    };
    envelope::respond(&info, result)
}

async fn me(app: &App, info: &RequestInfo, req: &Request) -> Result<Reply, ApiError> {
    request::expect_no_body(req)?;
    let session = sessions::authorize(app, info, req, "me:read").await?;
    let data = json!({
        "organization": { "id": session.org_id, "name": session.org_name },
        "partnership": session.partnership,
        "api_key": session.api_key,
        "scopes": session.scopes,
        "session": {
            "expires_at": iso8601(session.expires_at_ms),
            "ip_locked": session.ip_locked(),
            "ip": session.client_ip(),
        },
    });
    Ok(Reply::ok(vec![data]))
}
