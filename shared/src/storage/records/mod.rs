//! Stored shapes. These are not the public JSON contract (handlers build that); they are
//! what DynamoDB holds. Times are epoch milliseconds; `ttl_epoch_seconds` feeds DynamoDB TTL,
//! which only collects garbage — every read compares `expires_at_ms` itself.

use crate::platform::clock::EpochMillis;

mod access;
mod partners;
mod usage;

pub use access::*;
pub use partners::*;
pub use usage::*;

/// TTL value for an item that stops mattering at `expires_at_ms`.
pub fn ttl_for(expires_at_ms: EpochMillis) -> i64 {
    expires_at_ms.div_euclid(1000) + 1
}
