//! Every key string of the single table, built here and nowhere else.
//!
//! | item            | pk                  | sk                 |
//! |-----------------|---------------------|--------------------|
//! | organization    | `ORG#<org id>`      | `ORG`              |
//! | session slot    | `ORG#<org id>`      | `SLOT#<0..4>`      |
//! | key (admin)     | `ORG#<org id>`      | `KEY#<key id>`     |
//! | audit entry     | `ORG#<org id>`      | `AUDIT#<ms>#<id>`  |
//! | security event of a minute | `ORG#<org id>` | `EVENT#<kind>#<subject>#<minute ms>` |
//! | API key         | `APIKEY#<hmac>`     | `APIKEY`           |
//! | session         | `SESSION#<hmac>`    | `SESSION`          |
//! | account         | `PARTNER#<p id>`    | `ACCOUNT#<id>`     |
//! | account by name | `PARTNER#<p id>`    | `ACCOUNTS#BYNAME#<position>` |
//! | account by state | `PARTNER#<p id>`   | `ACCOUNTS#BYSTATE#<state>#<position>` |
//! | account counts  | `PARTNER#<p id>`    | `ACCOUNTS#COUNTS`  |
//! | subscription →  | `PARTNER#<p id>`    | `SUBREF#<id>`      |
//! | account →       | `ACCOUNTREF#<id>`   | `ACCOUNTREF`       |
//! | raw records of a day | `PARTNER#<p id>` | `RAW#<acct>#<date>` |
//! | MSSP usage      | `PARTNER#<p id>`    | `MSSP#<period>#<acct>` |
//! | reseller usage  | `PARTNER#<p id>`    | `RESELLER#<month>#<acct>` |
//! | period's company by name | `PARTNER#<p id>` | `COMPANIES#MSSP#<period>#<position>` |
//! | company on a day of a product | `PARTNER#<p id>` | `PEAKDAYS#MSSP#<period>#<product>#<day>#<units position>` |
//! | period ledger   | `PARTNER#<p id>`    | `MSSP#<period>#!LEDGER`, `RESELLER#<month>#!LEDGER` |
//! | closed month's subscriptions | `PARTNER#<p id>` | `RESELLER#<month>#SNAP#<acct>` |
//! | month list of accounts | `PARTNER#<p id>` | `MONTHLIST#<month>#<SUBSCRIBED\|USAGE>#<position>` |
//! | month list counts | `PARTNER#<p id>`  | `MONTHLIST#<month>#COUNTS` |
//! | closed month's frozen list | `PARTNER#<p id>` | `MONTHLIST#<month>#FROZEN#<SUBSCRIBED\|USAGE>#<position>` |
//! | frozen lists' counts | `PARTNER#<p id>` | `MONTHLIST#<month>#FROZEN` |
//! | commitments     | `PARTNER#<p id>`    | `COMMITMENTS`      |
//! | admin membership | `ADMIN#<issuer>#<subject>` | `ADMIN`      |
//! | admin (listing) | `ORG#<org id>`      | `ADMIN#<issuer>#<subject>` |
//! | session creations of a minute | `CREATES#KEY#<key id>`, `CREATES#ADDR#<ip>` | `<minute start ms>` |
//!
//! Everything a partnership's reports read lives in its `PARTNER#` partition, so every
//! report is one Query there; subscriptions live inside their account's item.
//!
//! Index `gsi1` holds two sparse listings: organizations (`ORGS` / `<name>#<id>`) for the
//! operator CLI, and active keys by the start of their rotation clock (`ACTIVE_KEYS` /
//! `<ms>#<org id>#<key id>`) for the daily rotation check, so neither needs a Scan.

use crate::access::credentials::CredentialHash;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

pub fn organization(org_id: &str) -> Key {
    Key {
        pk: org_partition(org_id),
        sk: "ORG".into(),
    }
}

pub fn org_partition(org_id: &str) -> String {
    format!("ORG#{org_id}")
}

pub const SLOT_PREFIX: &str = "SLOT#";

pub fn slot(org_id: &str, slot: u8) -> Key {
    Key {
        pk: org_partition(org_id),
        sk: format!("{SLOT_PREFIX}{slot}"),
    }
}

pub fn api_key(hash: &CredentialHash) -> Key {
    Key {
        pk: format!("APIKEY#{}", hash.as_str()),
        sk: "APIKEY".into(),
    }
}

pub fn session(hash: &CredentialHash) -> Key {
    Key {
        pk: format!("SESSION#{}", hash.as_str()),
        sk: "SESSION".into(),
    }
}

/// How many active keys list a CORS origin (one partition per origin: preflights from
/// every partner's pages read their own).
pub fn cors_origin(origin: &str) -> Key {
    Key {
        pk: format!("CORS#{origin}"),
        sk: "ACTIVE_KEYS".into(),
    }
}

pub const SHARE_PREFIX: &str = "SHARE#";

/// A key's secret handed to another admin, until revealed.
pub fn share(org_id: &str, share_id: &str) -> Key {
    Key {
        pk: org_partition(org_id),
        sk: format!("{SHARE_PREFIX}{share_id}"),
    }
}

pub const KEY_PREFIX: &str = "KEY#";

pub fn key_record(org_id: &str, key_id: &str) -> Key {
    Key {
        pk: org_partition(org_id),
        sk: format!("{KEY_PREFIX}{key_id}"),
    }
}

pub const AUDIT_PREFIX: &str = "AUDIT#";

/// Sorts by time (13-digit milliseconds until the year 2286), then by id.
pub fn audit(org_id: &str, at_ms: i64, audit_id: &str) -> Key {
    Key {
        pk: org_partition(org_id),
        sk: format!("{AUDIT_PREFIX}{at_ms:013}#{audit_id}"),
    }
}

/// Marks that a security event of `dedupe` (kind and subject) was recorded in the minute
/// starting at `minute_ms`; names the entry that counts the repeats.
pub fn event_marker(org_id: &str, dedupe: &str, minute_ms: i64) -> Key {
    Key {
        pk: org_partition(org_id),
        sk: format!("EVENT#{dedupe}#{minute_ms:013}"),
    }
}

pub fn partner_partition(partnership_id: &str) -> String {
    format!("PARTNER#{partnership_id}")
}

pub const ACCOUNT_PREFIX: &str = "ACCOUNT#";

pub fn account(partnership_id: &str, account_id: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: format!("{ACCOUNT_PREFIX}{account_id}"),
    }
}

/// Sort-key prefix of a partnership's accounts in name order (`state`: of that state only);
/// a listing item's key is the prefix and the account's listing position.
pub fn account_listing_prefix(state: Option<&str>) -> String {
    match state {
        None => format!("{ACCOUNT_LISTING_PREFIX}NAME#"),
        Some(state) => format!("{ACCOUNT_LISTING_PREFIX}STATE#{state}#"),
    }
}

/// The prefix of every listing item (both orders).
pub const ACCOUNT_LISTING_PREFIX: &str = "ACCOUNTS#BY";

pub fn account_listing(partnership_id: &str, state: Option<&str>, position: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: format!("{}{position}", account_listing_prefix(state)),
    }
}

/// The numbers of a partnership's accounts, in all and per state.
pub fn account_counts(partnership_id: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: "ACCOUNTS#COUNTS".into(),
    }
}

pub fn subscription_ref(partnership_id: &str, subscription_id: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: format!("SUBREF#{subscription_id}"),
    }
}

/// The item holding an account's raw records of one day (usage per product, activity).
pub fn raw_day(partnership_id: &str, account_id: &str, date: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: format!("RAW#{account_id}#{date}"),
    }
}

/// Sort-key bounds of an account's raw records from `from` to `to` (dates, inclusive).
pub fn raw_range(account_id: &str, from: &str, to: &str) -> (String, String) {
    (
        format!("RAW#{account_id}#{from}"),
        format!("RAW#{account_id}#{to}#~"),
    )
}

/// An MSSP or reseller report item (`kind` is `MSSP` or `RESELLER`).
pub fn report_usage(partnership_id: &str, kind: &str, period_id: &str, account_id: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: format!("{kind}#{period_id}#{account_id}"),
    }
}

pub fn report_usage_prefix(kind: &str, period_id: &str) -> String {
    format!("{kind}#{period_id}#")
}

/// The prefix of an MSSP period's listing of eligible companies in name order.
pub fn mssp_company_listing_prefix(period_id: &str) -> String {
    format!("COMPANIES#MSSP#{period_id}#")
}

pub fn mssp_company_listing(partnership_id: &str, period_id: &str, position: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: format!("{}{position}", mssp_company_listing_prefix(period_id)),
    }
}

/// The prefix of every company-day item of an MSSP period (all products and days).
pub fn mssp_company_days_prefix(period_id: &str) -> String {
    format!("PEAKDAYS#MSSP#{period_id}#")
}

/// The prefix of the companies with units of `product` on day `day` (0: the period's first
/// day) of an MSSP period, the largest units first.
pub fn mssp_company_day_prefix(period_id: &str, product: &str, day: usize) -> String {
    format!("{}{product}#{day:02}#", mssp_company_days_prefix(period_id))
}

pub fn mssp_company_day(
    partnership_id: &str,
    period_id: &str,
    product: &str,
    day: usize,
    position: &str,
) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: format!(
            "{}{position}",
            mssp_company_day_prefix(period_id, product, day)
        ),
    }
}

/// Suffix of a period's ledger item: `!` sorts before any account id, so the ledger comes
/// first in the Query of the period's rows.
pub const LEDGER_SUFFIX: &str = "!LEDGER";

/// The ledger item of one MSSP period or reseller month.
pub fn report_ledger(partnership_id: &str, kind: &str, period_id: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: format!("{kind}#{period_id}#{LEDGER_SUFFIX}"),
    }
}

/// Marks a closed month's snapshot of an account's subscriptions (in the month's key range).
pub const SNAPSHOT_MARK: &str = "#SNAP#";

pub fn reseller_snapshot(partnership_id: &str, month_id: &str, account_id: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: format!("RESELLER#{month_id}{SNAPSHOT_MARK}{account_id}"),
    }
}

pub fn commitments(partnership_id: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: "COMMITMENTS".into(),
    }
}

pub const ADMIN_PREFIX: &str = "ADMIN#";

/// An admin membership, by the identity every admin request presents.
pub fn admin_membership(issuer: &str, subject: &str) -> Key {
    Key {
        pk: format!("{ADMIN_PREFIX}{issuer}#{subject}"),
        sk: "ADMIN".into(),
    }
}

/// The copy of a membership in its organization's partition, for listing its admins.
pub fn organization_admin(org_id: &str, issuer: &str, subject: &str) -> Key {
    Key {
        pk: org_partition(org_id),
        sk: format!("{ADMIN_PREFIX}{issuer}#{subject}"),
    }
}

/// The counter of session creations of one API key (`KEY`) or client address (`ADDR`) in
/// the minute starting at `window_start_ms`.
pub fn creation_counter(scope: &str, subject: &str, window_start_ms: i64) -> Key {
    Key {
        pk: format!("CREATES#{scope}#{subject}"),
        sk: format!("{window_start_ms:013}"),
    }
}

/// Marks one provisioning event delivered to the bus.
pub fn event_delivery(event_id: &str) -> Key {
    Key {
        pk: format!("EVENT#{event_id}"),
        sk: "DELIVERED".into(),
    }
}

pub fn account_ref(account_id: &str) -> Key {
    Key {
        pk: format!("ACCOUNTREF#{account_id}"),
        sk: "ACCOUNTREF".into(),
    }
}

/// Slot number from a slot item's sort key.
pub fn slot_number(sk: &str) -> Option<u8> {
    sk.strip_prefix(SLOT_PREFIX)?.parse().ok()
}

/// A `gsi1` entry: partition and sort value.
pub type IndexEntry = (String, String);

pub const ORGANIZATIONS_INDEX: &str = "ORGS";
pub const ACTIVE_KEYS_INDEX: &str = "ACTIVE_KEYS";

pub fn organization_index(name: &str, org_id: &str) -> IndexEntry {
    (
        ORGANIZATIONS_INDEX.into(),
        format!("{}#{org_id}", name.to_lowercase()),
    )
}

/// Active keys only; `rotation_clock_ms` is when the key was created or last rotated.
pub fn active_key_index(rotation_clock_ms: i64, org_id: &str, key_id: &str) -> IndexEntry {
    (
        ACTIVE_KEYS_INDEX.into(),
        format!("{rotation_clock_ms:013}#{org_id}#{key_id}"),
    )
}

/// Organization id and key id back from an active-key index sort value.
pub fn parse_active_key_index(sort: &str) -> Option<(String, String)> {
    let mut parts = sort.splitn(3, '#');
    let (_, org_id, key_id) = (parts.next()?, parts.next()?, parts.next()?);
    Some((org_id.to_owned(), key_id.to_owned()))
}

/// Sort-key prefix of the customers index (churn-risk level, task severity, or both) whose
/// items follow `CUSTOMERS#`; the status and counts item sorts apart from them.
pub const CUSTOMER_INDEX_PREFIX: &str = "CUSTOMERS#BY#";

pub fn customer_index(partnership_id: &str, levels_prefix: &str, position: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: format!("{CUSTOMER_INDEX_PREFIX}{levels_prefix}{position}"),
    }
}

/// The customers index's counts and the days its daily recompute opened and completed.
pub fn customer_index_status(partnership_id: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: "CUSTOMERS#STATUS".into(),
    }
}

/// The prefix of a reseller month's list of accounts in name order (`list`: `SUBSCRIBED`
/// or `USAGE`, or a closed month's `FROZEN#SUBSCRIBED` or `FROZEN#USAGE`).
pub fn month_list_prefix(month_id: &str, list: &str) -> String {
    format!("MONTHLIST#{month_id}#{list}#")
}

pub fn month_list(partnership_id: &str, month_id: &str, list: &str, position: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: format!("{}{position}", month_list_prefix(month_id, list)),
    }
}

/// How many accounts a reseller month's lists hold.
pub fn month_list_counts(partnership_id: &str, month_id: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: format!("MONTHLIST#{month_id}#COUNTS"),
    }
}

/// A closed month's frozen lists: their counts, once complete.
pub fn month_lists_frozen(partnership_id: &str, month_id: &str) -> Key {
    Key {
        pk: partner_partition(partnership_id),
        sk: format!("MONTHLIST#{month_id}#FROZEN"),
    }
}
