//! Which provisioning events the bus has taken (`provisioning::events`): one small TTL item
//! per event id, so a stream batch delivered again sends only what did not go out.

use std::collections::HashSet;

use super::{Store, StoreError, keys, n, s};

/// How long a delivery mark is kept: beyond the stream's 24-hour retention.
const MARK_TTL_SECONDS: i64 = 2 * 24 * 3600;
/// Items of one transaction.
const MARKS_PER_WRITE: usize = 100;

impl Store {
    /// The ids among `ids` already delivered.
    pub async fn delivered_events(&self, ids: &[String]) -> Result<HashSet<String>, StoreError> {
        let found = self
            .batch_get(ids.iter().map(|id| keys::event_delivery(id)).collect())
            .await?;
        Ok(found
            .iter()
            .filter_map(|item| match item.get("event_id") {
                Some(aws_sdk_dynamodb::types::AttributeValue::S(id)) => Some(id.clone()),
                _ => None,
            })
            .collect())
    }

    /// Marks `ids` delivered at `now_ms`.
    pub async fn mark_events_delivered(
        &self,
        ids: &[String],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        for chunk in ids.chunks(MARKS_PER_WRITE) {
            let mut items = Vec::new();
            for id in chunk {
                let key = keys::event_delivery(id);
                let item = super::Item::from([
                    ("pk".to_owned(), s(key.pk)),
                    ("sk".to_owned(), s(key.sk)),
                    ("event_id".to_owned(), s(id.as_str())),
                    ("delivered_at_ms".to_owned(), n(now_ms)),
                    (
                        super::TTL_ATTRIBUTE.to_owned(),
                        n(now_ms / 1000 + MARK_TTL_SECONDS),
                    ),
                ]);
                items.push(self.put_item(item, None)?);
            }
            if let Err(reasons) = self.transact(items).await? {
                return Err(StoreError::Sdk {
                    operation: "TransactWriteItems",
                    message: format!("delivery marks not written: {reasons:?}"),
                });
            }
        }
        Ok(())
    }
}
