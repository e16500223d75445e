//! The local stand-in for the HttpApi JWT authorizer of `/v1/admin/…` routes: verifies an
//! `Authorization: Bearer` token (HS256 with a key generated under `.local/`, issuer and
//! audience checked, expiry enforced) and passes its claims in the request context the way
//! API Gateway does. Refusals look like API Gateway's own: 401 `{"message":"Unauthorized"}`.

use std::collections::HashMap;
use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};

pub const LOCAL_ISSUER: &str = "http://127.0.0.1/local-idp";
pub const LOCAL_AUDIENCE: &str = "partner-portal-local";

#[derive(Clone)]
pub struct LocalJwt {
    secret: Vec<u8>,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for LocalJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LocalJwt(issuer {}, audience {})",
            self.issuer, self.audience
        )
    }
}

impl LocalJwt {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            secret: secret.to_vec(),
            issuer: LOCAL_ISSUER.into(),
            audience: LOCAL_AUDIENCE.into(),
        }
    }

    /// The signing key under `dir`, created (random, owner-only) on first use.
    pub fn load_or_create(dir: &Path) -> std::io::Result<Self> {
        let path = dir.join("jwt-signing-key");
        if let Ok(text) = std::fs::read_to_string(&path)
            && text.trim().len() >= 32
        {
            return Ok(Self::new(text.trim().as_bytes()));
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
        let secret = hex::encode(bytes);
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&path)?;
        file.write_all(secret.as_bytes())?;
        Ok(Self::new(secret.as_bytes()))
    }

    /// A token of the user `subject`, valid for `ttl_seconds`. What the user may do comes
    /// from his membership (`portalctl add-admin`), not from the token.
    pub fn admin_token(
        &self,
        subject: &str,
        email: &str,
        now_seconds: i64,
        ttl_seconds: i64,
    ) -> String {
        let claims = json!({
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "email": email,
            "iat": now_seconds,
            "exp": now_seconds + ttl_seconds,
        });
        self.sign(&claims)
    }

    pub fn sign(&self, claims: &Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .unwrap_or_default()
    }

    /// The verified claims of `Authorization: Bearer <token>`, as API Gateway passes them
    /// to the function (every value a string; lists as `[a b]`), or `None`.
    pub fn verify(&self, authorization: Option<&str>) -> Option<Map<String, Value>> {
        let token = authorization?.trim().strip_prefix("Bearer ")?.trim();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<HashMap<String, Value>>(
            token,
            &DecodingKey::from_secret(&self.secret),
            &validation,
        )
        .ok()?;
        Some(
            data.claims
                .into_iter()
                .map(|(name, value)| (name, Value::String(gateway_claim_text(&value))))
                .collect(),
        )
    }
}

/// How API Gateway renders a claim value for the function.
fn gateway_claim_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(gateway_claim_text)
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => other.to_string(),
    }
}
