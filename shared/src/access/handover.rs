//! The encryption of a key's secret while it is handed to another admin (key sharing,
//! `sharing`): AES-256-GCM under a key of its own — from its Secrets Manager secret, never
//! the pepper — bound to the one share it was sealed for, so a sealed secret copied onto
//! another share (or another recipient) does not open.
//!
//! Sealed form: `v1.` + base64url(12-byte random nonce ‖ ciphertext ‖ 16-byte tag).

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const VERSION: &str = "v1.";
/// Shortest secret string the key is derived from (Secrets Manager generates 64 characters).
pub const MIN_SECRET_CHARS: usize = 32;
/// Binds the derived key to this use: the same secret could never key anything else alike.
const DERIVATION_LABEL: &[u8] = b"partner-portal key handover v1\0";

/// The handover key. Cloning shares it.
#[derive(Clone)]
pub struct HandoverKey(Arc<LessSafeKey>);

impl fmt::Debug for HandoverKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandoverKey(redacted)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandoverError {
    #[error("the handover key's secret must have at least {MIN_SECRET_CHARS} characters")]
    ShortSecret,
    #[error("no random bytes for a nonce")]
    Random,
    /// Not sealed by this key for this share (or altered): nothing is revealed.
    #[error("the sealed secret does not open with this key for this share")]
    Unopenable,
}

impl HandoverKey {
    /// The key derived (SHA-256, labelled) from the secret string Secrets Manager holds.
    pub fn from_secret(secret: &str) -> Result<Self, HandoverError> {
        if secret.chars().count() < MIN_SECRET_CHARS {
            return Err(HandoverError::ShortSecret);
        }
        let mut input = DERIVATION_LABEL.to_vec();
        input.extend_from_slice(secret.as_bytes());
        let key_bytes = digest(&SHA256, &input);
        let key = UnboundKey::new(&AES_256_GCM, key_bytes.as_ref())
            .map_err(|_| HandoverError::ShortSecret)?;
        Ok(Self(Arc::new(LessSafeKey::new(key))))
    }

    /// A key nobody else has: what a function that hands nothing over gets, so that a share
    /// it sealed by mistake opens nowhere (it fails closed, like `SecretSource::NotNeeded`).
    pub fn random() -> Result<Self, HandoverError> {
        let mut random = [0u8; 48];
        getrandom::fill(&mut random).map_err(|_| HandoverError::Random)?;
        Self::from_secret(&URL_SAFE_NO_PAD.encode(random))
    }

    /// Seals `secret` for the share `bound_to` (its id, key and recipient).
    pub fn seal(&self, bound_to: &str, secret: &str) -> Result<String, HandoverError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| HandoverError::Random)?;
        self.seal_with_nonce(bound_to, secret, nonce)
    }

    fn seal_with_nonce(
        &self,
        bound_to: &str,
        secret: &str,
        nonce: [u8; NONCE_LEN],
    ) -> Result<String, HandoverError> {
        let mut sealed = secret.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(bound_to.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| HandoverError::Unopenable)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// The secret sealed for `bound_to`.
    pub fn open(&self, bound_to: &str, sealed: &str) -> Result<String, HandoverError> {
        let bytes = sealed
            .strip_prefix(VERSION)
            .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
            .filter(|bytes| bytes.len() > NONCE_LEN)
            .ok_or(HandoverError::Unopenable)?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| HandoverError::Unopenable)?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(bound_to.as_bytes()), &mut buffer)
            .map_err(|_| HandoverError::Unopenable)?;
        String::from_utf8(plain.to_vec()).map_err(|_| HandoverError::Unopenable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "handover-test-secret-0123456789abcdef-0123";

    /// A fixed vector: a change of the derivation, the cipher or the format would leave
    /// every share in flight unopenable, and must fail here first. (The same value comes
    /// out of Python's `cryptography` AESGCM with the key SHA-256(label ‖ secret).)
    #[test]
    fn the_sealed_format_is_fixed() {
        let key = HandoverKey::from_secret(SECRET).unwrap();
        let sealed = key
            .seal_with_nonce("share-1|key-1|admin-2", "hsp_secret", [7; NONCE_LEN])
            .unwrap();
        assert_eq!(
            sealed,
            "v1.BwcHBwcHBwcHBwcHvdl0TIxWpJofuHqY3qM2HisPQzkKrd3XFxo"
        );
        assert_eq!(
            key.open("share-1|key-1|admin-2", &sealed).unwrap(),
            "hsp_secret"
        );
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_share_and_key() {
        let key = HandoverKey::from_secret(SECRET).unwrap();
        let sealed = key.seal("share-1|key-1|admin-2", "hsp_secret").unwrap();
        assert!(!sealed.contains("hsp_secret"));
        assert_ne!(
            sealed,
            key.seal("share-1|key-1|admin-2", "hsp_secret").unwrap()
        );
        assert_eq!(
            key.open("share-2|key-1|admin-2", &sealed),
            Err(HandoverError::Unopenable)
        );
        let other = HandoverKey::from_secret(&format!("{SECRET}x")).unwrap();
        assert_eq!(
            other.open("share-1|key-1|admin-2", &sealed),
            Err(HandoverError::Unopenable)
        );
        let mut altered = sealed.clone();
        altered.pop();
        altered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(
            key.open("share-1|key-1|admin-2", &altered),
            Err(HandoverError::Unopenable)
        );
        assert_eq!(
            key.open("share-1|key-1|admin-2", "v2.abc"),
            Err(HandoverError::Unopenable)
        );
        assert_eq!(
            HandoverKey::from_secret("short").err(),
            Some(HandoverError::ShortSecret)
        );
    }
}
