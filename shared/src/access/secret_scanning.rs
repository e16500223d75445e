//! Leaked credentials reported by code hosts (GitHub's secret-scanning partner program,
//! whose protocol other hosts reuse): a JSON list of tokens found in public code, signed by
//! the host. The signature — ECDSA P-256 over SHA-256 of the raw body, ASN.1 DER, base64,
//! the signing key named by a header — is checked against the host's published keys before
//! anything else, so a forged alert never reaches the database. Then every token that is a
//! live API key of ours is revoked with its sessions, and every live session token ended,
//! each audited; the answer labels each token for the host.

use std::collections::BTreeMap;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ParsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::App;
use crate::access::api_keys::{self, Actor};
use crate::access::credentials::{Credential, CredentialKind};
use crate::access::notices::{Notice, NoticeKind, Notifier};
use crate::platform::clock::iso8601;
use crate::platform::error::ApiError;

/// Header naming the key that signed an alert.
pub const KEY_IDENTIFIER_HEADER: &str = "github-public-key-identifier";
/// Header carrying the alert's signature (base64 of the ASN.1 DER ECDSA signature).
pub const SIGNATURE_HEADER: &str = "github-public-key-signature";
/// Most tokens one alert may carry; a longer list is refused whole (400).
pub const MAX_TOKENS: usize = 100;
/// Largest alert body taken (a hundred tokens with long URLs fit); larger is a 413.
pub const MAX_ALERT_BYTES: usize = 256 * 1024;
/// Why a key revoked by an alert was revoked (its audit entry and key view).
pub const REVOCATION_REASON: &str = "leaked: reported by secret scanning";

/// The code host's published signing keys, by identifier.
#[derive(Default)]
pub struct SigningKeys {
    keys: BTreeMap<String, ParsedPublicKey>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.keys.keys()).finish()
    }
}

#[derive(Deserialize)]
struct PublishedKeys {
    public_keys: Vec<PublishedKey>,
}

#[derive(Deserialize)]
struct PublishedKey {
    key_identifier: String,
    key: String,
}

/// Why an alert's signature is refused (every one a 401, before any database call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The key identifier or the signature header is missing.
    Missing,
    /// No published key has that identifier.
    UnknownKey,
    /// The signature is not base64.
    Malformed,
    /// The signature does not verify over the body.
    Invalid,
}

impl SigningKeys {
    /// The keys of the host's published list
    /// (`{"public_keys": [{"key_identifier", "key": "<PEM>", "is_current"}]}`); a key that is
    /// not a P-256 public key fails here, at start-up, not at the first alert.
    pub fn parse(published: &str) -> Result<Self, String> {
        let parsed: PublishedKeys = serde_json::from_str(published)
            .map_err(|e| format!("the signing keys are not the published JSON list: {e}"))?;
        let mut keys = BTreeMap::new();
        for key in parsed.public_keys {
            let der = pem_public_key(&key.key).ok_or_else(|| {
                format!("signing key {} is not a PEM public key", key.key_identifier)
            })?;
            let parsed = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der).map_err(|e| {
                format!("signing key {} is not a P-256 key: {e}", key.key_identifier)
            })?;
            keys.insert(key.key_identifier, parsed);
        }
        Ok(Self { keys })
    }

    /// Checks `signature` (base64) of `body` by the key `key_id`.
    pub fn verify(
        &self,
        key_id: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let (Some(key_id), Some(signature)) = (key_id, signature) else {
            return Err(SignatureError::Missing);
        };
        let key = self.keys.get(key_id).ok_or(SignatureError::UnknownKey)?;
        let signature = STANDARD
            .decode(signature.trim())
            .map_err(|_| SignatureError::Malformed)?;
        key.verify_sig(body, &signature)
            .map_err(|_| SignatureError::Invalid)
    }
}

/// The DER of a PEM `PUBLIC KEY` block.
fn pem_public_key(pem: &str) -> Option<Vec<u8>> {
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN PUBLIC KEY-----")?
        .strip_suffix("-----END PUBLIC KEY-----")?;
    let base64: String = body.split_whitespace().collect();
    STANDARD.decode(base64).ok()
}

/// One token of an alert. `Debug` never prints the token.
#[derive(Clone, Deserialize)]
pub struct ReportedToken {
    pub token: String,
    #[serde(rename = "type")]
    pub token_type: String,
    /// Where it was found (a public URL).
    #[serde(default)]
    pub url: Option<String>,
    /// What kind of place (`content`, `commit`, `issue_comment`, …).
    #[serde(default)]
    pub source: Option<String>,
}

impl std::fmt::Debug for ReportedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportedToken")
            .field("token_hash", &token_hash(&self.token))
            .field("token_type", &self.token_type)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The tokens of a verified alert body: a JSON array of 1 to [`MAX_TOKENS`] objects.
pub fn parse_alert(body: &[u8]) -> Result<Vec<ReportedToken>, ApiError> {
    let tokens: Vec<ReportedToken> = serde_json::from_slice(body).map_err(|_| {
        ApiError::InvalidParameters(
            "the alert must be a JSON array of {token, type, url, source}".into(),
        )
    })?;
    if tokens.is_empty() || tokens.len() > MAX_TOKENS {
        return Err(ApiError::InvalidParameters(format!(
            "an alert carries 1 to {MAX_TOKENS} tokens"
        )));
    }
    Ok(tokens)
}

/// The host's label for a reported token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// A live credential of ours: revoked (an API key, with its sessions) or ended (a session).
    TruePositive,
    /// Not a live credential: malformed, unknown, or revoked or ended already.
    FalsePositive,
}

impl Label {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TruePositive => "true_positive",
            Self::FalsePositive => "false_positive",
        }
    }
}

/// What became of one token, as the host reads it: the token is named by its SHA-256
/// (never echoed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub token_hash: String,
    pub token_type: String,
    pub label: Label,
}

/// The hex SHA-256 of a token (how the answer names it).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The credential a reported token is, if it has one of our formats (prefix and checksum).
fn credential(token: &str) -> Option<Credential> {
    // The organization key's prefix extends the API key's: it is tried first. An
    // organization key identifies, it grants nothing alone: it is not acted on.
    if token.starts_with(CredentialKind::OrganizationKey.prefix()) {
        return None;
    }
    [CredentialKind::ApiKey, CredentialKind::SessionToken]
        .into_iter()
        .find_map(|kind| Credential::parse(kind, token.trim()).ok())
}

/// Acts on every token of a verified alert: a live API key is revoked (its sessions end),
/// a live session ended; each with an audit entry naming where it was found, and a notice
/// to its organization. A notice that cannot be sent is logged: the revocation stands and
/// the audit trail holds it (a repeated alert finds nothing left to revoke).
pub async fn handle_alert(
    app: &App,
    notifier: &impl Notifier,
    tokens: &[ReportedToken],
) -> Result<Vec<Verdict>, ApiError> {
    let mut verdicts = Vec::with_capacity(tokens.len());
    for reported in tokens {
        let notice = match credential(&reported.token) {
            Some(credential) => act_on(app, &credential, reported).await?,
            None => None,
        };
        let label = match notice {
            Some(notice) => {
                if let Err(error) = notifier.publish(&notice).await {
                    tracing::error!(org_id = %notice.organization_id, kind = notice.kind.as_str(), %error, "leaked-token notice not sent");
                }
                Label::TruePositive
            }
            None => Label::FalsePositive,
        };
        verdicts.push(Verdict {
            token_hash: token_hash(&reported.token),
            token_type: reported.token_type.clone(),
            label,
        });
    }
    Ok(verdicts)
}

/// The actor of the audit entries an alert writes.
fn scanner(reported: &ReportedToken) -> Actor {
    Actor {
        id: "system:secret-scanning".into(),
        label: reported.url.clone(),
        ip: None,
    }
}

/// Revokes or ends what `credential` is, if it is live: then the notice to its
/// organization (a true positive); none when nothing was live.
async fn act_on(
    app: &App,
    credential: &Credential,
    reported: &ReportedToken,
) -> Result<Option<Notice>, ApiError> {
    let hash = app.pepper.hash(credential);
    let now = iso8601(app.clock.now_ms());
    match credential.kind() {
        CredentialKind::ApiKey => {
            let Some(key) = app.store.api_key(&hash).await.map_err(ApiError::internal)? else {
                return Ok(None);
            };
            let revoked = api_keys::revoke_key(
                app,
                &key.org_id,
                &key.key_id,
                REVOCATION_REASON,
                &scanner(reported),
            )
            .await;
            match revoked {
                Ok((record, ended)) => {
                    tracing::warn!(org_id = %key.org_id, key_id = %key.key_id, sessions_ended = ended.len(), "leaked API key revoked");
                    Ok(Some(Notice {
                        organization_id: key.org_id.clone(),
                        kind: NoticeKind::LeakedKeyRevoked,
                        subject: format!(
                            "API key \"{}\" was found in public code and revoked",
                            record.name
                        ),
                        message: json!({
                            "organization_id": key.org_id,
                            "api_key": { "id": record.key_id, "name": record.name, "prefix": record.prefix },
                            "found_at": reported.url,
                            "revoked_at": now,
                            "sessions_ended": ended.len(),
                            "action": "create a new key (POST /v1/admin/keys) and use it where the leaked one was used",
                        })
                        .to_string(),
                    }))
                }
                // Revoked meanwhile (another alert, an admin).
                Err(ApiError::Conflict(_)) => Ok(None),
                Err(err) => Err(err),
            }
        }
        CredentialKind::SessionToken => {
            let Some(session) = app
                .store
                .session_by_hash(&hash)
                .await
                .map_err(ApiError::internal)?
                .filter(|s| s.expires_at_ms > app.clock.now_ms())
            else {
                return Ok(None);
            };
            match crate::access::sessions::invalidate_session(
                app,
                &session.org_id,
                &session.session_id,
                &scanner(reported),
            )
            .await
            {
                Ok(()) => {
                    tracing::warn!(org_id = %session.org_id, session_id = %session.session_id, "leaked session ended");
                    let key = &session.api_key;
                    Ok(Some(Notice {
                        organization_id: session.org_id.clone(),
                        kind: NoticeKind::LeakedSessionEnded,
                        subject: format!(
                            "A session of API key \"{}\" was found in public code and ended",
                            key.name
                        ),
                        message: json!({
                            "organization_id": session.org_id,
                            "session": { "id": session.session_id },
                            "api_key": { "id": key.id, "name": key.name, "prefix": key.prefix },
                            "found_at": reported.url,
                            "ended_at": now,
                            "action": "the key still works: revoke it (POST /v1/admin/keys/{id}/revoke) if it may have leaked too",
                        })
                        .to_string(),
                    }))
                }
                Err(ApiError::ObjectNotFound) => Ok(None),
                Err(err) => Err(err),
            }
        }
        CredentialKind::OrganizationKey => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    use super::*;

    /// A published key list holding `pair`'s public key as `id`.
    fn published(id: &str, pair: &EcdsaKeyPair) -> String {
        let der = pair.public_key().as_der().unwrap();
        let base64 = STANDARD.encode(der.as_ref());
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{base64}\n-----END PUBLIC KEY-----\n");
        serde_json::json!({ "public_keys": [{ "key_identifier": id, "key": pem, "is_current": true }] })
            .to_string()
    }

    fn sign(pair: &EcdsaKeyPair, body: &[u8]) -> String {
        STANDARD.encode(pair.sign(&SystemRandom::new(), body).unwrap().as_ref())
    }

    #[test]
    fn only_a_signature_by_the_named_published_key_over_the_exact_body_verifies() {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let other = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let keys = SigningKeys::parse(&published("k1", &pair)).unwrap();
        let body = br#"[{"token":"x","type":"t"}]"#;
        let signature = sign(&pair, body);
        assert_eq!(keys.verify(Some("k1"), Some(&signature), body), Ok(()));
        let changed = br#"[{"token":"y","type":"t"}]"#;
        assert_eq!(
            keys.verify(Some("k1"), Some(&signature), changed),
            Err(SignatureError::Invalid)
        );
        let forged = sign(&other, body);
        assert_eq!(
            keys.verify(Some("k1"), Some(&forged), body),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            keys.verify(Some("k2"), Some(&signature), body),
            Err(SignatureError::UnknownKey)
        );
        assert_eq!(
            keys.verify(Some("k1"), Some("not base64!"), body),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            keys.verify(None, Some(&signature), body),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            keys.verify(Some("k1"), None, body),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn a_published_list_with_a_key_that_is_not_p256_is_refused() {
        assert!(SigningKeys::parse("{}").is_err());
        let bad = serde_json::json!({ "public_keys": [{ "key_identifier": "k",
            "key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----" }] });
        assert!(SigningKeys::parse(&bad.to_string()).is_err());
    }

    #[test]
    fn alerts_carry_one_to_a_hundred_tokens_and_debug_never_shows_one() {
        assert!(parse_alert(b"[]").is_err());
        assert!(parse_alert(b"{}").is_err());
        let many: Vec<_> = (0..=MAX_TOKENS)
            .map(|_| serde_json::json!({ "token": "t", "type": "x" }))
            .collect();
        assert!(parse_alert(serde_json::to_string(&many).unwrap().as_bytes()).is_err());
        let tokens = parse_alert(
            br#"[{"token":"hsp_secret","type":"partner_portal_api_key","url":"https://example.com/a","source":"content"}]"#,
        )
        .unwrap();
        assert_eq!(tokens[0].token_type, "partner_portal_api_key");
        assert!(!format!("{tokens:?}").contains("hsp_secret"));
    }

    #[test]
    fn tokens_are_named_by_their_sha256() {
        // SHA-256 of "abc" (FIPS 180-2 test vector).
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
