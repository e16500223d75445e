//! Stored shapes. These are not the public JSON contract (handlers build that); they are
//! what DynamoDB holds. Times are epoch milliseconds; `ttl_epoch_seconds` feeds DynamoDB TTL,
//! which only collects garbage — every read compares `expires_at_ms` itself.

use serde::{Deserialize, Serialize};

use crate::clock::EpochMillis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartnershipType {
    Mssp,
    Reseller,
}

impl PartnershipType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Mssp => "mssp",
            Self::Reseller => "reseller",
        }
    }

    /// The one report scope a key of this partnership type carries.
    pub const fn report_scope(self) -> &'static str {
        match self {
            Self::Mssp => "mssp-report:read",
            Self::Reseller => "reseller-report:read",
        }
    }
}

/// A partnership as the vendor configured it at onboarding. Keys and sessions carry a copy,
/// so SKU checks cost no extra read. (Minimum commitments change over time and are read
/// fresh: [`Commitments`].)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partnership {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: PartnershipType,
    /// Product codes the partner sells (`SNS`, `DA`, `WAS`, `CS`, `PAT`).
    #[serde(default)]
    pub skus: Vec<String>,
}

impl Partnership {
    pub fn sells(&self, product: &str) -> bool {
        self.skus.iter().any(|s| s == product)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationRecord {
    pub org_id: String,
    pub name: String,
    pub partnerships: Vec<Partnership>,
    /// Present while API access is enabled. Not a secret: always visible to the
    /// organization's admins (the API key is the secret half of the pair).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_access_enabled_at_ms: Option<EpochMillis>,
    pub created_at_ms: EpochMillis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Revoked,
}

/// An API key as its admins manage it: the source of truth, in the organization's
/// partition. Revoked keys stay here for audit; only active ones have a lookup item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub key_id: String,
    /// HMAC of the secret: the lookup item's key.
    pub key_hash: String,
    pub name: String,
    pub partnership: Partnership,
    pub scopes: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub allow_any_origin: bool,
    /// Web origins (`https://app.example.com`) whose pages may call the API with this key:
    /// their answers carry CORS headers (`cors`). Validated on write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_origins: Vec<String>,
    pub prefix: String,
    pub status: KeyStatus,
    pub created_at_ms: EpochMillis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<EpochMillis>,
    /// When this key's secret was last replaced (a rotated key starts its life here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rotated_at_ms: Option<EpochMillis>,
    /// Marked by the daily rotation check; advisory, the key keeps working.
    #[serde(default)]
    pub rotation_due: bool,
    /// Last session creation with this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at_ms: Option<EpochMillis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<EpochMillis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_from: Option<String>,
    /// Version of the settings a session is bound by (allowed origins): every edit adds
    /// one, and a session is claimed only under the version its creator read, so an edit
    /// committed meanwhile cannot leave a session bound to the old settings. Records from
    /// before versioning read as 0.
    #[serde(default)]
    pub access_version: u32,
}

/// A key's secret handed to another admin of its organization (`sharing`): kept sealed
/// (`handover`) until the recipient reveals it, once, within its lifetime; deleted then, on
/// unshare and on the key's revocation, and by the TTL after it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRecord {
    pub share_id: String,
    pub key_id: String,
    pub key_name: String,
    pub key_prefix: String,
    /// The recipient: an admin's portal user id (token subject).
    pub recipient: String,
    /// Who shared it (`admin:<subject>`), and his e-mail as a label.
    pub shared_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_by_label: Option<String>,
    /// The secret sealed for this share only (`HandoverKey::seal`).
    pub sealed_secret: String,
    pub created_at_ms: EpochMillis,
    pub expires_at_ms: EpochMillis,
    pub ttl_epoch_seconds: i64,
}

/// What an admin may do in the organization of a membership. One role today; stored so a
/// narrower one can come without migrating memberships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// Every admin route: API access, keys, sessions, audit.
    Admin,
}

/// A signed-in identity (token issuer and subject) that administers one organization.
/// Created and removed by operators (`portalctl add-admin` / `remove-admin`); the only
/// thing that makes someone an admin — no token claim does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminMembership {
    pub issuer: String,
    pub subject: String,
    pub org_id: String,
    pub role: AdminRole,
    /// A label for people reading the trail; never used to decide anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub added_at_ms: EpochMillis,
    pub added_by: String,
}

/// An entry of the audit trail: admin actions and security events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub audit_id: String,
    pub at_ms: EpochMillis,
    /// Who acted: `admin:<token subject>`, `api_key:<id>`, `operator:<name>` or `system`.
    pub actor: String,
    /// The admin's e-mail when the actor is an admin: a label, not an identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_label: Option<String>,
    pub action: String,
    /// What was acted on, e.g. `api_key:<id>` or `session:<id>`.
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    pub detail: serde_json::Value,
    pub ttl_epoch_seconds: i64,
    /// A security event repeated within its minute is counted here (absent: once) rather
    /// than written again; `last_at_ms` is the latest repeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrences: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at_ms: Option<EpochMillis>,
}

/// The lookup copy of an active API key, stored under the HMAC of its secret: everything
/// session creation needs in one GetItem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub org_id: String,
    pub org_name: String,
    /// HMAC of the organization key this API key must be presented with. Only the hash, so
    /// the session path never reads an organization key in clear.
    pub organization_key_hash: String,
    pub partnership: Partnership,
    pub name: String,
    /// First characters of the secret, shown to admins.
    pub prefix: String,
    pub scopes: Vec<String>,
    /// As entered by the admin, validated on write (`origins::AllowedOrigin`).
    pub allowed_origins: Vec<String>,
    /// The key's CORS origins, copied onto each session it opens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_origins: Vec<String>,
    pub status: KeyStatus,
    pub created_at_ms: EpochMillis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<EpochMillis>,
    /// `KeyRecord::access_version` these settings are: the claim requires it unchanged.
    #[serde(default)]
    pub access_version: u32,
}

/// The identity of the key behind a session, as `GET /v1/me` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeySummary {
    pub id: String,
    pub name: String,
    pub prefix: String,
}

/// `locked_to` of a session that is not locked to an address (its creator's address was
/// unknown and its key has no allowed origins).
pub const ANY_ADDRESS: &str = "*";

/// A live (or expired but not yet collected) session, stored under the HMAC of its token.
/// Carries everything `GET /v1/me` shows so the hot path needs no second read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session_id: String,
    pub org_id: String,
    pub org_name: String,
    pub partnership: Partnership,
    pub api_key: ApiKeySummary,
    pub scopes: Vec<String>,
    /// The client address the session is locked to, or [`ANY_ADDRESS`]. One attribute, so
    /// the hot-path condition checks it with a single `locked_to IN (:ip, :any)`.
    pub locked_to: String,
    /// Present when the session was admitted through a domain entry of its key's allowed
    /// origins: every request's Origin/Referer host must match one of these entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_hosts: Option<Vec<String>>,
    /// The key's CORS origins: a request whose `Origin` is one of them gets its answer with
    /// CORS headers. Follows edits of the key like `origin_hosts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_origins: Vec<String>,
    pub slot: u8,
    pub created_at_ms: EpochMillis,
    pub expires_at_ms: EpochMillis,
    /// GCRA with capacity 1: the earliest time the next request is allowed.
    pub next_allowed_ms: EpochMillis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at_ms: Option<EpochMillis>,
    pub ttl_epoch_seconds: i64,
}

impl SessionRecord {
    pub fn ip_locked(&self) -> bool {
        self.locked_to != ANY_ADDRESS
    }

    /// The address the session is locked to, if it is.
    pub fn client_ip(&self) -> Option<&str> {
        self.ip_locked().then_some(self.locked_to.as_str())
    }

    /// Would a request from `client_ip` pass the address lock?
    pub fn admits_address(&self, client_ip: Option<&str>) -> bool {
        !self.ip_locked() || client_ip == Some(self.locked_to.as_str())
    }
}

/// One of an organization's five session slots; free when absent or expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRecord {
    /// Hex HMAC of the session token holding the slot.
    pub session_hash: String,
    pub session_id: String,
    /// The key the session was created with (revocation ends exactly these).
    pub api_key_id: String,
    /// The session's `locked_to`, so origin edits can re-check it without reading it.
    pub locked_to: String,
    pub expires_at_ms: EpochMillis,
    pub ttl_epoch_seconds: i64,
}

/// TTL value for an item that stops mattering at `expires_at_ms`.
pub fn ttl_for(expires_at_ms: EpochMillis) -> i64 {
    expires_at_ms.div_euclid(1000) + 1
}

/// Lifecycle of an end-customer account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountState {
    Trial,
    Paying,
    Internal,
    Demo,
    Archived,
}

impl AccountState {
    pub const ALL: [Self; 5] = [
        Self::Trial,
        Self::Paying,
        Self::Internal,
        Self::Demo,
        Self::Archived,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Trial => "trial",
            Self::Paying => "paying",
            Self::Internal => "internal",
            Self::Demo => "demo",
            Self::Archived => "archived",
        }
    }
}

/// A state an account took and the Stockholm day it took effect (billing decides each day
/// from these, never from the state at the moment a record arrives).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    pub state: AccountState,
    pub since: chrono::NaiveDate,
}

/// An amount in a currency's minor unit (cents, öre).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    pub subscription_id: String,
    pub sku: String,
    pub quantity: u64,
    pub start_date: chrono::NaiveDate,
    pub end_date: chrono::NaiveDate,
    pub evaluation: bool,
    pub order_number: Option<String>,
    pub acv: Option<Money>,
    pub created_at_ms: EpochMillis,
    pub updated_at_ms: EpochMillis,
}

impl SubscriptionRecord {
    /// Is it in force on some day of `month`?
    pub fn overlaps(&self, month: crate::calendar::Period) -> bool {
        self.start_date <= month.end() && self.end_date >= month.start()
    }

    pub fn active_on(&self, day: chrono::NaiveDate) -> bool {
        (self.start_date..=self.end_date).contains(&day)
    }
}

/// An end customer of a partnership, with its subscriptions (at most
/// [`AccountRecord::MAX_SUBSCRIPTIONS`], so one item and one conditional write keep them
/// consistent). Provisioning writes the fields in [`AccountRecord::PROVISIONED`] under a
/// `revision` check; usage ingestion writes only the derived fields under its own check
/// (`derived_seq`), so neither overwrites the other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub account_id: String,
    pub org_id: String,
    pub partnership_id: String,
    pub created_at_ms: EpochMillis,
    pub name: String,
    pub state: AccountState,
    pub trial_ends_at: Option<chrono::NaiveDate>,
    pub country: String,
    pub updated_at_ms: EpochMillis,
    pub revision: u64,
    /// Every state the account has had, oldest first, each from its Stockholm day (written
    /// in the same conditional write as the state change).
    #[serde(default)]
    pub state_history: Vec<StateChange>,
    #[serde(default)]
    pub subscriptions: std::collections::BTreeMap<String, SubscriptionRecord>,
    /// The revision of the derived fields (`engagement`, `usage_months`): every write of
    /// them adds 1 and is conditioned on the one it read.
    #[serde(default)]
    pub derived_seq: u64,
    #[serde(default)]
    pub engagement: Option<Engagement>,
    /// Its churn-risk level and task severity, as last computed (the customers index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<super::customer_levels::CustomerLevels>,
    /// Reseller partnerships: the months (`YYYY-MM`) in which ingestion saw the account use
    /// some product (its usage list holds it even without a subscription there).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub usage_months: std::collections::BTreeSet<String>,
    /// Reseller partnerships: the month lists it is in, for the current and the previous
    /// month (the month listings, kept by every write of the account).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub month_lists: std::collections::BTreeMap<String, super::MonthMembership>,
}

impl AccountRecord {
    pub const MAX_SUBSCRIPTIONS: usize = 50;

    /// Attributes only provisioning writes.
    pub const PROVISIONED: &[&str] = &[
        "name",
        "state",
        "trial_ends_at",
        "country",
        "updated_at_ms",
        "revision",
        "state_history",
        "subscriptions",
    ];

    /// The state the account was in on `day`; none before its first state took effect.
    /// (An account stored before histories were kept has been in its state all along.)
    pub fn state_on(&self, day: chrono::NaiveDate) -> Option<AccountState> {
        if self.state_history.is_empty() {
            return Some(self.state);
        }
        self.state_history
            .iter()
            .rev()
            .find(|change| change.since <= day)
            .map(|change| change.state)
    }

    /// Was the account `paying` on `day` (the only days whose usage is billed)?
    pub fn paying_on(&self, day: chrono::NaiveDate) -> bool {
        self.state_on(day) == Some(AccountState::Paying)
    }
}

/// Where an account lives, for usage records that name only the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRef {
    pub account_id: String,
    pub org_id: String,
    pub partnership_id: String,
}

/// Which account holds a subscription (subscriptions live inside their account's item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRef {
    pub subscription_id: String,
    pub account_id: String,
}

/// One day of an account's activity on the security platform. Stored packed as one string
/// of ten numbers (`"3,2,0,1,0,0,1,45,12,0"`, in field order): an account keeps a month of
/// these, and a partnership's accounts are read by one Query, so every byte counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct DayActivity {
    pub logins: u64,
    pub scans: ScanCounts,
    pub failed_scans: u64,
    pub pat_assessments: u64,
    pub reports_created: u64,
    pub risk_score: u32,
    pub threat_score: u32,
    pub inactive_appliances: u64,
}

impl From<DayActivity> for String {
    fn from(day: DayActivity) -> Self {
        [
            day.logins,
            day.scans.sns,
            day.scans.was,
            day.scans.cs,
            day.failed_scans,
            day.pat_assessments,
            day.reports_created,
            u64::from(day.risk_score),
            u64::from(day.threat_score),
            day.inactive_appliances,
        ]
        .map(|n| n.to_string())
        .join(",")
    }
}

impl TryFrom<String> for DayActivity {
    type Error = String;

    fn try_from(packed: String) -> Result<Self, Self::Error> {
        let numbers: Vec<u64> = packed
            .split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("packed day activity `{packed}`: {e}"))?;
        let [
            logins,
            sns,
            was,
            cs,
            failed_scans,
            pat_assessments,
            reports_created,
            risk,
            threat,
            inactive_appliances,
        ] = numbers[..]
        else {
            return Err(format!("packed day activity `{packed}` needs 10 numbers"));
        };
        let score = |n: u64| u32::try_from(n).map_err(|e| e.to_string());
        Ok(Self {
            logins,
            scans: ScanCounts { sns, was, cs },
            failed_scans,
            pat_assessments,
            reports_created,
            risk_score: score(risk)?,
            threat_score: score(threat)?,
            inactive_appliances,
        })
    }
}

/// Scans of the scanning products.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanCounts {
    #[serde(rename = "SNS")]
    pub sns: u64,
    #[serde(rename = "WAS")]
    pub was: u64,
    #[serde(rename = "CS")]
    pub cs: u64,
}

/// A raw daily usage record as the platform sent it; a re-sent one replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub account_id: String,
    pub product: String,
    pub date: chrono::NaiveDate,
    pub units: u64,
    /// When the platform measured it: a stored record is replaced only by a newer one.
    pub observed_at_ms: EpochMillis,
    pub received_at_ms: EpochMillis,
    pub ttl_epoch_seconds: i64,
}

/// A raw daily activity record as the platform sent it; a re-sent one replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRecord {
    pub account_id: String,
    pub date: chrono::NaiveDate,
    pub activity: DayActivity,
    /// When the platform measured it: a stored record is replaced only by a newer one.
    pub observed_at_ms: EpochMillis,
    pub received_at_ms: EpochMillis,
    pub ttl_epoch_seconds: i64,
}

/// What the customers view needs, derived from an account's raw records at ingestion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engagement {
    /// Activity of the last days (only days with records), enough for a 30-day window.
    pub days: std::collections::BTreeMap<chrono::NaiveDate, DayActivity>,
    /// Per product, the last day it was used (scans, assessments; DA: reporting computers).
    pub last_active: std::collections::BTreeMap<String, chrono::NaiveDate>,
    /// The calendar month (`YYYY-MM`) of `month_units`.
    pub month: String,
    /// Per product, the units of each day of `month` (index 0 is the 1st), so licence use is
    /// compared with the licences in force on the same day.
    #[serde(default, with = "packed_days")]
    pub month_units: std::collections::BTreeMap<String, Vec<u64>>,
}

/// Daily series stored packed, one string per product (`"3,,12"`: the numbers in day order,
/// an empty field for 0): a partnership's report rows are read by one Query, and a DynamoDB
/// list spends several bytes on every number.
mod packed_days {
    use std::collections::BTreeMap;

    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        series: &BTreeMap<String, Vec<u64>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let packed: BTreeMap<&str, String> = series
            .iter()
            .map(|(product, days)| {
                let fields: Vec<String> = days
                    .iter()
                    .map(|n| {
                        if *n == 0 {
                            String::new()
                        } else {
                            n.to_string()
                        }
                    })
                    .collect();
                (product.as_str(), fields.join(","))
            })
            .collect();
        packed.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, Vec<u64>>, D::Error> {
        let packed = BTreeMap::<String, String>::deserialize(deserializer)?;
        packed
            .into_iter()
            .map(|(product, text)| {
                let days = text
                    .split(',')
                    .map(|field| {
                        if field.is_empty() {
                            Ok(0)
                        } else {
                            field.parse().map_err(D::Error::custom)
                        }
                    })
                    .collect::<Result<Vec<u64>, _>>()?;
                Ok((product, days))
            })
            .collect()
    }
}

/// One account's billable daily units per product over one MSSP period: index 0 is the
/// period's first day, and a day the account was not `paying` counts 0. Recomputed from the
/// raw records and the state history while the period is not closed; frozen after.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsspCompanyUsage {
    pub account_id: String,
    /// The account's name when the item was last computed (kept after the account is deleted).
    pub name: String,
    #[serde(with = "packed_days")]
    pub daily_units: std::collections::BTreeMap<String, Vec<u64>>,
    /// The row's revision: every write adds 1 and is conditioned on the one it read.
    pub seq: u64,
    pub ttl_epoch_seconds: i64,
}

impl MsspCompanyUsage {
    /// Its units of `product` on day `day` of the period (0: the first day).
    pub fn units_on(&self, product: &str, day: usize) -> u64 {
        self.daily_units
            .get(product)
            .and_then(|series| series.get(day))
            .copied()
            .unwrap_or(0)
    }
}

/// A product's highest daily units and the first day it was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peak {
    pub units: u64,
    pub date: chrono::NaiveDate,
}

/// One account's daily units per product in one calendar month (reseller reports): index 0
/// is the 1st, so use is compared with the licences in force on the same day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResellerCompanyUsage {
    pub account_id: String,
    #[serde(with = "packed_days")]
    pub daily_units: std::collections::BTreeMap<String, Vec<u64>>,
    /// The row's revision (as [`MsspCompanyUsage::seq`]).
    pub seq: u64,
    pub ttl_epoch_seconds: i64,
}

/// The ledger page of one report period: what arrived after it closed. Stored beside the
/// period's company rows (its sort key sorts first), so the report reads both in one Query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodLedger {
    /// Platform records for its days, and state changes back-dated into it, that arrived
    /// after it closed: stored, but not applied to its figures.
    #[serde(default)]
    pub late_records: u64,
    /// MSSP periods: row writes counted into the daily totals kept on this item
    /// (`storage::period_totals`), so a rebuild knows whether one came in between.
    #[serde(default)]
    pub totals_revision: u64,
    /// MSSP periods: the totals were built from the rows, and every row write since added to
    /// them (before, they are rebuilt on first read).
    #[serde(default)]
    pub totals_complete: bool,
    /// MSSP periods: the company-day items (the companies with units on each day of each
    /// product, behind the peak-date lists) were built with the totals; a period whose
    /// totals were built before they were kept is built again on first read.
    #[serde(default)]
    pub company_days_complete: bool,
}

/// An account's subscriptions of one calendar month as they stood when the month closed,
/// taken by the first change that reaches the closed month (or the account's deletion): the
/// reseller report of a closed month reads these, so a late change never moves its figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResellerSnapshot {
    pub account_id: String,
    pub name: String,
    pub state: AccountState,
    pub subscriptions: Vec<SubscriptionRecord>,
}

impl ResellerSnapshot {
    /// An account as it stands now (every subscription).
    pub fn live(account: AccountRecord) -> Self {
        Self {
            account_id: account.account_id,
            name: account.name,
            state: account.state,
            subscriptions: account.subscriptions.into_values().collect(),
        }
    }

    /// Its subscriptions overlapping `month`, by start date.
    pub fn overlapping(&self, month: crate::calendar::Period) -> Vec<&SubscriptionRecord> {
        let mut subs: Vec<&SubscriptionRecord> = self
            .subscriptions
            .iter()
            .filter(|s| s.overlaps(month))
            .collect();
        subs.sort_by(|a, b| {
            (a.start_date, &a.subscription_id).cmp(&(b.start_date, &b.subscription_id))
        });
        subs
    }
}

/// A minimum commitment in force from `start_date` (to `end_date`, when it has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    pub units: u64,
    pub start_date: chrono::NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<chrono::NaiveDate>,
}

impl Commitment {
    pub fn in_force_on(&self, day: chrono::NaiveDate) -> bool {
        self.start_date <= day && self.end_date.is_none_or(|end| day <= end)
    }
}

/// A partnership's minimum commitments per product code, each a history of terms, changed
/// only by the operator (`portalctl set-commitment`) and read fresh by every MSSP report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitments {
    pub partnership_id: String,
    /// Bumped by every change (changes are conditioned on the revision read).
    #[serde(default)]
    pub revision: u64,
    #[serde(default)]
    pub products: std::collections::BTreeMap<String, Vec<Commitment>>,
}

impl Commitments {
    /// A partnership's commitments when none was ever set.
    pub fn none(partnership_id: &str) -> Self {
        Self {
            partnership_id: partnership_id.to_owned(),
            ..Self::default()
        }
    }

    /// The commitment of `product` for a period starting on `start`: the one in force on
    /// that first day (a period that starts before a commitment's start has none).
    pub fn for_period(&self, product: &str, start: chrono::NaiveDate) -> Option<u64> {
        self.products
            .get(product)?
            .iter()
            .find(|c| c.in_force_on(start))
            .map(|c| c.units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_series_pack_into_one_string_per_product_and_back() {
        let usage = MsspCompanyUsage {
            account_id: "a".into(),
            name: "Acme".into(),
            daily_units: [
                ("SNS".to_owned(), vec![3, 0, 12, 0]),
                ("DA".to_owned(), vec![0, 0]),
            ]
            .into(),
            seq: 1,
            ttl_epoch_seconds: 0,
        };
        let item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
            serde_dynamo::to_item(&usage).unwrap();
        let packed = item["daily_units"].as_m().unwrap();
        assert_eq!(packed["SNS"].as_s().unwrap(), "3,,12,");
        assert_eq!(packed["DA"].as_s().unwrap(), ",");
        let back: MsspCompanyUsage = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back, usage);
    }

    #[test]
    fn day_activity_packs_into_one_string_and_back() {
        let day = DayActivity {
            logins: 3,
            scans: ScanCounts {
                sns: 2,
                was: 0,
                cs: 1,
            },
            failed_scans: 0,
            pat_assessments: 0,
            reports_created: 1,
            risk_score: 45,
            threat_score: 12,
            inactive_appliances: 7,
        };
        let packed = String::from(day);
        assert_eq!(packed, "3,2,0,1,0,0,1,45,12,7");
        assert_eq!(DayActivity::try_from(packed), Ok(day));
        assert!(DayActivity::try_from("1,2".to_owned()).is_err());
        assert!(DayActivity::try_from("1,2,3,4,5,6,7,8,x,9".to_owned()).is_err());
    }
}
