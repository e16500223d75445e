//! The route table: every public route, the function that serves it. The local server,
//! `template.yaml` (checked by a test) and each function's dispatch all follow this list.
//! Unknown paths get 404 (10000); known paths with another method get 405 (10001).

use http::Method;

use crate::platform::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    CreateSession,
    EndSession,
    ReportLeakedTokens,
    GetMe,
    GetApiAccess,
    EnableApiAccess,
    DisableApiAccess,
    ListPartnerships,
    CreateKey,
    ListKeys,
    GetKey,
    UpdateKey,
    RotateKey,
    RevokeKey,
    ListSharedKeys,
    RevealSharedKey,
    UnshareKey,
    ListSessions,
    InvalidateSession,
    ListAudit,
    GetClientAddress,
    ListSkus,
    ListAccounts,
    CreateAccount,
    GetAccount,
    UpdateAccount,
    ReplaceAccount,
    DeleteAccount,
    ListSubscriptions,
    CreateSubscription,
    GetSubscription,
    UpdateSubscription,
    ReplaceSubscription,
    DeleteSubscription,
    ListMsspPeriods,
    ListMsspCompanies,
    GetMsspUsage,
    ListResellerPeriods,
    ListResellerCompanies,
    GetResellerUsage,
    ListCustomers,
    GetCustomer,
    GetDocs,
    GetOpenApi,
    GetConsole,
}

/// The Lambda function (package name) serving a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    AuthApi,
    MeApi,
    AdminApi,
    AccountsApi,
    ReportsApi,
    CustomersApi,
    Docs,
    Console,
}

impl Function {
    pub const fn package(self) -> &'static str {
        match self {
            Self::AuthApi => "auth-api",
            Self::MeApi => "me-api",
            Self::AdminApi => "admin-api",
            Self::AccountsApi => "accounts-api",
            Self::ReportsApi => "reports-api",
            Self::CustomersApi => "customers-api",
            Self::Docs => "docs",
            Self::Console => "console",
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Partners: the organization key + API key exchange, or a session token.
    Partner,
    /// Partner admins: a JWT verified by the HttpApi JWT authorizer.
    Admin,
    /// Anyone: the documentation.
    Public,
    /// A code host reporting leaked tokens: its signature over the body, checked by the
    /// function against the host's published keys.
    CodeHost,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub id: RouteId,
    pub method: Method,
    /// Path template; `{name}` matches one non-empty segment.
    pub path: &'static str,
    pub function: Function,
    pub access: Access,
    /// Lists a collection (DELETE on it is 405 with 10303, not a bulk delete).
    pub collection: bool,
}

const fn partner(id: RouteId, method: Method, path: &'static str, function: Function) -> Route {
    Route {
        id,
        method,
        path,
        function,
        access: Access::Partner,
        collection: false,
    }
}

/// A partner route that lists a collection.
const fn listing(id: RouteId, path: &'static str, function: Function) -> Route {
    Route {
        id,
        method: Method::GET,
        path,
        function,
        access: Access::Partner,
        collection: true,
    }
}

const fn public(id: RouteId, path: &'static str, function: Function) -> Route {
    Route {
        id,
        method: Method::GET,
        path,
        function,
        access: Access::Public,
        collection: false,
    }
}

const fn admin(id: RouteId, method: Method, path: &'static str) -> Route {
    Route {
        id,
        method,
        path,
        function: Function::AdminApi,
        access: Access::Admin,
        collection: false,
    }
}

const fn admin_listing(id: RouteId, path: &'static str) -> Route {
    Route {
        id,
        method: Method::GET,
        path,
        function: Function::AdminApi,
        access: Access::Admin,
        collection: true,
    }
}

pub const ROUTES: &[Route] = &[
    partner(
        RouteId::CreateSession,
        Method::POST,
        "/v1/auth/session",
        Function::AuthApi,
    ),
    partner(
        RouteId::EndSession,
        Method::DELETE,
        "/v1/auth/session",
        Function::AuthApi,
    ),
    Route {
        id: RouteId::ReportLeakedTokens,
        method: Method::POST,
        path: "/v1/secret-scanning/alerts",
        function: Function::AuthApi,
        access: Access::CodeHost,
        collection: false,
    },
    partner(RouteId::GetMe, Method::GET, "/v1/me", Function::MeApi),
    admin(RouteId::GetApiAccess, Method::GET, "/v1/admin/api-access"),
    admin(
        RouteId::EnableApiAccess,
        Method::POST,
        "/v1/admin/api-access",
    ),
    admin(
        RouteId::DisableApiAccess,
        Method::DELETE,
        "/v1/admin/api-access",
    ),
    admin(
        RouteId::ListPartnerships,
        Method::GET,
        "/v1/admin/partnerships",
    ),
    admin(RouteId::CreateKey, Method::POST, "/v1/admin/keys"),
    admin_listing(RouteId::ListKeys, "/v1/admin/keys"),
    admin(RouteId::GetKey, Method::GET, "/v1/admin/keys/{id}"),
    admin(RouteId::UpdateKey, Method::PATCH, "/v1/admin/keys/{id}"),
    admin(
        RouteId::RotateKey,
        Method::POST,
        "/v1/admin/keys/{id}/rotate",
    ),
    admin(
        RouteId::RevokeKey,
        Method::POST,
        "/v1/admin/keys/{id}/revoke",
    ),
    admin_listing(RouteId::ListSharedKeys, "/v1/admin/shared-keys"),
    admin(
        RouteId::RevealSharedKey,
        Method::POST,
        "/v1/admin/shared-keys/{id}/reveal",
    ),
    admin(
        RouteId::UnshareKey,
        Method::DELETE,
        "/v1/admin/shared-keys/{id}",
    ),
    admin_listing(RouteId::ListSessions, "/v1/admin/sessions"),
    admin(
        RouteId::InvalidateSession,
        Method::DELETE,
        "/v1/admin/sessions/{id}",
    ),
    admin_listing(RouteId::ListAudit, "/v1/admin/audit"),
    admin(
        RouteId::GetClientAddress,
        Method::GET,
        "/v1/admin/client-address",
    ),
    listing(RouteId::ListSkus, "/v1/skus", Function::AccountsApi),
    listing(RouteId::ListAccounts, "/v1/accounts", Function::AccountsApi),
    partner(
        RouteId::CreateAccount,
        Method::POST,
        "/v1/accounts",
        Function::AccountsApi,
    ),
    partner(
        RouteId::GetAccount,
        Method::GET,
        "/v1/accounts/{id}",
        Function::AccountsApi,
    ),
    partner(
        RouteId::UpdateAccount,
        Method::PATCH,
        "/v1/accounts/{id}",
        Function::AccountsApi,
    ),
    partner(
        RouteId::ReplaceAccount,
        Method::PUT,
        "/v1/accounts/{id}",
        Function::AccountsApi,
    ),
    partner(
        RouteId::DeleteAccount,
        Method::DELETE,
        "/v1/accounts/{id}",
        Function::AccountsApi,
    ),
    listing(
        RouteId::ListSubscriptions,
        "/v1/accounts/{id}/subscriptions",
        Function::AccountsApi,
    ),
    partner(
        RouteId::CreateSubscription,
        Method::POST,
        "/v1/accounts/{id}/subscriptions",
        Function::AccountsApi,
    ),
    partner(
        RouteId::GetSubscription,
        Method::GET,
        "/v1/subscriptions/{id}",
        Function::AccountsApi,
    ),
    partner(
        RouteId::UpdateSubscription,
        Method::PATCH,
        "/v1/subscriptions/{id}",
        Function::AccountsApi,
    ),
    partner(
        RouteId::ReplaceSubscription,
        Method::PUT,
        "/v1/subscriptions/{id}",
        Function::AccountsApi,
    ),
    partner(
        RouteId::DeleteSubscription,
        Method::DELETE,
        "/v1/subscriptions/{id}",
        Function::AccountsApi,
    ),
    listing(
        RouteId::ListMsspPeriods,
        "/v1/mssp/periods",
        Function::ReportsApi,
    ),
    listing(
        RouteId::ListMsspCompanies,
        "/v1/mssp/periods/{id}/companies",
        Function::ReportsApi,
    ),
    listing(
        RouteId::GetMsspUsage,
        "/v1/mssp/periods/{id}/usage",
        Function::ReportsApi,
    ),
    listing(
        RouteId::ListResellerPeriods,
        "/v1/reseller/periods",
        Function::ReportsApi,
    ),
    listing(
        RouteId::ListResellerCompanies,
        "/v1/reseller/periods/{id}/companies",
        Function::ReportsApi,
    ),
    listing(
        RouteId::GetResellerUsage,
        "/v1/reseller/periods/{id}/usage",
        Function::ReportsApi,
    ),
    listing(
        RouteId::ListCustomers,
        "/v1/customers",
        Function::CustomersApi,
    ),
    partner(
        RouteId::GetCustomer,
        Method::GET,
        "/v1/customers/{id}",
        Function::CustomersApi,
    ),
    public(RouteId::GetDocs, "/docs", Function::Docs),
    public(RouteId::GetOpenApi, "/openapi.json", Function::Docs),
    public(RouteId::GetConsole, "/console", Function::Console),
];

/// Values of `{name}` segments of the matched route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams(Vec<(&'static str, String)>);

impl PathParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Does `route`'s path template match `path` (whatever the method)?
pub fn matches(route: &Route, path: &str) -> bool {
    match_template(route.path, path).is_some()
}

fn match_template(template: &'static str, path: &str) -> Option<PathParams> {
    let mut params = Vec::new();
    let mut wanted = template.split('/');
    let mut given = path.split('/');
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(PathParams(params)),
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') && !g.is_empty() => {
                params.push((w.trim_matches(['{', '}']), g.to_owned()));
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

/// Finds the route for `method` and `path`, or the 404/405 answer.
pub fn resolve(method: &Method, path: &str) -> Result<(&'static Route, PathParams), ApiError> {
    let mut allowed = Vec::new();
    let mut collection = false;
    for route in ROUTES {
        if let Some(params) = match_template(route.path, path) {
            if route.method == *method {
                return Ok((route, params));
            }
            allowed.push(route.method.clone());
            collection |= route.collection;
        }
    }
    if allowed.is_empty() {
        Err(ApiError::RouteNotFound)
    } else if collection && *method == Method::DELETE {
        Err(ApiError::CollectionDeletion { allowed })
    } else {
        Err(ApiError::MethodNotAllowed { allowed })
    }
}

/// The route of `info` if `function` serves it; otherwise the 404/405 answer (a route of
/// another function reaching this one is a deployment mistake and is answered as unknown).
/// A request that went around the edge firewall reaches no route at all.
pub fn route_for(
    function: Function,
    info: &crate::platform::request::RequestInfo,
) -> Result<(RouteId, PathParams), ApiError> {
    if info.edge_bypassed {
        return Err(ApiError::EdgeBypassed);
    }
    let (route, params) = resolve(&info.method, &info.path)?;
    if route.function == function {
        Ok((route.id, params))
    } else {
        Err(ApiError::RouteNotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_routes_resolve() {
        let (route, _) = resolve(&Method::POST, "/v1/auth/session").unwrap();
        assert_eq!(route.id, RouteId::CreateSession);
        let (route, _) = resolve(&Method::GET, "/v1/me").unwrap();
        assert_eq!(route.function, Function::MeApi);
    }

    #[test]
    fn wrong_method_lists_the_allowed_ones() {
        match resolve(&Method::PUT, "/v1/auth/session") {
            Err(ApiError::MethodNotAllowed { allowed }) => {
                assert_eq!(allowed, [Method::POST, Method::DELETE])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deleting_a_collection_is_its_own_refusal() {
        for path in [
            "/v1/accounts",
            "/v1/accounts/a1/subscriptions",
            "/v1/admin/keys",
        ] {
            let err = resolve(&Method::DELETE, path).unwrap_err();
            assert_eq!((err.status().as_u16(), err.code()), (405, 10303), "{path}");
        }
        let err = resolve(&Method::DELETE, "/v1/me").unwrap_err();
        assert_eq!(err.code(), 10001);
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in ["/", "/v1", "/v1/me/", "/v1/mee", "/v2/me", ""] {
            assert!(
                matches!(resolve(&Method::GET, path), Err(ApiError::RouteNotFound)),
                "{path}"
            );
        }
    }

    #[test]
    fn templates_capture_segments() {
        let params = match_template("/v1/keys/{id}/rotate", "/v1/keys/abc/rotate").unwrap();
        assert_eq!(params.get("id"), Some("abc"));
        assert!(match_template("/v1/keys/{id}", "/v1/keys/").is_none());
    }
}
