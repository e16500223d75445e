//! Notices to an organization's admins, outside the API: a key that became rotation-due
//! (the daily check), a leaked key revoked or a leaked session ended (a secret-scanning
//! alert). When deployed they go to the deployment's notice topic (SNS), each with its
//! organization's id and its kind as message attributes, so that a subscription can take
//! only its organization's notices (an SNS filter policy on `organization_id`). A notice
//! never holds a secret: keys are named by id, name and public prefix.

use std::future::Future;

use aws_sdk_sns::types::MessageAttributeValue;

/// What a notice is about (its `kind` attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    KeyRotationDue,
    LeakedKeyRevoked,
    LeakedSessionEnded,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyRotationDue => "api_key.rotation_due",
            Self::LeakedKeyRevoked => "api_key.leaked_revoked",
            Self::LeakedSessionEnded => "session.leaked_ended",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub organization_id: String,
    pub kind: NoticeKind,
    /// One line for people (an e-mail subject: at most 100 characters are sent).
    pub subject: String,
    /// JSON for programs and people.
    pub message: String,
}

/// Where notices go: the notice topic when deployed, a file locally, a list in tests.
pub trait Notifier {
    fn publish(&self, notice: &Notice) -> impl Future<Output = Result<(), String>> + Send;
}

/// Publishes to the SNS topic of `NOTICE_TOPIC_ARN`.
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: String) -> Self {
        Self { client, topic_arn }
    }

    /// The notifier of a deployed function: the topic from `NOTICE_TOPIC_ARN`.
    pub async fn from_env() -> Result<Self, String> {
        let topic_arn = std::env::var("NOTICE_TOPIC_ARN")
            .map_err(|_| "environment variable NOTICE_TOPIC_ARN is required".to_owned())?;
        let sdk_config = aws_config::load_from_env().await;
        Ok(Self::new(aws_sdk_sns::Client::new(&sdk_config), topic_arn))
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, String> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| e.to_string())
}

impl Notifier for SnsNotifier {
    async fn publish(&self, notice: &Notice) -> Result<(), String> {
        // SNS subjects are at most 100 characters.
        let subject: String = notice.subject.chars().take(100).collect();
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(&notice.message)
            .message_attributes("organization_id", attribute(&notice.organization_id)?)
            .message_attributes("kind", attribute(notice.kind.as_str())?)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_sns::error::DisplayErrorContext(e).to_string())
    }
}
