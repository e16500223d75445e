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
pub enum InvalidOrigin {
    #[error("`{0}` is not an IP address, a CIDR range or a domain name")]
    Malformed(String),
    /// Anyone can register a name under a public suffix (`*.co.uk`, `*.github.io`), and a
    /// single-label name (`intranet`) is no site on the internet: neither pins an origin.
    #[error(
        "`{0}` would admit sites anyone can register: name a domain below a public suffix (e.g. `*.example.co.uk`, not `*.co.uk`)"
    )]
    PublicSuffix(String),
}

impl FromStr for AllowedOrigin {
    type Err = InvalidOrigin;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidOrigin::Malformed(text.to_owned());
        let public = || InvalidOrigin::PublicSuffix(text.to_owned());
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
        let (name, wildcard) = match lower.strip_prefix("*.") {
            Some(suffix) => (suffix, true),
            None => (lower.as_str(), false),
        };
        if !is_domain_name(name) {
            return Err(invalid());
        }
        if !name.contains('.') || is_public_suffix(name) {
            return Err(public());
        }
        Ok(if wildcard {
            Self::Subdomains(name.to_owned())
        } else {
            Self::Domain(name.to_owned())
        })
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

/// Is `name` itself on the Public Suffix List (ICANN and private sections, e.g. `co.uk`,
/// `github.io`)? From the `psl` crate, which compiles the list in.
fn is_public_suffix(name: &str) -> bool {
    psl::suffix(name.as_bytes())
        .is_some_and(|suffix| suffix.is_known() && suffix.as_bytes().len() == name.len())
}

pub(crate) fn is_domain_name(text: &str) -> bool {
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

/// Longest host name DNS allows.
pub const MAX_HOST_CHARS: usize = 253;
/// Most labels a request's origin host may have. DNS allows 127, real hosts have a handful;
/// each label beyond the first costs one `contains` term in the hot path's condition, whose
/// expression DynamoDB caps at 4 KB (a 127-label host would exceed it: a test shows it).
pub const MAX_HOST_LABELS: usize = 32;

/// An `Origin`/`Referer` host that no allowed origin can match: too long, too many labels,
/// or a label that is empty or over 63 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Origin/Referer host cannot be a valid host name")]
pub struct InvalidHost;

/// The host of the `Origin` header, else of the `Referer` header, lowercase, without port;
/// `None` when neither names one. A host that cannot be valid is an error, refused (403)
/// before it reaches the database.
pub fn request_host(headers: &http::HeaderMap) -> Result<Option<String>, InvalidHost> {
    let host = ["origin", "referer"].iter().find_map(|name| {
        let value = headers.get(*name)?.to_str().ok()?;
        let uri: http::Uri = value.parse().ok()?;
        uri.host()
            .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
    });
    match host {
        Some(host) if !plausible_host(&host) => Err(InvalidHost),
        host => Ok(host),
    }
}

fn plausible_host(host: &str) -> bool {
    if host.parse::<IpAddr>().is_ok() {
        return true;
    }
    host.len() <= MAX_HOST_CHARS
        && host.split('.').count() <= MAX_HOST_LABELS
        && host
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
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
        assert_eq!(
            request_host(&headers).unwrap().as_deref(),
            Some("ref.example.com")
        );
        headers.insert("origin", "https://Portal.Example.com:8443".parse().unwrap());
        assert_eq!(
            request_host(&headers).unwrap().as_deref(),
            Some("portal.example.com")
        );
    }

    fn origin(host: &str) -> Result<Option<String>, InvalidHost> {
        let mut headers = http::HeaderMap::new();
        headers.insert("origin", format!("https://{host}").parse().unwrap());
        request_host(&headers)
    }

    #[test]
    fn public_suffixes_and_single_labels_are_refused() {
        for entry in [
            "*.com",
            "*.co.uk",
            "co.uk",
            "*.github.io",
            "*.s3.amazonaws.com",
            "intranet",
            "*.localhost",
            "*.ck",
            "anything.ck",
        ] {
            assert!(
                matches!(
                    entry.parse::<AllowedOrigin>(),
                    Err(InvalidOrigin::PublicSuffix(_))
                ),
                "{entry}"
            );
        }
        for entry in [
            "*.example.co.uk",
            "partner.example.com",
            "*.partner.github.io",
            "*.example.internal",
            // The list's exception rule: `*.ck` is public, `www.ck` is not.
            "www.ck",
        ] {
            assert!(entry.parse::<AllowedOrigin>().is_ok(), "{entry}");
        }
        assert_eq!(
            "*.co.uk".parse::<AllowedOrigin>().unwrap_err().to_string(),
            "`*.co.uk` would admit sites anyone can register: name a domain below a public suffix (e.g. `*.example.co.uk`, not `*.co.uk`)"
        );
    }

    #[test]
    fn hosts_that_cannot_be_valid_are_refused_at_the_caps() {
        let labels = |n: usize| vec!["a"; n].join(".");
        assert_eq!(origin(&labels(32)).unwrap().unwrap().len(), 63);
        assert_eq!(origin(&labels(33)), Err(InvalidHost));
        let long = |chars: usize| format!("{}.example.com", "a".repeat(chars - 12));
        // 253 characters in labels of at most 63.
        let at_cap = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        );
        assert_eq!(at_cap.len(), 253);
        assert!(origin(&at_cap).unwrap().is_some());
        assert_eq!(origin(&format!("{at_cap}e")), Err(InvalidHost));
        assert_eq!(origin(&long(76)), Err(InvalidHost), "a 64-character label");
        assert!(origin(&long(75)).unwrap().is_some());
        assert_eq!(origin("a..example.com"), Err(InvalidHost));
        assert_eq!(
            origin("[2001:db8::1]").unwrap().as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(request_host(&http::HeaderMap::new()), Ok(None));
    }
}
