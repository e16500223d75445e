//! Common crate of the Partner Portal API.
//!
//! Every Lambda function and the local server build one [`App`] at start-up and pass it by
//! reference to their handlers. Only [`storage`] talks to DynamoDB and only [`secrets`] to
//! Secrets Manager; handlers work with the typed records and services below.

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod batch;
pub mod calendar;
pub mod catalogue;
pub mod clock;
pub mod commitments;
pub mod config;
pub mod cors;
pub mod credentials;
pub mod customers;
pub mod edge;
pub mod envelope;
pub mod error;
pub mod handover;
pub mod notices;
pub mod onboarding;
pub mod origins;
pub mod provisioning;
pub mod request;
pub mod rotation;
pub mod routes;
pub mod secret_scanning;
pub mod secrets;
pub mod sessions;
pub mod sharing;
pub mod storage;
pub mod telemetry;
pub mod usage;

use std::sync::Arc;

pub use clock::{Clock, SystemClock};
pub use config::Config;
pub use credentials::Pepper;
pub use envelope::Reply;
pub use error::ApiError;
pub use storage::Store;

/// Everything a handler needs, built once per execution environment.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub pepper: Pepper,
    /// Seals secrets handed to another admin (`sharing`).
    pub handover: handover::HandoverKey,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
}

impl App {
    /// Builds the app the way a deployed function does: config from the environment,
    /// AWS clients from the default provider chain, the pepper from Secrets Manager
    /// (or `PEPPER` for local runs). Fails loudly on any missing or bad setting.
    pub async fn from_env() -> Result<Self, config::ConfigError> {
        let config = Config::from_env()?;
        let sdk_config = aws_config::load_from_env().await;
        let pepper = secrets::load_pepper(&sdk_config, &config.pepper_source).await?;
        let handover = secrets::load_handover_key(&sdk_config, &config.handover_source).await?;
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
