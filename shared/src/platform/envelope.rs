//! The response contract (DESIGN.md §3): every answer is JSON with `_meta.request_id`;
//! successes carry `_data` (always an array) and `_links`, errors carry `status_code`,
//! `error_description` and `additional_info`. The one place errors become HTTP.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::{Map, Value, json};

use crate::platform::error::ApiError;
use crate::platform::request::{Page, RateWindow, RequestInfo};

/// The most bytes of items one page carries: with its links and meta, an answer stays under
/// 1 MB whatever the items hold (a page then ends before `limit`, and `_links.next`
/// continues right after it).
pub const PAGE_ITEM_BYTES: usize = 900_000;

/// The views of the first of `rows` that fit in [`PAGE_ITEM_BYTES`] (at least one).
pub fn views_within_budget<T>(rows: &[T], view: impl Fn(&T) -> Value) -> Vec<Value> {
    let mut items = Vec::new();
    let mut bytes = 0;
    for row in rows {
        let item = view(row);
        let size = item.to_string().len();
        if !items.is_empty() && bytes + size > PAGE_ITEM_BYTES {
            break;
        }
        bytes += size;
        items.push(item);
    }
    items
}

/// How much of a collection exists beyond a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extent {
    /// The collection's size is known (`_meta.total`).
    Total(usize),
    /// Only whether more items follow is known (long trails are not counted).
    MoreAfter(bool),
    /// A page read from a position in the collection: its size (`_meta.total`), the opaque
    /// `cursor` the page was asked for with, and the one the next page starts from (none
    /// when nothing follows). The links carry both `offset` and `cursor`.
    Continued {
        total: usize,
        this: Option<String>,
        next: Option<String>,
    },
}

impl Extent {
    /// A page of `total` read from a listing position: `this` the position the page was
    /// asked for with, `next` the one the following page starts from (both as `cursor`s).
    pub fn continued(total: u64, this: Option<&str>, next: Option<&str>) -> Self {
        Self::Continued {
            total: usize::try_from(total).unwrap_or(usize::MAX),
            this: this.map(crate::platform::request::Cursor::encode),
            next: next.map(crate::platform::request::Cursor::encode),
        }
    }
}

/// A successful answer, before the envelope is put around it.
#[derive(Debug, Clone)]
pub struct Reply {
    status: StatusCode,
    data: Vec<Value>,
    links: Map<String, Value>,
    warnings: Vec<String>,
    meta: Map<String, Value>,
}

impl Reply {
    pub fn ok(data: Vec<Value>) -> Self {
        Self {
            status: StatusCode::OK,
            data,
            links: Map::new(),
            warnings: Vec::new(),
            meta: Map::new(),
        }
    }

    /// One page of a collection: `_meta.limit/offset` (and `total` where it is known) and
    /// `_links.next/prev` where they exist (`path` is the collection, `filters` its other
    /// query parameters).
    pub fn page(
        info: &RequestInfo,
        path: &str,
        filters: &[(&str, String)],
        items: Vec<Value>,
        extent: Extent,
        page: Page,
    ) -> Self {
        let link = |offset: usize, cursor: Option<&str>| {
            let mut query: Vec<String> = filters.iter().map(|(k, v)| format!("{k}={v}")).collect();
            query.push(format!("limit={}", page.limit));
            query.push(format!("offset={offset}"));
            if let Some(cursor) = cursor {
                query.push(format!("cursor={cursor}"));
            }
            info.link(&format!("{path}?{}", query.join("&")))
        };
        let (this, next) = match &extent {
            Extent::Continued { this, next, .. } => (this.as_deref(), next.as_deref()),
            _ => (None, None),
        };
        let items_shown = items.len();
        let mut reply = Self::ok(items).link("self", link(page.offset, this));
        let has_next = match &extent {
            Extent::Total(total) => page.offset + page.limit < *total,
            Extent::MoreAfter(more) => *more,
            Extent::Continued { next, .. } => next.is_some(),
        };
        if has_next {
            // A page read from a position may hold fewer items than `limit`.
            let shown = match &extent {
                Extent::Continued { .. } => items_shown,
                _ => page.limit,
            };
            reply = reply.link("next", link(page.offset + shown, next));
        }
        if page.offset > 0 {
            reply = reply.link("prev", link(page.offset.saturating_sub(page.limit), None));
        }
        reply.meta.insert("limit".into(), json!(page.limit));
        reply.meta.insert("offset".into(), json!(page.offset));
        if let Extent::Total(total) | Extent::Continued { total, .. } = extent {
            reply.meta.insert("total".into(), json!(total));
        }
        reply
    }

    /// One page of a complete, ordered collection `all`: only the page's items are turned
    /// into their public `view`.
    pub fn page_of<T>(
        info: &RequestInfo,
        path: &str,
        filters: &[(&str, String)],
        all: &[T],
        page: Page,
        view: impl Fn(&T) -> Value,
    ) -> Self {
        let items = all
            .iter()
            .skip(page.offset)
            .take(page.limit)
            .map(view)
            .collect();
        Self::page(info, path, filters, items, Extent::Total(all.len()), page)
    }

    pub fn created(data: Vec<Value>) -> Self {
        Self {
            status: StatusCode::CREATED,
            ..Self::ok(data)
        }
    }

    /// Adds `_links.<name>.href` (an absolute URL).
    pub fn link(mut self, name: &str, href: String) -> Self {
        self.links.insert(name.to_owned(), json!({ "href": href }));
        self
    }

    /// Adds `_meta.<name>` (beside `request_id` and the page's fields).
    pub fn meta(mut self, name: &str, value: Value) -> Self {
        self.meta.insert(name.to_owned(), value);
        self
    }

    /// Adds a line to `_meta.warnings`.
    pub fn warning(mut self, text: impl Into<String>) -> Self {
        self.warnings.push(text.into());
        self
    }
}

/// Puts the envelope around a handler's result. Infallible: the runtime never sees an `Err`.
pub fn respond(info: &RequestInfo, result: Result<Reply, ApiError>) -> Response<Body> {
    let mut response = match result {
        Ok(reply) => success_response(info, reply),
        Err(err) => error_response(info, &err),
    };
    if let Some(window) = info.rate_window.get() {
        rate_limit_headers(response.headers_mut(), window);
    }
    if let Ok(id) = HeaderValue::from_str(&info.request_id) {
        response
            .headers_mut()
            .insert(http::HeaderName::from_static("x-request-id"), id);
    }
    crate::access::cors::answer_headers(info, response.headers_mut());
    response
}

/// Name of the one rate-limit policy: per session.
const RATE_LIMIT_POLICY: &str = "session";

/// The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers: structured-field lists
/// of one item each, the policy's name with its parameters) on a session's answer:
/// `RateLimit-Policy` the quota per window, `RateLimit` what is left and when it resets.
fn rate_limit_headers(headers: &mut http::HeaderMap, window: &RateWindow) {
    let policy = format!(
        "\"{RATE_LIMIT_POLICY}\";q={};w={}",
        window.quota, window.window_seconds
    );
    let state = format!(
        "\"{RATE_LIMIT_POLICY}\";r={};t={}",
        window.remaining, window.reset_seconds
    );
    for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(http::HeaderName::from_static(name), value);
        }
    }
}

fn success_response(info: &RequestInfo, reply: Reply) -> Response<Body> {
    let mut links = reply.links;
    links
        .entry("self")
        .or_insert_with(|| json!({ "href": info.link(&info.path) }));
    let mut meta = reply.meta;
    meta.insert("request_id".into(), Value::String(info.request_id.clone()));
    if !reply.warnings.is_empty() {
        meta.insert("warnings".into(), json!(reply.warnings));
    }
    let body = json!({ "_data": reply.data, "_links": links, "_meta": meta });
    tracing::info!(request_id = %info.request_id, method = %info.method, path = %info.logged_path(), status = reply.status.as_u16(), "request served");
    json_response(reply.status, &body)
}

/// An answer in a counterpart's own format (a code host's, not the envelope), with the
/// headers every answer carries; its request id, which has no `_meta` there, in
/// `X-Request-Id`.
pub fn bare_json(info: &RequestInfo, status: StatusCode, body: &Value) -> Response<Body> {
    tracing::info!(request_id = %info.request_id, method = %info.method, path = %info.logged_path(), status = status.as_u16(), "request served");
    let mut response = json_response(status, body);
    if let Ok(id) = HeaderValue::from_str(&info.request_id) {
        response
            .headers_mut()
            .insert(http::HeaderName::from_static("x-request-id"), id);
    }
    response
}

/// The error body for `err`; logs server faults with their full cause chain, once.
pub fn error_response(info: &RequestInfo, err: &ApiError) -> Response<Body> {
    let status = err.status();
    if let ApiError::Internal(cause) = err {
        tracing::error!(request_id = %info.request_id, method = %info.method, path = %info.logged_path(), error = %ErrorChain(cause.as_ref()), "request failed");
    } else {
        tracing::info!(request_id = %info.request_id, method = %info.method, path = %info.logged_path(), status = status.as_u16(), error_code = err.code(), "request refused");
    }
    let mut body = json!({
        "status_code": status.as_u16(),
        "error_description": err.description(),
        "additional_info": { "error_code": err.code(), "detail": err.detail() },
        "_meta": { "request_id": info.request_id },
    });
    if let (Some(retry_after_ms), Some(object)) = (err.retry_after_ms(), body.as_object_mut()) {
        object.insert("retry_after_ms".into(), json!(retry_after_ms));
    }
    let mut response = json_response(status, &body);
    if let Some(retry_after_ms) = err.retry_after_ms() {
        let seconds = retry_after_ms.div_ceil(1000).max(1);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if let Some(allowed) = err.allowed_methods() {
        let list: Vec<&str> = allowed.iter().map(http::Method::as_str).collect();
        if let Ok(value) = HeaderValue::from_str(&list.join(", ")) {
            response.headers_mut().insert(header::ALLOW, value);
        }
    }
    response
}

/// Headers every answer carries: the browser must not guess another content type, and
/// must only ever reach the API over HTTPS (API Gateway serves nothing else).
pub fn security_headers(headers: &mut http::HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    security_headers(headers);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Answers carry session tokens and account data: never cache them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Displays an error and all its sources: `outer: inner: root`.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
