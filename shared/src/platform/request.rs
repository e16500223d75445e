//! Reading what a request says: who sent it (client address, origin host), where to link
//! back to, its JSON body and its session token. All checks here are local: a request that
//! fails them is answered without any database call.

use std::net::IpAddr;

use http::{HeaderMap, Method};
use ipnet::IpNet;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::de::DeserializeOwned;

use crate::access::credentials::{Credential, CredentialError, CredentialKind};
use crate::access::origins;
use crate::platform::edge::{Addressing, Edge};
use crate::platform::error::ApiError;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What the handlers need to know about the request, read once.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// API Gateway's request id; generated when absent (direct invokes).
    pub request_id: String,
    pub method: Method,
    /// Path below the stage, e.g. `/v1/me`.
    pub path: String,
    /// `https://host[/stage]`: the base of every link in the response.
    pub base_url: String,
    /// `None` when the address cannot be determined (see DESIGN.md §4).
    pub client_ip: Option<IpAddr>,
    /// Host of `Origin`, else of `Referer`.
    pub origin_host: Option<String>,
    /// The request named an origin host that cannot be valid (`origins::request_host`):
    /// session creation and every authenticated request refuse it (403 12003).
    pub origin_refused: bool,
    /// The request's `Origin` as a CORS origin (`cors::request_origin`).
    pub origin: Option<String>,
    /// Set once the key behind the request lists `origin` (`cors::grant`): the answer then
    /// carries the CORS headers that let the page read it.
    pub cors_origin: std::sync::OnceLock<String>,
    /// The edge firewall is deployed and this request went around it, straight to API
    /// Gateway: every route refuses it (403 12009, `routes::route_for`).
    pub edge_bypassed: bool,
    /// Where the session's rate limit stands after this request, once a session has been
    /// recognised (`sessions::authenticate`); answered as the RateLimit headers.
    pub rate_window: std::sync::OnceLock<RateWindow>,
}

/// A session's rate limit as one request leaves it: `quota` requests per window of
/// `window_seconds`, `remaining` of them left, the window over in `reset_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    pub quota: u32,
    pub window_seconds: u64,
    pub remaining: u32,
    pub reset_seconds: u64,
}

impl RateWindow {
    /// One request per `spacing_ms`: a request takes the whole window, and the next one is
    /// allowed `wait_ms` from now (whole seconds, rounded up: never earlier than allowed).
    pub fn one_per(spacing_ms: u64, wait_ms: u64) -> Self {
        Self {
            quota: 1,
            window_seconds: spacing_ms.max(1).div_ceil(1000),
            remaining: 0,
            reset_seconds: wait_ms.max(1).div_ceil(1000),
        }
    }
}

impl RequestInfo {
    pub fn from_request(req: &Request, addressing: &Addressing) -> Self {
        let context = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => Some(context),
            _ => None,
        };
        let stage = context
            .and_then(|c| c.stage.as_deref())
            .filter(|s| *s != "$default");
        let request_id = context
            .and_then(|c| c.request_id.clone())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let edge = addressing.edge(req.headers());
        let edge_host = match &edge {
            Edge::Passed { viewer_host, .. } => viewer_host.clone(),
            Edge::Absent | Edge::Bypassed => None,
        };
        let host = edge_host
            .or_else(|| context.and_then(|c| c.domain_name.clone()))
            .or_else(|| header(req.headers(), "host").map(str::to_owned))
            .unwrap_or_else(|| "localhost".into());
        // The edge serves HTTPS only, whatever the hop behind it used.
        let scheme = match header(req.headers(), "x-forwarded-proto") {
            Some("http") if !matches!(edge, Edge::Passed { .. }) => "http",
            _ => "https",
        };
        let base_url = match stage {
            Some(stage) => format!("{scheme}://{host}/{stage}"),
            None => format!("{scheme}://{host}"),
        };
        let raw_path = req.uri().path();
        let path = match stage {
            Some(stage) => raw_path
                .strip_prefix(&format!("/{stage}"))
                .unwrap_or(raw_path),
            None => raw_path,
        };
        let client_ip = match edge {
            Edge::Absent => {
                let source_ip = context.and_then(|c| c.http.source_ip.as_deref());
                client_address(source_ip, req.headers(), &addressing.trusted_proxies)
            }
            Edge::Passed { viewer_ip, .. } => viewer_ip,
            Edge::Bypassed => None,
        };
        let origin = origins::request_host(req.headers());
        Self {
            request_id,
            method: req.method().clone(),
            path: path.to_owned(),
            base_url,
            client_ip,
            origin_refused: origin.is_err(),
            edge_bypassed: edge == Edge::Bypassed,
            origin_host: origin.ok().flatten(),
            rate_window: std::sync::OnceLock::new(),
            origin: crate::access::cors::request_origin(req.headers()),
            cors_origin: std::sync::OnceLock::new(),
        }
    }

    /// The path as a log line may show it: anything shaped like a credential redacted.
    pub fn logged_path(&self) -> String {
        redact_credentials(&self.path)
    }

    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The client address: API Gateway's source IP, or — only when that is a trusted proxy —
/// the right-most `X-Forwarded-For` entry that is not itself a trusted proxy. A client-sent
/// `X-Forwarded-For` is otherwise ignored because it is trivially spoofed.
pub fn client_address(
    source_ip: Option<&str>,
    headers: &HeaderMap,
    trusted_proxies: &[IpNet],
) -> Option<IpAddr> {
    let source: IpAddr = source_ip?.trim().parse().ok()?;
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&source) {
        return Some(source);
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    let hops: Vec<&str> = forwarded
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let ip: IpAddr = hop.parse().ok()?;
        if !trusted(&ip) {
            return Some(ip);
        }
    }
    None
}

/// Parses a JSON request body into `T` (which should `deny_unknown_fields`).
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit_bytes: MAX_BODY_BYTES,
        });
    }
    let content_type = header(req.headers(), "content-type");
    if body.is_empty() && content_type.is_none() {
        return Err(ApiError::RequestNotUnderstood(
            "a JSON request body is required".into(),
        ));
    }
    let is_json = content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedContentType(
            "send the request body with Content-Type: application/json".into(),
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::RequestNotUnderstood(
            "a JSON request body is required".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|err| {
        let detail = redact_credentials(&err.to_string());
        match err.classify() {
            serde_json::error::Category::Data => ApiError::InvalidParameters(detail),
            _ => ApiError::RequestNotUnderstood(format!(
                "the request body is not valid JSON: {detail}"
            )),
        }
    })
}

/// `deserialize_with` helpers for optional body fields (with `#[serde(default)]`), so `null`
/// means what the contract says: refused where a field is not nullable (it would otherwise
/// read as "absent" and hide a client's mistake), told apart from absent where it is.
pub mod body_field {
    use serde::{Deserialize, Deserializer};

    /// Absent is `None`; given, it must be a value (`null` is 400, 11400).
    pub fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        match Option::<T>::deserialize(deserializer)? {
            Some(value) => Ok(Some(value)),
            None => Err(serde::de::Error::custom(
                "null is not a value for this field: leave the field out instead",
            )),
        }
    }

    /// Absent is `None`, `null` is `Some(None)` (clear it), a value is `Some(Some(_))`.
    pub fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

/// GET and DELETE take no body; a body there is almost always a client mistake.
pub fn expect_no_body(req: &Request) -> Result<(), ApiError> {
    if req.body().as_ref().iter().all(u8::is_ascii_whitespace) {
        Ok(())
    } else {
        Err(ApiError::RequestNotUnderstood(format!(
            "{} takes no request body",
            req.method()
        )))
    }
}

/// The session token of `Authorization: Session <token>`, checked for format and checksum.
pub fn session_token(headers: &HeaderMap) -> Result<Credential, ApiError> {
    const HOW: &str = "send the header Authorization: Session <session_token>";
    let value = headers
        .get("authorization")
        .ok_or(ApiError::AuthRequired(HOW))?;
    // Present but not visible ASCII: nothing a token could be.
    let value = value
        .to_str()
        .map_err(|_| ApiError::InvalidCredentials("the session token is not well-formed"))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(ApiError::AuthRequired(HOW))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("session") || token.is_empty() {
        return Err(ApiError::AuthRequired(HOW));
    }
    parse_credential(CredentialKind::SessionToken, token)
}

/// Format and checksum check of a credential, as a 401 (11001) when it fails.
pub fn parse_credential(kind: CredentialKind, text: &str) -> Result<Credential, ApiError> {
    Credential::parse(kind, text).map_err(|err| {
        ApiError::InvalidCredentials(match (kind, err) {
            (CredentialKind::OrganizationKey, CredentialError::Malformed(_)) => {
                "the organization key is not well-formed"
            }
            (CredentialKind::OrganizationKey, CredentialError::BadChecksum(_)) => {
                "the organization key has a wrong checksum"
            }
            (CredentialKind::ApiKey, CredentialError::Malformed(_)) => {
                "the API key is not well-formed"
            }
            (CredentialKind::ApiKey, CredentialError::BadChecksum(_)) => {
                "the API key has a wrong checksum"
            }
            (CredentialKind::SessionToken, CredentialError::Malformed(_)) => {
                "the session token is not well-formed"
            }
            (CredentialKind::SessionToken, CredentialError::BadChecksum(_)) => {
                "the session token has a wrong checksum"
            }
        })
    })
}

/// Replaces anything shaped like one of our credentials, so an error message that quotes
/// client input can never carry a secret into a response or a log line.
pub fn redact_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = ["hsp_", "pps_"].iter().filter_map(|p| rest.find(p)).min() {
        out.push_str(&rest[..start]);
        let tail = &rest[start + 4..];
        let tail = tail.strip_prefix("org_").unwrap_or(tail);
        let secret_len = tail.bytes().take_while(u8::is_ascii_alphanumeric).count();
        out.push_str("[redacted]");
        rest = &tail[secret_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn forwarded_for_is_ignored_without_trusted_proxies() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            client_address(Some("198.51.100.9"), &h, &[]),
            "198.51.100.9".parse().ok()
        );
    }

    #[test]
    fn forwarded_for_names_the_client_behind_a_trusted_proxy() {
        let proxies = ["10.0.0.0/8".parse().unwrap()];
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.5, 10.0.0.3")]);
        assert_eq!(
            client_address(Some("10.0.0.2"), &h, &proxies),
            "203.0.113.5".parse().ok()
        );
        assert_eq!(
            client_address(Some("10.0.0.2"), &HeaderMap::new(), &proxies),
            None
        );
    }

    #[test]
    fn unparsable_source_is_unknown() {
        assert_eq!(
            client_address(Some("not-an-ip"), &HeaderMap::new(), &[]),
            None
        );
        assert_eq!(client_address(None, &HeaderMap::new(), &[]), None);
    }

    #[test]
    fn authorization_needs_the_session_scheme() {
        for value in ["Bearer abc", "Session", "Session   ", "", "Basic x"] {
            let h = headers(&[("authorization", value)]);
            assert_eq!(session_token(&h).unwrap_err().code(), 11000, "{value:?}");
        }
        assert_eq!(session_token(&HeaderMap::new()).unwrap_err().code(), 11000);
        let h = headers(&[("authorization", "Session pps_bad")]);
        assert_eq!(session_token(&h).unwrap_err().code(), 11001);
    }

    #[test]
    fn credentials_are_redacted_from_messages() {
        assert_eq!(
            redact_credentials("unknown field `hsp_org_Ab12`, also pps_XYZ9 and hsp_k1!"),
            "unknown field `[redacted]`, also [redacted] and [redacted]!"
        );
    }
}

/// The `{id}` of a path, which must be a UUID in its canonical (lower-case, hyphenated)
/// form; anything else names no object (404) and costs no database read.
pub fn object_id(id: &str) -> Result<&str, ApiError> {
    match uuid::Uuid::try_parse(id) {
        Ok(uuid) if uuid.hyphenated().to_string() == id => Ok(id),
        _ => Err(ApiError::ObjectNotFound),
    }
}

/// A new object id (UUIDv4).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A trimmed text field of 1 to `max_chars` printable characters.
pub fn printable_text(field: &str, value: &str, max_chars: usize) -> Result<String, ApiError> {
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if chars == 0 || chars > max_chars || trimmed.chars().any(char::is_control) {
        return Err(ApiError::InvalidParameters(format!(
            "{field} must be 1 to {max_chars} printable characters"
        )));
    }
    Ok(trimmed.to_owned())
}

/// Query parameters of the request; a parameter not in `allowed` is a 400 (a typo like
/// `limt` would otherwise be silently ignored).
pub fn query(
    req: &Request,
    allowed: &[&str],
) -> Result<std::collections::HashMap<String, String>, ApiError> {
    let params = req.query_string_parameters();
    let mut values = std::collections::HashMap::new();
    for (name, value) in params.iter() {
        if !allowed.contains(&name) {
            let known = if allowed.is_empty() {
                "none".to_owned()
            } else {
                allowed.join(", ")
            };
            return Err(ApiError::InvalidParameters(format!(
                "unknown query parameter `{}`; this route takes: {known}",
                redact_credentials(name)
            )));
        }
        if values.insert(name.to_owned(), value.to_owned()).is_some() {
            return Err(ApiError::InvalidParameters(format!(
                "query parameter `{name}` given more than once"
            )));
        }
    }
    Ok(values)
}

/// `cursor`: the opaque continuation a page's `_links.next` carries, naming where the next
/// page starts so that following it reads only that page. It is versioned base64url, so its
/// inside may change without breaking links already given out.
pub struct Cursor;

impl Cursor {
    const VERSION: &str = "1.";

    pub fn encode(position: &str) -> String {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position);
        format!("{}{encoded}", Self::VERSION)
    }

    /// The position `cursor` names, if given; one that is not `valid` is refused (400).
    pub fn from_query(
        params: &std::collections::HashMap<String, String>,
        valid: impl Fn(&str) -> bool,
    ) -> Result<Option<String>, ApiError> {
        use base64::Engine;
        let Some(text) = params.get("cursor") else {
            return Ok(None);
        };
        text.strip_prefix(Self::VERSION)
            .and_then(|encoded| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(encoded)
                    .ok()
            })
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|position| valid(position))
            .map(Some)
            .ok_or_else(|| {
                ApiError::InvalidParameters(
                    "cursor is not one this API gave out: follow `_links.next` as given, or page with `offset`"
                        .into(),
                )
            })
    }
}

/// `limit` (1–100, default 20) and `offset` (≥ 0, default 0) of a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub offset: usize,
}

impl Page {
    pub const DEFAULT_LIMIT: usize = 20;
    pub const MAX_LIMIT: usize = 100;
    /// Far beyond any collection here; larger numbers are typos (or overflow).
    pub const MAX_OFFSET: usize = 1_000_000;

    pub fn from_query(
        params: &std::collections::HashMap<String, String>,
    ) -> Result<Self, ApiError> {
        let number = |name: &str, default: usize| -> Result<usize, ApiError> {
            match params.get(name) {
                None => Ok(default),
                Some(text) => text.parse().map_err(|_| {
                    ApiError::InvalidParameters(format!("{name} must be a whole number"))
                }),
            }
        };
        let limit = number("limit", Self::DEFAULT_LIMIT)?;
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(ApiError::InvalidParameters(format!(
                "limit must be between 1 and {}",
                Self::MAX_LIMIT
            )));
        }
        let offset = number("offset", 0).ok().filter(|o| *o <= Self::MAX_OFFSET);
        let offset = offset.ok_or_else(|| {
            ApiError::InvalidParameters(format!(
                "offset must be a whole number from 0 to {}",
                Self::MAX_OFFSET
            ))
        })?;
        Ok(Self { limit, offset })
    }
}
