//! Credential formats and hashing.
//!
//! Every credential is `<type prefix><43 base62 chars = 256 random bits><6 base62 chars of
//! CRC32>` (GitHub token style): a malformed or mistyped credential is rejected before any
//! database call, and leaked ones are recognisable by secret scanners. The database only
//! stores HMAC-SHA256(pepper, credential), so a dump alone cannot use or verify one.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_CHARS: usize = 43;
const CHECKSUM_CHARS: usize = 6;
/// Admins see the first 8 characters of an API key.
pub const DISPLAY_PREFIX_CHARS: usize = 8;
/// A pepper shorter than this is refused at start-up.
pub const MIN_PEPPER_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// `hsp_org_…`: identifies a partner organization; visible to its admins.
    OrganizationKey,
    /// `hsp_…`: secret, shown once at creation.
    ApiKey,
    /// `pps_…`: a one-hour session, sent as `Authorization: Session <token>`.
    SessionToken,
}

impl CredentialKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::OrganizationKey => "hsp_org_",
            Self::ApiKey => "hsp_",
            Self::SessionToken => "pps_",
        }
    }

    const fn noun(self) -> &'static str {
        match self {
            Self::OrganizationKey => "organization key",
            Self::ApiKey => "API key",
            Self::SessionToken => "session token",
        }
    }

    pub const fn text_len(self) -> usize {
        self.prefix().len() + RANDOM_CHARS + CHECKSUM_CHARS
    }
}

/// A well-formed credential. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    kind: CredentialKind,
    text: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential({}…redacted)", self.kind.prefix())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("the {0} is not well-formed")]
    Malformed(&'static str),
    #[error("the {0} has a wrong checksum")]
    BadChecksum(&'static str),
}

impl Credential {
    /// A new random credential of `kind`.
    pub fn generate(kind: CredentialKind) -> Result<Self, getrandom::Error> {
        let mut text = String::with_capacity(kind.text_len());
        text.push_str(kind.prefix());
        let mut pool = [0u8; 64];
        let mut used = pool.len();
        while text.len() < kind.prefix().len() + RANDOM_CHARS {
            if used == pool.len() {
                getrandom::fill(&mut pool)?;
                used = 0;
            }
            let byte = pool[used];
            used += 1;
            // 248 = 4 × 62: rejecting the rest keeps every character uniform.
            if byte < 248 {
                text.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
        let checksum = checksum_chars(&text);
        text.push_str(&checksum);
        Ok(Self { kind, text })
    }

    /// Checks format and checksum only; says nothing about whether the credential exists.
    pub fn parse(kind: CredentialKind, text: &str) -> Result<Self, CredentialError> {
        let malformed = CredentialError::Malformed(kind.noun());
        let body = text.strip_prefix(kind.prefix()).ok_or(malformed.clone())?;
        if body.len() != RANDOM_CHARS + CHECKSUM_CHARS || !body.bytes().all(is_base62) {
            return Err(malformed);
        }
        let split = kind.prefix().len() + RANDOM_CHARS;
        if text.get(split..) != Some(checksum_chars(&text[..split]).as_str()) {
            return Err(CredentialError::BadChecksum(kind.noun()));
        }
        Ok(Self {
            kind,
            text: text.to_owned(),
        })
    }

    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// The full secret text, for showing it once to its owner.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The first characters shown to admins to tell keys apart (`hsp_AbCd`).
    pub fn display_prefix(&self) -> String {
        self.text.chars().take(DISPLAY_PREFIX_CHARS).collect()
    }
}

fn is_base62(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

fn checksum_chars(text: &str) -> String {
    let mut value = crc32fast::hash(text.as_bytes());
    let mut out = [b'0'; CHECKSUM_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out.iter().map(|b| char::from(*b)).collect()
}

/// The server-side secret mixed into every credential hash, kept as a keyed HMAC so hashing
/// cannot fail on a request path. `Debug` never prints it.
#[derive(Clone)]
pub struct Pepper(Hmac<Sha256>);

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper(redacted)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the pepper must be at least {MIN_PEPPER_BYTES} bytes")]
pub struct PepperTooShort;

impl Pepper {
    pub fn new(bytes: &[u8]) -> Result<Self, PepperTooShort> {
        if bytes.len() < MIN_PEPPER_BYTES {
            return Err(PepperTooShort);
        }
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(bytes).map_err(|_| PepperTooShort)?;
        Ok(Self(mac))
    }

    /// HMAC-SHA256(pepper, credential) as lowercase hex: the only form stored.
    pub fn hash(&self, credential: &Credential) -> CredentialHash {
        let mut mac = self.0.clone();
        mac.update(credential.text.as_bytes());
        CredentialHash(hex::encode(mac.finalize().into_bytes()))
    }
}

/// Hex HMAC of a credential: the database key of API keys and sessions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialHash(pub String);

impl CredentialHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_parse_back() {
        for kind in [
            CredentialKind::OrganizationKey,
            CredentialKind::ApiKey,
            CredentialKind::SessionToken,
        ] {
            let credential = Credential::generate(kind).unwrap();
            assert_eq!(credential.expose().len(), kind.text_len());
            assert!(credential.expose().starts_with(kind.prefix()));
            assert_eq!(
                Credential::parse(kind, credential.expose()).unwrap(),
                credential
            );
        }
    }

    #[test]
    fn one_changed_character_fails_the_checksum() {
        let key = Credential::generate(CredentialKind::ApiKey).unwrap();
        let mut text = key.expose().to_owned().into_bytes();
        text[10] = if text[10] == b'a' { b'b' } else { b'a' };
        let text = String::from_utf8(text).unwrap();
        assert_eq!(
            Credential::parse(CredentialKind::ApiKey, &text),
            Err(CredentialError::BadChecksum("API key"))
        );
    }

    #[test]
    fn kinds_are_not_interchangeable() {
        let org = Credential::generate(CredentialKind::OrganizationKey).unwrap();
        assert!(Credential::parse(CredentialKind::ApiKey, org.expose()).is_err());
        let token = Credential::generate(CredentialKind::SessionToken).unwrap();
        assert!(Credential::parse(CredentialKind::ApiKey, token.expose()).is_err());
    }

    #[test]
    fn malformed_inputs_are_rejected() {
        for text in [
            "",
            "hsp_",
            "hsp_short",
            "hsp_ü",
            &format!("hsp_{}", "a".repeat(48) + "é"),
        ] {
            assert!(
                Credential::parse(CredentialKind::ApiKey, text).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let key = Credential::generate(CredentialKind::ApiKey).unwrap();
        assert!(!format!("{key:?}").contains(&key.expose()[4..]));
        let pepper = Pepper::new(&[7u8; 32]).unwrap();
        assert_eq!(format!("{pepper:?}"), "Pepper(redacted)");
    }

    #[test]
    fn the_hash_depends_on_the_pepper() {
        let key = Credential::generate(CredentialKind::ApiKey).unwrap();
        let a = Pepper::new(&[1u8; 32]).unwrap().hash(&key);
        let b = Pepper::new(&[2u8; 32]).unwrap().hash(&key);
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 64);
    }

    #[test]
    fn short_peppers_are_refused() {
        assert!(Pepper::new(&[1u8; 31]).is_err());
    }
}
