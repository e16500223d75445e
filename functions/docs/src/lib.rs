//! `docs`: `GET /docs`, one self-contained HTML page (no external scripts, styles or fonts)
//! for partners integrating the API — a quick start in curl and Python, the scopes, product
//! codes, allowed-origins rules and error catalogue, and a reference generated from the
//! OpenAPI document — and `GET /openapi.json`, that document (`openapi.yaml`, embedded at
//! build time).

mod page;

use std::sync::OnceLock;

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use shared::platform::edge::Addressing;
use shared::platform::envelope;
use shared::platform::request::RequestInfo;
use shared::platform::routes::{self, Function, RouteId};

/// `openapi.yaml` as JSON.
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

/// The docs page, rendered once per execution environment.
pub fn page() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| match serde_json::from_str(OPENAPI_JSON) {
        Ok(document) => page::render(&document),
        // The build embeds valid JSON; this only guards against a broken build.
        Err(err) => format!("<!doctype html><title>Partner Portal API</title><p>The API document is unreadable: {err}</p>"),
    })
}

pub fn handle(addressing: &Addressing, req: &Request) -> Response<Body> {
    let info = RequestInfo::from_request(req, addressing);
    match routes::route_for(Function::Docs, &info) {
        Ok((RouteId::GetDocs, _)) => text(page(), "text/html; charset=utf-8"),
        Ok((RouteId::GetOpenApi, _)) => text(OPENAPI_JSON, "application/json"),
        Ok(_) => envelope::error_response(&info, &shared::ApiError::RouteNotFound),
        Err(err) => envelope::error_response(&info, &err),
    }
}

fn text(body: &'static str, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_owned()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    envelope::security_headers(headers);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    // The page needs nothing from elsewhere; say so to the browser.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src data:"),
    );
    response
}
