//! `usage-ingest`: consumes the platform's SQS queue of daily usage and activity records
//! (one JSON record per message). Invalid records, records of unknown accounts and records
//! that could not be stored are reported as batch item failures — never dropped — so the
//! queue retries them and finally moves them to its dead-letter queue.

use serde::Deserialize;
use shared::App;
use shared::partner_data::usage::{self, Message};

/// The part of an SQS event this function reads.
#[derive(Debug, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records")]
    pub records: Vec<SqsMessage>,
}

#[derive(Debug, Deserialize)]
pub struct SqsMessage {
    #[serde(rename = "messageId")]
    pub message_id: String,
    #[serde(default)]
    pub body: String,
}

pub use shared::platform::batch::{BatchResponse, ItemFailure};

pub async fn handle(app: &App, event: SqsEvent) -> BatchResponse {
    let messages: Vec<Message> = event
        .records
        .into_iter()
        .map(|m| Message {
            id: m.message_id,
            body: m.body,
        })
        .collect();
    let failed = usage::ingest(app, &messages).await;
    tracing::info!(
        received = messages.len(),
        failed = failed.len(),
        "usage batch ingested"
    );
    BatchResponse {
        batch_item_failures: failed
            .into_iter()
            .map(|id| ItemFailure {
                item_identifier: id,
            })
            .collect(),
    }
}

/// Wraps records into an SQS event whose message ids are their positions ("0", "1", …),
/// as the local server's `POST /_local/usage-ingest` does.
pub fn local_event(records: &[serde_json::Value]) -> SqsEvent {
    SqsEvent {
        records: records
            .iter()
            .enumerate()
            .map(|(index, record)| SqsMessage {
                message_id: index.to_string(),
                body: record.to_string(),
            })
            .collect(),
    }
}
