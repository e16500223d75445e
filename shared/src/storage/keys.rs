//! Every key string of the single table, built here and nowhere else.
//!
//! | item            | pk                  | sk                 |
//! |-----------------|---------------------|--------------------|
//! | organization    | `ORG#<org id>`      | `ORG`              |
//! | session slot    | `ORG#<org id>`      | `SLOT#<0..4>`      |
//! | key (admin)     | `ORG#<org id>`      | `KEY#<key id>`     |
//! | audit entry     | `ORG#<org id>`      | `AUDIT#<ms>#<id>`  |
//! | API key         | `APIKEY#<hmac>`     | `APIKEY`           |
//! | session         | `SESSION#<hmac>`    | `SESSION`          |

use crate::credentials::CredentialHash;

#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Slot number from a slot item's sort key.
pub fn slot_number(sk: &str) -> Option<u8> {
    sk.strip_prefix(SLOT_PREFIX)?.parse().ok()
}
