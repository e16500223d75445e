//! Fixed test credentials, the same ones `scripts/generate-events.py` writes into
//! `events/`. Valid in format only: they exist in a table only when a test seeds them.

pub const ORG_KEY: &str = "hsp_org_8piwpk48oYenoowETdvuF732k8ROiwzyNAb60CKULBG1H7mPM";
pub const OPEN_KEY: &str = "hsp_WwVcoDrRAuPGOxCtyWUA2lULvoFgSUtldSXSCrzQ0Iw3MKiVV";
pub const RESTRICTED_KEY: &str = "hsp_nXznLCec3Huvsa7B0O3az42Igkc2fAy8BtLPSm14LuD3JrSDv";
pub const UNKNOWN_KEY: &str = "hsp_zHqz52f0dYjRNIF670acnKAN3DJNNfe2L45C3NZVchq2Uhygm";
pub const SESSION_TOKEN: &str = "pps_7R3p9pgW9GDVpXXcN0N0DdU21NxjndcX2LUlpGlC1X52H21Pi";
pub const UNKNOWN_SESSION: &str = "pps_0r7BMhWsz1jg9YSkYrutfVZp3KYEp7Ipu4a0mlpcD074arTUw";
/// The address the fixture session is locked to, and the events' default client.
pub const CLIENT_IP: &str = "203.0.113.10";
pub const PEPPER: &str = "test-pepper-not-a-secret-0123456789abcdef";
/// The secret the tests' handover key (key sharing) is derived from.
pub const HANDOVER_SECRET: &str = "test-handover-not-a-secret-0123456789abcdef";
/// The fixture account of the partner-data events and its subscription.
pub const ACCOUNT_ID: &str = "0b7f9a3e-4c1d-4e8a-9f2b-6d5c4b3a2918";
pub const SUBSCRIPTION_ID: &str = "5d3c2b1a-0f9e-4d8c-b7a6-958473625140";
