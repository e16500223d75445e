//! Black-box tests of the whole API against DynamoDB Local (`make test` starts it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod account_listing;
mod accounts;
mod admin;
mod audit;
mod bad_input;
mod billing;
mod contract;
mod cors;
mod customer_levels;
mod customers;
mod edge;
mod events;
mod faults;
mod iam;
mod logs;
mod me;
mod month_lists;
mod origins;
mod period_totals;
mod provisioning_events;
mod rate_limit;
mod reports;
mod revocation;
mod rotation;
mod secret_scanning;
mod secrets;
mod server;
mod sessions;
mod sharing;
mod storage_errors;
mod template;
