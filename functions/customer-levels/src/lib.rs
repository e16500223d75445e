//! `customer-levels`: run by EventBridge Scheduler just after midnight, Stockholm time.
//! Levels of the customers view depend on the day (activity windows slide, contract ends
//! come closer), so every account's churn-risk level and task severity is recomputed for
//! the new day and the customers index marked complete for it; until then, a filtered
//! customer list reads every account. The same run adds a reseller's accounts to a new
//! month's lists on its first day, and freezes the lists of the newest closed months (see
//! `shared::storage::month_lists`). Running it twice changes nothing more. The scheduled
//! event's content is not used.

use serde_json::{Value, json};
use shared::{ApiError, App, partner_data::calendar, partner_data::customers};

/// Runs the recompute for today (Stockholm); the result (counts and ids, no secrets) is
/// the invocation's output.
pub async fn handle(app: &App, _event: Value) -> Result<Value, ApiError> {
    let day = calendar::stockholm_date(app.clock.now_ms());
    let report = customers::recompute_levels(app, day)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(
        day = %report.day,
        partnerships = report.partnerships.len(),
        incomplete = report.partnerships.iter().filter(|p| !p.complete).count(),
        "customer levels recomputed"
    );
    Ok(json!(report))
}
