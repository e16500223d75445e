//! A stand-in code host for secret-scanning alerts: its signing key pair is fixed here, in
//! the clear, because it signs nothing real — the local server and the tests trust its
//! public key (`SECRET_SCANNING_PUBLIC_KEYS` as published), and `sign` makes the signature
//! a real host sends with an alert. A deployment trusts the host's published keys instead.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The identifier the stand-in host names its key by.
pub const KEY_IDENTIFIER: &str = "local-code-host-2026";

/// Its public key, as a code host publishes its keys.
pub const PUBLISHED_KEYS: &str = r#"{"public_keys":[{"key_identifier":"local-code-host-2026","key":"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnqNA4xgL1Rigph3LAQW4m2vEpWAd\n9AgNEM6uJtHkvd7cVVX6NnuMf/H2ucVbVRb66GNqYRuyYOXePZ08ugT6Gw==\n-----END PUBLIC KEY-----\n","is_current":true}]}"#;

/// Its private key (PKCS#8, base64): local and test use only.
const PRIVATE_KEY_PKCS8: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgQcmHwcFvGOxEgOwfbIIAbKjkwMrmLZ7xVJ3RrhPtfXihRANCAASeo0DjGAvVGKCmHcsBBbiba8SlYB30CA0Qzq4m0eS93txVVfo2e4x/8fa5xVtVFvroY2phG7Jg5d49nTy6BPob";

/// The `Github-Public-Key-Signature` the stand-in host sends with `body`.
pub fn sign(body: &[u8]) -> Result<String, String> {
    let pkcs8 = STANDARD
        .decode(PRIVATE_KEY_PKCS8)
        .map_err(|e| e.to_string())?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8)
        .map_err(|e| e.to_string())?;
    let signature = pair
        .sign(&SystemRandom::new(), body)
        .map_err(|e| e.to_string())?;
    Ok(STANDARD.encode(signature.as_ref()))
}
