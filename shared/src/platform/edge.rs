//! What stands in front of API Gateway, and so who the client is. By default nothing: the
//! client address is API Gateway's source IP and links point at the host it was called on.
//! Two deployments put something in front:
//! - proxies whose ranges are in `TRUSTED_PROXY_CIDRS`: their `X-Forwarded-For` names the
//!   client (`request::client_address`);
//! - the optional CloudFront edge that carries the WAF web ACL (`EDGE_ORIGIN_SECRET`, see
//!   README "Edge firewall"). CloudFront adds the origin secret to every request it passes
//!   on, and its viewer-request function (`EdgeViewerFunction` in template.yaml) replaces
//!   the two viewer headers below with what it saw: the viewer's address and the host the
//!   partner called. A request without the secret came straight to API Gateway, around the
//!   firewall: it is refused (403, 12009) before anything else is read.

use std::fmt;
use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;
use subtle::ConstantTimeEq;

use crate::platform::config::ConfigError;

/// Set by CloudFront as an origin custom header; viewers cannot see or set it.
pub const ORIGIN_SECRET_HEADER: &str = "x-origin-verify";
/// Set by the viewer-request function from `event.viewer.ip`.
pub const VIEWER_ADDRESS_HEADER: &str = "x-edge-viewer-address";
/// Set by the viewer-request function from the viewer's `Host` (CloudFront sends API
/// Gateway its own host name, so links need the one the partner used).
pub const VIEWER_HOST_HEADER: &str = "x-edge-viewer-host";

/// Shortest origin secret accepted: the template generates 48 characters.
const MIN_SECRET_LEN: usize = 32;

/// How client addresses and the public host are read, from the environment at start-up.
#[derive(Clone, Default)]
pub struct Addressing {
    /// `TRUSTED_PROXY_CIDRS` (comma-separated): only requests arriving from these addresses
    /// may name the client in `X-Forwarded-For`. Empty by default: the source IP is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// `EDGE_ORIGIN_SECRET`: set when the CloudFront edge is deployed.
    edge_secret: Option<String>,
}

impl fmt::Debug for Addressing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Addressing")
            .field("trusted_proxies", &self.trusted_proxies)
            .field("edge", &self.edge_secret.as_ref().map(|_| "redacted"))
            .finish()
    }
}

/// What the edge says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edge {
    /// No edge is deployed: API Gateway's view of the request is the truth.
    Absent,
    /// The request came through the edge: its viewer headers are CloudFront's.
    Passed {
        viewer_ip: Option<IpAddr>,
        viewer_host: Option<String>,
    },
    /// An edge is deployed but the request did not come through it.
    Bypassed,
}

impl Addressing {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let trusted_proxies = match lookup("TRUSTED_PROXY_CIDRS") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|entry| !entry.is_empty())
                .map(|entry| {
                    entry.parse::<IpNet>().map_err(|e| ConfigError::Invalid {
                        name: "TRUSTED_PROXY_CIDRS",
                        reason: format!("`{entry}`: {e}"),
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let edge_secret = match lookup("EDGE_ORIGIN_SECRET") {
            Some(secret) if secret.len() < MIN_SECRET_LEN || !secret.is_ascii() => {
                return Err(ConfigError::Invalid {
                    name: "EDGE_ORIGIN_SECRET",
                    reason: format!("at least {MIN_SECRET_LEN} ASCII characters"),
                });
            }
            secret => secret,
        };
        Ok(Self {
            trusted_proxies,
            edge_secret,
        })
    }

    /// For the functions without a full `Config` (docs, console, fallback).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    pub fn edge(&self, headers: &HeaderMap) -> Edge {
        let Some(secret) = &self.edge_secret else {
            return Edge::Absent;
        };
        let given = headers
            .get(ORIGIN_SECRET_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !bool::from(given.ct_eq(secret.as_bytes())) {
            return Edge::Bypassed;
        }
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        Edge::Passed {
            viewer_ip: text(VIEWER_ADDRESS_HEADER).and_then(|ip| ip.parse().ok()),
            viewer_host: text(VIEWER_HOST_HEADER)
                .filter(|host| is_host(host))
                .map(str::to_ascii_lowercase),
        }
    }
}

/// A host name (or `name:port`) fit to put into a link: letters, digits, `-`, `.`, `:`.
fn is_host(host: &str) -> bool {
    host.len() <= 260
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCD";

    fn edge_only(secret: &str) -> Result<Addressing, ConfigError> {
        Addressing::from_lookup(&|name| (name == "EDGE_ORIGIN_SECRET").then(|| secret.into()))
    }

    fn with_secret() -> Addressing {
        edge_only(SECRET).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn without_an_edge_nothing_is_read_from_headers() {
        let spoofed = headers(&[(VIEWER_ADDRESS_HEADER, "203.0.113.9")]);
        assert_eq!(Addressing::default().edge(&spoofed), Edge::Absent);
    }

    #[test]
    fn the_origin_secret_must_match_exactly() {
        let edge = with_secret();
        assert_eq!(edge.edge(&HeaderMap::new()), Edge::Bypassed);
        let short = &SECRET[..SECRET.len() - 1];
        for wrong in [short, "", &format!("{SECRET}x")] {
            let h = headers(&[(ORIGIN_SECRET_HEADER, wrong)]);
            assert_eq!(edge.edge(&h), Edge::Bypassed, "{wrong:?}");
        }
    }

    #[test]
    fn a_passed_request_names_its_viewer() {
        let h = headers(&[
            (ORIGIN_SECRET_HEADER, SECRET),
            (VIEWER_ADDRESS_HEADER, "2001:db8::7"),
            (VIEWER_HOST_HEADER, "API.Partner.Example:8443"),
        ]);
        assert_eq!(
            with_secret().edge(&h),
            Edge::Passed {
                viewer_ip: "2001:db8::7".parse().ok(),
                viewer_host: Some("api.partner.example:8443".into()),
            }
        );
        let odd = headers(&[
            (ORIGIN_SECRET_HEADER, SECRET),
            (VIEWER_ADDRESS_HEADER, "not an address"),
            (VIEWER_HOST_HEADER, "evil.example/phish?"),
        ]);
        assert_eq!(
            with_secret().edge(&odd),
            Edge::Passed {
                viewer_ip: None,
                viewer_host: None,
            }
        );
    }

    #[test]
    fn a_short_secret_fails_start_up_and_is_never_printed() {
        assert!(edge_only("short").is_err());
        assert!(!format!("{:?}", with_secret()).contains(SECRET));
    }
}
