//! Common crate of the Partner Portal API.
//!
//! Every Lambda function and the local server build one [`App`] at start-up and pass it by
//! reference to their handlers. Only [`storage`] talks to DynamoDB and only
//! [`platform::secrets`] to Secrets Manager; handlers work with the typed records and the
//! services below, grouped by domain: [`access`] (sessions and keys), [`partner_data`]
//! (organizations, accounts, usage, reports, customers) and [`platform`].

pub mod access;
pub mod partner_data;
pub mod platform;
pub mod storage;

use std::sync::Arc;

pub use access::credentials::Pepper;
pub use platform::clock::{Clock, SystemClock};
pub use platform::config::Config;
pub use platform::envelope::Reply;
pub use platform::error::ApiError;
pub use storage::Store;

/// Everything a handler needs, built once per execution environment.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub pepper: Pepper,
    /// Seals secrets handed to another admin (`sharing`).
    pub handover: access::handover::HandoverKey,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
}

impl App {
    /// Builds the app the way a deployed function does: config from the environment,
    /// AWS clients from the default provider chain, the pepper from Secrets Manager
    /// (or `PEPPER` for local runs). Fails loudly on any missing or bad setting.
    pub async fn from_env() -> Result<Self, platform::config::ConfigError> {
        let config = Config::from_env()?;
        let sdk_config = aws_config::load_from_env().await;
        let pepper = platform::secrets::load_pepper(&sdk_config, &config.pepper_source).await?;
        let handover =
            platform::secrets::load_handover_key(&sdk_config, &config.handover_source).await?;
        let store = Store::new(
            aws_sdk_dynamodb::Client::new(&sdk_config),
            &config.table_name,
        );
        Ok(Self {
            store,
            pepper,
            handover,
            clock: Arc::new(SystemClock),
            config,
        })
    }
}
