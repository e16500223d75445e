//! Allowed origins on an API key: IP addresses, CIDR ranges and domains (`example.com`,
//! `*.example.com`). IPs and ranges match the client address; domains match the host of the
//! request's `Origin` header, else of its `Referer`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigin {
    Ip(IpAddr),
    Range(IpNet),
    /// An exact host name, lowercase.
    Domain(String),
    /// `*.example.com`: any subdomain of the stored suffix (not the suffix itself).
    Subdomains(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IP address, a CIDR range or a domain name")]
pub struct InvalidOrigin(pub String);

impl FromStr for AllowedOrigin {
    type Err = InvalidOrigin;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidOrigin(text.to_owned());
        let trimmed = text.trim();
        if let Ok(ip) = trimmed.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        if trimmed.contains('/') {
            let range = trimmed.parse::<IpNet>().map_err(|_| invalid())?;
            // `10.0.0.1/8` is almost always a typo for `10.0.0.0/8`: refuse host bits.
            if range.trunc() != range {
                return Err(invalid());
            }
            return Ok(Self::Range(range));
        }
        let lower = trimmed.to_ascii_lowercase();
        if let Some(suffix) = lower.strip_prefix("*.") {
            return if is_domain_name(suffix) && suffix.contains('.') {
                Ok(Self::Subdomains(suffix.to_owned()))
            } else {
                Err(invalid())
            };
        }
        if is_domain_name(&lower) {
            Ok(Self::Domain(lower))
        } else {
            Err(invalid())
        }
    }
}

impl fmt::Display for AllowedOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Range(range) => write!(f, "{range}"),
            Self::Domain(host) => f.write_str(host),
            Self::Subdomains(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

fn is_domain_name(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        // A bare IP-like name (`1.2.3`) is a typo, not a domain.
        && !text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// How a request satisfied a key's allowed origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginMatch {
    /// The client address is listed or inside a listed range: true for every later request
    /// from the same (locked) address.
    ClientAddress,
    /// The Origin/Referer host is listed: later requests must present a listed host too.
    Host,
}

/// Does a request from `client` with origin host `host` satisfy `allowed`? Address entries
/// win over host entries because they do not depend on a client-sent header.
pub fn match_origin(
    allowed: &[AllowedOrigin],
    client: IpAddr,
    host: Option<&str>,
) -> Option<OriginMatch> {
    let by_address = allowed.iter().any(|origin| match origin {
        AllowedOrigin::Ip(ip) => *ip == client,
        AllowedOrigin::Range(range) => range.contains(&client),
        _ => false,
    });
    if by_address {
        return Some(OriginMatch::ClientAddress);
    }
    let host = host?;
    let by_host = host_patterns(host)
        .iter()
        .any(|pattern| allowed.iter().any(|origin| origin.to_string() == *pattern));
    by_host.then_some(OriginMatch::Host)
}

/// The domain entries (`example.com`, `*.example.com`) of an allowed-origins list: what a
/// session admitted by its origin host must keep presenting.
pub fn host_entries(allowed: &[AllowedOrigin]) -> Vec<String> {
    allowed
        .iter()
        .filter(|o| matches!(o, AllowedOrigin::Domain(_) | AllowedOrigin::Subdomains(_)))
        .map(ToString::to_string)
        .collect()
}

/// The allowed-origin entries that would admit `host`: the host itself and every
/// `*.parent` above it. Lets the database check a stored list with `contains`.
pub fn host_patterns(host: &str) -> Vec<String> {
    let host = host.to_ascii_lowercase();
    let mut patterns = vec![host.clone()];
    let mut rest = host.as_str();
    while let Some((_, parent)) = rest.split_once('.') {
        if parent.contains('.') {
            patterns.push(format!("*.{parent}"));
        }
        rest = parent;
    }
    patterns
}

/// The host of the `Origin` header, else of the `Referer` header, lowercase, without port.
pub fn request_host(headers: &http::HeaderMap) -> Option<String> {
    ["origin", "referer"].iter().find_map(|name| {
        let value = headers.get(*name)?.to_str().ok()?;
        let uri: http::Uri = value.parse().ok()?;
        uri.host()
            .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Vec<AllowedOrigin> {
        entries.iter().map(|e| e.parse().unwrap()).collect()
    }

    #[test]
    fn entries_parse_and_print_back() {
        for entry in [
            "127.0.0.1",
            "::1",
            "10.0.0.0/8",
            "2001:db8::/32",
            "example.com",
            "*.example.com",
        ] {
            assert_eq!(entry.parse::<AllowedOrigin>().unwrap().to_string(), entry);
        }
        assert_eq!(
            "Example.COM".parse::<AllowedOrigin>().unwrap().to_string(),
            "example.com"
        );
    }

    #[test]
    fn invalid_entries_are_refused() {
        for entry in [
            "",
            "10.0.0.1/8",
            "10.0.0.0/33",
            "*",
            "*.com",
            "exa mple.com",
            "-a.com",
            "1.2.3",
            "http://x.com",
            "a..b",
        ] {
            assert!(entry.parse::<AllowedOrigin>().is_err(), "{entry}");
        }
    }

    #[test]
    fn addresses_and_ranges_match_the_client() {
        let allowed = list(&["192.0.2.7", "10.0.0.0/8"]);
        assert_eq!(
            match_origin(&allowed, "192.0.2.7".parse().unwrap(), None),
            Some(OriginMatch::ClientAddress)
        );
        assert_eq!(
            match_origin(&allowed, "10.200.1.1".parse().unwrap(), None),
            Some(OriginMatch::ClientAddress)
        );
        assert_eq!(
            match_origin(&allowed, "11.0.0.1".parse().unwrap(), None),
            None
        );
    }

    #[test]
    fn domains_match_the_origin_host() {
        let allowed = list(&["portal.example.com", "*.partner.net"]);
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            match_origin(&allowed, ip, Some("portal.example.com")),
            Some(OriginMatch::Host)
        );
        assert_eq!(
            match_origin(&allowed, ip, Some("a.b.partner.net")),
            Some(OriginMatch::Host)
        );
        assert_eq!(match_origin(&allowed, ip, Some("partner.net")), None);
        assert_eq!(match_origin(&allowed, ip, Some("evil.example.com")), None);
        assert_eq!(match_origin(&allowed, ip, None), None);
    }

    #[test]
    fn host_patterns_walk_up_to_the_registrable_parent() {
        assert_eq!(
            host_patterns("A.b.example.com"),
            ["a.b.example.com", "*.b.example.com", "*.example.com"]
        );
    }

    #[test]
    fn origin_then_referer_host_is_used() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "referer",
            "https://ref.example.com/page?q=1".parse().unwrap(),
        );
        assert_eq!(request_host(&headers).as_deref(), Some("ref.example.com"));
        headers.insert("origin", "https://Portal.Example.com:8443".parse().unwrap());
        assert_eq!(
            request_host(&headers).as_deref(),
            Some("portal.example.com")
        );
    }
}
