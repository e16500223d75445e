//! The local API server: serves every route of `template.yaml` from one process, turning
//! each HTTP request into the same API Gateway HTTP API (payload 2.0) event Lambda would
//! receive, with the client IP taken from the TCP peer (so a test can bind 127.0.0.2 and
//! be another client), and handing it to the function that serves the route.

pub mod admin_auth;
pub mod code_host;
pub mod demo;
pub mod demo_data;
pub mod event;
pub mod oidc;
pub mod streams;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use lambda_http::{Body, Request, Response};
use shared::App;
use shared::access::notices::{Notice, Notifier};
use shared::platform::routes::{self, Function};
use tokio::net::TcpListener;

/// API Gateway's own limit on a request body; larger ones never reach a function.
const GATEWAY_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Hands an event-built request to the function that serves its route, like API Gateway;
/// `notifier` takes the notices a request sends (the deployed functions publish to SNS).
pub async fn dispatch(app: &App, notifier: &impl Notifier, req: Request) -> Response<Body> {
    let path = req.uri().path().to_owned();
    match routes::resolve(req.method(), &path) {
        Ok((route, _)) => match route.function {
            Function::AuthApi => auth_api::handle(app, notifier, req).await,
            Function::MeApi => me_api::handle(app, req).await,
            Function::AdminApi => admin_api::handle(app, req).await,
            Function::AccountsApi => accounts_api::handle(app, req).await,
            Function::ReportsApi => reports_api::handle(app, req).await,
            Function::CustomersApi => customers_api::handle(app, req).await,
            Function::Docs => docs::handle(&app.config.addressing, &req),
            Function::Console => console::handle(&app.config.addressing, &req),
        },
        Err(_) => fallback_api::handle(&app.config.addressing, &app.store, &req).await,
    }
}

/// What the local server serves: the app, and the JWT check of admin routes.
pub struct LocalApi {
    pub app: App,
    pub jwt: admin_auth::LocalJwt,
    /// Where notices are appended (the rotation check's, a leaked key's; the deployed
    /// functions publish to SNS); `None` only logs them.
    pub notifications_log: Option<std::path::PathBuf>,
    /// The console's sign-in provider (`/_local/oidc/…`).
    pub oidc: oidc::Provider,
    /// The provisioning events read from the table's stream (`GET /_local/events`).
    pub events: Arc<streams::EventLog>,
}

/// Local-only routes (not in template.yaml): run what EventBridge or SQS would trigger.
pub const LOCAL_ROTATION_CHECK: &str = "/_local/rotation-check";
/// Runs the nightly customer-levels recompute now (the server also runs it at start and
/// after every Stockholm midnight).
pub const LOCAL_CUSTOMER_LEVELS: &str = "/_local/customer-levels";
/// Takes a JSON array of platform records, hands them to `usage-ingest` as one SQS batch
/// (message ids are the array positions) and answers with its batch response.
pub const LOCAL_USAGE_INGEST: &str = "/_local/usage-ingest";
/// The provisioning events so far (what the deployed function puts on EventBridge), oldest
/// first; `?after=<n>` skips the first n.
pub const LOCAL_EVENTS: &str = "/_local/events";

/// Notices of the local server: a line each in a file (kind, organization, subject,
/// message, tab-separated), and the log.
pub struct FileNotifier(pub Option<std::path::PathBuf>);

impl Notifier for FileNotifier {
    async fn publish(&self, notice: &Notice) -> Result<(), String> {
        let Notice {
            organization_id,
            kind,
            subject,
            message,
        } = notice;
        tracing::info!(org_id = %organization_id, kind = kind.as_str(), subject, "notice");
        if let Some(path) = &self.0 {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| e.to_string())?;
            let kind = kind.as_str();
            writeln!(file, "{kind}\t{organization_id}\t{subject}\t{message}")
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Accepts connections until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    api: Arc<LocalApi>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let api = Arc::clone(&api);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let api = Arc::clone(&api);
                async move { Ok::<_, Infallible>(handle_http(&api, peer, req).await) }
            });
            if let Err(err) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
}

/// Runs what EventBridge would trigger, answering its report in the response envelope.
async fn scheduled_run(
    api: &LocalApi,
    peer: SocketAddr,
    path: &str,
    run: impl std::future::Future<Output = Result<serde_json::Value, shared::ApiError>>,
) -> hyper::Response<Full<Bytes>> {
    let request = event::to_request(&event::api_gateway_event(&event::HttpCall {
        method: "POST",
        path_and_query: path,
        headers: Vec::new(),
        body: &[],
        source_ip: Some(peer.ip()),
        jwt_claims: None,
    }));
    let response = match request {
        Ok(request) => {
            let info = shared::platform::request::RequestInfo::from_request(
                &request,
                &api.app.config.addressing,
            );
            let result = run.await.map(|report| shared::Reply::ok(vec![report]));
            shared::platform::envelope::respond(&info, result)
        }
        Err(_) => Response::new(Body::Empty),
    };
    into_hyper(response)
}

async fn handle_http(
    api: &LocalApi,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    if parts.uri.path() == LOCAL_ROTATION_CHECK && parts.method == http::Method::POST {
        let notifier = FileNotifier(api.notifications_log.clone());
        let run = rotation_check::handle(&api.app, &notifier, serde_json::Value::Null);
        return scheduled_run(api, peer, LOCAL_ROTATION_CHECK, run).await;
    }
    if parts.uri.path() == LOCAL_CUSTOMER_LEVELS && parts.method == http::Method::POST {
        let run = customer_levels::handle(&api.app, serde_json::Value::Null);
        return scheduled_run(api, peer, LOCAL_CUSTOMER_LEVELS, run).await;
    }
    if parts.uri.path() == LOCAL_USAGE_INGEST && parts.method == http::Method::POST {
        return local_usage_ingest(api, body).await;
    }
    if parts.uri.path() == LOCAL_EVENTS && parts.method == http::Method::GET {
        let after = form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .find(|(name, _)| name == "after")
            .and_then(|(_, value)| value.parse::<usize>().ok())
            .unwrap_or(0);
        let events: Vec<_> = api.events.events().into_iter().skip(after).collect();
        return local_json(
            http::StatusCode::OK,
            serde_json::json!({ "events": events }),
        );
    }
    if parts.uri.path().starts_with(oidc::PREFIX) {
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1");
        let body = Limited::new(body, 64 * 1024)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        return api.oidc.handle(
            &api.jwt,
            &parts.method,
            parts.uri.path_and_query().map_or("/", |pq| pq.as_str()),
            &format!("http://{host}"),
            &body,
            api.app.clock.now_ms(),
        );
    }
    // Admin routes sit behind the JWT authorizer: API Gateway refuses a missing or bad
    // token itself, before any function runs.
    let is_admin_route = routes::resolve(&parts.method, parts.uri.path())
        .is_ok_and(|(route, _)| route.access == routes::Access::Admin);
    let jwt_claims = if is_admin_route {
        let authorization = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        match api.jwt.verify(authorization) {
            Some(claims) => Some(claims),
            None => return unauthorized(),
        }
    } else {
        None
    };
    let (body, too_large) = match Limited::new(body, GATEWAY_MAX_BODY_BYTES).collect().await {
        Ok(collected) => (collected.to_bytes(), false),
        Err(_) => (Bytes::new(), true),
    };
    let call = event::HttpCall {
        method: parts.method.as_str(),
        path_and_query: parts.uri.path_and_query().map_or("/", |pq| pq.as_str()),
        headers: parts
            .headers
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect(),
        body: &body,
        source_ip: Some(peer.ip()),
        jwt_claims,
    };
    let response = match event::to_request(&event::api_gateway_event(&call)) {
        Ok(request) if too_large => {
            let info = shared::platform::request::RequestInfo::from_request(
                &request,
                &api.app.config.addressing,
            );
            shared::platform::envelope::error_response(
                &info,
                &shared::ApiError::PayloadTooLarge {
                    limit_bytes: shared::platform::request::MAX_BODY_BYTES,
                },
            )
        }
        Ok(request) => {
            let notifier = FileNotifier(api.notifications_log.clone());
            dispatch(&api.app, &notifier, request).await
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot turn the request into an API Gateway event");
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = http::StatusCode::BAD_REQUEST;
            response
        }
    };
    into_hyper(response)
}

/// A plain JSON answer of a local-only route.
fn local_json(status: http::StatusCode, value: serde_json::Value) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

async fn local_usage_ingest(api: &LocalApi, body: Incoming) -> hyper::Response<Full<Bytes>> {
    let json = local_json;
    let records = match Limited::new(body, GATEWAY_MAX_BODY_BYTES).collect().await {
        Ok(collected) => serde_json::from_slice::<Vec<serde_json::Value>>(&collected.to_bytes()),
        Err(_) => {
            let message = "the body must not exceed 10 MiB";
            return json(
                http::StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({ "message": message }),
            );
        }
    };
    match records {
        Ok(records) => {
            let event = usage_ingest::local_event(&records);
            let response = usage_ingest::handle(&api.app, event).await;
            json(http::StatusCode::OK, serde_json::json!(response))
        }
        Err(err) => json(
            http::StatusCode::BAD_REQUEST,
            serde_json::json!({ "message": format!("send a JSON array of usage and activity records: {err}") }),
        ),
    }
}

/// API Gateway's own answer to a request its JWT authorizer refuses.
fn unauthorized() -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(
        br#"{"message":"Unauthorized"}"#,
    )));
    *response.status_mut() = http::StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        http::header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Bearer"),
    );
    response
}

fn into_hyper(response: Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}
