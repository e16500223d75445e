//! The error catalogue: every client-visible failure, its HTTP status and its stable numeric
//! code. Mapping to HTTP happens here and nowhere else (see `envelope::error_response`).
//!
//! Codes that have a counterpart in the ThreatSTOP-style catalogue reuse its number; codes
//! from 12000 on are this API's own.

use http::{Method, StatusCode};

/// Boxed cause of an internal failure; logged once at the boundary, never sent to clients.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no route for this path")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allowed: Vec<Method> },
    #[error("collection deletion not supported")]
    CollectionDeletion { allowed: Vec<Method> },
    #[error("request not understood: {0}")]
    RequestNotUnderstood(String),
    #[error("internal error")]
    Internal(#[source] Cause),
    #[error("service busy")]
    ServiceBusy { retry_after_ms: u64 },
    #[error("object not found")]
    ObjectNotFound,
    #[error("authorization required: {0}")]
    AuthRequired(&'static str),
    #[error("invalid credentials: {0}")]
    InvalidCredentials(&'static str),
    #[error("credentials expired: {0}")]
    CredentialsExpired(&'static str),
    #[error("permission denied")]
    PermissionDenied,
    #[error("invalid parameters: {0}")]
    InvalidParameters(String),
    #[error("unsupported content type")]
    UnsupportedContentType(String),
    #[error("payload too large")]
    PayloadTooLarge { limit_bytes: usize },
    #[error("session limit reached")]
    SessionLimitReached { retry_after_ms: u64 },
    #[error("rate limit exceeded")]
    RateLimited { retry_after_ms: u64 },
    #[error("origin not allowed")]
    OriginNotAllowed,
    #[error("session used from another IP address")]
    WrongClientAddress,
    #[error("client address unknown")]
    ClientAddressUnknown,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("admin role required")]
    AdminRoleRequired,
    /// The edge firewall is deployed and the request went around it (`edge`).
    #[error("request did not come through the published URL")]
    EdgeBypassed,
    /// Too many session creations in a minute, for one API key or one client address.
    #[error("session creation rate exceeded")]
    SessionCreationLimited {
        limit: crate::access::sessions::CreationLimit,
        retry_after_ms: u64,
    },
}

impl ApiError {
    /// A server-side failure. Contention the store could not get past, and a database out
    /// of reach for the moment, are no fault: 503 (10101) with a retry hint, not 500.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        let cause = cause.into();
        if let Some(store) = cause.downcast_ref::<crate::storage::StoreError>()
            && store.is_transient()
        {
            tracing::warn!(error = %store, "answering 503");
            return Self::ServiceBusy {
                retry_after_ms: 1000,
            };
        }
        Self::Internal(cause)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::RouteNotFound | Self::ObjectNotFound | Self::PermissionDenied => {
                StatusCode::NOT_FOUND
            }
            Self::MethodNotAllowed { .. } | Self::CollectionDeletion { .. } => {
                StatusCode::METHOD_NOT_ALLOWED
            }
            Self::RequestNotUnderstood(_) | Self::InvalidParameters(_) => StatusCode::BAD_REQUEST,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceBusy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::AuthRequired(_) | Self::InvalidCredentials(_) | Self::CredentialsExpired(_) => {
                StatusCode::UNAUTHORIZED
            }
            Self::UnsupportedContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::SessionLimitReached { .. }
            | Self::RateLimited { .. }
            | Self::SessionCreationLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::OriginNotAllowed
            | Self::WrongClientAddress
            | Self::ClientAddressUnknown
            | Self::AdminRoleRequired
            | Self::EdgeBypassed => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
        }
    }

    /// The stable numeric code in `additional_info.error_code`.
    pub fn code(&self) -> u32 {
        match self {
            Self::RouteNotFound => 10000,
            Self::MethodNotAllowed { .. } => 10001,
            Self::CollectionDeletion { .. } => 10303,
            Self::RequestNotUnderstood(_) => 10003,
            Self::Internal(_) => 10100,
            Self::ServiceBusy { .. } => 10101,
            Self::ObjectNotFound => 10300,
            Self::AuthRequired(_) => 11000,
            Self::InvalidCredentials(_) => 11001,
            Self::CredentialsExpired(_) => 11002,
            Self::PermissionDenied => 11011,
            Self::InvalidParameters(_) => 11400,
            Self::UnsupportedContentType(_) => 11401,
            Self::PayloadTooLarge { .. } => 12000,
            Self::SessionLimitReached { .. } => 12001,
            Self::RateLimited { .. } => 12002,
            Self::OriginNotAllowed => 12003,
            Self::WrongClientAddress => 12004,
            Self::ClientAddressUnknown => 12005,
            Self::Conflict(_) => 12006,
            Self::AdminRoleRequired => 12007,
            Self::SessionCreationLimited { .. } => 12008,
            Self::EdgeBypassed => 12009,
        }
    }

    /// The short, fixed `error_description`.
    pub fn description(&self) -> &'static str {
        match self {
            Self::RouteNotFound => "Service not found",
            Self::MethodNotAllowed { .. } => "Method not allowed",
            Self::CollectionDeletion { .. } => "Collection deletion not supported",
            Self::RequestNotUnderstood(_) => "Request not understood",
            Self::Internal(_) => "Internal error",
            Self::ServiceBusy { .. } => "Service busy",
            Self::ObjectNotFound => "Object not found",
            Self::AuthRequired(_) => "Auth token required",
            Self::InvalidCredentials(_) => "Invalid auth token",
            Self::CredentialsExpired(_) => "Auth token expired",
            Self::PermissionDenied => "Permission denied",
            Self::InvalidParameters(_) => "Invalid argument",
            Self::UnsupportedContentType(_) => "Content type not supported",
            Self::PayloadTooLarge { .. } => "Payload too large",
            Self::SessionLimitReached { .. } => "Session limit reached",
            Self::RateLimited { .. } => "Rate limit exceeded",
            Self::OriginNotAllowed => "Origin not allowed",
            Self::WrongClientAddress => "Session bound to another IP address",
            Self::ClientAddressUnknown => "Client address unknown",
            Self::Conflict(_) => "Conflict with the current state",
            Self::AdminRoleRequired => "Admin role required",
            Self::SessionCreationLimited { .. } => "Too many session creations",
            Self::EdgeBypassed => "Published URL required",
        }
    }

    /// The human-readable `additional_info.detail`: says what to fix, never echoes a secret.
    pub fn detail(&self) -> String {
        match self {
            Self::RouteNotFound => "no route matches this path".into(),
            Self::MethodNotAllowed { allowed } => {
                let names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
                format!("this path allows {}", names.join(", "))
            }
            Self::CollectionDeletion { .. } => {
                "DELETE removes one object (…/{id}); a whole collection cannot be deleted".into()
            }
            Self::RequestNotUnderstood(detail)
            | Self::Conflict(detail)
            | Self::InvalidParameters(detail)
            | Self::UnsupportedContentType(detail) => detail.clone(),
            Self::Internal(_) => "the request could not be completed; retry later".into(),
            Self::ServiceBusy { .. } => {
                "the service is busy or its database briefly out of reach; retry after retry_after_ms".into()
            }
            Self::ObjectNotFound | Self::PermissionDenied => "no such object".into(),
            Self::AuthRequired(detail)
            | Self::InvalidCredentials(detail)
            | Self::CredentialsExpired(detail) => (*detail).into(),
            Self::PayloadTooLarge { limit_bytes } => {
                format!("the request body must not exceed {limit_bytes} bytes")
            }
            Self::SessionLimitReached { .. } => {
                "the organization already has the maximum of 5 live sessions; end one (DELETE /v1/auth/session) or wait for the earliest to expire".into()
            }
            Self::RateLimited { .. } => "a session may make 1 request per second".into(),
            Self::OriginNotAllowed => {
                "the client address or origin is not in the API key's allowed origins".into()
            }
            Self::WrongClientAddress => {
                "this session is locked to the IP address that created it".into()
            }
            Self::AdminRoleRequired => {
                "this route is for partner admins: the token's identity is no admin of any organization (an operator adds admins)".into()
            }
            Self::ClientAddressUnknown => {
                "the API key has allowed origins but the client address could not be determined".into()
            }
            Self::SessionCreationLimited { limit, .. } => format!(
                "at most {} session creations a minute {}; reuse the session you have (it lasts an hour)",
                limit.per_minute,
                limit.scope.describe()
            ),
            Self::EdgeBypassed => {
                "this deployment is called through its published URL (the edge firewall); the API Gateway URL is not served".into()
            }
        }
    }

    /// The methods a path does allow, for the `Allow` header of a 405.
    pub fn allowed_methods(&self) -> Option<&[Method]> {
        match self {
            Self::MethodNotAllowed { allowed } | Self::CollectionDeletion { allowed } => {
                Some(allowed)
            }
            _ => None,
        }
    }

    /// One error of every kind: the published catalogue (`openapi.yaml` lists the same
    /// codes, which a test checks).
    pub fn catalogue() -> Vec<ApiError> {
        vec![
            Self::RouteNotFound,
            Self::MethodNotAllowed { allowed: vec![] },
            Self::CollectionDeletion { allowed: vec![] },
            Self::RequestNotUnderstood(String::new()),
            Self::internal("example"),
            Self::ServiceBusy { retry_after_ms: 1 },
            Self::ObjectNotFound,
            Self::AuthRequired(""),
            Self::InvalidCredentials(""),
            Self::CredentialsExpired(""),
            Self::PermissionDenied,
            Self::InvalidParameters(String::new()),
            Self::UnsupportedContentType(String::new()),
            Self::PayloadTooLarge { limit_bytes: 1 },
            Self::SessionLimitReached { retry_after_ms: 1 },
            Self::RateLimited { retry_after_ms: 1 },
            Self::OriginNotAllowed,
            Self::WrongClientAddress,
            Self::ClientAddressUnknown,
            Self::Conflict(String::new()),
            Self::AdminRoleRequired,
            Self::SessionCreationLimited {
                limit: crate::access::sessions::CreationLimit::per_key(10),
                retry_after_ms: 1,
            },
            Self::EdgeBypassed,
        ]
    }

    /// Milliseconds until a retry can succeed, for the 429/503 answers.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            Self::SessionLimitReached { retry_after_ms }
            | Self::RateLimited { retry_after_ms }
            | Self::ServiceBusy { retry_after_ms }
            | Self::SessionCreationLimited { retry_after_ms, .. } => Some(*retry_after_ms),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let all = ApiError::catalogue();
        let mut codes: Vec<u32> = all.iter().map(ApiError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }

    #[test]
    fn scope_denial_looks_like_a_missing_object() {
        assert_eq!(ApiError::PermissionDenied.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            ApiError::PermissionDenied.detail(),
            ApiError::ObjectNotFound.detail()
        );
    }
}
