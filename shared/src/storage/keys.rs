//! Every key string of the single table, built here and nowhere else.
//!
//! | item            | pk                  | sk                 |
//! |-----------------|---------------------|--------------------|
//! | organization    | `ORG#<org id>`      | `ORG`              |
//! | session slot    | `ORG#<org id>`      | `SLOT#<0..4>`      |
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

/// Slot number from a slot item's sort key.
pub fn slot_number(sk: &str) -> Option<u8> {
    sk.strip_prefix(SLOT_PREFIX)?.parse().ok()
}
