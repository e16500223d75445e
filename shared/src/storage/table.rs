//! The table itself (its definition is shared by the local server, the tests and the
//! operator tooling; `template.yaml` declares the same shape) and the organization and
//! API-key items.

use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
    TimeToLiveSpecification,
};

use super::records::{ApiKeyRecord, OrganizationRecord};
use super::{Store, StoreError, encode_organization, keys};
use crate::access::credentials::CredentialHash;

/// Name of the TTL attribute (DynamoDB deletes items some time after it passes).
pub const TTL_ATTRIBUTE: &str = "ttl_epoch_seconds";
/// Name of the generic secondary index (listings by organization).
pub const INDEX_GSI1: &str = "gsi1";

#[derive(Debug, Clone, Copy)]
pub struct TableOptions {
    /// Turn TTL on. Tests of "expired but still stored" create tables without it.
    pub ttl: bool,
    /// Turn the stream on (provisioning events read it). DynamoDB Local records every write
    /// in it, which makes bulk writes several times slower: the local server turns it on
    /// after seeding its demo data ([`Store::enable_stream`]).
    pub stream: bool,
}

impl Store {
    /// Creates the table if it does not exist and waits until it is active.
    pub async fn ensure_table(&self, options: TableOptions) -> Result<(), StoreError> {
        let key = |name: &str, key_type| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
        };
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let build_error = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Sdk {
            operation: "CreateTable",
            message: e.to_string(),
        };
        let index = GlobalSecondaryIndex::builder()
            .index_name(INDEX_GSI1)
            .key_schema(key("gsi1pk", KeyType::Hash).map_err(build_error)?)
            .key_schema(key("gsi1sk", KeyType::Range).map_err(build_error)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(build_error)?;
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash).map_err(build_error)?)
            .key_schema(key("sk", KeyType::Range).map_err(build_error)?)
            .attribute_definitions(attribute("pk").map_err(build_error)?)
            .attribute_definitions(attribute("sk").map_err(build_error)?)
            .attribute_definitions(attribute("gsi1pk").map_err(build_error)?)
            .attribute_definitions(attribute("gsi1sk").map_err(build_error)?)
            .global_secondary_indexes(index)
            .set_stream_specification(options.stream.then(stream_specification).transpose()?)
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(err) => match err.as_service_error() {
                Some(CreateTableError::ResourceInUseException(_)) => {
                    // A table made before provisioning events (a kept `.local/`) gets its
                    // stream now.
                    if options.stream {
                        self.enable_stream().await?;
                    }
                    return Ok(());
                }
                _ => return Err(StoreError::sdk("CreateTable", err)),
            },
        }
        for _ in 0..100 {
            let described = self.describe().await?;
            if described.and_then(|t| t.table_status) == Some(TableStatus::Active) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        if options.ttl {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(|e| StoreError::Sdk {
                    operation: "UpdateTimeToLive",
                    message: e.to_string(),
                })?;
            self.client
                .update_time_to_live()
                .table_name(&self.table)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| StoreError::sdk("UpdateTimeToLive", e))?;
        }
        Ok(())
    }

    /// Turns the table's stream on (new and old images), unless it is on already.
    pub async fn enable_stream(&self) -> Result<(), StoreError> {
        if self.stream_arn().await?.is_some() {
            return Ok(());
        }
        self.client
            .update_table()
            .table_name(&self.table)
            .stream_specification(stream_specification()?)
            .send()
            .await
            .map_err(|e| StoreError::sdk("UpdateTable", e))?;
        Ok(())
    }

    /// The ARN of the table's stream (`None` if it has none).
    pub async fn stream_arn(&self) -> Result<Option<String>, StoreError> {
        Ok(self.describe().await?.and_then(|t| t.latest_stream_arn))
    }

    async fn describe(
        &self,
    ) -> Result<Option<aws_sdk_dynamodb::types::TableDescription>, StoreError> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| StoreError::sdk("DescribeTable", e))?;
        Ok(described.table)
    }

    pub async fn delete_table(&self) -> Result<(), StoreError> {
        self.client
            .delete_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| StoreError::sdk("DeleteTable", e))?;
        Ok(())
    }

    pub async fn put_organization(&self, record: &OrganizationRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode_organization(record)?))
            .send()
            .await
            .map_err(|e| StoreError::sdk("PutItem", e))?;
        Ok(())
    }

    pub async fn organization(
        &self,
        org_id: &str,
    ) -> Result<Option<OrganizationRecord>, StoreError> {
        self.get_record(keys::organization(org_id)).await
    }

    /// The API key stored under `hash`, read strongly consistent so a key created or revoked
    /// a moment ago is seen as such.
    pub async fn api_key(&self, hash: &CredentialHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.get_record(keys::api_key(hash)).await
    }
}

/// Provisioning events are read from the stream (`provisioning::events`): new and old images.
fn stream_specification() -> Result<StreamSpecification, StoreError> {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .map_err(|e| StoreError::Sdk {
            operation: "CreateTable",
            message: e.to_string(),
        })
}
