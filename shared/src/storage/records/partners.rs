//! Organizations, partnerships and their end customers' accounts and subscriptions.

use serde::{Deserialize, Serialize};

use crate::platform::clock::EpochMillis;

use super::usage::Engagement;

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
    pub fn overlaps(&self, month: crate::partner_data::calendar::Period) -> bool {
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
    pub levels: Option<crate::storage::customer_levels::CustomerLevels>,
    /// Reseller partnerships: the months (`YYYY-MM`) in which ingestion saw the account use
    /// some product (its usage list holds it even without a subscription there).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub usage_months: std::collections::BTreeSet<String>,
    /// Reseller partnerships: the month lists it is in, for the current and the previous
    /// month (the month listings, kept by every write of the account).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub month_lists: std::collections::BTreeMap<String, crate::storage::MonthMembership>,
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
