//! CORS for browser clients. A key lists the web origins whose pages may call the API with
//! it (`cors_origins`, e.g. `https://app.example.com`). A preflight carries no credentials,
//! so it is answered (by `fallback-api`, the `$default` route every `OPTIONS` reaches) from
//! one read: how many active keys list the origin, a count every key write keeps in its own
//! transaction (`storage::access`). An actual answer carries `Access-Control-Allow-Origin`
//! only when the key behind the request lists its `Origin`: the session's key, or for
//! session creation the key presented.

use std::net::IpAddr;

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Response};

use crate::platform::error::ApiError;
use crate::platform::request::RequestInfo;
use crate::platform::routes::{self, Access};
use crate::storage::Store;

/// CORS origins one key may list (each is one more item in the key's transactions).
pub const MAX_CORS_ORIGINS: usize = 10;
/// The request headers a partner's page may send: the session token and JSON bodies.
pub const ALLOW_HEADERS: &str = "Authorization, Content-Type";
/// The answer headers a page may read beyond the safelisted ones.
pub const EXPOSE_HEADERS: &str = "X-Request-Id, Retry-After, RateLimit, RateLimit-Policy";
/// How long a browser may reuse a preflight's answer: an origin removed from every key is
/// refused preflights at most this long after (actual answers lose their headers at once).
pub const MAX_AGE_SECONDS: u32 = 600;

/// A CORS origin in the form browsers send in `Origin` (`scheme://host[:port]`, lowercase,
/// without the scheme's default port), or why `text` is none.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        return Err(format!(
            "`{trimmed}` has no scheme: a CORS origin is written like https://{trimmed}"
        ));
    };
    let scheme = scheme.to_ascii_lowercase();
    // A trailing slash is the empty path browsers leave out; anything more is a path.
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', '*', ' ']) {
        return Err(format!(
            "`{trimmed}` is not an origin: give the scheme, the host and an optional port only (no path, wildcard or user), like https://app.example.com"
        ));
    }
    let (host, port) = split_port(authority)
        .ok_or_else(|| format!("`{trimmed}` has an invalid port: give a number from 1 to 65535"))?;
    let host = host.to_ascii_lowercase();
    let ip = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(&host)
        .parse::<IpAddr>()
        .ok();
    if ip.is_none() && !crate::access::origins::is_domain_name(&host) && host != "localhost" {
        return Err(format!("`{trimmed}` does not name a valid host"));
    }
    let loopback = host == "localhost" || ip.is_some_and(|ip| ip.is_loopback());
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" if loopback => 80,
        "http" => {
            return Err(format!(
                "`{trimmed}`: only https origins are accepted (http only for localhost, while developing)"
            ));
        }
        _ => return Err(format!("`{trimmed}`: the scheme must be https")),
    };
    Ok(match port {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// `host[:port]` (an IPv6 host in brackets); `None` when the port is not 1–65535.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let port_at = match authority.rfind(':') {
        Some(at) if !authority[at..].contains(']') => at,
        _ => return Some((authority, None)),
    };
    let port: u16 = authority[port_at + 1..].parse().ok()?;
    (port > 0).then_some((&authority[..port_at], Some(port)))
}

/// Validates a key's CORS origins into their canonical form, without repeats.
pub fn validate_origins(entries: &[String]) -> Result<Vec<String>, ApiError> {
    if entries.len() > MAX_CORS_ORIGINS {
        return Err(ApiError::InvalidParameters(format!(
            "cors_origins takes at most {MAX_CORS_ORIGINS} entries"
        )));
    }
    let mut origins = Vec::new();
    for entry in entries {
        let origin = parse_origin(entry)
            .map_err(|reason| ApiError::InvalidParameters(format!("cors_origins: {reason}")))?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
}

/// The request's `Origin`, when it is one a key could list (a browser's cross-origin call).
pub fn request_origin(headers: &HeaderMap) -> Option<String> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    parse_origin(origin).ok()
}

/// Lets the request's page read its answer if `listed` (a key's CORS origins) names it.
pub fn grant(info: &RequestInfo, listed: &[String]) {
    if let Some(origin) = &info.origin
        && listed.contains(origin)
    {
        let _ = info.cors_origin.set(origin.clone());
    }
}

/// The CORS headers of an actual answer: the page's origin where it was granted, and
/// `Vary: Origin` whenever the request named one (the same URL answers differently per
/// origin).
pub fn answer_headers(info: &RequestInfo, headers: &mut HeaderMap) {
    if info.origin.is_none() {
        return;
    }
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = info.cors_origin.get()
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
}

/// The partner routes' methods at `path` (what a page may call there); empty for a path
/// that is unknown or only for admins, code hosts or readers of the documentation.
fn partner_methods(path: &str) -> Vec<Method> {
    routes::ROUTES
        .iter()
        .filter(|route| route.access == Access::Partner && routes::matches(route, path))
        .map(|route| route.method.clone())
        .collect()
}

/// The answer to a CORS preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method` on a known path), or `None` for any other request. Allowed — 204 with
/// the CORS headers — when the path has a partner route for the requested method and some
/// active key lists the origin (one GetItem); otherwise 204 without them, which the browser
/// takes as a refusal.
pub async fn preflight(
    store: &Store,
    info: &RequestInfo,
    headers: &HeaderMap,
) -> Option<Response<Body>> {
    let requested = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
    let known_path = routes::ROUTES
        .iter()
        .any(|r| routes::matches(r, &info.path));
    // An unknown path stays a 404, whatever asks for it.
    if info.method != Method::OPTIONS || !headers.contains_key(header::ORIGIN) || !known_path {
        return None;
    }
    let methods = partner_methods(&info.path);
    let method_allowed = requested
        .to_str()
        .ok()
        .and_then(|m| m.parse::<Method>().ok())
        .is_some_and(|m| methods.contains(&m));
    let allowed = match (&info.origin, method_allowed) {
        (Some(origin), true) => match store.cors_origin_listed(origin).await {
            Ok(listed) => listed,
            Err(err) => {
                return Some(crate::platform::envelope::respond(
                    info,
                    Err(ApiError::internal(err)),
                ));
            }
        },
        _ => false,
    };
    tracing::info!(request_id = %info.request_id, path = %info.logged_path(), origin = ?info.origin, allowed, "preflight answered");
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    let out = response.headers_mut();
    crate::platform::envelope::security_headers(out);
    out.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Ok(id) = HeaderValue::from_str(&info.request_id) {
        out.insert(http::HeaderName::from_static("x-request-id"), id);
    }
    let list: Vec<&str> = methods.iter().map(Method::as_str).collect();
    if let Ok(value) = HeaderValue::from_str(&list.join(", ")) {
        if !list.is_empty() {
            out.insert(header::ALLOW, value.clone());
        }
        if allowed && let Some(origin) = info.origin.as_deref() {
            if let Ok(origin) = HeaderValue::from_str(origin) {
                out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            }
            out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, value);
            out.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            out.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from(MAX_AGE_SECONDS),
            );
        }
    }
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_written_as_browsers_send_them() {
        let ok = |text: &str| parse_origin(text).unwrap();
        assert_eq!(ok("https://App.Example.com"), "https://app.example.com");
        assert_eq!(ok("https://app.example.com/"), "https://app.example.com");
        assert_eq!(ok("https://app.example.com:443"), "https://app.example.com");
        assert_eq!(
            ok("https://app.example.com:8443"),
            "https://app.example.com:8443"
        );
        assert_eq!(ok("HTTPS://203.0.113.7"), "https://203.0.113.7");
        assert_eq!(ok("http://localhost:5173"), "http://localhost:5173");
        assert_eq!(ok("http://127.0.0.1:80"), "http://127.0.0.1");
        assert_eq!(ok("http://[::1]:8080"), "http://[::1]:8080");
        assert_eq!(ok("https://[2001:db8::1]"), "https://[2001:db8::1]");
    }

    #[test]
    fn anything_but_an_origin_is_refused_with_the_reason() {
        let reason = |text: &str| parse_origin(text).unwrap_err();
        assert!(reason("app.example.com").contains("no scheme"));
        assert!(reason("https://app.example.com/path").contains("no path"));
        assert!(reason("https://*.example.com").contains("wildcard"));
        assert!(reason("https://user@app.example.com").contains("user"));
        assert!(reason("https://app.example.com:0").contains("port"));
        assert!(reason("https://app.example.com:99999").contains("port"));
        assert!(reason("http://app.example.com").contains("only https"));
        assert!(reason("ftp://app.example.com").contains("must be https"));
        assert!(reason("https://exa mple.com").contains("not an origin"));
        assert!(reason("https://-bad-.example.com").contains("valid host"));
        assert!(reason("https://").contains("not an origin"));
    }

    #[test]
    fn a_key_lists_each_origin_once_and_at_most_ten() {
        let listed = validate_origins(&[
            "https://a.example.com".into(),
            "https://A.example.com/".into(),
        ])
        .unwrap();
        assert_eq!(listed, ["https://a.example.com"]);
        let many: Vec<String> = (0..11)
            .map(|i| format!("https://a{i}.example.com"))
            .collect();
        let err = validate_origins(&many).unwrap_err();
        assert_eq!(
            err.code(),
            ApiError::InvalidParameters(String::new()).code()
        );
        let err = validate_origins(&["app.example.com".into()]).unwrap_err();
        assert!(err.detail().contains("no scheme"), "{}", err.detail());
    }

    #[test]
    fn preflights_are_offered_for_partner_routes_only() {
        assert_eq!(
            partner_methods("/v1/auth/session"),
            [Method::POST, Method::DELETE]
        );
        assert_eq!(
            partner_methods("/v1/accounts/a1"),
            [Method::GET, Method::PATCH, Method::PUT, Method::DELETE]
        );
        assert!(partner_methods("/v1/admin/keys").is_empty());
        assert!(partner_methods("/v1/secret-scanning/alerts").is_empty());
        assert!(partner_methods("/nowhere").is_empty());
    }
}
