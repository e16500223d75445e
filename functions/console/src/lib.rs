//! `console`: `GET /console`, the portal's API tab for partner admins — one self-contained
//! page (its style and script inline, allowed by hash in a strict Content-Security-Policy)
//! that signs in with OpenID Connect (authorization code with PKCE) against the admin
//! issuer and then does everything through the admin API.
//!
//! Its sign-in settings come from the environment, set by `template.yaml`:
//! `CONSOLE_OIDC_AUTHORITY` (where `/.well-known/openid-configuration` is: the admin JWT
//! issuer), `CONSOLE_OIDC_CLIENT_ID` (the JWT audience), `CONSOLE_OIDC_SCOPE` (default
//! `openid`) and `CONSOLE_OIDC_ORIGINS` (other origins the page may call, such as a Cognito
//! domain whose token endpoint is not on the issuer's origin). Unset, they are the local
//! server's OIDC provider (`/_local/oidc`).

use std::sync::OnceLock;

use base64::Engine;
use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use sha2::{Digest, Sha256};
use shared::platform::edge::Addressing;
use shared::platform::envelope;
use shared::platform::request::RequestInfo;
use shared::platform::routes::{self, Function, RouteId};

const HTML: &str = include_str!("console.html");
const STYLE: &str = include_str!("console.css");
const SCRIPT: &str = include_str!("console.js");

/// The local server's OIDC provider and client id (see `local/src/oidc.rs`).
pub const LOCAL_AUTHORITY: &str = "/_local/oidc";
pub const LOCAL_CLIENT_ID: &str = "partner-portal-local";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleConfig {
    /// The OIDC issuer (absolute, or a path on this origin).
    pub authority: String,
    pub client_id: String,
    pub scope: String,
    /// Origins besides this one and the authority's that the page may call.
    pub connect_origins: Vec<String>,
}

impl ConsoleConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self {
            authority: set("CONSOLE_OIDC_AUTHORITY").unwrap_or_else(|| LOCAL_AUTHORITY.into()),
            client_id: set("CONSOLE_OIDC_CLIENT_ID").unwrap_or_else(|| LOCAL_CLIENT_ID.into()),
            scope: set("CONSOLE_OIDC_SCOPE").unwrap_or_else(|| "openid".into()),
            connect_origins: set("CONSOLE_OIDC_ORIGINS")
                .map(|v| {
                    v.split([',', ' '])
                        .filter(|o| o.starts_with("https://") || o.starts_with("http://"))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// The rendered page and its Content-Security-Policy.
#[derive(Debug, Clone)]
pub struct Page {
    pub html: String,
    pub csp: String,
}

fn hash(source: &str) -> String {
    let digest = Sha256::digest(source.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The origin (`scheme://host[:port]`) of an absolute URL; `None` for a path.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

impl Page {
    pub fn render(config: &ConsoleConfig) -> Self {
        let settings = json!({
            "authority": config.authority,
            "client_id": config.client_id,
            "scope": config.scope,
        })
        .to_string()
        // The JSON sits in a <script> element: no "</script>" may close it early.
        .replace('<', "\\u003c");
        let html = HTML
            .replace("{{STYLE}}", STYLE)
            .replace("{{CONFIG}}", &settings)
            .replace("{{SCRIPT}}", SCRIPT);
        let mut connect = vec!["'self'".to_owned()];
        connect.extend(origin_of(&config.authority));
        connect.extend(config.connect_origins.iter().cloned());
        let csp = format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src {}; img-src 'self' data:; \
             form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
            hash(SCRIPT),
            hash(STYLE),
            connect.join(" ")
        );
        Self { html, csp }
    }
}

/// The page of this execution environment's settings, rendered once.
pub fn page() -> &'static Page {
    static PAGE: OnceLock<Page> = OnceLock::new();
    PAGE.get_or_init(|| Page::render(&ConsoleConfig::from_lookup(|n| std::env::var(n).ok())))
}

pub fn handle(addressing: &Addressing, req: &Request) -> Response<Body> {
    let info = RequestInfo::from_request(req, addressing);
    match routes::route_for(Function::Console, &info) {
        Ok((RouteId::GetConsole, _)) => respond(page()),
        Ok(_) => envelope::error_response(&info, &shared::ApiError::RouteNotFound),
        Err(err) => envelope::error_response(&info, &err),
    }
}

fn respond(page: &Page) -> Response<Body> {
    let mut response = Response::new(Body::Text(page.html.clone()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    envelope::security_headers(headers);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The sign-in answer's code is in the URL until the page removes it.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(csp) = HeaderValue::from_str(&page.csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_inline_script_and_style() {
        let page = Page::render(&ConsoleConfig::from_lookup(|_| None));
        assert!(page.csp.contains(&hash(SCRIPT)) && page.csp.contains(&hash(STYLE)));
        assert!(!page.csp.contains("unsafe-inline") && !page.csp.contains("unsafe-eval"));
        assert!(page.csp.contains("connect-src 'self';"), "{}", page.csp);
        // Exactly one executable script, the hashed one.
        assert_eq!(page.html.matches("<script>").count(), 1);
        assert!(!page.html.contains("{{"));
    }

    #[test]
    fn a_deployment_names_its_issuer_and_token_origin() {
        let page = Page::render(&ConsoleConfig::from_lookup(|name| match name {
            "CONSOLE_OIDC_AUTHORITY" => {
                Some("https://cognito-idp.eu-north-1.amazonaws.com/eu-north-1_abc".into())
            }
            "CONSOLE_OIDC_CLIENT_ID" => Some("client-123".into()),
            "CONSOLE_OIDC_ORIGINS" => {
                Some("https://portal.auth.eu-north-1.amazoncognito.com, javascript:x".into())
            }
            _ => None,
        }));
        assert!(page.csp.contains(
            "connect-src 'self' https://cognito-idp.eu-north-1.amazonaws.com https://portal.auth.eu-north-1.amazoncognito.com;"
        ), "{}", page.csp);
        assert!(page.html.contains(r#""client_id":"client-123""#));
    }

    #[test]
    fn settings_cannot_close_the_script_element() {
        let page = Page::render(&ConsoleConfig::from_lookup(|name| {
            (name == "CONSOLE_OIDC_CLIENT_ID").then(|| "</script><script>alert(1)".into())
        }));
        assert_eq!(page.html.matches("</script>").count(), 2);
    }
}
