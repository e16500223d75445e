//! Settings read once from the environment at start-up. A missing or bad value fails the
//! Lambda Init phase loudly instead of being papered over with a default.

use std::fmt;

use crate::platform::edge::Addressing;

/// Where a secret comes from: the credential pepper, the handover key of key sharing.
#[derive(Clone)]
pub enum SecretSource {
    /// `PEPPER_SECRET_ARN`, `HANDOVER_KEY_SECRET_ARN`: the deployed case.
    SecretsManager { secret_id: String },
    /// `PEPPER`, `HANDOVER_KEY`: local runs only; refused inside Lambda.
    Environment(String),
    /// A function that does not use the secret has no access to it and gets a random
    /// one, so that a use by mistake fails closed: with `HASHES_CREDENTIALS=false`
    /// (usage-ingest, rotation-check) a hash matches nothing stored; without a handover
    /// key, a shared secret opens nowhere else.
    NotNeeded,
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretsManager { secret_id } => write!(f, "SecretsManager({secret_id})"),
            Self::Environment(_) => f.write_str("Environment(redacted)"),
            Self::NotNeeded => f.write_str("NotNeeded"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `TABLE_NAME`: the single DynamoDB table.
    pub table_name: String,
    pub pepper_source: SecretSource,
    /// The key that seals a secret handed to another admin (`handover`): only admin-api
    /// has it.
    pub handover_source: SecretSource,
    /// Trusted proxies and the edge in front of API Gateway (`edge::Addressing`).
    pub addressing: Addressing,
    /// Least time between two requests of one session (the rate limit): 1,000 ms.
    /// `LOCAL_REQUEST_SPACING_MS` changes it for local fuzzing only; refused inside Lambda.
    pub request_spacing_ms: i64,
    /// `REPORT_GRACE_DAYS` (default 3, at most 28): days a report period stays `closing`
    /// after its last day, taking late platform records, before it is `closed` for good.
    pub report_grace_days: u32,
    /// `SESSION_CREATES_PER_KEY_PER_MINUTE` (default 10) and
    /// `SESSION_CREATES_PER_ADDRESS_PER_MINUTE` (default 60): session creations allowed in
    /// one minute per API key and per client address (wrong keys count too).
    pub session_creates_per_key: u32,
    pub session_creates_per_address: u32,
    /// `SECRET_SCANNING_PUBLIC_KEYS`: the code host's published signing keys, as its
    /// well-known URL serves them (none: every leaked-token alert is refused, 401).
    pub secret_scanning_keys: std::sync::Arc<crate::access::secret_scanning::SigningKeys>,
}

/// Session creations a minute per API key and per client address, unless configured.
pub const DEFAULT_SESSION_CREATES_PER_KEY: u32 = 10;
pub const DEFAULT_SESSION_CREATES_PER_ADDRESS: u32 = 60;
const MAX_SESSION_CREATES: u32 = 100_000;

/// Grace days of a report period when `REPORT_GRACE_DAYS` is not set.
pub const DEFAULT_REPORT_GRACE_DAYS: u32 = 3;
const MAX_REPORT_GRACE_DAYS: u32 = 28;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("cannot load the pepper: {0}")]
    Pepper(String),
    #[error("cannot load the handover key: {0}")]
    HandoverKey(String),
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads settings through `lookup` so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let in_lambda = lookup("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let hashes_credentials = lookup("HASHES_CREDENTIALS").as_deref() != Some("false");
        let pepper_source = match (lookup("PEPPER_SECRET_ARN"), lookup("PEPPER")) {
            _ if !hashes_credentials => SecretSource::NotNeeded,
            (Some(secret_id), _) => SecretSource::SecretsManager { secret_id },
            (None, Some(_)) if in_lambda => {
                return Err(ConfigError::Invalid {
                    name: "PEPPER",
                    reason: "PEPPER is for local runs only; set PEPPER_SECRET_ARN in Lambda".into(),
                });
            }
            (None, Some(pepper)) => SecretSource::Environment(pepper),
            (None, None) => {
                return Err(ConfigError::Missing(
                    "PEPPER_SECRET_ARN (or PEPPER for local runs)",
                ));
            }
        };
        let handover_source = match (lookup("HANDOVER_KEY_SECRET_ARN"), lookup("HANDOVER_KEY")) {
            (Some(secret_id), _) => SecretSource::SecretsManager { secret_id },
            (None, Some(_)) if in_lambda => {
                return Err(ConfigError::Invalid {
                    name: "HANDOVER_KEY",
                    reason:
                        "HANDOVER_KEY is for local runs only; set HANDOVER_KEY_SECRET_ARN in Lambda"
                            .into(),
                });
            }
            (None, Some(key)) => SecretSource::Environment(key),
            (None, None) => SecretSource::NotNeeded,
        };
        let addressing = Addressing::from_lookup(&lookup)?;
        let request_spacing_ms = match lookup("LOCAL_REQUEST_SPACING_MS") {
            None => crate::access::sessions::REQUEST_SPACING_MS,
            Some(_) if in_lambda => {
                return Err(ConfigError::Invalid {
                    name: "LOCAL_REQUEST_SPACING_MS",
                    reason: "the rate limit is fixed in Lambda".into(),
                });
            }
            Some(text) => text.parse().map_err(|_| ConfigError::Invalid {
                name: "LOCAL_REQUEST_SPACING_MS",
                reason: "a whole number of milliseconds".into(),
            })?,
        };
        let report_grace_days = match lookup("REPORT_GRACE_DAYS") {
            None => DEFAULT_REPORT_GRACE_DAYS,
            Some(text) => text
                .parse()
                .ok()
                .filter(|days| *days <= MAX_REPORT_GRACE_DAYS)
                .ok_or_else(|| ConfigError::Invalid {
                    name: "REPORT_GRACE_DAYS",
                    reason: format!("a whole number of days from 0 to {MAX_REPORT_GRACE_DAYS}"),
                })?,
        };
        let per_minute = |name: &'static str, default: u32| match lookup(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .ok()
                .filter(|n| (1..=MAX_SESSION_CREATES).contains(n))
                .ok_or_else(|| ConfigError::Invalid {
                    name,
                    reason: format!("a whole number from 1 to {MAX_SESSION_CREATES}"),
                }),
        };
        let secret_scanning_keys = match lookup("SECRET_SCANNING_PUBLIC_KEYS") {
            None => crate::access::secret_scanning::SigningKeys::default(),
            Some(published) => crate::access::secret_scanning::SigningKeys::parse(&published)
                .map_err(|reason| ConfigError::Invalid {
                    name: "SECRET_SCANNING_PUBLIC_KEYS",
                    reason,
                })?,
        };
        Ok(Self {
            table_name,
            pepper_source,
            handover_source,
            addressing,
            request_spacing_ms,
            report_grace_days,
            session_creates_per_key: per_minute(
                "SESSION_CREATES_PER_KEY_PER_MINUTE",
                DEFAULT_SESSION_CREATES_PER_KEY,
            )?,
            session_creates_per_address: per_minute(
                "SESSION_CREATES_PER_ADDRESS_PER_MINUTE",
                DEFAULT_SESSION_CREATES_PER_ADDRESS,
            )?,
            secret_scanning_keys: std::sync::Arc::new(secret_scanning_keys),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn the_rate_limit_can_only_be_relaxed_outside_lambda() {
        let local = |extra: &[(&str, &str)]| {
            let mut vars = vec![("TABLE_NAME", "t"), ("PEPPER_SECRET_ARN", "arn:s")];
            vars.extend_from_slice(extra);
            Config::from_lookup(|name| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        assert_eq!(local(&[]).unwrap().request_spacing_ms, 1000);
        assert_eq!(
            local(&[("LOCAL_REQUEST_SPACING_MS", "0")])
                .unwrap()
                .request_spacing_ms,
            0
        );
        assert!(
            local(&[
                ("LOCAL_REQUEST_SPACING_MS", "0"),
                ("AWS_LAMBDA_FUNCTION_NAME", "f")
            ])
            .is_err()
        );
        assert!(local(&[("LOCAL_REQUEST_SPACING_MS", "soon")]).is_err());
    }

    #[test]
    fn functions_that_hash_nothing_need_no_pepper() {
        let config = config(&[("TABLE_NAME", "t"), ("HASHES_CREDENTIALS", "false")]).unwrap();
        assert!(matches!(config.pepper_source, SecretSource::NotNeeded));
    }

    #[test]
    fn the_handover_key_comes_from_its_secret_and_from_the_environment_only_locally() {
        let base = [("TABLE_NAME", "t"), ("PEPPER_SECRET_ARN", "arn:p")];
        let none = config(&base).unwrap();
        assert!(matches!(none.handover_source, SecretSource::NotNeeded));
        let deployed = config(&[base[0], base[1], ("HANDOVER_KEY_SECRET_ARN", "arn:h")]).unwrap();
        assert!(matches!(
            deployed.handover_source,
            SecretSource::SecretsManager { secret_id } if secret_id == "arn:h"
        ));
        let local = config(&[base[0], base[1], ("HANDOVER_KEY", "k")]).unwrap();
        assert!(matches!(
            local.handover_source,
            SecretSource::Environment(_)
        ));
        let in_lambda = config(&[
            base[0],
            base[1],
            ("HANDOVER_KEY", "k"),
            ("AWS_LAMBDA_FUNCTION_NAME", "admin-api"),
        ]);
        assert!(matches!(
            in_lambda,
            Err(ConfigError::Invalid {
                name: "HANDOVER_KEY",
                ..
            })
        ));
    }

    #[test]
    fn session_creation_limits_default_and_are_checked() {
        let base = [("TABLE_NAME", "t"), ("PEPPER", "p")];
        let defaults = config(&base).unwrap();
        assert_eq!(
            (
                defaults.session_creates_per_key,
                defaults.session_creates_per_address
            ),
            (10, 60)
        );
        let set = config(&[
            base[0],
            base[1],
            ("SESSION_CREATES_PER_KEY_PER_MINUTE", "3"),
            ("SESSION_CREATES_PER_ADDRESS_PER_MINUTE", "500"),
        ])
        .unwrap();
        assert_eq!(
            (set.session_creates_per_key, set.session_creates_per_address),
            (3, 500)
        );
        for bad in ["0", "-1", "ten", "100001"] {
            assert!(
                config(&[
                    base[0],
                    base[1],
                    ("SESSION_CREATES_PER_KEY_PER_MINUTE", bad)
                ])
                .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_to_start_without_a_pepper() {
        let err = config(&[("TABLE_NAME", "t")]).unwrap_err();
        assert!(err.to_string().contains("PEPPER_SECRET_ARN"), "{err}");
    }

    #[test]
    fn refuses_an_environment_pepper_inside_lambda() {
        let err = config(&[
            ("TABLE_NAME", "t"),
            ("PEPPER", "x"),
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
        ]);
        assert!(matches!(
            err,
            Err(ConfigError::Invalid { name: "PEPPER", .. })
        ));
    }

    #[test]
    fn prefers_secrets_manager() {
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("PEPPER", "x"),
            ("PEPPER_SECRET_ARN", "arn:s"),
        ])
        .unwrap();
        assert!(matches!(
            c.pepper_source,
            SecretSource::SecretsManager { .. }
        ));
    }

    #[test]
    fn a_typo_in_trusted_proxies_fails_loudly() {
        assert!(
            config(&[
                ("TABLE_NAME", "t"),
                ("PEPPER", "x"),
                ("TRUSTED_PROXY_CIDRS", "10.0.0.0/8, 10.1")
            ])
            .is_err()
        );
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("PEPPER", "x"),
            ("TRUSTED_PROXY_CIDRS", "10.0.0.0/8"),
        ])
        .unwrap();
        assert_eq!(c.addressing.trusted_proxies.len(), 1);
    }

    #[test]
    fn report_grace_days_default_to_three_and_are_bounded() {
        let with = |days: Option<&str>| {
            let mut vars = vec![("TABLE_NAME", "t"), ("PEPPER", "x")];
            vars.extend(days.map(|d| ("REPORT_GRACE_DAYS", d)));
            config(&vars)
        };
        assert_eq!(with(None).unwrap().report_grace_days, 3);
        assert_eq!(with(Some("0")).unwrap().report_grace_days, 0);
        assert_eq!(with(Some("28")).unwrap().report_grace_days, 28);
        for bad in ["29", "-1", "three"] {
            assert!(
                matches!(
                    with(Some(bad)),
                    Err(ConfigError::Invalid {
                        name: "REPORT_GRACE_DAYS",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_pepper_is_not_printed() {
        let c = config(&[("TABLE_NAME", "t"), ("PEPPER", "very-secret-pepper")]).unwrap();
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
