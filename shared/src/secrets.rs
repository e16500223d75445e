//! The only module that talks to Secrets Manager: loads the credential pepper once per
//! execution environment.

use crate::config::{ConfigError, PepperSource};
use crate::credentials::Pepper;

pub async fn load_pepper(
    sdk_config: &aws_config::SdkConfig,
    source: &PepperSource,
) -> Result<Pepper, ConfigError> {
    let text = match source {
        PepperSource::NotNeeded => {
            let mut random = [0u8; 32];
            getrandom::fill(&mut random).map_err(|e| ConfigError::Pepper(e.to_string()))?;
            return Pepper::new(&random).map_err(|e| ConfigError::Pepper(e.to_string()));
        }
        PepperSource::Environment(text) => text.clone(),
        PepperSource::SecretsManager { secret_id } => {
            let client = aws_sdk_secretsmanager::Client::new(sdk_config);
            let output = client
                .get_secret_value()
                .secret_id(secret_id)
                .send()
                .await
                .map_err(|e| {
                    ConfigError::Pepper(
                        aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
                    )
                })?;
            output
                .secret_string()
                .ok_or_else(|| ConfigError::Pepper("the secret has no string value".into()))?
                .to_owned()
        }
    };
    Pepper::new(text.as_bytes()).map_err(|e| ConfigError::Pepper(e.to_string()))
}
