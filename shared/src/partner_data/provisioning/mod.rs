//! Accounts and subscriptions as partners and the security platform see them: the fields
//! the API answers with (it adds its links and the day-dependent `active`) are the ones the
//! provisioning events carry, so a consumer reads one shape.

pub mod events;

use serde_json::{Map, Value, json};

use crate::partner_data::calendar::format_date;
use crate::platform::clock::iso8601;
use crate::storage::records::{AccountRecord, SubscriptionRecord};

pub fn account_fields(account: &AccountRecord) -> Map<String, Value> {
    let fields = json!({
        "id": account.account_id,
        "name": account.name,
        "partnership_id": account.partnership_id,
        "state": account.state,
        "state_history": account.state_history.iter().map(|change| json!({
            "state": change.state,
            "since": format_date(change.since),
        })).collect::<Vec<_>>(),
        "trial_ends_at": account.trial_ends_at.map(format_date),
        "country": account.country,
        "created_at": iso8601(account.created_at_ms),
        "updated_at": iso8601(account.updated_at_ms),
    });
    into_map(fields)
}

pub fn subscription_fields(account_id: &str, sub: &SubscriptionRecord) -> Map<String, Value> {
    let fields = json!({
        "id": sub.subscription_id,
        "account_id": account_id,
        "sku": sub.sku,
        "quantity": sub.quantity,
        "start_date": format_date(sub.start_date),
        "end_date": format_date(sub.end_date),
        "evaluation": sub.evaluation,
        "order_number": sub.order_number,
        "acv": sub.acv,
    });
    into_map(fields)
}

fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
