//! API Gateway HTTP API payload 2.0 events: built from an HTTP request by the local server
//! and the tests, and parsed by `lambda_http` exactly as in Lambda.

use std::net::IpAddr;

use serde_json::{Map, Value, json};
use shared::platform::routes;

/// The parts of an HTTP request an event is made of.
#[derive(Debug, Clone)]
pub struct HttpCall<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
    /// `None` builds an event without `sourceIp` (client address unknown).
    pub source_ip: Option<IpAddr>,
    /// Claims of a JWT the authorizer verified (admin routes), as API Gateway passes them.
    pub jwt_claims: Option<Map<String, Value>>,
}

/// The event API Gateway would send for `call` on the `$default` stage.
pub fn api_gateway_event(call: &HttpCall<'_>) -> Value {
    let (path, query) = call
        .path_and_query
        .split_once('?')
        .unwrap_or((call.path_and_query, ""));
    let mut headers = Map::new();
    for (name, value) in &call.headers {
        let name = name.to_ascii_lowercase();
        // The gateway, not the client, says which protocol and peer the request came from.
        if name == "x-forwarded-proto" || name == "x-forwarded-port" {
            continue;
        }
        let joined = match headers.get(&name).and_then(Value::as_str) {
            Some(existing) => format!("{existing},{value}"),
            None => value.clone(),
        };
        headers.insert(name, Value::String(joined));
    }
    headers.insert("x-forwarded-proto".into(), json!("http"));
    if let Some(ip) = call.source_ip {
        let forwarded = match headers.get("x-forwarded-for").and_then(Value::as_str) {
            Some(existing) => format!("{existing}, {ip}"),
            None => ip.to_string(),
        };
        headers.insert("x-forwarded-for".into(), Value::String(forwarded));
    }
    let host = headers
        .get("host")
        .and_then(Value::as_str)
        .unwrap_or("localhost")
        .to_owned();
    let route_key = call
        .method
        .parse::<http::Method>()
        .ok()
        .and_then(|method| routes::resolve(&method, path).ok())
        .map_or_else(
            || "$default".to_owned(),
            |(route, _)| format!("{} {}", route.method, route.path),
        );
    let now = chrono::Utc::now();
    let mut http = json!({
        "method": call.method,
        "path": path,
        "protocol": "HTTP/1.1",
        "userAgent": headers.get("user-agent").cloned().unwrap_or(json!("")),
    });
    if let (Some(ip), Some(object)) = (call.source_ip, http.as_object_mut()) {
        object.insert("sourceIp".into(), json!(ip.to_string()));
    }
    let body = base64_encode(call.body);
    let mut request_context = json!({
        "accountId": "local",
        "apiId": "local",
        "domainName": host,
        "domainPrefix": host.split('.').next().unwrap_or("local"),
        "http": http,
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": route_key,
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": now.timestamp_millis(),
    });
    if let (Some(claims), Some(context)) = (&call.jwt_claims, request_context.as_object_mut()) {
        context.insert(
            "authorizer".into(),
            json!({ "jwt": { "claims": claims, "scopes": null } }),
        );
    }
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": request_context,
        "body": body,
        "isBase64Encoded": !call.body.is_empty(),
    })
}

/// Parses an event the way the Lambda runtime does.
pub fn to_request(event: &Value) -> Result<lambda_http::Request, serde_json::Error> {
    lambda_http::request::from_str(&event.to_string())
}

fn base64_encode(bytes: &[u8]) -> Value {
    use base64::Engine;
    if bytes.is_empty() {
        Value::Null
    } else {
        Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}
