//! The daily rotation check: a key not rotated for more than six calendar months becomes
//! rotation-due (advisory: it keeps working). Each newly due key is marked, gets one audit
//! entry and one notification; a second run finds nothing new.

use chrono::{DateTime, Months, Utc};
use serde_json::json;

use crate::App;
use crate::access::audit::{self, action};
use crate::access::notices::{Notice, NoticeKind, Notifier};
use crate::platform::clock::{EpochMillis, iso8601};
use crate::platform::error::ApiError;
use crate::storage::records::{KeyRecord, KeyStatus};

/// When a key's rotation clock started: its creation, or its last rotation.
pub fn rotation_clock(record: &KeyRecord) -> EpochMillis {
    record.last_rotated_at_ms.unwrap_or(record.created_at_ms)
}

/// The instant after which a clock started at `since` is over six calendar months old.
fn six_months_after(since: EpochMillis) -> Option<EpochMillis> {
    DateTime::<Utc>::from_timestamp_millis(since)
        .and_then(|at| at.checked_add_months(Months::new(6)))
        .map(|at| at.timestamp_millis())
}

/// Over six calendar months since the key was created or last rotated (active keys only).
pub fn rotation_due(record: &KeyRecord, now: EpochMillis) -> bool {
    record.status == KeyStatus::Active
        && record.replaced_by.is_none()
        && six_months_after(rotation_clock(record)).is_some_and(|due_after| now > due_after)
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RotationReport {
    /// Active keys old enough to be candidates.
    pub candidates: usize,
    /// Keys marked due by this run: `<organization id>/<key id>`.
    pub newly_due: Vec<String>,
    /// Keys whose notification failed (unmarked again, retried on the next run).
    pub failed: Vec<String>,
}

pub async fn check_rotation_due(
    app: &App,
    notifier: &impl Notifier,
) -> Result<RotationReport, ApiError> {
    let now = app.clock.now_ms();
    // Six calendar months are at least 181 days: every due key started before this cutoff.
    let cutoff = now - 181 * 24 * 60 * 60 * 1000;
    let candidates = app
        .store
        .keys_rotation_started_before(cutoff)
        .await
        .map_err(ApiError::internal)?;
    let mut report = RotationReport {
        candidates: candidates.len(),
        ..RotationReport::default()
    };
    for (org_id, key_id) in candidates {
        let Some(record) = app
            .store
            .key_record(&org_id, &key_id)
            .await
            .map_err(ApiError::internal)?
        else {
            continue;
        };
        if record.rotation_due || !rotation_due(&record, now) {
            continue;
        }
        let since = iso8601(rotation_clock(&record));
        let entry = audit::entry(
            now,
            audit::SYSTEM,
            action::KEY_ROTATION_DUE,
            format!("api_key:{key_id}"),
            None,
            json!({ "not_rotated_since": since, "prefix": record.prefix }),
        );
        if !app
            .store
            .mark_rotation_due(&org_id, &key_id, &entry)
            .await
            .map_err(ApiError::internal)?
        {
            continue;
        }
        let subject = format!("API key \"{}\" is due for rotation", record.name);
        let message = json!({
            "organization_id": org_id,
            "api_key": { "id": key_id, "name": record.name, "prefix": record.prefix },
            "not_rotated_since": since,
            "action": "rotate it: POST /v1/admin/keys/{id}/rotate",
        })
        .to_string();
        let id = format!("{org_id}/{key_id}");
        let notice = Notice {
            organization_id: org_id.clone(),
            kind: NoticeKind::KeyRotationDue,
            subject,
            message,
        };
        match notifier.publish(&notice).await {
            Ok(()) => report.newly_due.push(id),
            Err(err) => {
                tracing::error!(org_id = %org_id, key_id = %key_id, error = %err, "rotation-due notification failed");
                app.store
                    .clear_rotation_due(&org_id, &key_id)
                    .await
                    .map_err(ApiError::internal)?;
                report.failed.push(id);
            }
        }
    }
    tracing::info!(
        candidates = report.candidates,
        newly_due = report.newly_due.len(),
        failed = report.failed.len(),
        "rotation check done"
    );
    Ok(report)
}
