//! `provisioning-events`: reads the table's stream and puts every account and subscription
//! change on the EventBridge bus of `EVENT_BUS_NAME` (`shared::partner_data::provisioning::events` says
//! what becomes an event). Records it could not deliver are reported, so the stream hands
//! them again, and after its retries they go to the function's dead-letter queue.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use shared::App;
use shared::partner_data::provisioning::events::{self, ProvisioningEvent, Publisher, StreamEvent};
use shared::platform::batch::BatchResponse;

/// Entries of one PutEvents call (EventBridge's limit).
const ENTRIES_PER_CALL: usize = 10;

pub struct EventBridgePublisher {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
}

impl EventBridgePublisher {
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: String) -> Self {
        Self { client, bus_name }
    }

    async fn put(&self, events: &[ProvisioningEvent]) -> Vec<Result<(), String>> {
        let mut entries = Vec::new();
        for event in events {
            let detail = match serde_json::to_string(event) {
                Ok(detail) => detail,
                Err(err) => return vec![Err(err.to_string()); events.len()],
            };
            entries.push(
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus_name)
                    .source(events::SOURCE)
                    .detail_type(&event.kind)
                    .detail(detail)
                    .build(),
            );
        }
        match self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
        {
            // One result per entry, in order; a failed one has an error code.
            Ok(output) => output
                .entries()
                .iter()
                .map(|entry| match entry.error_code() {
                    None => Ok(()),
                    Some(code) => Err(format!(
                        "{code}: {}",
                        entry.error_message().unwrap_or_default()
                    )),
                })
                .chain(std::iter::repeat_with(|| {
                    Err("no result for the entry".into())
                }))
                .take(events.len())
                .collect(),
            Err(err) => {
                let cause = aws_sdk_eventbridge::error::DisplayErrorContext(err).to_string();
                vec![Err(cause); events.len()]
            }
        }
    }
}

impl Publisher for EventBridgePublisher {
    async fn publish(&self, events: &[ProvisioningEvent]) -> Vec<Result<(), String>> {
        let mut outcomes = Vec::with_capacity(events.len());
        for chunk in events.chunks(ENTRIES_PER_CALL) {
            outcomes.extend(self.put(chunk).await);
        }
        outcomes
    }
}

pub async fn handle(app: &App, publisher: &impl Publisher, event: StreamEvent) -> BatchResponse {
    let response = events::deliver(app, publisher, &event).await;
    tracing::info!(
        records = event.records.len(),
        failed = response.batch_item_failures.len(),
        "stream batch delivered"
    );
    response
}
