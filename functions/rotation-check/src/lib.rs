//! `rotation-check`: run daily by EventBridge. Marks API keys that became rotation-due,
//! writes one audit entry and publishes one SNS notification per newly due key; running it
//! twice changes nothing more. The scheduled event's content is not used.

use serde_json::{Value, json};
use shared::App;
use shared::rotation::{self, Notifier};

/// Publishes to the SNS topic of `ROTATION_TOPIC_ARN`.
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: String) -> Self {
        Self { client, topic_arn }
    }
}

impl Notifier for SnsNotifier {
    async fn publish(&self, subject: &str, message: &str) -> Result<(), String> {
        // SNS subjects are at most 100 characters.
        let subject: String = subject.chars().take(100).collect();
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_sns::error::DisplayErrorContext(e).to_string())
    }
}

/// Runs the check; the result (counts and ids, no secrets) is the invocation's output.
pub async fn handle(
    app: &App,
    notifier: &impl Notifier,
    _event: Value,
) -> Result<Value, shared::ApiError> {
    let report = rotation::check_rotation_due(app, notifier).await?;
    Ok(json!(report))
}
