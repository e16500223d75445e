//! Property tests of the parsers that see untrusted input before any database call: the
//! credential formats (organization key, API key, session token), the `Authorization`
//! header, the calendar date and period parsers, and the allowed-origin matcher.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use proptest::prelude::*;
use shared::access::credentials::{Credential, CredentialKind};
use shared::access::origins::{self, AllowedOrigin, OriginMatch};
use shared::partner_data::calendar::{self, Period, PeriodKind};

const KINDS: [CredentialKind; 3] = [
    CredentialKind::OrganizationKey,
    CredentialKind::ApiKey,
    CredentialKind::SessionToken,
];

fn kind() -> impl Strategy<Value = CredentialKind> {
    (0..KINDS.len()).prop_map(|i| KINDS[i])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics_a_parser(text in "\\PC{0,80}", kind in kind()) {
        let _ = Credential::parse(kind, &text);
        let _ = calendar::parse_date(&text, "date");
        let _ = Period::parse(PeriodKind::Mssp, &text);
        let _ = AllowedOrigin::from_str(&text);
        let _ = origins::host_patterns(&text);
        let mut headers = http::HeaderMap::new();
        if let Ok(value) = http::HeaderValue::from_str(&format!("Session {text}")) {
            headers.insert(http::header::AUTHORIZATION, value);
            let _ = shared::platform::request::session_token(&headers);
        }
    }

    #[test]
    fn generated_credentials_parse_back_and_any_changed_character_is_refused(
        kind in kind(),
        position in any::<prop::sample::Index>(),
        replacement in "[0-9A-Za-z]",
    ) {
        let credential = Credential::generate(kind).unwrap();
        let text = credential.expose().to_owned();
        let parsed = Credential::parse(kind, &text).unwrap();
        prop_assert_eq!(parsed.expose(), text.as_str());
        let index = position.index(text.len());
        let mut changed = text.clone();
        changed.replace_range(index..=index, &replacement);
        prop_assume!(changed != text);
        // A changed character breaks the prefix, the charset or the CRC32 checksum.
        prop_assert!(Credential::parse(kind, &changed).is_err(), "{changed}");
        // Another kind's prefix is never accepted.
        for other in KINDS.into_iter().filter(|k| *k != kind) {
            prop_assert!(Credential::parse(other, &text).is_err());
        }
    }

    #[test]
    fn a_subdomain_entry_matches_exactly_the_hosts_below_it(
        labels in prop::collection::vec("[a-z0-9]{1,10}", 1..4),
        suffix in "[a-z]{2,10}\\.(com|se|example)",
    ) {
        // A generated suffix that is itself public (`org.se`) is refused, rightly.
        let parsed = AllowedOrigin::from_str(&format!("*.{suffix}"));
        prop_assume!(!matches!(parsed, Err(origins::InvalidOrigin::PublicSuffix(_))));
        let entry = parsed.unwrap();
        let client = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
        let host = format!("{}.{suffix}", labels.join("."));
        prop_assert_eq!(
            origins::match_origin(std::slice::from_ref(&entry), client, Some(&host.to_uppercase())),
            Some(OriginMatch::Host)
        );
        // Not the suffix itself, and not a host that only ends with the same letters.
        prop_assert_eq!(origins::match_origin(std::slice::from_ref(&entry), client, Some(&suffix)), None);
        let lookalike = format!("{}{suffix}", labels[0]);
        prop_assert_eq!(origins::match_origin(&[entry], client, Some(&lookalike)), None);
    }

    #[test]
    fn a_range_entry_matches_exactly_its_addresses(
        address in any::<u32>(),
        client in any::<u32>(),
        prefix in 0u8..=32,
    ) {
        let network = ipnet::Ipv4Net::new(Ipv4Addr::from(address), prefix).unwrap().trunc();
        let entry = AllowedOrigin::from_str(&network.to_string()).unwrap();
        let client = Ipv4Addr::from(client);
        let expected = network.contains(&client).then_some(OriginMatch::ClientAddress);
        prop_assert_eq!(origins::match_origin(&[entry], IpAddr::V4(client), Some("example.com")), expected);
    }

    #[test]
    fn every_day_is_in_exactly_one_period_of_each_kind(days in 0u64..20_000) {
        let day = calendar::add_days(calendar::parse_date("2000-01-01", "d").unwrap(), days);
        for kind in [PeriodKind::Mssp, PeriodKind::Reseller] {
            let period = Period::containing(kind, day);
            prop_assert!(period.contains(day));
            prop_assert!(!period.previous().contains(day) && !period.next().contains(day));
            prop_assert_eq!(calendar::add_days(period.previous().end(), 1), period.start());
            prop_assert_eq!(Period::parse(kind, &period.id()), Some(period));
        }
    }
}
