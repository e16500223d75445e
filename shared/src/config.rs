//! Settings read once from the environment at start-up. A missing or bad value fails the
//! Lambda Init phase loudly instead of being papered over with a default.

use std::fmt;

use ipnet::IpNet;

/// Where the credential pepper comes from.
#[derive(Clone)]
pub enum PepperSource {
    /// `PEPPER_SECRET_ARN`: the deployed case.
    SecretsManager { secret_id: String },
    /// `PEPPER`: local runs only; refused inside Lambda.
    Environment(String),
}

impl fmt::Debug for PepperSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretsManager { secret_id } => write!(f, "SecretsManager({secret_id})"),
            Self::Environment(_) => f.write_str("Environment(redacted)"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `TABLE_NAME`: the single DynamoDB table.
    pub table_name: String,
    pub pepper_source: PepperSource,
    /// `TRUSTED_PROXY_CIDRS` (comma-separated): only requests arriving from these addresses
    /// may name the client in `X-Forwarded-For`. Empty by default: the source IP is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Which verified JWT claims identify an admin's organization and role.
    pub admin_claims: AdminClaims,
    /// Least time between two requests of one session (the rate limit): 1,000 ms.
    /// `LOCAL_REQUEST_SPACING_MS` changes it for local fuzzing only; refused inside Lambda.
    pub request_spacing_ms: i64,
    /// `REPORT_GRACE_DAYS` (default 3, at most 28): days a report period stays `closing`
    /// after its last day, taking late platform records, before it is `closed` for good.
    pub report_grace_days: u32,
}

/// Grace days of a report period when `REPORT_GRACE_DAYS` is not set.
pub const DEFAULT_REPORT_GRACE_DAYS: u32 = 3;
const MAX_REPORT_GRACE_DAYS: u32 = 28;

/// Claim names of the admin JWT (`ADMIN_ORG_CLAIM`, `ADMIN_ROLE_CLAIM`, `ADMIN_ROLE`),
/// with Cognito-friendly defaults: a custom attribute for the organization id and a
/// Cognito group for the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminClaims {
    pub organization_claim: String,
    pub role_claim: String,
    pub admin_role: String,
}

impl Default for AdminClaims {
    fn default() -> Self {
        Self {
            organization_claim: "custom:organization_id".into(),
            role_claim: "cognito:groups".into(),
            admin_role: "partner-admin".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("cannot load the pepper: {0}")]
    Pepper(String),
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads settings through `lookup` so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let in_lambda = lookup("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let pepper_source = match (lookup("PEPPER_SECRET_ARN"), lookup("PEPPER")) {
            (Some(secret_id), _) => PepperSource::SecretsManager { secret_id },
            (None, Some(_)) if in_lambda => {
                return Err(ConfigError::Invalid {
                    name: "PEPPER",
                    reason: "PEPPER is for local runs only; set PEPPER_SECRET_ARN in Lambda".into(),
                });
            }
            (None, Some(pepper)) => PepperSource::Environment(pepper),
            (None, None) => {
                return Err(ConfigError::Missing(
                    "PEPPER_SECRET_ARN (or PEPPER for local runs)",
                ));
            }
        };
        let trusted_proxies = match lookup("TRUSTED_PROXY_CIDRS") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|entry| !entry.is_empty())
                .map(|entry| {
                    entry.parse::<IpNet>().map_err(|e| ConfigError::Invalid {
                        name: "TRUSTED_PROXY_CIDRS",
                        reason: format!("`{entry}`: {e}"),
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let defaults = AdminClaims::default();
        let admin_claims = AdminClaims {
            organization_claim: lookup("ADMIN_ORG_CLAIM").unwrap_or(defaults.organization_claim),
            role_claim: lookup("ADMIN_ROLE_CLAIM").unwrap_or(defaults.role_claim),
            admin_role: lookup("ADMIN_ROLE").unwrap_or(defaults.admin_role),
        };
        let request_spacing_ms = match lookup("LOCAL_REQUEST_SPACING_MS") {
            None => crate::sessions::REQUEST_SPACING_MS,
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
        Ok(Self {
            table_name,
            pepper_source,
            trusted_proxies,
            admin_claims,
            request_spacing_ms,
            report_grace_days,
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
            PepperSource::SecretsManager { .. }
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
        assert_eq!(c.trusted_proxies.len(), 1);
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
