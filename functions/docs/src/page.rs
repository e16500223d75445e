//! The docs page: fixed guidance (quick start, scopes, products, allowed origins) and
//! everything that can come from the OpenAPI document (error catalogue, operations,
//! schemas) generated from it, so the page and the contract cannot disagree.

use std::fmt::Write;

use serde_json::Value;
use shared::partner_data::catalogue::PRODUCTS;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Inline `code` spans of the OpenAPI descriptions (backticks) as `<code>`.
fn prose(text: &str) -> String {
    escape(text)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_owned()
            }
        })
        .collect()
}

const STYLE: &str = "body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2530;background:#fff}\
header{background:#16324f;color:#fff;padding:24px 32px}header h1{margin:0;font-size:26px}header p{margin:6px 0 0;opacity:.85}\
nav{padding:10px 32px;background:#eef2f6;border-bottom:1px solid #d5dde6}nav a{margin-right:16px;color:#16324f}\
main{max-width:1040px;padding:8px 32px 48px}h2{border-bottom:2px solid #16324f;padding-bottom:4px;margin-top:40px}\
h3{margin:28px 0 6px;font-size:17px}table{border-collapse:collapse;width:100%;margin:8px 0}\
th,td{border:1px solid #d5dde6;padding:5px 8px;text-align:left;vertical-align:top}th{background:#eef2f6}\
code,pre{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}code{background:#f1f4f7;padding:1px 4px;border-radius:3px}\
pre{background:#0f1e2e;color:#e6edf3;padding:12px 14px;border-radius:6px;overflow-x:auto}pre code{background:none;padding:0}\
.method{display:inline-block;min-width:62px;font-weight:700;color:#fff;border-radius:4px;padding:1px 6px;margin-right:6px;text-align:center}\
.get{background:#2f7d4f}.post{background:#2b62a8}.patch{background:#8a5a00}.put{background:#6b4fa0}.delete{background:#a83232}\
.op{border-left:3px solid #d5dde6;padding-left:14px;margin-bottom:18px}.muted{color:#5b6775}";

const QUICK_START: &str = r#"<h2 id="quick-start">Quick start</h2>
<p>Your organization's admin enables API access in the portal and creates an API key. You then
exchange the <em>organization key</em> and the <em>API key</em> for a session token that is
valid one hour, call the API with <code>Authorization: Session &lt;token&gt;</code> at most once
a second, and end the session when you are done.</p>
<h3>1. Enable API access and create a key (admin)</h3>
<pre><code>curl -X POST "$BASE/v1/admin/api-access" -H "Authorization: Bearer $ADMIN_JWT"
curl -X POST "$BASE/v1/admin/keys" -H "Authorization: Bearer $ADMIN_JWT" \
     -H 'Content-Type: application/json' \
     -d '{"name": "Billing sync", "partnership_id": "&lt;id from GET /v1/admin/partnerships&gt;",
          "optional_scopes": ["customers:read"], "allowed_origins": ["203.0.113.10"]}'
# The answer shows the API key (hsp_…) once, and the organization key (hsp_org_…).</code></pre>
<h3>2. Create a session</h3>
<pre><code>TOKEN=$(curl -s -X POST "$BASE/v1/auth/session" -H 'Content-Type: application/json' \
     -d "{\"organization_key\": \"$ORG_KEY\", \"api_key\": \"$API_KEY\"}" \
     | python3 -c 'import json,sys; print(json.load(sys.stdin)["_data"][0]["session_token"])')</code></pre>
<h3>3. Call the API</h3>
<pre><code>curl -s "$BASE/v1/me" -H "Authorization: Session $TOKEN"
curl -s "$BASE/v1/customers?churn_risk=high&amp;limit=100" -H "Authorization: Session $TOKEN"</code></pre>
<h3>4. Handle 429</h3>
<p>A second request within a second gets <code>429</code> with <code>retry_after_ms</code> in the
body and <code>Retry-After</code> (whole seconds) as a header: wait that long and send it again.
The sixth live session of an organization gets 429 too, with the time until the earliest
session expires.</p>
<pre><code>{"status_code": 429, "error_description": "Rate limit exceeded",
 "additional_info": {"error_code": 12002, "detail": "a session may make 1 request per second"},
 "retry_after_ms": 640, "_meta": {"request_id": "…"}}</code></pre>
<h3>5. End the session</h3>
<pre><code>curl -s -X DELETE "$BASE/v1/auth/session" -H "Authorization: Session $TOKEN"</code></pre>
<h3>The same in Python (standard library)</h3>
<pre><code>import json, time, urllib.error, urllib.request

def call(method, path, token=None, body=None):
    request = urllib.request.Request(BASE + path, method=method,
                                     data=json.dumps(body).encode() if body else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Session " + token)
    while True:
        try:
            with urllib.request.urlopen(request) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            answer = json.load(error)
            if error.code != 429:
                raise RuntimeError(answer["additional_info"])
            time.sleep(answer["retry_after_ms"] / 1000)   # as the API says

session = call("POST", "/v1/auth/session",
               body={"organization_key": ORG_KEY, "api_key": API_KEY})["_data"][0]
token = session["session_token"]
try:
    page = call("GET", "/v1/customers?limit=100", token)
    while True:
        for customer in page["_data"]:
            print(customer["name"], customer["churn_risk"]["level"])
        next_link = page["_links"].get("next")
        if not next_link:
            break
        page = call("GET", next_link["href"].removeprefix(BASE), token)
finally:
    call("DELETE", "/v1/auth/session", token)</code></pre>
<p>The repository's <code>examples/partner_client.py</code> does all of this and also creates a
new session when the API answers 401 (the session expired or an admin ended it).</p>
<h3>Generated clients</h3>
<p>Clients generated from <a href="/openapi.json">the OpenAPI document</a> work as they are,
with one setting: the session scheme's prefix is <code>Session</code>, where generators default
to <code>Bearer</code>. Python, with <code>openapi-python-client generate --path openapi.yaml</code>:</p>
<pre><code>from partner_portal_api_client import AuthenticatedClient, Client
from partner_portal_api_client.api.customers import list_customers
from partner_portal_api_client.api.sessions import create_session, end_session
from partner_portal_api_client.models import CreateSessionRequest

created = create_session.sync(client=Client(base_url=BASE),
                              body=CreateSessionRequest(organization_key=ORG_KEY, api_key=API_KEY))
client = AuthenticatedClient(base_url=BASE, token=created.field_data[0].session_token,
                             prefix="Session")
page = list_customers.sync(client=client, limit=100)   # a CustomerList, or an Error
for customer in page.field_data:
    print(customer.name, customer.churn_risk.level)
end_session.sync(client=client)</code></pre>
<p>TypeScript, with <code>openapi-typescript openapi.yaml -o schema.d.ts</code> and
<code>openapi-fetch</code>:</p>
<pre><code>import createClient from "openapi-fetch";
import type { paths } from "./schema";

const api = createClient&lt;paths&gt;({ baseUrl: BASE });
const { data: created } = await api.POST("/v1/auth/session",
  { body: { organization_key: ORG_KEY, api_key: API_KEY } });
const token = created!._data[0]!.session_token;
api.use({ onRequest: ({ request }) =&gt; {
  request.headers.set("Authorization", `Session ${token}`);
  return request;
} });
const { data: page, error } = await api.GET("/v1/customers", { params: { query: { limit: 100 } } });
// error is the typed error body; on 429 wait error.retry_after_ms and send again.
await api.DELETE("/v1/auth/session");</code></pre>
"#;

const RULES: &str = r#"<h2 id="rules">Rules every integration can rely on</h2>
<ul>
<li>Every answer is JSON with <code>_meta.request_id</code>. Successes carry <code>_data</code>
(always an array, also for one object) and <code>_links</code>; errors carry
<code>status_code</code>, <code>error_description</code> and <code>additional_info</code>
(<code>error_code</code>, <code>detail</code>).</li>
<li>Collections take <code>limit</code> (1–100, default 20) and <code>offset</code>; <code>_meta.total</code>
counts the collection; follow <code>_links.next</code> as given until it is absent. Where it
carries a <code>cursor</code> (the account list), each page then costs the same however far
into the list it is.</li>
<li>Request bodies are <code>application/json</code>, at most 16 KiB; unknown fields are refused.</li>
<li>A key without the scope a route needs gets 404 (11011), exactly like an object that does
not exist; ids of another partnership are 404 too.</li>
<li>Calendar dates are <code>YYYY-MM-DD</code>; "today" and every report period boundary are
Europe/Stockholm calendar days. Timestamps are ISO-8601 UTC.</li>
<li>Sessions last one hour, at most five per organization; one request per second per
session; revoking a key ends its sessions at once. Every answer to a session carries
<code>RateLimit-Policy: "session";q=1;w=1</code> and <code>RateLimit: "session";r=0;t=1</code>
(IETF RateLimit fields): wait <code>t</code> seconds before the next request and no 429
comes; a 429 still says <code>Retry-After</code> and <code>retry_after_ms</code>.</li>
<li>Your admin can rotate a key with an overlap of up to a day: the old key and its
sessions keep working until then (its <code>expires_at</code> shows when), so you can switch
to the new key without downtime.</li>
<li>Keys and session tokens have a recognisable format (prefix and checksum): when a code
host (GitHub's secret scanning) finds one in public code, it reports it to us and a live key
is revoked with its sessions (a session token: that session ends) within seconds, audited as
<code>api_key.revoked</code> by <code>system:secret-scanning</code> with the URL where it
was found. Never commit a key; if one leaked, create a new one.</li>
</ul>
<h2 id="scopes">Scopes</h2>
<table><tr><th>scope</th><th>on every key?</th><th>what it opens</th></tr>
<tr><td><code>me:read</code></td><td>yes</td><td><code>GET /v1/me</code></td></tr>
<tr><td><code>mssp-report:read</code></td><td>keys of MSSP partnerships</td><td><code>/v1/mssp/…</code> billing reports</td></tr>
<tr><td><code>reseller-report:read</code></td><td>keys of reseller partnerships</td><td><code>/v1/reseller/…</code> reports</td></tr>
<tr><td><code>customers:read</code></td><td>optional</td><td><code>/v1/customers</code>: engagement and churn risk</td></tr>
<tr><td><code>accounts:read</code></td><td>optional</td><td>reading accounts, subscriptions and SKUs</td></tr>
<tr><td><code>accounts:write</code></td><td>optional (implies <code>accounts:read</code>)</td><td>provisioning accounts and subscriptions</td></tr>
</table>
<h2 id="origins">Allowed origins</h2>
<p>An API key may list IPs, CIDR ranges and domains (<code>example.com</code>,
<code>*.example.com</code>, matched against the <code>Origin</code>, else <code>Referer</code>,
host). A session is locked to the IP address that created it.</p>
<table><tr><th>allowed origins on the key</th><th>client address known</th><th>session creation</th><th>later requests</th></tr>
<tr><td>none</td><td>yes</td><td>created, locked to that IP</td><td>IP checked on every request</td></tr>
<tr><td>none</td><td>no</td><td>created unlocked, with a warning in <code>_meta.warnings</code></td><td>any IP</td></tr>
<tr><td>some</td><td>yes</td><td>created only if it matches the list, else 403 (12003)</td><td>IP lock and origin list checked on every request</td></tr>
<tr><td>some</td><td>no</td><td>403 (12005), no session</td><td>—</td></tr>
</table>
<h2 id="billing">Billing rules</h2>
<ul>
<li><strong>Eligibility per day.</strong> A company's units on a day count toward the MSSP report only
if its account was <code>paying</code> on that Stockholm day, from the account's state history
(<code>state_history</code>; a change names its day with <code>state_since</code>). Trial, demo and
internal days never count; days before archiving do; a deleted account's paying days stay in
their periods under the name it had. A state change reaches the report before its answer.</li>
<li><strong>Peak and commitment.</strong> A product's peak is the highest daily total across the
eligible companies (the first day it was reached). Billable units are the larger of the peak and the
minimum commitment in force on the period's first day. Each company row's
<code>units_on_peak_date</code> add up exactly to the period's <code>peak_units</code>; the summary
links to the companies on the peak date, the largest first
(<code>companies?peak_product=…</code>).</li>
<li><strong>Closed periods are final.</strong> A period (MSSP and reseller) is <code>open</code> until its
last day has passed, <code>closing</code> for the grace days (default 3), then <code>closed</code>
(<code>closes_at</code>). A platform record for a day of a closed period, or a state change
back-dated into it, is stored and counted in its <code>late_records</code>, but never moves its
figures.</li>
<li><strong>Newest measurement wins.</strong> Every platform record carries <code>observed_at</code>; for
one account, day and product (or activity day) the record observed last counts, whatever the
order of delivery; the same observation again changes nothing.</li>
<li><strong>Reseller figures.</strong> <code>acv</code> is the contract value in force on the month's last
day (or the last active day when every subscription ended within it), so a renewal month counts the
renewed contract once. Utilisation compares use with the licences in force on the same day;
use on a day without a licence is <code>unlicensed_units</code>.</li>
<li><strong>Tasks.</strong> <code>commercial</code> (contract renewal), <code>product_usage</code> (licence
use, inactive products) and <code>churn_risk</code> (inactive scanner appliances, failed scans); only
the last makes <code>churn_risk.level</code>. Tasks apply to paying accounts only.</li>
</ul>
"#;

/// A short description of a schema: its type, or the name of the schema it refers to.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{name}\">{name}</a>");
    }
    if let Some(options) = schema["oneOf"].as_array() {
        return options.iter().map(type_of).collect::<Vec<_>>().join(" or ");
    }
    if let Some(parts) = schema["allOf"].as_array() {
        return parts.iter().map(type_of).collect::<Vec<_>>().join(" + ");
    }
    let mut text = match schema["type"].as_str() {
        Some("array") => format!("array of {}", type_of(&schema["items"])),
        Some(kind) => kind.to_owned(),
        None if schema.as_object().is_some_and(|o| o.is_empty()) => "any".to_owned(),
        None => "object".to_owned(),
    };
    if let Some(format) = schema["format"].as_str() {
        let _ = write!(text, " ({format})");
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|v| format!("<code>{}</code>", escape(&v.to_string().replace('"', ""))))
            .collect();
        let _ = write!(text, ": {}", values.join(", "));
    }
    if let Some(pattern) = schema["pattern"].as_str() {
        let _ = write!(text, ", pattern <code>{}</code>", escape(pattern));
    }
    let bounds = [
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
    ];
    for (key, sign) in bounds {
        if let Some(n) = schema[key].as_i64() {
            let _ = write!(text, ", {sign} {n}");
        }
    }
    text
}

fn properties_table(schema: &Value) -> String {
    let Some(properties) = schema["properties"].as_object() else {
        return String::new();
    };
    if properties.is_empty() {
        return "<p class=\"muted\">No fields.</p>".to_owned();
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut html =
        String::from("<table><tr><th>field</th><th>type</th><th>required</th><th>notes</th></tr>");
    for (name, property) in properties {
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            type_of(property),
            if required.contains(&name.as_str()) {
                "yes"
            } else {
                ""
            },
            prose(property["description"].as_str().unwrap_or_default())
        );
    }
    html.push_str("</table>");
    if schema["additionalProperties"] == Value::Bool(false) {
        html.push_str("<p class=\"muted\">Other fields are refused (400).</p>");
    }
    html
}

/// Resolves `{"$ref": "#/components/<kind>/<name>"}` within the document.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let path = reference.trim_start_matches('#');
            document.pointer(path).unwrap_or(value)
        }
        None => value,
    }
}

fn errors_section(document: &Value) -> String {
    let mut html = String::from(
        "<h2 id=\"errors\">Error catalogue</h2><table><tr><th>error_code</th><th>status</th><th>meaning</th></tr>",
    );
    for entry in document["x-error-catalogue"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            entry["code"],
            entry["status"],
            prose(entry["description"].as_str().unwrap_or_default())
        );
    }
    html.push_str("</table><p>429 and 503 answers carry <code>retry_after_ms</code> and <code>Retry-After</code>; 405 answers an <code>Allow</code> header.</p>");
    html
}

fn products_section() -> String {
    let mut html = String::from(
        "<h2 id=\"products\">Product codes</h2><table><tr><th>code</th><th>product</th><th>unit</th></tr>",
    );
    for product in PRODUCTS {
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            product.code,
            escape(product.name),
            product.unit
        );
    }
    html.push_str("</table>");
    html
}

fn operation(document: &Value, path: &str, method: &str, op: &Value) -> String {
    let id = op["operationId"].as_str().unwrap_or_default();
    let mut html = format!(
        "<div class=\"op\" id=\"op-{id}\"><h3><span class=\"method {method}\">{}</span><code>{}</code></h3><p>{}</p>",
        method.to_uppercase(),
        escape(path),
        prose(op["summary"].as_str().unwrap_or_default())
    );
    if let Some(description) = op["description"].as_str() {
        let _ = write!(html, "<p>{}</p>", prose(description));
    }
    let security = match op["security"].as_array().and_then(|s| s.first()) {
        Some(scheme) if scheme.get("AdminJwt").is_some() => {
            "<code>Authorization: Bearer &lt;admin JWT&gt;</code>"
        }
        Some(_) => "<code>Authorization: Session &lt;token&gt;</code>",
        None => "none",
    };
    let _ = write!(html, "<p class=\"muted\">Authentication: {security}</p>");
    let parameters: Vec<&Value> = op["parameters"]
        .as_array()
        .map(|p| p.iter().map(|p| resolve(document, p)).collect())
        .unwrap_or_default();
    if !parameters.is_empty() {
        html.push_str("<table><tr><th>parameter</th><th>in</th><th>type</th><th>notes</th></tr>");
        for p in parameters {
            let _ = write!(
                html,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(p["name"].as_str().unwrap_or_default()),
                escape(p["in"].as_str().unwrap_or_default()),
                type_of(&p["schema"]),
                prose(p["description"].as_str().unwrap_or_default())
            );
        }
        html.push_str("</table>");
    }
    if let Some(schema) = op["requestBody"]["content"]["application/json"]["schema"].as_object() {
        let _ = write!(
            html,
            "<p>Body (<code>application/json</code>{}): {}</p>",
            if op["requestBody"]["required"] == Value::Bool(true) {
                ""
            } else {
                ", optional"
            },
            type_of(&Value::Object(schema.clone()))
        );
    }
    html.push_str("<table><tr><th>status</th><th>answer</th></tr>");
    for (status, response) in op["responses"].as_object().into_iter().flatten() {
        let response = resolve(document, response);
        let schema = &response["content"]["application/json"]["schema"];
        let _ = write!(
            html,
            "<tr><td>{status}</td><td>{}{}</td></tr>",
            prose(response["description"].as_str().unwrap_or_default()),
            if schema.is_null() {
                String::new()
            } else {
                format!(" — {}", type_of(schema))
            }
        );
    }
    html.push_str("</table></div>");
    html
}

fn reference_section(document: &Value) -> String {
    let mut html = String::from("<h2 id=\"reference\">Reference</h2>");
    let tags: Vec<&str> = document["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    for tag in tags {
        let _ = write!(html, "<h2 id=\"tag-{tag}\">{tag}</h2>");
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let tagged = op["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == tag));
                if tagged {
                    html.push_str(&operation(document, path, method, op));
                }
            }
        }
    }
    html
}

fn schemas_section(document: &Value) -> String {
    let mut html = String::from("<h2 id=\"schemas\">Schemas</h2>");
    for (name, schema) in document["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let _ = write!(html, "<h3 id=\"schema-{name}\">{name}</h3>");
        if let Some(description) = schema["description"].as_str() {
            let _ = write!(html, "<p>{}</p>", prose(description));
        }
        match schema["allOf"].as_array() {
            Some(parts) => {
                for part in parts {
                    if part.get("$ref").is_some() {
                        let _ = write!(html, "<p>Everything of {}, and:</p>", type_of(part));
                    } else {
                        html.push_str(&properties_table(part));
                    }
                }
            }
            None if schema.get("properties").is_some() => html.push_str(&properties_table(schema)),
            None => {
                let _ = write!(html, "<p>{}</p>", type_of(schema));
            }
        }
    }
    html
}

/// The whole page.
pub fn render(document: &Value) -> String {
    let info = &document["info"];
    let title = escape(info["title"].as_str().unwrap_or("Partner Portal API"));
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body><header><h1>{title}</h1><p>Version {} · \
         <a style=\"color:#fff\" href=\"/openapi.json\">OpenAPI document</a></p></header>\
         <nav><a href=\"#quick-start\">Quick start</a><a href=\"#rules\">Rules</a><a href=\"#scopes\">Scopes</a>\
         <a href=\"#products\">Products</a><a href=\"#origins\">Allowed origins</a><a href=\"#errors\">Errors</a>\
         <a href=\"#reference\">Reference</a><a href=\"#schemas\">Schemas</a></nav><main><p>{}</p>",
        escape(info["version"].as_str().unwrap_or_default()),
        prose(info["description"].as_str().unwrap_or_default())
    );
    html.push_str(QUICK_START);
    html.push_str(RULES);
    html.push_str(&products_section());
    html.push_str(&errors_section(document));
    html.push_str(&reference_section(document));
    html.push_str(&schemas_section(document));
    html.push_str("</main></body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        serde_json::from_str(crate::OPENAPI_JSON).unwrap()
    }

    #[test]
    fn every_operation_and_error_code_is_on_the_page() {
        let document = document();
        let page = render(&document);
        for item in document["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let id = op["operationId"].as_str().unwrap();
                assert!(page.contains(&format!("id=\"op-{id}\"")), "{id}");
            }
        }
        for entry in document["x-error-catalogue"].as_array().unwrap() {
            assert!(page.contains(&format!("<td><code>{}</code></td>", entry["code"])));
        }
        for product in PRODUCTS {
            assert!(page.contains(product.name.replace('&', "&amp;").as_str()));
        }
    }

    #[test]
    fn the_billing_rules_are_on_the_page_and_in_the_operations() {
        let document = document();
        let page = render(&document);
        for rule in [
            "id=\"billing\"",
            "was <code>paying</code> on that Stockholm day",
            "<code>late_records</code>",
            "<code>observed_at</code>",
            "<code>units_on_peak_date</code>",
            "<code>companies?peak_product=…</code>",
            "renewed contract once",
            "the same day",
            "Tasks apply to paying accounts only",
        ] {
            assert!(page.contains(rule), "{rule}");
        }
        let description = |path: &str| {
            document["paths"][path]["get"]["description"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let mssp = description("/v1/mssp/periods/{id}/usage");
        for rule in [
            "`paying` on that Stockholm day",
            "`late_records`",
            "`observed_at`",
            "first day",
        ] {
            assert!(mssp.contains(rule), "{rule}");
        }
        assert!(description("/v1/reseller/periods/{id}/companies").contains("renewal month"));
        assert!(description("/v1/reseller/periods/{id}/usage").contains("same day"));
        assert!(description("/v1/customers").contains("exactly one month is medium"));
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        let page = render(&document());
        for needle in ["<script", "<link", "src=\"http", "@import", "url("] {
            assert!(!page.contains(needle), "{needle}");
        }
    }

    #[test]
    fn text_from_the_document_is_escaped() {
        assert_eq!(
            prose("a <b> & `c<d>`"),
            "a &lt;b&gt; &amp; <code>c&lt;d&gt;</code>"
        );
    }
}
