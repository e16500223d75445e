//! `rotation-check`: run daily by EventBridge. Marks API keys that became rotation-due,
//! writes one audit entry and publishes one notice (SNS) per newly due key; running it
//! twice changes nothing more. The scheduled event's content is not used.

use serde_json::{Value, json};
use shared::App;
use shared::access::notices::Notifier;
use shared::access::rotation;

/// Runs the check; the result (counts and ids, no secrets) is the invocation's output.
pub async fn handle(
    app: &App,
    notifier: &impl Notifier,
    _event: Value,
) -> Result<Value, shared::ApiError> {
    let report = rotation::check_rotation_due(app, notifier).await?;
    Ok(json!(report))
}
