//! `/v1/admin/shared-keys`: key secrets handed from one admin to another
//! (`shared::access::sharing`): the organization's shares in flight, the recipient's one reveal,
//! and unsharing.

use lambda_http::Request;
use serde_json::{Value, json};
use shared::access::admin::Admin;
use shared::access::sharing;
use shared::partner_data::onboarding;
use shared::platform::clock::iso8601;
use shared::platform::request::{self, Page, RequestInfo};
use shared::storage::records::ShareRecord;
use shared::{ApiError, App, Reply};

const PATH: &str = "/v1/admin/shared-keys";

fn view(info: &RequestInfo, admin: &Admin, share: &ShareRecord) -> Value {
    let for_me = share.recipient == admin.subject;
    let mut links = json!({
        "api_key": { "href": info.link(&format!("/v1/admin/keys/{}", share.key_id)) },
    });
    if for_me {
        links["reveal"] =
            json!({ "href": info.link(&format!("{PATH}/{}/reveal", share.share_id)) });
    }
    json!({
        "id": share.share_id,
        "api_key": { "id": share.key_id, "name": share.key_name, "prefix": share.key_prefix },
        "recipient": share.recipient,
        "for_me": for_me,
        "shared_by": share.shared_by,
        "shared_by_label": share.shared_by_label,
        "created_at": iso8601(share.created_at_ms),
        "expires_at": iso8601(share.expires_at_ms),
        "_links": links,
    })
}

/// `GET /v1/admin/shared-keys`: every share of the organization not yet revealed, unshared
/// or expired (never a secret), oldest first; `for_me` marks the caller's.
pub(crate) async fn list(
    app: &App,
    info: &RequestInfo,
    req: &Request,
    admin: &Admin,
) -> Result<Reply, ApiError> {
    request::expect_no_body(req)?;
    let params = request::query(req, &["limit", "offset"])?;
    let page = Page::from_query(&params)?;
    let shares = sharing::in_flight(app, &admin.org_id).await?;
    Ok(Reply::page_of(info, PATH, &[], &shares, page, |share| {
        view(info, admin, share)
    }))
}

/// `POST /v1/admin/shared-keys/{id}/reveal`: the secret, to its recipient, once.
pub(crate) async fn reveal(
    app: &App,
    info: &RequestInfo,
    req: &Request,
    admin: &Admin,
    id: &str,
) -> Result<Reply, ApiError> {
    request::expect_no_body(req)?;
    let org = onboarding::organization(&app.store, &admin.org_id).await?;
    let (share, secret) = sharing::reveal(app, admin, id).await?;
    let mut item = view(info, admin, &share);
    if let Some(object) = item.as_object_mut() {
        object.remove("_links");
        object.insert("secret".into(), json!(secret));
        object.insert("organization_key".into(), json!(org.organization_key));
    }
    Ok(Reply::ok(vec![item]).link(
        "api_key",
        info.link(&format!("/v1/admin/keys/{}", share.key_id)),
    ))
}

/// `DELETE /v1/admin/shared-keys/{id}`: withdraws a share; the key keeps working.
pub(crate) async fn unshare(
    app: &App,
    info: &RequestInfo,
    admin: &Admin,
    id: &str,
) -> Result<Reply, ApiError> {
    sharing::unshare(app, admin, id).await?;
    Ok(Reply::ok(Vec::new()).link("shared_keys", info.link(PATH)))
}
