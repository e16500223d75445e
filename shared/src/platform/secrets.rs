//! The only module that talks to Secrets Manager: loads the credential pepper and the
//! handover key once per execution environment.

use crate::access::credentials::Pepper;
use crate::access::handover::HandoverKey;
use crate::platform::config::{ConfigError, SecretSource};

pub async fn load_pepper(
    sdk_config: &aws_config::SdkConfig,
    source: &SecretSource,
) -> Result<Pepper, ConfigError> {
    match secret_text(sdk_config, source)
        .await
        .map_err(ConfigError::Pepper)?
    {
        Some(text) => Pepper::new(text.as_bytes()),
        None => {
            let mut random = [0u8; 32];
            getrandom::fill(&mut random).map_err(|e| ConfigError::Pepper(e.to_string()))?;
            Pepper::new(&random)
        }
    }
    .map_err(|e| ConfigError::Pepper(e.to_string()))
}

pub async fn load_handover_key(
    sdk_config: &aws_config::SdkConfig,
    source: &SecretSource,
) -> Result<HandoverKey, ConfigError> {
    match secret_text(sdk_config, source)
        .await
        .map_err(ConfigError::HandoverKey)?
    {
        Some(text) => HandoverKey::from_secret(&text),
        None => HandoverKey::random(),
    }
    .map_err(|e| ConfigError::HandoverKey(e.to_string()))
}

/// The secret's text; `None` for [`SecretSource::NotNeeded`].
async fn secret_text(
    sdk_config: &aws_config::SdkConfig,
    source: &SecretSource,
) -> Result<Option<String>, String> {
    match source {
        SecretSource::NotNeeded => Ok(None),
        SecretSource::Environment(text) => Ok(Some(text.clone())),
        SecretSource::SecretsManager { secret_id } => {
            let client = aws_sdk_secretsmanager::Client::new(sdk_config);
            let output = client
                .get_secret_value()
                .secret_id(secret_id)
                .send()
                .await
                .map_err(|e| aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())?;
            output
                .secret_string()
                .map(|text| Some(text.to_owned()))
                .ok_or_else(|| "the secret has no string value".into())
        }
    }
}
