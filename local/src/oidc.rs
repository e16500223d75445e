//! A minimal OpenID Connect provider for the console's sign-in in the local stack, so the
//! browser runs the same authorization-code-with-PKCE flow as against a deployment's issuer:
//! discovery, `authorize` (signs the demo admin in at once and redirects back with a
//! one-time code) and `token` (checks the code, client id, redirect URI and PKCE verifier,
//! then issues the local admin JWT that the local JWT check accepts).

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::admin_auth::{LOCAL_AUDIENCE, LOCAL_ISSUER, LocalJwt};
use crate::demo::{DEMO_ADMIN_EMAIL, DEMO_ADMIN_SUBJECT};

pub const PREFIX: &str = "/_local/oidc";
/// How long a code can be exchanged.
const CODE_TTL_MS: i64 = 60_000;
/// How long the console's token lasts (short: the console must handle expiry).
pub const TOKEN_TTL_SECONDS: i64 = 3600;

struct Grant {
    challenge: String,
    redirect_uri: String,
    expires_at_ms: i64,
}

#[derive(Default)]
pub struct Provider {
    codes: Mutex<HashMap<String, Grant>>,
    /// Tokens last this long instead of `TOKEN_TTL_SECONDS` (to see the console sign in again).
    token_ttl_seconds: Option<i64>,
}

type Answer = hyper::Response<Full<Bytes>>;

fn answer(status: http::StatusCode, content_type: &'static str, body: String) -> Answer {
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

fn json_answer(status: http::StatusCode, value: &Value) -> Answer {
    answer(status, "application/json", value.to_string())
}

fn token_error(error: &str, description: &str) -> Answer {
    json_answer(
        http::StatusCode::BAD_REQUEST,
        &json!({ "error": error, "error_description": description }),
    )
}

fn random_code() -> String {
    let mut bytes = [0u8; 32];
    // The OS generator does not fail on a working system; an empty code would be refused.
    let _ = getrandom::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url(SHA-256(verifier)), the S256 code challenge (RFC 7636).
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Provider {
    pub fn with_token_ttl(token_ttl_seconds: Option<i64>) -> Self {
        Self {
            token_ttl_seconds,
            ..Self::default()
        }
    }

    /// Answers a request under `PREFIX`; `base` is `http://<host>` of the request.
    pub fn handle(
        &self,
        jwt: &LocalJwt,
        method: &http::Method,
        path_and_query: &str,
        base: &str,
        body: &[u8],
        now_ms: i64,
    ) -> Answer {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let params = |text: &str| -> HashMap<String, String> {
            form_urlencoded::parse(text.as_bytes())
                .into_owned()
                .collect()
        };
        match (method.as_str(), path.strip_prefix(PREFIX).unwrap_or("")) {
            ("GET", "/.well-known/openid-configuration") => json_answer(
                http::StatusCode::OK,
                &json!({
                    // The local JWT's own issuer (what the local JWT check expects).
                    "issuer": LOCAL_ISSUER,
                    "authorization_endpoint": format!("{base}{PREFIX}/authorize"),
                    "token_endpoint": format!("{base}{PREFIX}/token"),
                    "response_types_supported": ["code"],
                    "grant_types_supported": ["authorization_code"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["none"],
                    "scopes_supported": ["openid"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["HS256"],
                }),
            ),
            ("GET", "/authorize") => self.authorize(&params(query), base, now_ms),
            ("POST", "/token") => self.token(jwt, &params(&String::from_utf8_lossy(body)), now_ms),
            _ => json_answer(
                http::StatusCode::NOT_FOUND,
                &json!({ "error": "not_found" }),
            ),
        }
    }

    fn authorize(&self, params: &HashMap<String, String>, base: &str, now_ms: i64) -> Answer {
        let get = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
        let redirect_uri = get("redirect_uri");
        // Never redirect anywhere but this server's console.
        if get("client_id") != LOCAL_AUDIENCE || redirect_uri != format!("{base}/console") {
            return answer(
                http::StatusCode::BAD_REQUEST,
                "text/plain; charset=utf-8",
                format!(
                    "unknown client_id or redirect_uri (expected {LOCAL_AUDIENCE} and {base}/console)"
                ),
            );
        }
        let challenge = get("code_challenge");
        let refusal = if get("response_type") != "code" {
            Some(("unsupported_response_type", "response_type must be code"))
        } else if get("code_challenge_method") != "S256" || challenge.len() != 43 {
            Some((
                "invalid_request",
                "PKCE with code_challenge_method S256 is required",
            ))
        } else {
            None
        };
        let mut location = format!("{redirect_uri}?");
        let mut query = form_urlencoded::Serializer::new(String::new());
        match refusal {
            Some((error, description)) => {
                query.append_pair("error", error);
                query.append_pair("error_description", description);
            }
            None => {
                let code = random_code();
                if let Ok(mut codes) = self.codes.lock() {
                    codes.retain(|_, g| g.expires_at_ms > now_ms);
                    codes.insert(
                        code.clone(),
                        Grant {
                            challenge: challenge.to_owned(),
                            redirect_uri: redirect_uri.to_owned(),
                            expires_at_ms: now_ms + CODE_TTL_MS,
                        },
                    );
                }
                query.append_pair("code", &code);
            }
        }
        query.append_pair("state", get("state"));
        location.push_str(&query.finish());
        let mut response = answer(
            http::StatusCode::FOUND,
            "text/plain; charset=utf-8",
            String::new(),
        );
        if let Ok(value) = http::HeaderValue::from_str(&location) {
            response.headers_mut().insert(http::header::LOCATION, value);
        }
        response
    }

    fn token(&self, jwt: &LocalJwt, params: &HashMap<String, String>, now_ms: i64) -> Answer {
        let get = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
        if get("grant_type") != "authorization_code" {
            return token_error(
                "unsupported_grant_type",
                "grant_type must be authorization_code",
            );
        }
        if get("client_id") != LOCAL_AUDIENCE {
            return token_error("invalid_client", "unknown client_id");
        }
        // A code is used once, whatever the outcome.
        let grant = self
            .codes
            .lock()
            .ok()
            .and_then(|mut codes| codes.remove(get("code")));
        let Some(grant) = grant.filter(|g| g.expires_at_ms > now_ms) else {
            return token_error("invalid_grant", "unknown, used or expired code");
        };
        if grant.redirect_uri != get("redirect_uri") {
            return token_error(
                "invalid_grant",
                "redirect_uri differs from the authorization request",
            );
        }
        if s256(get("code_verifier")) != grant.challenge {
            return token_error(
                "invalid_grant",
                "code_verifier does not match the code_challenge",
            );
        }
        let ttl = self.token_ttl_seconds.unwrap_or(TOKEN_TTL_SECONDS);
        let token = jwt.admin_token(DEMO_ADMIN_SUBJECT, DEMO_ADMIN_EMAIL, now_ms / 1000, ttl);
        json_answer(
            http::StatusCode::OK,
            &json!({
                "access_token": token,
                "id_token": token,
                "token_type": "Bearer",
                "expires_in": ttl,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_the_rfc_7636_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
