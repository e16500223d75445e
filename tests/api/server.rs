//! Through the local server over real TCP: the client address is the TCP peer, so a
//! client bound to 127.0.0.2 is another client.

use std::net::SocketAddr;
use std::sync::Arc;

use api_tests::TestApp;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const SERVER_JWT_SECRET: &[u8] = b"server-test-jwt-secret-0123456789abcdef";

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    async fn start(t: &TestApp) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let api = Arc::new(local_server::LocalApi {
            app: t.app.clone(),
            jwt: local_server::admin_auth::LocalJwt::new(SERVER_JWT_SECRET),
            notifications_log: None,
            oidc: local_server::oidc::Provider::default(),
            events: Default::default(),
        });
        tokio::spawn(local_server::serve(listener, api, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
        }
    }

    async fn send(
        &self,
        from: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut connector = HttpConnector::new();
        connector.set_local_address(Some(from.parse().unwrap()));
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = client
            .request(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[tokio::test]
async fn the_client_address_is_the_tcp_peer() {
    let t = TestApp::spawn().await;
    let server = Server::start(&t).await;
    let key = t.api_key(&[]).await;
    let body = json!({ "organization_key": t.organization_key(), "api_key": key })
        .to_string()
        .into_bytes();
    let json = [("content-type", "application/json")];
    let (status, created) = server
        .send("127.0.0.1", "POST", "/v1/auth/session", &json, body)
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["_data"][0]["ip"], "127.0.0.1");
    assert_eq!(
        created["_links"]["me"]["href"],
        format!("http://{}/v1/me", server.addr)
    );
    let auth = format!(
        "Session {}",
        created["_data"][0]["session_token"].as_str().unwrap()
    );
    // A spoofed X-Forwarded-For does not make another client look like the holder.
    let spoofed = [
        ("authorization", auth.as_str()),
        ("x-forwarded-for", "127.0.0.1"),
    ];
    let (status, refused) = server
        .send("127.0.0.2", "GET", "/v1/me", &spoofed, Vec::new())
        .await;
    assert_eq!(
        (status, refused["additional_info"]["error_code"].as_u64()),
        (403, Some(12004)),
        "{refused}"
    );
    let (status, me) = server
        .send(
            "127.0.0.1",
            "GET",
            "/v1/me",
            &[("authorization", auth.as_str())],
            Vec::new(),
        )
        .await;
    assert_eq!(status, 200, "{me}");
}

#[tokio::test]
async fn allowed_origins_are_matched_against_the_tcp_peer() {
    let t = TestApp::spawn().await;
    let server = Server::start(&t).await;
    let key = t.api_key(&["127.0.0.1"]).await;
    let body = json!({ "organization_key": t.organization_key(), "api_key": key })
        .to_string()
        .into_bytes();
    let json = [("content-type", "application/json")];
    let (status, refused) = server
        .send("127.0.0.2", "POST", "/v1/auth/session", &json, body.clone())
        .await;
    assert_eq!(
        (status, refused["additional_info"]["error_code"].as_u64()),
        (403, Some(12003))
    );
    let (status, created) = server
        .send("127.0.0.1", "POST", "/v1/auth/session", &json, body)
        .await;
    assert_eq!(status, 201, "{created}");
}

#[tokio::test]
async fn the_server_answers_unknown_routes_and_huge_bodies_in_the_envelope() {
    let t = TestApp::spawn().await;
    let server = Server::start(&t).await;
    let (status, body) = server
        .send("127.0.0.1", "GET", "/nope", &[], Vec::new())
        .await;
    assert_eq!(
        (status, body["additional_info"]["error_code"].as_u64()),
        (404, Some(10000))
    );
    let huge = vec![b'x'; 11 * 1024 * 1024];
    let (status, body) = server
        .send(
            "127.0.0.1",
            "POST",
            "/v1/auth/session",
            &[("content-type", "application/json")],
            huge,
        )
        .await;
    assert_eq!(
        (status, body["additional_info"]["error_code"].as_u64()),
        (413, Some(12000))
    );
}

#[tokio::test]
async fn the_local_usage_ingest_route_runs_the_sqs_handler() {
    let t = TestApp::spawn().await;
    let server = Server::start(&t).await;
    let account = uuid::Uuid::new_v4().to_string();
    let records = json!([
        { "account_id": account, "product": "SNS", "date": "2026-11-21", "units": 3, "observed_at": "2026-11-21T20:00:00Z" },
        { "account_id": account, "product": "NOPE", "date": "2026-11-21", "units": 3, "observed_at": "2026-11-21T20:00:00Z" },
    ]);
    let (status, body) = server
        .send(
            "127.0.0.1",
            "POST",
            "/_local/usage-ingest",
            &[],
            records.to_string().into_bytes(),
        )
        .await;
    // The account does not exist: both are failures, the second one invalid as well.
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "batchItemFailures": [{ "itemIdentifier": "1" }, { "itemIdentifier": "0" }] })
    );
    let (status, body) = server
        .send(
            "127.0.0.1",
            "POST",
            "/_local/usage-ingest",
            &[],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("JSON array"));
}

#[tokio::test]
async fn admin_routes_need_a_valid_bearer_token_like_the_jwt_authorizer() {
    use local_server::admin_auth::{LOCAL_AUDIENCE, LOCAL_ISSUER, LocalJwt};
    let t = TestApp::spawn().await;
    let server = Server::start(&t).await;
    let jwt = LocalJwt::new(SERVER_JWT_SECRET);
    let now = chrono::Utc::now().timestamp();
    shared::access::admin::add_admin(
        &t.app.store,
        api_tests::T0,
        &t.org.org_id,
        &shared::access::admin::Identity {
            issuer: LOCAL_ISSUER.into(),
            subject: "server-admin".into(),
        },
        None,
        &api_tests::test_actor(),
    )
    .await
    .unwrap();
    let good = jwt.admin_token("server-admin", "admin@partner.example", now, 600);
    let bearer = format!("Bearer {good}");
    let (status, body) = server
        .send(
            "127.0.0.1",
            "GET",
            "/v1/admin/api-access",
            &[("authorization", bearer.as_str())],
            Vec::new(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["_data"][0]["organization_key"], t.organization_key());

    let claims = |iss: &str, aud: &str, exp: i64| serde_json::json!({ "iss": iss, "aud": aud, "exp": exp, "sub": "server-admin" });
    let forged = LocalJwt::new(b"another-secret-another-secret-0123456789").admin_token(
        "server-admin",
        "x",
        now,
        600,
    );
    let refused = [
        None,
        Some(format!("Bearer {forged}")),
        Some(format!(
            "Bearer {}",
            jwt.sign(&claims(LOCAL_ISSUER, LOCAL_AUDIENCE, now - 1))
        )),
        Some(format!(
            "Bearer {}",
            jwt.sign(&claims(LOCAL_ISSUER, "someone-else", now + 600))
        )),
        Some(format!(
            "Bearer {}",
            jwt.sign(&claims("https://evil.example", LOCAL_AUDIENCE, now + 600))
        )),
        Some(format!("Session {good}")),
        Some("Bearer not.a.jwt".to_owned()),
    ];
    for authorization in refused {
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|a| ("authorization", a.as_str()))
            .collect();
        let (status, body) = server
            .send("127.0.0.1", "GET", "/v1/admin/keys", &headers, Vec::new())
            .await;
        assert_eq!(
            (status, body),
            (401, json!({ "message": "Unauthorized" })),
            "{authorization:?}"
        );
    }
    // A signed-in user who is no admin passes the authorizer and gets the API's 403.
    let viewer = format!(
        "Bearer {}",
        jwt.admin_token("someone-else", "v@partner.example", now, 600)
    );
    let (status, body) = server
        .send(
            "127.0.0.1",
            "GET",
            "/v1/admin/keys",
            &[("authorization", viewer.as_str())],
            Vec::new(),
        )
        .await;
    assert_eq!(
        (status, body["additional_info"]["error_code"].as_u64()),
        (403, Some(12007))
    );
}
