//! Shared keys in flight (`sharing`): written with their key (`AccessChange::put_shares`),
//! listed from the organization's partition, and removed with a conditional delete — so a
//! secret is handed over at most once, however many reveals race for it.

use super::records::{AuditRecord, ShareRecord};
use super::{Store, StoreError, encode, keys};

const CONDITION_FAILED: &str = "ConditionalCheckFailed";

impl Store {
    /// The organization's shares (expired ones the TTL has not removed yet included:
    /// callers compare with their clock), oldest id first. Few: each lives at most a week.
    pub async fn shares(&self, org_id: &str) -> Result<Vec<ShareRecord>, StoreError> {
        self.query_prefix(org_id, keys::SHARE_PREFIX, true, None)
            .await
    }

    /// One share by id, strongly consistent.
    pub async fn share(
        &self,
        org_id: &str,
        share_id: &str,
    ) -> Result<Option<ShareRecord>, StoreError> {
        self.get_record(keys::share(org_id, share_id)).await
    }

    /// Deletes the share (with `audit`, in one transaction) if it is still there; false if
    /// it is gone already — revealed by a concurrent call, unshared, or dropped with its key.
    pub async fn remove_share(
        &self,
        org_id: &str,
        share_id: &str,
        audit: Option<&AuditRecord>,
    ) -> Result<bool, StoreError> {
        for round in 0..super::access::SETTLE_ATTEMPTS {
            let mut items = vec![
                self.delete_item(keys::share(org_id, share_id), Some("attribute_exists(pk)"))?,
            ];
            if let Some(entry) = audit {
                items.push(self.put_item(
                    encode(entry, keys::audit(org_id, entry.at_ms, &entry.audit_id))?,
                    None,
                )?);
            }
            match self.transact(items).await? {
                Ok(()) => return Ok(true),
                Err(codes) if codes.first().is_some_and(|c| c == CONDITION_FAILED) => {
                    return Ok(false);
                }
                Err(codes) if super::conflicted(&codes) => super::backoff(round).await,
                Err(codes) => {
                    return Err(StoreError::Sdk {
                        operation: "TransactWriteItems",
                        message: format!("share removal refused: {codes:?}"),
                    });
                }
            }
        }
        Err(StoreError::Contention {
            operation: "TransactWriteItems",
        })
    }
}
