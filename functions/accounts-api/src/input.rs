//! Request bodies of the accounts API and the rules they must satisfy. Unknown fields are
//! refused; every refusal says what to fix.

use chrono::NaiveDate;
use serde::Deserialize;
use shared::ApiError;
use shared::partner_data::calendar::{self, format_date, parse_date};
use shared::partner_data::catalogue;
use shared::platform::request::{body_field, printable_text};
use shared::storage::records::{
    AccountRecord, AccountState, Money, Partnership, StateChange, SubscriptionRecord,
};

/// Days a trial runs when no end date is given.
pub const DEFAULT_TRIAL_DAYS: u64 = 14;
const MAX_NAME_CHARS: usize = 200;
const MAX_ORDER_NUMBER_CHARS: usize = 64;
/// A sanity bound on licence quantities (a typo guard, far above any real contract).
const MAX_QUANTITY: u64 = 10_000_000;
/// The largest contract value (10^13 minor units): sums over an account's subscriptions
/// stay far inside an i64.
const MAX_AMOUNT_MINOR: i64 = 10_000_000_000_000;

pub fn parse_state(text: &str) -> Result<AccountState, ApiError> {
    AccountState::ALL
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| {
            ApiError::InvalidParameters(
                "state must be one of trial, paying, internal, demo, archived".into(),
            )
        })
}

fn country(code: &str) -> Result<String, ApiError> {
    if catalogue::is_country(code) {
        Ok(code.to_owned())
    } else {
        Err(ApiError::InvalidParameters(
            "country must be an ISO 3166-1 alpha-2 code in capitals, such as SE or US".into(),
        ))
    }
}

/// The body of `POST /v1/accounts` and `PUT /v1/accounts/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountBody {
    name: String,
    #[serde(default, deserialize_with = "body_field::present")]
    state: Option<AccountState>,
    #[serde(default, deserialize_with = "body_field::present")]
    state_since: Option<String>,
    #[serde(default, deserialize_with = "body_field::present")]
    trial_ends_at: Option<String>,
    country: String,
}

/// Validated account fields.
pub struct AccountFields {
    pub name: String,
    pub state: AccountState,
    /// The Stockholm day the state took effect.
    pub state_since: NaiveDate,
    pub trial_ends_at: Option<NaiveDate>,
    pub country: String,
}

/// `state_since`: the Stockholm day a new state took effect (default today). Not in the
/// future, not before the oldest day the reports keep, not before `earliest` (the day of
/// the account's previous state change: a history only grows at its end).
fn state_since(
    given: Option<&str>,
    earliest: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<NaiveDate, ApiError> {
    let Some(text) = given else {
        return Ok(today);
    };
    let since = parse_date(text, "state_since")?;
    if since > today {
        return Err(ApiError::InvalidParameters(format!(
            "state_since cannot be in the future (today is {})",
            format_date(today)
        )));
    }
    let oldest = shared::partner_data::usage::oldest_reported_day(today);
    if since < oldest {
        return Err(ApiError::InvalidParameters(format!(
            "state_since cannot be before {}, the oldest day the reports keep",
            format_date(oldest)
        )));
    }
    if let Some(earliest) = earliest.filter(|earliest| since < *earliest) {
        return Err(ApiError::InvalidParameters(format!(
            "state_since cannot be before {}, the day of the account's last state change",
            format_date(earliest)
        )));
    }
    Ok(since)
}

/// Moves `account` to `state` from `given` (`state_since`) on, recording it in the state
/// history; `state_since` without a change of state is refused.
fn change_state(
    account: &mut AccountRecord,
    state: AccountState,
    given: Option<&str>,
    today: NaiveDate,
) -> Result<(), ApiError> {
    if state == account.state {
        return match given {
            Some(_) => Err(ApiError::InvalidParameters(
                "state_since goes with a change of state; the account is already in that state"
                    .into(),
            )),
            None => Ok(()),
        };
    }
    if account.state_history.is_empty() {
        // Stored before histories were kept: its state held from its creation.
        let created = shared::partner_data::calendar::stockholm_date(account.created_at_ms);
        account.state_history.push(StateChange {
            state: account.state,
            since: created,
        });
    }
    let last = account.state_history.last().map(|change| change.since);
    let since = state_since(given, last, today)?;
    // Two changes on one day: the later one is the day's state.
    if last == Some(since) {
        account.state_history.pop();
    }
    account.state_history.push(StateChange { state, since });
    account.state = state;
    Ok(())
}

/// `trial_ends_at` for an account going to `state`: required to be today or later, only for
/// trials; a trial without one keeps its current end or runs the default 14 days.
fn trial_end(
    state: AccountState,
    given: Option<&str>,
    current: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<Option<NaiveDate>, ApiError> {
    let given = given
        .map(|text| parse_date(text, "trial_ends_at"))
        .transpose()?;
    if state != AccountState::Trial {
        return match given {
            Some(_) => Err(ApiError::InvalidParameters(
                "trial_ends_at applies to trial accounts only".into(),
            )),
            None => Ok(None),
        };
    }
    match given {
        Some(end) if end < today => Err(ApiError::InvalidParameters(format!(
            "trial_ends_at must be today ({}) or later",
            format_date(today)
        ))),
        Some(end) => Ok(Some(end)),
        None => {
            Ok(Some(current.unwrap_or_else(|| {
                calendar::add_days(today, DEFAULT_TRIAL_DAYS)
            })))
        }
    }
}

/// May an account in `from` move to `to`?
fn transition(from: AccountState, to: AccountState) -> Result<(), ApiError> {
    let back_from_paying = from == AccountState::Paying
        && matches!(
            to,
            AccountState::Trial | AccountState::Demo | AccountState::Internal
        );
    if back_from_paying {
        Err(ApiError::Conflict(format!(
            "a paying account cannot go back to {}",
            to.as_str()
        )))
    } else {
        Ok(())
    }
}

impl AccountBody {
    pub fn validate_new(self, today: NaiveDate) -> Result<AccountFields, ApiError> {
        let state = self.state.unwrap_or(AccountState::Trial);
        if state == AccountState::Archived {
            return Err(ApiError::InvalidParameters(
                "a new account cannot start archived".into(),
            ));
        }
        Ok(AccountFields {
            name: printable_text("name", &self.name, MAX_NAME_CHARS)?,
            trial_ends_at: trial_end(state, self.trial_ends_at.as_deref(), None, today)?,
            state_since: state_since(self.state_since.as_deref(), None, today)?,
            state,
            country: country(&self.country)?,
        })
    }

    /// PUT: every writable field is given (`state` too), the rest is replaced.
    pub fn replace(&self, account: &mut AccountRecord, today: NaiveDate) -> Result<(), ApiError> {
        let state = self.state.ok_or_else(|| {
            ApiError::InvalidParameters(
                "PUT replaces the whole account: give name, state, country (and trial_ends_at for a trial), or use PATCH".into(),
            )
        })?;
        transition(account.state, state)?;
        let current_end = (account.state == AccountState::Trial)
            .then_some(account.trial_ends_at)
            .flatten();
        account.trial_ends_at =
            trial_end(state, self.trial_ends_at.as_deref(), current_end, today)?;
        account.name = printable_text("name", &self.name, MAX_NAME_CHARS)?;
        account.country = country(&self.country)?;
        change_state(account, state, self.state_since.as_deref(), today)
    }
}

/// The body of `PATCH /v1/accounts/{id}`: any of the writable fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    #[serde(default, deserialize_with = "body_field::present")]
    name: Option<String>,
    #[serde(default, deserialize_with = "body_field::present")]
    state: Option<AccountState>,
    #[serde(default, deserialize_with = "body_field::present")]
    state_since: Option<String>,
    #[serde(default, deserialize_with = "body_field::nullable")]
    trial_ends_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "body_field::present")]
    country: Option<String>,
}

impl AccountPatch {
    pub fn apply(&self, account: &mut AccountRecord, today: NaiveDate) -> Result<(), ApiError> {
        if self.name.is_none()
            && self.state.is_none()
            && self.state_since.is_none()
            && self.trial_ends_at.is_none()
            && self.country.is_none()
        {
            return Err(ApiError::InvalidParameters(
                "nothing to change: give at least one of name, state, state_since, trial_ends_at, country"
                    .into(),
            ));
        }
        let state = self.state.unwrap_or(account.state);
        transition(account.state, state)?;
        let current_end = (account.state == AccountState::Trial)
            .then_some(account.trial_ends_at)
            .flatten();
        account.trial_ends_at = match &self.trial_ends_at {
            Some(Some(text)) => trial_end(state, Some(text), current_end, today)?,
            Some(None) if state == AccountState::Trial => {
                return Err(ApiError::InvalidParameters(
                    "a trial account needs trial_ends_at; omit it to keep the current end".into(),
                ));
            }
            Some(None) | None => trial_end(state, None, current_end, today)?,
        };
        if let Some(name) = &self.name {
            account.name = printable_text("name", name, MAX_NAME_CHARS)?;
        }
        if let Some(code) = &self.country {
            account.country = country(code)?;
        }
        change_state(account, state, self.state_since.as_deref(), today)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneyBody {
    amount_minor: i64,
    currency: String,
}

fn money(body: &MoneyBody) -> Result<Money, ApiError> {
    if !(0..=MAX_AMOUNT_MINOR).contains(&body.amount_minor) {
        return Err(ApiError::InvalidParameters(
            "acv.amount_minor must be 0 to 10000000000000 (10^13, in the currency's minor unit)"
                .into(),
        ));
    }
    if !catalogue::is_currency(&body.currency) {
        return Err(ApiError::InvalidParameters(
            "acv.currency must be an ISO 4217 code in capitals, such as SEK or EUR".into(),
        ));
    }
    Ok(Money {
        amount_minor: body.amount_minor,
        currency: body.currency.clone(),
    })
}

/// The body of `POST /v1/accounts/{id}/subscriptions` and `PUT /v1/subscriptions/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionBody {
    sku: String,
    quantity: u64,
    start_date: String,
    end_date: String,
    #[serde(default)]
    evaluation: bool,
    #[serde(default)]
    order_number: Option<String>,
    #[serde(default)]
    acv: Option<MoneyBody>,
}

/// Validated subscription fields.
#[derive(Debug, Clone)]
pub struct SubscriptionFields {
    sku: String,
    quantity: u64,
    start_date: NaiveDate,
    end_date: NaiveDate,
    evaluation: bool,
    order_number: Option<String>,
    acv: Option<Money>,
}

impl SubscriptionFields {
    pub fn into_record(
        self,
        id: &str,
        created_at_ms: i64,
        updated_at_ms: i64,
    ) -> SubscriptionRecord {
        SubscriptionRecord {
            subscription_id: id.to_owned(),
            sku: self.sku,
            quantity: self.quantity,
            start_date: self.start_date,
            end_date: self.end_date,
            evaluation: self.evaluation,
            order_number: self.order_number,
            acv: self.acv,
            created_at_ms,
            updated_at_ms,
        }
    }

    fn check(&self, partnership: &Partnership) -> Result<(), ApiError> {
        if !partnership.sells(&self.sku) {
            return Err(ApiError::InvalidParameters(format!(
                "sku must be one of this partnership's SKUs: {} (GET /v1/skus)",
                partnership.skus.join(", ")
            )));
        }
        if self.quantity == 0 || self.quantity > MAX_QUANTITY {
            return Err(ApiError::InvalidParameters(format!(
                "quantity must be between 1 and {MAX_QUANTITY}"
            )));
        }
        if self.end_date < self.start_date {
            return Err(ApiError::InvalidParameters(
                "end_date must be on or after start_date".into(),
            ));
        }
        Ok(())
    }
}

fn order_number(text: Option<&str>) -> Result<Option<String>, ApiError> {
    text.map(|t| printable_text("order_number", t, MAX_ORDER_NUMBER_CHARS))
        .transpose()
}

impl SubscriptionBody {
    pub fn validate(&self, partnership: &Partnership) -> Result<SubscriptionFields, ApiError> {
        let fields = SubscriptionFields {
            sku: self.sku.clone(),
            quantity: self.quantity,
            start_date: parse_date(&self.start_date, "start_date")?,
            end_date: parse_date(&self.end_date, "end_date")?,
            evaluation: self.evaluation,
            order_number: order_number(self.order_number.as_deref())?,
            acv: self.acv.as_ref().map(money).transpose()?,
        };
        fields.check(partnership)?;
        Ok(fields)
    }

    /// PUT: the subscription becomes exactly this body (absent optional fields are cleared).
    pub fn replace(
        &self,
        sub: &mut SubscriptionRecord,
        partnership: &Partnership,
    ) -> Result<(), ApiError> {
        let fields = self.validate(partnership)?;
        *sub = fields.into_record(&sub.subscription_id, sub.created_at_ms, sub.updated_at_ms);
        Ok(())
    }
}

/// The body of `PATCH /v1/subscriptions/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionPatch {
    #[serde(default, deserialize_with = "body_field::present")]
    sku: Option<String>,
    #[serde(default, deserialize_with = "body_field::present")]
    quantity: Option<u64>,
    #[serde(default, deserialize_with = "body_field::present")]
    start_date: Option<String>,
    #[serde(default, deserialize_with = "body_field::present")]
    end_date: Option<String>,
    #[serde(default, deserialize_with = "body_field::present")]
    evaluation: Option<bool>,
    #[serde(default, deserialize_with = "body_field::nullable")]
    order_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "body_field::nullable")]
    acv: Option<Option<MoneyBody>>,
}

impl SubscriptionPatch {
    pub fn apply(
        &self,
        sub: &mut SubscriptionRecord,
        partnership: &Partnership,
    ) -> Result<(), ApiError> {
        let mut fields = SubscriptionFields {
            sku: self.sku.clone().unwrap_or_else(|| sub.sku.clone()),
            quantity: self.quantity.unwrap_or(sub.quantity),
            start_date: match &self.start_date {
                Some(text) => parse_date(text, "start_date")?,
                None => sub.start_date,
            },
            end_date: match &self.end_date {
                Some(text) => parse_date(text, "end_date")?,
                None => sub.end_date,
            },
            evaluation: self.evaluation.unwrap_or(sub.evaluation),
            order_number: sub.order_number.clone(),
            acv: sub.acv.clone(),
        };
        if let Some(text) = &self.order_number {
            fields.order_number = order_number(text.as_deref())?;
        }
        if let Some(acv) = &self.acv {
            fields.acv = acv.as_ref().map(money).transpose()?;
        }
        let untouched = self.sku.is_none()
            && self.quantity.is_none()
            && self.start_date.is_none()
            && self.end_date.is_none()
            && self.evaluation.is_none()
            && self.order_number.is_none()
            && self.acv.is_none();
        if untouched {
            return Err(ApiError::InvalidParameters(
                "nothing to change: give at least one of sku, quantity, start_date, end_date, evaluation, order_number, acv".into(),
            ));
        }
        fields.check(partnership)?;
        *sub = fields.into_record(&sub.subscription_id, sub.created_at_ms, sub.updated_at_ms);
        Ok(())
    }
}
