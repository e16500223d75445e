//! `admin-api`: API access management for partner admins (`/v1/admin/…`, behind the HttpApi
//! JWT authorizer): enabling and disabling API access, API keys (create, list, edit
//! allowed origins, rotate, revoke), live sessions and the audit trail. Everything is
//! scoped to the organization in the admin's verified token: another organization's ids
//! are answered with 404.

use chrono::DateTime;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::access::admin::{Admin, admin_of, identity_from_request};
use shared::access::api_keys::{self, ApiKeySpec, OriginsUpdate};
use shared::access::rotation;
use shared::access::sharing;
use shared::partner_data::onboarding;
use shared::platform::clock::{EpochMillis, iso8601};
use shared::platform::envelope::Extent;
use shared::platform::request::{self, Page, RequestInfo, body_field};
use shared::platform::routes::{self, Function, PathParams, RouteId};
use shared::storage::records::{KeyRecord, KeyStatus, OrganizationRecord, SessionRecord};
use shared::{ApiError, App, Reply, access::sessions, platform::envelope};

mod shared_keys;

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let info = RequestInfo::from_request(&req, &app.config.addressing);
    let result = match routes::route_for(Function::AdminApi, &info) {
        Ok((route, params)) => authorized(app, &info, &req, route, &params).await,
        Err(err) => Err(err),
    };
    envelope::respond(&info, result)
}

/// The signed-in identity, then the path id, then the admin's membership: key and session
/// ids are UUIDs, and anything else (an id of a kilobyte included) is 404 before any
/// database call, the membership read included.
async fn authorized(
    app: &App,
    info: &RequestInfo,
    req: &Request,
    route: RouteId,
    params: &PathParams,
) -> Result<Reply, ApiError> {
    let signed_in = identity_from_request(req)?;
    let id = match params.get("id") {
        Some(id) => request::object_id(id)?,
        None => "",
    };
    let admin = admin_of(app, signed_in, info).await?;
    dispatch(app, info, req, &admin, route, id).await
}

async fn dispatch(
    app: &App,
    info: &RequestInfo,
    req: &Request,
    admin: &Admin,
    route: RouteId,
    id: &str,
) -> Result<Reply, ApiError> {
    match route {
        RouteId::GetApiAccess
        | RouteId::ListPartnerships
        | RouteId::GetKey
        | RouteId::ListSessions
        | RouteId::GetClientAddress => {
            request::expect_no_body(req)?;
            request::query(req, &[])?;
        }
        RouteId::DisableApiAccess | RouteId::InvalidateSession | RouteId::UnshareKey => {
            request::expect_no_body(req)?
        }
        _ => {}
    }
    match route {
        RouteId::GetApiAccess => api_access(app, info, admin).await,
        RouteId::EnableApiAccess => enable_api_access(app, info, req, admin).await,
        RouteId::DisableApiAccess => disable_api_access(app, info, admin).await,
        RouteId::ListPartnerships => partnerships(app, admin).await,
        RouteId::CreateKey => create_key(app, info, req, admin).await,
        RouteId::ListKeys => list_keys(app, info, req, admin).await,
        RouteId::GetKey => get_key(app, info, admin, id).await,
        RouteId::UpdateKey => update_key(app, info, req, admin, id).await,
        RouteId::RotateKey => rotate_key(app, info, req, admin, id).await,
        RouteId::RevokeKey => revoke_key(app, info, req, admin, id).await,
        RouteId::ListSharedKeys => shared_keys::list(app, info, req, admin).await,
        RouteId::RevealSharedKey => shared_keys::reveal(app, info, req, admin, id).await,
        RouteId::UnshareKey => shared_keys::unshare(app, info, admin, id).await,
        RouteId::ListSessions => list_sessions(app, info, admin).await,
        RouteId::InvalidateSession => invalidate_session(app, info, admin, id).await,
        RouteId::ListAudit => audit(app, info, req, admin).await,
        // The address the API sees (the console's "My IP" for allowed origins).
        RouteId::GetClientAddress => Ok(Reply::ok(vec![
            json!({ "ip": info.client_ip.map(|ip| ip.to_string()) }),
        ])),
        _ => Err(ApiError::RouteNotFound),
    }
}

/// The admin's organization; an admin whose organization is unknown sees nothing.
async fn organization(app: &App, admin: &Admin) -> Result<OrganizationRecord, ApiError> {
    onboarding::organization(&app.store, &admin.org_id).await
}

fn optional_time(ms: Option<EpochMillis>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(iso8601(ms)))
}

fn api_access_view(org: &OrganizationRecord) -> Value {
    json!({
        "enabled": org.organization_key.is_some(),
        "organization_key": org.organization_key,
        "enabled_at": optional_time(org.api_access_enabled_at_ms),
    })
}

async fn api_access(app: &App, info: &RequestInfo, admin: &Admin) -> Result<Reply, ApiError> {
    let org = onboarding::read_api_access(app, &admin.org_id, &admin.actor).await?;
    Ok(Reply::ok(vec![api_access_view(&org)]).link("keys", info.link("/v1/admin/keys")))
}

/// POST bodies that take no fields still must be JSON objects when present.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Empty {}

fn optional_body<T: serde::de::DeserializeOwned + Default>(req: &Request) -> Result<T, ApiError> {
    let body: &[u8] = req.body().as_ref();
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        request::json_body(req)
    }
}

async fn enable_api_access(
    app: &App,
    info: &RequestInfo,
    req: &Request,
    admin: &Admin,
) -> Result<Reply, ApiError> {
    let _: Empty = optional_body(req)?;
    let org =
        onboarding::enable_api_access(&app.store, app.clock.now_ms(), &admin.org_id, &admin.actor)
            .await?;
    Ok(Reply::created(vec![api_access_view(&org)]).link("self", info.link("/v1/admin/api-access")))
}

async fn disable_api_access(
    app: &App,
    info: &RequestInfo,
    admin: &Admin,
) -> Result<Reply, ApiError> {
    let removed =
        onboarding::disable_api_access(&app.store, app.clock.now_ms(), &admin.org_id, &admin.actor)
            .await?;
    let view = json!({ "enabled": false, "organization_key": null, "enabled_at": null, "api_keys_removed": removed });
    Ok(Reply::ok(vec![view]).link("self", info.link("/v1/admin/api-access")))
}

async fn partnerships(app: &App, admin: &Admin) -> Result<Reply, ApiError> {
    let org = organization(app, admin).await?;
    let commitments = futures::future::try_join_all(
        org.partnerships
            .iter()
            .map(|p| app.store.commitments(&p.id)),
    )
    .await
    .map_err(ApiError::internal)?;
    let items = org
        .partnerships
        .iter()
        .zip(commitments)
        .map(|(p, commitments)| {
            json!({
                "id": p.id, "name": p.name, "type": p.kind, "skus": p.skus,
                "minimum_commitments": commitments.products,
            })
        })
        .collect();
    Ok(Reply::ok(items))
}

/// A key's status as its admins see it: `revoked`, `expired` (past its expiry, so refused,
/// though not revoked: a key rotated with an overlap ends so), or `active`.
fn shown_status(record: &KeyRecord, now: EpochMillis) -> &'static str {
    match record.status {
        KeyStatus::Revoked => "revoked",
        KeyStatus::Active if record.expires_at_ms.is_some_and(|at| at <= now) => "expired",
        KeyStatus::Active => "active",
    }
}

fn key_view(info: &RequestInfo, record: &KeyRecord, now: EpochMillis) -> Value {
    json!({
        "id": record.key_id,
        "name": record.name,
        "prefix": record.prefix,
        "partnership": record.partnership,
        "scopes": record.scopes,
        "allowed_origins": record.allowed_origins,
        "allow_any_origin": record.allow_any_origin,
        "cors_origins": record.cors_origins,
        "status": shown_status(record, now),
        "created_at": iso8601(record.created_at_ms),
        "expires_at": optional_time(record.expires_at_ms),
        "last_rotated_at": optional_time(record.last_rotated_at_ms),
        "rotation_due": rotation::rotation_due(record, now),
        "last_used_at": optional_time(record.last_used_at_ms),
        "revoked_at": optional_time(record.revoked_at_ms),
        "revoked_reason": record.revoked_reason,
        "replaced_by": record.replaced_by,
        "rotated_from": record.rotated_from,
        "_links": { "self": { "href": info.link(&format!("/v1/admin/keys/{}", record.key_id)) } },
    })
}

/// 201 with the new key: its view plus the secret (shown this once) and the organization
/// key it pairs with.
fn new_key_reply(
    info: &RequestInfo,
    org: &OrganizationRecord,
    secret: &shared::access::credentials::Credential,
    record: &KeyRecord,
    now: EpochMillis,
) -> Reply {
    let mut view = key_view(info, record, now);
    if let Some(object) = view.as_object_mut() {
        object.insert("api_key".into(), json!(secret.expose()));
        object.insert("organization_key".into(), json!(org.organization_key));
    }
    let href = info.link(&format!("/v1/admin/keys/{}", record.key_id));
    Reply::created(vec![view]).link("self", href)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKeyBody {
    #[serde(default, deserialize_with = "body_field::present")]
    name: Option<String>,
    #[serde(default, deserialize_with = "body_field::present")]
    partnership_id: Option<String>,
    #[serde(default)]
    optional_scopes: Vec<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    allow_any_origin: bool,
    #[serde(default)]
    cors_origins: Vec<String>,
    #[serde(default, deserialize_with = "body_field::present")]
    expires_at: Option<String>,
    /// Admins (portal user ids) to hand the secret to.
    #[serde(default)]
    share_with: Vec<String>,
}

fn parse_time(field: &str, text: &str) -> Result<EpochMillis, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.timestamp_millis())
        .map_err(|_| {
            ApiError::InvalidParameters(format!(
                "{field} must be an ISO-8601 timestamp like 2027-01-31T00:00:00Z"
            ))
        })
}

async fn create_key(
    app: &App,
    info: &RequestInfo,
    req: &Request,
    admin: &Admin,
) -> Result<Reply, ApiError> {
    let body: CreateKeyBody = request::json_body(req)?;
    let (Some(name), Some(partnership_id)) = (body.name, body.partnership_id) else {
        return Err(ApiError::RequestNotUnderstood(
            "the body must contain name and partnership_id".into(),
        ));
    };
    let expires_at_ms = body
        .expires_at
        .as_deref()
        .map(|t| parse_time("expires_at", t))
        .transpose()?;
    let org = organization(app, admin).await?;
    let share_with = sharing::recipients(app, &admin.org_id, &body.share_with, admin).await?;
    let spec = ApiKeySpec {
        name,
        partnership_id,
        optional_scopes: body.optional_scopes,
        allowed_origins: body.allowed_origins,
        allow_any_origin: body.allow_any_origin,
        cors_origins: body.cors_origins,
        expires_at_ms,
        share_with,
    };
    let (secret, record) = api_keys::create_key(app, &org, spec, &admin.actor).await?;
    Ok(new_key_reply(
        info,
        &org,
        &secret,
        &record,
        app.clock.now_ms(),
    ))
}

async fn list_keys(
    app: &App,
    info: &RequestInfo,
    req: &Request,
    admin: &Admin,
) -> Result<Reply, ApiError> {
    request::expect_no_body(req)?;
    let params = request::query(req, &["status", "limit", "offset"])?;
    let page = Page::from_query(&params)?;
    let status = params.get("status").map(String::as_str);
    if status.is_some_and(|s| !["active", "expired", "revoked"].contains(&s)) {
        return Err(ApiError::InvalidParameters(
            "status must be active, expired or revoked".into(),
        ));
    }
    let now = app.clock.now_ms();
    let mut keys = app
        .store
        .key_records(&admin.org_id)
        .await
        .map_err(ApiError::internal)?;
    keys.retain(|k| status.is_none_or(|s| shown_status(k, now) == s));
    keys.sort_by(|a, b| {
        b.created_at_ms
            .cmp(&a.created_at_ms)
            .then_with(|| a.key_id.cmp(&b.key_id))
    });
    let filters: Vec<(&str, String)> = params
        .get("status")
        .map(|s| ("status", s.clone()))
        .into_iter()
        .collect();
    Ok(Reply::page_of(
        info,
        "/v1/admin/keys",
        &filters,
        &keys,
        page,
        |k| key_view(info, k, now),
    ))
}

async fn key_of(app: &App, admin: &Admin, id: &str) -> Result<KeyRecord, ApiError> {
    app.store
        .key_record(&admin.org_id, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::ObjectNotFound)
}

async fn get_key(
    app: &App,
    info: &RequestInfo,
    admin: &Admin,
    id: &str,
) -> Result<Reply, ApiError> {
    let record = key_of(app, admin, id).await?;
    Ok(Reply::ok(vec![key_view(info, &record, app.clock.now_ms())]))
}

/// `PATCH /v1/admin/keys/{id}`: only the origins can change (allowed and CORS).
async fn update_key(
    app: &App,
    info: &RequestInfo,
    req: &Request,
    admin: &Admin,
    id: &str,
) -> Result<Reply, ApiError> {
    let body: serde_json::Map<String, Value> = request::json_body(req)?;
    if let Some(field) = body
        .keys()
        .find(|k| !["allowed_origins", "allow_any_origin", "cors_origins"].contains(&k.as_str()))
    {
        return Err(ApiError::InvalidParameters(format!(
            "`{}` cannot be changed; only allowed_origins, allow_any_origin and cors_origins can (rotate the key to replace its secret, create a new key for other changes)",
            request::redact_credentials(field)
        )));
    }
    let list = |field: &str| -> Result<Option<Vec<String>>, ApiError> {
        body.get(field)
            .map(|value| {
                serde_json::from_value(value.clone()).map_err(|_| {
                    ApiError::InvalidParameters(format!("{field} must be a list of strings"))
                })
            })
            .transpose()
    };
    let allowed_origins = list("allowed_origins")?;
    let cors_origins = list("cors_origins")?;
    let allow_any_origin = match body.get("allow_any_origin") {
        None => None,
        Some(Value::Bool(flag)) => Some(*flag),
        Some(_) => {
            return Err(ApiError::InvalidParameters(
                "allow_any_origin must be true or false".into(),
            ));
        }
    };
    let org = organization(app, admin).await?;
    let update = OriginsUpdate {
        allowed_origins,
        allow_any_origin,
        cors_origins,
    };
    let record = api_keys::update_origins(app, &org, id, &update, &admin.actor).await?;
    Ok(Reply::ok(vec![key_view(info, &record, app.clock.now_ms())]))
}

async fn rotate_key(
    app: &App,
    info: &RequestInfo,
    req: &Request,
    admin: &Admin,
    id: &str,
) -> Result<Reply, ApiError> {
    let body: RotateBody = optional_body(req)?;
    let overlap_ms = match body.overlap_seconds {
        None => 0,
        Some(seconds) => i64::try_from(seconds)
            .ok()
            .and_then(|s| s.checked_mul(1000))
            .filter(|ms| *ms <= api_keys::MAX_ROTATION_OVERLAP_MS)
            .ok_or_else(|| {
                ApiError::InvalidParameters(format!(
                    "overlap_seconds must be a whole number from 0 to {}",
                    api_keys::MAX_ROTATION_OVERLAP_MS / 1000
                ))
            })?,
    };
    let org = organization(app, admin).await?;
    let share_with = sharing::recipients(app, &admin.org_id, &body.share_with, admin).await?;
    let (secret, record) =
        api_keys::rotate_key(app, &org, id, overlap_ms, &share_with, &admin.actor).await?;
    Ok(new_key_reply(
        info,
        &org,
        &secret,
        &record,
        app.clock.now_ms(),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    /// Seconds the old key keeps working (0–86,400; none: it is revoked at once).
    #[serde(default, deserialize_with = "body_field::present")]
    overlap_seconds: Option<u64>,
    /// Admins (portal user ids) to hand the new secret to.
    #[serde(default)]
    share_with: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    #[serde(default, deserialize_with = "body_field::present")]
    reason: Option<String>,
}

async fn revoke_key(
    app: &App,
    info: &RequestInfo,
    req: &Request,
    admin: &Admin,
    id: &str,
) -> Result<Reply, ApiError> {
    let body: RevokeBody = optional_body(req)?;
    let reason = body
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "revoked by an admin".into());
    if reason.chars().count() > 500 {
        return Err(ApiError::InvalidParameters(
            "reason must be at most 500 characters".into(),
        ));
    }
    let (record, ended) =
        api_keys::revoke_key(app, &admin.org_id, id, &reason, &admin.actor).await?;
    let mut view = key_view(info, &record, app.clock.now_ms());
    if let Some(object) = view.as_object_mut() {
        object.insert("sessions_ended".into(), json!(ended.len()));
    }
    Ok(Reply::ok(vec![view]))
}

fn session_view(info: &RequestInfo, session: &SessionRecord) -> Value {
    json!({
        "id": session.session_id,
        "api_key": session.api_key,
        "ip": session.client_ip(),
        "created_at": iso8601(session.created_at_ms),
        "expires_at": iso8601(session.expires_at_ms),
        "last_used_at": optional_time(session.last_used_at_ms),
        "_links": { "self": { "href": info.link(&format!("/v1/admin/sessions/{}", session.session_id)) } },
    })
}

async fn list_sessions(app: &App, info: &RequestInfo, admin: &Admin) -> Result<Reply, ApiError> {
    let live = sessions::live_sessions(app, &admin.org_id).await?;
    Ok(Reply::ok(
        live.iter().map(|s| session_view(info, s)).collect(),
    ))
}

async fn invalidate_session(
    app: &App,
    info: &RequestInfo,
    admin: &Admin,
    id: &str,
) -> Result<Reply, ApiError> {
    sessions::invalidate_session(app, &admin.org_id, id, &admin.actor).await?;
    Ok(Reply::ok(Vec::new()).link("sessions", info.link("/v1/admin/sessions")))
}

async fn audit(
    app: &App,
    info: &RequestInfo,
    req: &Request,
    admin: &Admin,
) -> Result<Reply, ApiError> {
    request::expect_no_body(req)?;
    let params = request::query(req, &["limit", "offset"])?;
    let page = Page::from_query(&params)?;
    // One more than the page tells whether a next page exists without counting the trail.
    let mut entries = app
        .store
        .audit_entries(&admin.org_id, page.offset, page.limit + 1)
        .await
        .map_err(ApiError::internal)?;
    let has_next = entries.len() > page.limit;
    entries.truncate(page.limit);
    let items = entries
        .iter()
        .map(|e| json!({ "at": iso8601(e.at_ms), "occurrences": e.occurrences.unwrap_or(1), "last_at": e.last_at_ms.map(iso8601), "actor": e.actor, "actor_label": e.actor_label, "action": e.action, "target": e.target, "ip": e.ip, "detail": e.detail }))
        .collect();
    Ok(Reply::page(
        info,
        "/v1/admin/audit",
        &[],
        items,
        Extent::MoreAfter(has_next),
        page,
    ))
}
