//! Test harness: a fresh DynamoDB Local table per test, an app with a clock the test
//! controls, and calls that go through the same API Gateway events as in Lambda.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod fixtures;

use std::net::IpAddr;
use std::sync::Arc;

use local_server::event::{self, HttpCall};
use serde_json::{Value, json};
use shared::access::api_keys::{self, Actor, ApiKeySpec};
use shared::access::credentials::{Credential, CredentialKind, Pepper};
use shared::access::notices::{Notice, Notifier};
use shared::partner_data::onboarding;
use shared::platform::clock::{Clock, ManualClock};
use shared::storage::records::{
    AccountRecord, AccountState, OrganizationRecord, PartnershipType, SessionRecord,
};
use shared::storage::{Store, TableOptions, local_client};
use shared::{App, Config};

/// 2026-11-22T20:30:45Z: where test clocks start.
pub const T0: i64 = 1_795_379_445_000;

/// The DynamoDB Local endpoint `make test` started.
pub fn dynamodb_endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT").expect(
        "DYNAMODB_ENDPOINT is not set: run the tests with `make test`, which starts DynamoDB Local",
    )
}

/// A store on a new, empty table, with its stream. Without TTL, so "expired but still
/// stored" is a state tests can see (DynamoDB Local would otherwise delete such items within
/// seconds).
pub async fn fresh_store() -> Store {
    fresh_store_with(TableOptions {
        ttl: false,
        stream: true,
    })
    .await
}

pub async fn fresh_store_with(options: TableOptions) -> Store {
    let table = format!("test-{}", uuid::Uuid::new_v4());
    let store = Store::new(local_client(&dynamodb_endpoint()), &table);
    store.ensure_table(options).await.unwrap();
    store
}

pub fn test_pepper() -> Pepper {
    Pepper::new(fixtures::PEPPER.as_bytes()).unwrap()
}

/// An app on `store` and `clock`. Session-creation limits are set far out of the way (tests
/// create many sessions within one frozen minute); `rate_limit.rs` tests the real ones.
pub fn app_with(store: Store, clock: Arc<dyn Clock>) -> App {
    let config = Config::from_lookup(|name| match name {
        "TABLE_NAME" => Some(store.table_name().to_owned()),
        "PEPPER" => Some(fixtures::PEPPER.to_owned()),
        "SESSION_CREATES_PER_KEY_PER_MINUTE" | "SESSION_CREATES_PER_ADDRESS_PER_MINUTE" => {
            Some("100000".to_owned())
        }
        "SECRET_SCANNING_PUBLIC_KEYS" => Some(local_server::code_host::PUBLISHED_KEYS.to_owned()),
        _ => None,
    })
    .unwrap();
    App {
        store,
        pepper: test_pepper(),
        handover: shared::access::handover::HandoverKey::from_secret(fixtures::HANDOVER_SECRET)
            .unwrap(),
        clock,
        config,
    }
}

/// One partner organization (MSSP + reseller partnerships) on a fresh table.
pub struct TestApp {
    pub app: App,
    pub clock: ManualClock,
    pub org: OrganizationRecord,
    /// The notices its calls sent (SNS when deployed).
    pub notices: RecordedNotices,
}

/// Notices kept in order, for tests to read.
#[derive(Debug, Clone, Default)]
pub struct RecordedNotices(Arc<std::sync::Mutex<Vec<Notice>>>);

impl RecordedNotices {
    pub fn sent(&self) -> Vec<Notice> {
        self.0
            .lock()
            .map(|notices| notices.clone())
            .unwrap_or_default()
    }
}

impl Notifier for RecordedNotices {
    async fn publish(&self, notice: &Notice) -> Result<(), String> {
        self.0
            .lock()
            .map_err(|e| e.to_string())?
            .push(notice.clone());
        Ok(())
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[
            onboarding::NewPartnership::new("Test MSSP", PartnershipType::Mssp),
            onboarding::NewPartnership::new("Test Reseller", PartnershipType::Reseller),
        ])
        .await
    }

    /// An organization with these partnerships (the first of each type is the one
    /// [`TestApp::partner`] uses).
    pub async fn spawn_with(partnerships: &[onboarding::NewPartnership]) -> Self {
        Self::spawn_on(fresh_store().await, partnerships).await
    }

    /// [`TestApp::spawn_with`] on `store`.
    pub async fn spawn_on(store: Store, partnerships: &[onboarding::NewPartnership]) -> Self {
        let clock = ManualClock::at(T0);
        let app = app_with(store, Arc::new(clock.clone()));
        let org =
            onboarding::create_organization(&app.store, T0, "Test Partner AB", partnerships, true)
                .await
                .unwrap();
        make_admin(&app.store, &org.org_id).await;
        Self {
            app,
            clock,
            org,
            notices: RecordedNotices::default(),
        }
    }

    /// Hands `records` to `usage-ingest` as one SQS batch (message ids are positions);
    /// returns the positions it reported as failed.
    pub async fn ingest(&self, records: &[Value]) -> Vec<usize> {
        let event = usage_ingest::local_event(records);
        let response = usage_ingest::handle(&self.app, event).await;
        let mut failed: Vec<usize> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.parse().unwrap())
            .collect();
        failed.sort_unstable();
        failed
    }

    /// A session of a new open key of the `kind` partnership with `scopes` (optional ones;
    /// `me:read` and the report scope come with every key).
    pub async fn partner(&self, kind: PartnershipType, scopes: &[&str]) -> Partner<'_> {
        let spec = ApiKeySpec {
            name: "Partner app".into(),
            partnership_id: self.partnership_id(kind),
            optional_scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            allowed_origins: Vec::new(),
            allow_any_origin: true,
            cors_origins: Vec::new(),
            expires_at_ms: None,
            share_with: shared::access::sharing::Recipients::none(),
        };
        let (secret, _) = api_keys::create_key(&self.app, &self.org, spec, &test_actor())
            .await
            .unwrap();
        let response = self
            .call(Call::create_session(
                self.organization_key(),
                secret.expose(),
            ))
            .await;
        assert_eq!(response.status, 201, "{}", response.body);
        let token = response.body["_data"][0]["session_token"]
            .as_str()
            .unwrap()
            .to_owned();
        Partner { t: self, token }
    }

    pub fn organization_key(&self) -> &str {
        self.org.organization_key.as_deref().unwrap()
    }

    pub fn partnership_id(&self, kind: PartnershipType) -> String {
        self.org
            .partnerships
            .iter()
            .find(|p| p.kind == kind)
            .unwrap()
            .id
            .clone()
    }

    /// A new MSSP API key with the given allowed origins; returns the secret.
    pub async fn api_key(&self, allowed_origins: &[&str]) -> String {
        self.api_key_with(allowed_origins, None).await
    }

    pub async fn api_key_with(
        &self,
        allowed_origins: &[&str],
        expires_at_ms: Option<i64>,
    ) -> String {
        let spec = ApiKeySpec {
            name: "Billing sync".into(),
            partnership_id: self.partnership_id(PartnershipType::Mssp),
            optional_scopes: vec!["customers:read".into()],
            allowed_origins: allowed_origins.iter().map(|s| (*s).to_owned()).collect(),
            allow_any_origin: allowed_origins.is_empty(),
            cors_origins: Vec::new(),
            expires_at_ms,
            share_with: shared::access::sharing::Recipients::none(),
        };
        let (secret, _) = api_keys::create_key(&self.app, &self.org, spec, &test_actor())
            .await
            .unwrap();
        secret.expose().to_owned()
    }

    pub async fn call(&self, call: Call) -> TestResponse {
        call.send_noting(&self.app, &self.notices).await
    }

    /// Another Lambda instance: its own DynamoDB client on the same table, with the same
    /// clock and configuration (races are tested between instances, as production runs them).
    pub fn instance(&self) -> App {
        App {
            store: Store::new(
                local_client(&dynamodb_endpoint()),
                self.app.store.table_name(),
            ),
            ..self.app.clone()
        }
    }

    /// Another instance (its own client and counters) whose BatchGetItem answers reach it
    /// `delay` after DynamoDB gave them: a Lambda instance paused between its reads, so the
    /// others' writes fall between them.
    pub fn instance_with_slow_batch_reads(&self, delay: std::time::Duration) -> App {
        let client = local_client(&dynamodb_endpoint());
        let config = client
            .config()
            .to_builder()
            .interceptor(SlowBatchReads(delay))
            .build();
        App {
            store: Store::new(
                aws_sdk_dynamodb::Client::from_conf(config),
                self.app.store.table_name(),
            ),
            ..self.app.clone()
        }
    }

    /// Writes that met a concurrent change and were read again, by this app and `instances`
    /// (evidence that racing writers did meet).
    pub fn write_retries_with(&self, instances: &[App]) -> u64 {
        self.app.store.write_retries()
            + instances
                .iter()
                .map(|a| a.store.write_retries())
                .sum::<u64>()
    }

    /// The items of `kind`'s partnership whose sort key starts with `prefix` (listings,
    /// indexes), in key order: one strongly consistent Query, as stored.
    pub async fn stored_under(
        &self,
        kind: PartnershipType,
        prefix: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let pk = shared::storage::keys::partner_partition(&self.partnership_id(kind));
        self.app
            .store
            .client()
            .query()
            .table_name(self.app.store.table_name())
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default()
    }

    /// The item stored under `key`, as stored: one strongly consistent GetItem past the
    /// store (`None`: nothing there).
    pub async fn stored_item(
        &self,
        key: shared::storage::keys::Key,
    ) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        use aws_sdk_dynamodb::types::AttributeValue;
        self.app
            .store
            .client()
            .get_item()
            .table_name(self.app.store.table_name())
            .key("pk", AttributeValue::S(key.pk))
            .key("sk", AttributeValue::S(key.sk))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    /// Creates a session from `ip` with a new open key; returns its token.
    pub async fn session_from(&self, ip: &str) -> String {
        let key = self.api_key(&[]).await;
        let response = self
            .call(Call::create_session(self.organization_key(), &key).from_ip(ip))
            .await;
        assert_eq!(response.status, 201, "{}", response.body);
        response.body["_data"][0]["session_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An admin request of this organization.
    pub fn admin(&self, method: &str, path: &str) -> Call {
        Call::new(method, path).as_admin(&self.org.org_id)
    }

    /// Creates the organization's five sessions with `key`; returns their tokens.
    pub async fn fill_slots(&self, key: &str) -> Vec<String> {
        let mut tokens = Vec::new();
        for _ in 0..shared::access::sessions::MAX_LIVE_SESSIONS {
            let response = self
                .call(Call::create_session(self.organization_key(), key))
                .await;
            assert_eq!(response.status, 201, "{}", response.body);
            tokens.push(
                response.body["_data"][0]["session_token"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        tokens
    }

    /// The organization's slots that hold a session live at the test clock's time.
    pub async fn live_slots(&self) -> usize {
        let now = self.clock.now_ms();
        let slots = self
            .app
            .store
            .session_slots(&self.org.org_id)
            .await
            .unwrap();
        slots
            .iter()
            .filter(|(_, slot)| slot.expires_at_ms > now)
            .count()
    }

    pub fn session_hash(&self, token: &str) -> shared::access::credentials::CredentialHash {
        self.app
            .pepper
            .hash(&Credential::parse(CredentialKind::SessionToken, token).unwrap())
    }
}

/// A partner's session. Every call first moves the test clock on by a second, so the
/// one-request-per-second limit never gets in the way (sessions last an hour: 3,600 calls).
pub struct Partner<'a> {
    pub t: &'a TestApp,
    pub token: String,
}

impl Partner<'_> {
    pub async fn call(&self, call: Call) -> TestResponse {
        self.t.clock.advance_ms(1000);
        self.t.call(call.session(&self.token)).await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.call(Call::get(path)).await
    }

    pub async fn delete(&self, path: &str) -> TestResponse {
        self.call(Call::new("DELETE", path)).await
    }

    /// POST, PATCH or PUT with a JSON body.
    pub async fn send(&self, method: &str, path: &str, body: &Value) -> TestResponse {
        self.call(Call::new(method, path).json(body)).await
    }

    /// `_data[0]` of a successful answer with `status`.
    pub async fn expect(&self, status: u16, call: Call) -> Value {
        let response = self.call(call).await;
        assert_eq!(response.status, status, "{}", response.body);
        response.body["_data"][0].clone()
    }

    /// Creates an account in Sweden, in `state` since `since`; its id.
    pub async fn create_account(&self, name: &str, state: &str, since: &str) -> String {
        let body = json!({ "name": name, "country": "SE", "state": state, "state_since": since });
        let created = self
            .expect(201, Call::new("POST", "/v1/accounts").json(&body))
            .await;
        created["id"].as_str().unwrap_or_default().to_owned()
    }
}

/// A daily usage record of the security platform, observed at noon UTC of its day.
pub fn usage_record(account_id: &str, product: &str, date: &str, units: u64) -> Value {
    usage_observed(
        account_id,
        product,
        date,
        units,
        &format!("{date}T12:00:00Z"),
    )
}

/// A daily usage record observed at `observed_at` (RFC 3339).
pub fn usage_observed(
    account_id: &str,
    product: &str,
    date: &str,
    units: u64,
    observed_at: &str,
) -> Value {
    json!({
        "account_id": account_id, "product": product, "date": date, "units": units,
        "observed_at": observed_at,
    })
}

/// A daily activity record; `fields` override the zero defaults (`"scans": {...}` too).
pub fn activity_record(account_id: &str, date: &str, fields: Value) -> Value {
    let mut record = json!({
        "account_id": account_id, "date": date, "observed_at": format!("{date}T12:00:00Z"),
        "logins": 0,
        "scans": { "SNS": 0, "WAS": 0, "CS": 0 }, "failed_scans": 0, "pat_assessments": 0,
        "reports_created": 0, "risk_score": 0, "threat_score": 0, "inactive_appliances": 0,
    });
    if let (Some(record), Some(fields)) = (record.as_object_mut(), fields.as_object()) {
        for (name, value) in fields {
            record.insert(name.clone(), value.clone());
        }
    }
    record
}

/// A request to send through the API Gateway event path.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub source_ip: Option<IpAddr>,
    pub jwt_claims: Option<serde_json::Map<String, Value>>,
}

impl Call {
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.into(),
            path: path.into(),
            headers: vec![("host".into(), "api.example.com".into())],
            body: Vec::new(),
            source_ip: fixtures::CLIENT_IP.parse().ok(),
            jwt_claims: None,
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    pub fn create_session(organization_key: &str, api_key: &str) -> Self {
        Self::new("POST", "/v1/auth/session")
            .json(&json!({ "organization_key": organization_key, "api_key": api_key }))
    }

    pub fn end_session(token: &str) -> Self {
        Self::new("DELETE", "/v1/auth/session").session(token)
    }

    pub fn me(token: &str) -> Self {
        Self::get("/v1/me").session(token)
    }

    pub fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .raw_body(body.to_string().as_bytes())
    }

    pub fn raw_body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn session(self, token: &str) -> Self {
        self.header("authorization", &format!("Session {token}"))
    }

    pub fn from_ip(mut self, ip: &str) -> Self {
        self.source_ip = Some(ip.parse().unwrap());
        self
    }

    /// Claims as the HttpApi JWT authorizer passes them for a verified token.
    pub fn claims(mut self, claims: &[(&str, &str)]) -> Self {
        self.jwt_claims = Some(
            claims
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
                .collect(),
        );
        self
    }

    /// As the signed-in admin of `org_id` (`make_admin` gives him the membership; the
    /// `TestApp`'s own organization has it from the start).
    pub fn as_admin(self, org_id: &str) -> Self {
        let subject = admin_subject(org_id);
        self.claims(&[
            ("iss", ADMIN_ISSUER),
            ("sub", &subject),
            ("email", "admin@partner.example"),
        ])
    }

    pub fn from_unknown_address(mut self) -> Self {
        self.source_ip = None;
        self
    }

    pub fn event(&self) -> Value {
        event::api_gateway_event(&HttpCall {
            method: &self.method,
            path_and_query: &self.path,
            headers: self.headers.clone(),
            body: &self.body,
            source_ip: self.source_ip,
            jwt_claims: self.jwt_claims.clone(),
        })
    }

    /// Through the same dispatch as the local server (and API Gateway's routing); the
    /// notices it sends are dropped (`TestApp::call` keeps them).
    pub async fn send(self, app: &App) -> TestResponse {
        self.send_noting(app, &RecordedNotices::default()).await
    }

    /// [`Call::send`], its notices to `notifier`.
    pub async fn send_noting(self, app: &App, notifier: &impl Notifier) -> TestResponse {
        let request = event::to_request(&self.event()).unwrap();
        TestResponse::from_lambda(local_server::dispatch(app, notifier, request).await)
    }
}

#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
}

impl TestResponse {
    pub fn from_lambda(response: lambda_http::Response<lambda_http::Body>) -> Self {
        let (parts, body) = response.into_parts();
        let bytes: &[u8] = body.as_ref();
        // A preflight's 204 has no body at all.
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes).unwrap_or_else(|_| {
                panic!(
                    "response body is not JSON: {:?}",
                    String::from_utf8_lossy(bytes)
                )
            })
        };
        Self {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    pub fn error_code(&self) -> u64 {
        self.body["additional_info"]["error_code"]
            .as_u64()
            .unwrap_or(0)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts status and error code, and the parts of the error envelope every error has.
    pub fn assert_error(&self, status: u16, code: u64) {
        assert_eq!(
            (self.status, self.error_code()),
            (status, code),
            "{}",
            self.body
        );
        assert_eq!(self.body["status_code"], status);
        assert!(
            self.body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        assert!(
            self.body["additional_info"]["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        assert!(
            self.body["_meta"]["request_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
    }

    pub fn retry_after_ms(&self) -> u64 {
        self.body["retry_after_ms"].as_u64().unwrap()
    }
}

/// Stores the fixture key pair (`fixtures::OPEN_KEY`, `fixtures::RESTRICTED_KEY` with
/// allowed origin 127.0.0.1, both under `fixtures::ORG_KEY`) and the fixture session
/// (`fixtures::SESSION_TOKEN`, locked to `fixtures::CLIENT_IP`), as the events expect.
/// A session-creation counter for claims made directly in tests, out of the way.
pub fn unlimited_counter(key_id: &str) -> shared::storage::CreationCounter {
    shared::storage::CreationCounter {
        key: shared::storage::keys::creation_counter("KEY", key_id, 0),
        max: u32::MAX,
        window_end_ms: 60_000,
    }
}

pub fn test_actor() -> Actor {
    Actor {
        id: "test".into(),
        label: None,
        ip: None,
    }
}

/// Issuer of the tests' admin tokens.
pub const ADMIN_ISSUER: &str = "https://idp.test.example/pool";

/// The token subject of the admin `Call::as_admin(org_id)` acts as.
pub fn admin_subject(org_id: &str) -> String {
    format!("admin-of-{org_id}")
}

/// Makes the admin `Call::as_admin(org_id)` acts as an admin of `org_id`, as an operator
/// would with `portalctl add-admin`.
pub async fn make_admin(store: &Store, org_id: &str) {
    let identity = shared::access::admin::Identity {
        issuer: ADMIN_ISSUER.into(),
        subject: admin_subject(org_id),
    };
    shared::access::admin::add_admin(
        store,
        T0,
        org_id,
        &identity,
        Some("admin@partner.example".into()),
        &test_actor(),
    )
    .await
    .unwrap();
}

/// Stores the fixture key pair (`fixtures::OPEN_KEY`, `fixtures::RESTRICTED_KEY` with
/// allowed origin 127.0.0.1, both under `fixtures::ORG_KEY`) and the fixture session
/// (`fixtures::SESSION_TOKEN`, locked to `fixtures::CLIENT_IP`), as the events expect.
pub async fn seed_fixtures(app: &App) {
    use shared::storage::AccessChange;
    use shared::storage::records::{ApiKeyRecord, ApiKeySummary, KeyRecord, KeyStatus};
    let org = OrganizationRecord {
        org_id: "6f1c2a52-3b1d-4c44-9a55-0d2f3c4b5a61".into(),
        name: "Fixture Partner AB".into(),
        partnerships: vec![shared::storage::records::Partnership {
            id: "8e2b1c0d-7a6f-4e5d-8c3b-2a1f0e9d8c7b".into(),
            name: "Fixture MSSP".into(),
            kind: PartnershipType::Mssp,
            skus: shared::partner_data::catalogue::PRODUCTS
                .iter()
                .map(|p| p.code.to_owned())
                .collect(),
        }],
        organization_key: Some(fixtures::ORG_KEY.to_owned()),
        api_access_enabled_at_ms: Some(T0),
        created_at_ms: T0,
    };
    app.store.put_organization(&org).await.unwrap();
    // The admin of the events (`ADMIN_CLAIMS` of scripts/generate-events.py).
    shared::access::admin::add_admin(
        &app.store,
        T0,
        &org.org_id,
        &shared::access::admin::Identity {
            issuer: "https://idp.fixture.example/pool".into(),
            subject: "admin-1".into(),
        },
        None,
        &test_actor(),
    )
    .await
    .unwrap();
    let now = app.clock.now_ms();
    let org_key_hash = app
        .pepper
        .hash(&Credential::parse(CredentialKind::OrganizationKey, fixtures::ORG_KEY).unwrap());
    let scopes: Vec<String> = [
        "me:read",
        "mssp-report:read",
        "customers:read",
        "accounts:read",
        "accounts:write",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut open_key_id = String::new();
    for (secret, origins) in [
        (fixtures::OPEN_KEY, vec![]),
        (fixtures::RESTRICTED_KEY, vec!["127.0.0.1".to_owned()]),
    ] {
        let credential = Credential::parse(CredentialKind::ApiKey, secret).unwrap();
        let hash = app.pepper.hash(&credential);
        let key_id = uuid::Uuid::new_v4().to_string();
        if secret == fixtures::OPEN_KEY {
            open_key_id = key_id.clone();
        }
        let lookup = ApiKeyRecord {
            key_id: key_id.clone(),
            org_id: org.org_id.clone(),
            org_name: org.name.clone(),
            organization_key_hash: org_key_hash.0.clone(),
            partnership: org.partnerships[0].clone(),
            name: "Fixture key".into(),
            prefix: credential.display_prefix(),
            scopes: scopes.clone(),
            allowed_origins: origins.clone(),
            cors_origins: Vec::new(),
            status: KeyStatus::Active,
            created_at_ms: now,
            expires_at_ms: None,
            access_version: 0,
        };
        let record = KeyRecord {
            key_id,
            key_hash: hash.0.clone(),
            name: "Fixture key".into(),
            partnership: org.partnerships[0].clone(),
            scopes: scopes.clone(),
            allow_any_origin: origins.is_empty(),
            allowed_origins: origins,
            cors_origins: Vec::new(),
            prefix: credential.display_prefix(),
            status: KeyStatus::Active,
            created_at_ms: now,
            expires_at_ms: None,
            last_rotated_at_ms: None,
            rotation_due: false,
            last_used_at_ms: None,
            revoked_at_ms: None,
            revoked_reason: None,
            replaced_by: None,
            rotated_from: None,
            access_version: 0,
        };
        let change = AccessChange {
            org_id: org.org_id.clone(),
            create: Some((hash, lookup, record)),
            ..AccessChange::default()
        };
        app.store.commit_access_change(&change).await.unwrap();
    }
    let token = Credential::parse(CredentialKind::SessionToken, fixtures::SESSION_TOKEN).unwrap();
    let expires_at_ms = now + shared::access::sessions::SESSION_LIFETIME_MS;
    let session = SessionRecord {
        session_id: uuid::Uuid::new_v4().to_string(),
        org_id: org.org_id.clone(),
        org_name: org.name.clone(),
        partnership: org.partnerships[0].clone(),
        api_key: ApiKeySummary {
            id: open_key_id,
            name: "Fixture key".into(),
            prefix: "hsp_WwVc".into(),
        },
        scopes,
        locked_to: fixtures::CLIENT_IP.into(),
        origin_hosts: None,
        cors_origins: Vec::new(),
        slot: 0,
        created_at_ms: now,
        expires_at_ms,
        next_allowed_ms: now,
        last_used_at_ms: None,
        ttl_epoch_seconds: shared::storage::records::ttl_for(expires_at_ms),
    };
    let created = shared::access::audit::entry(
        now,
        "test",
        shared::access::audit::action::SESSION_CREATED,
        "session:fixture".into(),
        None,
        serde_json::json!({}),
    );
    let outcome = app
        .store
        .claim_slot(
            now,
            &app.pepper.hash(&token),
            &session,
            0,
            &unlimited_counter(&session.api_key.id),
            &created,
        )
        .await
        .unwrap();
    assert_eq!(outcome, shared::storage::ClaimOutcome::Claimed);
    seed_fixture_account(app, &org).await;
}

/// The fixture account: paying, with an SNS subscription running through 2026.
async fn seed_fixture_account(app: &App, org: &OrganizationRecord) {
    use shared::storage::records::{Money, SubscriptionRecord};
    let date = |text| shared::partner_data::calendar::parse_date(text, "date").unwrap();
    let now = app.clock.now_ms();
    let subscription = SubscriptionRecord {
        subscription_id: fixtures::SUBSCRIPTION_ID.into(),
        sku: "SNS".into(),
        quantity: 25,
        start_date: date("2026-01-01"),
        end_date: date("2026-12-31"),
        evaluation: false,
        order_number: Some("PO-2026-0001".into()),
        acv: Some(Money {
            amount_minor: 3_000_000,
            currency: "SEK".into(),
        }),
        created_at_ms: now,
        updated_at_ms: now,
    };
    let account = AccountRecord {
        account_id: fixtures::ACCOUNT_ID.into(),
        org_id: org.org_id.clone(),
        partnership_id: org.partnerships[0].id.clone(),
        created_at_ms: now,
        name: "Fixture Customer AB".into(),
        state: AccountState::Paying,
        trial_ends_at: None,
        country: "SE".into(),
        updated_at_ms: now,
        revision: 1,
        state_history: vec![shared::storage::records::StateChange {
            state: AccountState::Paying,
            since: date("2026-01-01"),
        }],
        subscriptions: [(fixtures::SUBSCRIPTION_ID.to_owned(), subscription)].into(),
        derived_seq: 0,
        engagement: None,
        levels: None,
        usage_months: Default::default(),
        month_lists: Default::default(),
    };
    app.store.create_account(&account).await.unwrap();
}

/// An account with no subscriptions, history or usage, for writing straight through the
/// storage layer (many accounts at once, faster than the API).
pub fn plain_account(
    partnership_id: &str,
    org_id: &str,
    account_id: &str,
    name: &str,
    state: AccountState,
) -> AccountRecord {
    AccountRecord {
        account_id: account_id.into(),
        org_id: org_id.into(),
        partnership_id: partnership_id.into(),
        created_at_ms: T0,
        name: name.into(),
        state,
        trial_ends_at: None,
        country: "SE".into(),
        updated_at_ms: T0,
        revision: 1,
        state_history: Vec::new(),
        subscriptions: Default::default(),
        derived_seq: 0,
        engagement: None,
        levels: None,
        usage_months: Default::default(),
        month_lists: Default::default(),
    }
}

/// Holds every BatchGetItem answer back for a while (see
/// [`TestApp::instance_with_slow_batch_reads`]).
#[derive(Debug)]
struct SlowBatchReads(std::time::Duration);

impl aws_smithy_runtime_api::client::interceptors::Intercept for SlowBatchReads {
    fn name(&self) -> &'static str {
        "SlowBatchReads"
    }

    fn read_after_execution(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
        let batch_get = context
            .output_or_error()
            .and_then(Result::ok)
            .is_some_and(|output| output.downcast_ref::<BatchGetItemOutput>().is_some());
        if batch_get {
            // A blocking pause on purpose: the instance does nothing meanwhile (run it on
            // its own thread).
            std::thread::sleep(self.0);
        }
        Ok(())
    }
}
