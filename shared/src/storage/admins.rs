//! Admin memberships: which organization a signed-in identity (token issuer + subject)
//! administers, and in which role. Two items per membership, written and removed together
//! with the audit entry: the lookup by identity (every admin request reads it, one GetItem)
//! and the copy in the organization's partition (for listing its admins).

use super::records::{AdminMembership, AuditRecord};
use super::{Store, StoreError, encode, keys};

/// What adding a membership found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    /// The identity is an admin already (of this or another organization): nothing written.
    AlreadyMember,
}

impl Store {
    /// The membership of the identity, strongly consistent (a removal is in force at once).
    pub async fn admin_membership(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<AdminMembership>, StoreError> {
        self.get_record(keys::admin_membership(issuer, subject))
            .await
    }

    pub async fn add_admin(
        &self,
        membership: &AdminMembership,
        audit: &AuditRecord,
    ) -> Result<AddOutcome, StoreError> {
        let (issuer, subject, org) = (&membership.issuer, &membership.subject, &membership.org_id);
        let items = vec![
            self.put_item(
                encode(membership, keys::admin_membership(issuer, subject))?,
                Some("attribute_not_exists(pk)"),
            )?,
            self.put_item(
                encode(membership, keys::organization_admin(org, issuer, subject))?,
                None,
            )?,
            self.put_item(
                encode(audit, keys::audit(org, audit.at_ms, &audit.audit_id))?,
                None,
            )?,
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(AddOutcome::Added),
            Err(codes) if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") => {
                Ok(AddOutcome::AlreadyMember)
            }
            Err(codes) => Err(StoreError::Sdk {
                operation: "TransactWriteItems",
                message: format!("adding the admin was refused: {codes:?}"),
            }),
        }
    }

    /// Removes `membership` (as read) with its audit entry; false if it was gone already.
    pub async fn remove_admin(
        &self,
        membership: &AdminMembership,
        audit: &AuditRecord,
    ) -> Result<bool, StoreError> {
        let (issuer, subject, org) = (&membership.issuer, &membership.subject, &membership.org_id);
        let items = vec![
            self.delete_item(
                keys::admin_membership(issuer, subject),
                Some("attribute_exists(pk)"),
            )?,
            self.delete_item(keys::organization_admin(org, issuer, subject), None)?,
            self.put_item(
                encode(audit, keys::audit(org, audit.at_ms, &audit.audit_id))?,
                None,
            )?,
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(true),
            Err(codes) if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") => Ok(false),
            Err(codes) => Err(StoreError::Sdk {
                operation: "TransactWriteItems",
                message: format!("removing the admin was refused: {codes:?}"),
            }),
        }
    }

    /// The organization's admins.
    pub async fn organization_admins(
        &self,
        org_id: &str,
    ) -> Result<Vec<AdminMembership>, StoreError> {
        self.query_prefix(org_id, keys::ADMIN_PREFIX, true, None)
            .await
    }
}
