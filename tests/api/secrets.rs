//! The pepper and the handover key come from Secrets Manager (here a real API: moto_server, started by `make test`).

use api_tests::fixtures;
use aws_config::BehaviorVersion;
use shared::access::credentials::{Credential, CredentialKind, Pepper};
use shared::access::handover::HandoverKey;
use shared::platform::config::SecretSource;
use shared::platform::secrets::{load_handover_key, load_pepper};

async fn secrets_manager() -> (aws_config::SdkConfig, aws_sdk_secretsmanager::Client) {
    let endpoint = std::env::var("SECRETSMANAGER_ENDPOINT")
        .expect("SECRETSMANAGER_ENDPOINT is not set: run the tests with `make test`");
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region("us-east-1")
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    (config, client)
}

#[tokio::test]
async fn the_pepper_is_read_from_secrets_manager() {
    let (config, client) = secrets_manager().await;
    let value = "k".repeat(64);
    let created = client
        .create_secret()
        .name(format!("pepper-{}", uuid::Uuid::new_v4()))
        .secret_string(&value)
        .send()
        .await
        .unwrap();
    let source = SecretSource::SecretsManager {
        secret_id: created.arn().unwrap().to_owned(),
    };
    let pepper = load_pepper(&config, &source).await.unwrap();
    let key = Credential::parse(CredentialKind::ApiKey, fixtures::OPEN_KEY).unwrap();
    assert_eq!(
        pepper.hash(&key),
        Pepper::new(value.as_bytes()).unwrap().hash(&key)
    );
}

#[tokio::test]
async fn a_missing_or_short_pepper_secret_stops_the_start() {
    let (config, client) = secrets_manager().await;
    let missing = SecretSource::SecretsManager {
        secret_id: "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope".into(),
    };
    let err = load_pepper(&config, &missing).await.unwrap_err();
    assert!(err.to_string().contains("cannot load the pepper"), "{err}");
    let short = client
        .create_secret()
        .name(format!("short-{}", uuid::Uuid::new_v4()))
        .secret_string("tiny")
        .send()
        .await
        .unwrap();
    let short = SecretSource::SecretsManager {
        secret_id: short.arn().unwrap().to_owned(),
    };
    let err = load_pepper(&config, &short).await.unwrap_err();
    assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    assert!(!err.to_string().contains("tiny"));
}

#[tokio::test]
async fn the_handover_key_is_read_from_its_own_secret() {
    let (config, client) = secrets_manager().await;
    let value = "h".repeat(64);
    let created = client
        .create_secret()
        .name(format!("handover-{}", uuid::Uuid::new_v4()))
        .secret_string(&value)
        .send()
        .await
        .unwrap();
    let source = SecretSource::SecretsManager {
        secret_id: created.arn().unwrap().to_owned(),
    };
    let loaded = load_handover_key(&config, &source).await.unwrap();
    // Sealed by the key derived from the stored value, opened by the loaded one.
    let sealed = HandoverKey::from_secret(&value)
        .unwrap()
        .seal("share|key|admin", "hsp_secret")
        .unwrap();
    assert_eq!(
        loaded.open("share|key|admin", &sealed).unwrap(),
        "hsp_secret"
    );
    // A function without the secret gets a key of its own: nothing sealed elsewhere opens.
    let unrelated = load_handover_key(&config, &SecretSource::NotNeeded)
        .await
        .unwrap();
    assert!(unrelated.open("share|key|admin", &sealed).is_err());

    let missing = SecretSource::SecretsManager {
        secret_id: "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope".into(),
    };
    let err = load_handover_key(&config, &missing).await.unwrap_err();
    assert!(
        err.to_string().contains("cannot load the handover key"),
        "{err}"
    );
    let short = client
        .create_secret()
        .name(format!("short-handover-{}", uuid::Uuid::new_v4()))
        .secret_string("tiny")
        .send()
        .await
        .unwrap();
    let short = SecretSource::SecretsManager {
        secret_id: short.arn().unwrap().to_owned(),
    };
    let err = load_handover_key(&config, &short).await.unwrap_err();
    assert!(err.to_string().contains("at least 32 characters"), "{err}");
    assert!(!err.to_string().contains("tiny"));
}
