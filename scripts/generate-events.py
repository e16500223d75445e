#!/usr/bin/env python3
"""Writes events/<function>/<case>.<expected status>.json: API Gateway HTTP API payload 2.0
events for every route and case. The credentials in them are test fixtures (see
tests/support/fixtures.rs), valid in format only; tests/api/events.rs seeds a fresh table
with them and feeds each event through its function's handler, expecting the status in the
file name. Re-run after adding a case: python3 scripts/generate-events.py
"""
import base64
import json
import pathlib

ORG_KEY = "hsp_org_8piwpk48oYenoowETdvuF732k8ROiwzyNAb60CKULBG1H7mPM"
OPEN_KEY = "hsp_WwVcoDrRAuPGOxCtyWUA2lULvoFgSUtldSXSCrzQ0Iw3MKiVV"
RESTRICTED_KEY = "hsp_nXznLCec3Huvsa7B0O3az42Igkc2fAy8BtLPSm14LuD3JrSDv"
UNKNOWN_KEY = "hsp_zHqz52f0dYjRNIF670acnKAN3DJNNfe2L45C3NZVchq2Uhygm"
SESSION_TOKEN = "pps_7R3p9pgW9GDVpXXcN0N0DdU21NxjndcX2LUlpGlC1X52H21Pi"
UNKNOWN_SESSION = "pps_0r7BMhWsz1jg9YSkYrutfVZp3KYEp7Ipu4a0mlpcD074arTUw"
BAD_CHECKSUM_SESSION = SESSION_TOKEN[:-1] + ("A" if SESSION_TOKEN[-1] != "A" else "B")
ORG_ID = "6f1c2a52-3b1d-4c44-9a55-0d2f3c4b5a61"
PARTNERSHIP_ID = "8e2b1c0d-7a6f-4e5d-8c3b-2a1f0e9d8c7b"
ADMIN_ISSUER = "https://idp.fixture.example/pool"
# Admins are memberships (portalctl add-admin) of the token's issuer and subject: the
# fixtures make "admin-1" an admin of ORG_ID. A signed-in user without a membership gets 403,
# whatever organization his token claims.
ADMIN_CLAIMS = {"iss": ADMIN_ISSUER, "sub": "admin-1", "email": "admin@fixture.example"}
VIEWER_CLAIMS = {"iss": ADMIN_ISSUER, "sub": "someone-else", "email": "v@fixture.example", "custom:organization_id": ORG_ID}
CLIENT_IP = "203.0.113.10"
OTHER_IP = "198.51.100.77"

ROUTES = {
    ("POST", "/v1/auth/session"): "POST /v1/auth/session",
    ("DELETE", "/v1/auth/session"): "DELETE /v1/auth/session",
    ("GET", "/v1/me"): "GET /v1/me",
}


def event(method, path, headers=None, body=None, source_ip=CLIENT_IP, raw_body=None, claims=None, route=None):
    headers = {"host": "api.example.com", "user-agent": "partner-cron/1.0", **(headers or {})}
    route_key = route or ROUTES.get((method, path), f"{method} {path}" if path.startswith("/v1/admin/") else "$default")
    http = {"method": method, "path": path, "protocol": "HTTP/1.1", "userAgent": headers["user-agent"]}
    if source_ip:
        http["sourceIp"] = source_ip
        headers["x-forwarded-for"] = source_ip
    headers["x-forwarded-proto"] = "https"
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    result = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": http,
            "requestId": "req-" + route_key.replace(" ", "-").replace("/", "_").replace("$", ""),
            "routeKey": route_key,
            "stage": "$default",
            "time": "22/Nov/2026:20:30:45 +0000",
            "timeEpoch": 1795379445000,
        },
        "isBase64Encoded": False,
    }
    if claims is not None:
        # What the HttpApi JWT authorizer passes for a verified admin token.
        result["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    if text is not None:
        result["body"] = text
    return result


JSON = {"content-type": "application/json"}
SESSION = {"authorization": "Session " + SESSION_TOKEN}
# The fixture account (with an SNS subscription active on 2026-11-22) and subscription.
ACCOUNT_ID = "0b7f9a3e-4c1d-4e8a-9f2b-6d5c4b3a2918"
SUBSCRIPTION_ID = "5d3c2b1a-0f9e-4d8c-b7a6-958473625140"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def partner(method, template, values=None, body=None, query="", headers=None, **kw):
    """A session-authenticated call of `template` (its route key), `{id}` filled from `values`."""
    path = template.replace("{id}", values) if values else template
    result = event(method, path, {**SESSION, **(JSON if body is not None else {}), **(headers or {})}, body, route=f"{method} {template}", **kw)
    if query:
        result["rawQueryString"] = query
        result["queryStringParameters"] = dict(pair.split("=", 1) for pair in query.split("&"))
    return result


NEW_ACCOUNT = {"name": "Acme AB", "country": "SE"}
NEW_SUBSCRIPTION = {"sku": "SNS", "quantity": 25, "start_date": "2026-12-01", "end_date": "2027-11-30",
                    "acv": {"amount_minor": 3000000, "currency": "SEK"}}
CREATE = ("POST", "/v1/auth/session")

EVENTS = {
    "auth-api": {
        "create-session.201": event(*CREATE, JSON, {"organization_key": ORG_KEY, "api_key": OPEN_KEY}),
        "create-session-organizer-key.201": event(*CREATE, JSON, {"organizer_key": ORG_KEY, "api_key": OPEN_KEY}),
        "create-session-unknown-address.201": event(*CREATE, JSON, {"organization_key": ORG_KEY, "api_key": OPEN_KEY}, source_ip=None),
        "create-session-restricted.201": event(*CREATE, JSON, {"organization_key": ORG_KEY, "api_key": RESTRICTED_KEY}, source_ip="127.0.0.1"),
        "create-session-restricted-other-address.403": event(*CREATE, JSON, {"organization_key": ORG_KEY, "api_key": RESTRICTED_KEY}),
        "create-session-restricted-unknown-address.403": event(*CREATE, JSON, {"organization_key": ORG_KEY, "api_key": RESTRICTED_KEY}, source_ip=None),
        "create-session-unknown-key.401": event(*CREATE, JSON, {"organization_key": ORG_KEY, "api_key": UNKNOWN_KEY}),
        "create-session-malformed-key.401": event(*CREATE, JSON, {"organization_key": ORG_KEY, "api_key": "hsp_not-a-key"}),
        "create-session-missing-field.400": event(*CREATE, JSON, {"organization_key": ORG_KEY}),
        "create-session-unknown-field.400": event(*CREATE, JSON, {"organization_key": ORG_KEY, "api_key": OPEN_KEY, "scope": "all"}),
        "create-session-not-json.400": event(*CREATE, JSON, raw_body="organization_key=x&api_key=y"),
        "create-session-no-body.400": event(*CREATE),
        "create-session-wrong-content-type.415": event(*CREATE, {"content-type": "text/plain"}, {"organization_key": ORG_KEY, "api_key": OPEN_KEY}),
        "create-session-too-large.413": event(*CREATE, JSON, raw_body=json.dumps({"organization_key": ORG_KEY, "api_key": OPEN_KEY, "padding": "x" * 17000})),
        "end-session.200": event("DELETE", "/v1/auth/session", SESSION),
        "end-session-other-address.403": event("DELETE", "/v1/auth/session", SESSION, source_ip=OTHER_IP),
        "end-session-no-authorization.401": event("DELETE", "/v1/auth/session"),
        "end-session-unknown-session.401": event("DELETE", "/v1/auth/session", {"authorization": "Session " + UNKNOWN_SESSION}),
    },
    "me-api": {
        "me.200": event("GET", "/v1/me", SESSION),
        "me-other-address.403": event("GET", "/v1/me", SESSION, source_ip=OTHER_IP),
        "me-unknown-session.401": event("GET", "/v1/me", {"authorization": "Session " + UNKNOWN_SESSION}),
        "me-bad-checksum.401": event("GET", "/v1/me", {"authorization": "Session " + BAD_CHECKSUM_SESSION}),
        "me-bearer-scheme.401": event("GET", "/v1/me", {"authorization": "Bearer " + SESSION_TOKEN}),
        "me-no-authorization.401": event("GET", "/v1/me"),
    },
    "admin-api": {
        "api-access.200": event("GET", "/v1/admin/api-access", claims=ADMIN_CLAIMS),
        "api-access-enable-when-enabled.409": event("POST", "/v1/admin/api-access", claims=ADMIN_CLAIMS),
        "partnerships.200": event("GET", "/v1/admin/partnerships", claims=ADMIN_CLAIMS),
        "client-address.200": event("GET", "/v1/admin/client-address", claims=ADMIN_CLAIMS),
        "keys-list.200": event("GET", "/v1/admin/keys", claims=ADMIN_CLAIMS),
        "key-create.201": event("POST", "/v1/admin/keys", JSON, {"name": "Billing sync", "partnership_id": PARTNERSHIP_ID, "allow_any_origin": True}, claims=ADMIN_CLAIMS),
        "key-create-no-origins-acknowledgement.400": event("POST", "/v1/admin/keys", JSON, {"name": "Billing sync", "partnership_id": PARTNERSHIP_ID}, claims=ADMIN_CLAIMS),
        "key-get-unknown.404": event("GET", "/v1/admin/keys/00000000-0000-4000-8000-000000000000", claims=ADMIN_CLAIMS),
        "key-revoke-unknown.404": event("POST", "/v1/admin/keys/00000000-0000-4000-8000-000000000000/revoke", claims=ADMIN_CLAIMS),
        "key-rotate-overlap-unknown.404": event("POST", "/v1/admin/keys/00000000-0000-4000-8000-000000000000/rotate", JSON, {"overlap_seconds": 600}, claims=ADMIN_CLAIMS),
        "key-rotate-overlap-too-long.400": event("POST", "/v1/admin/keys/00000000-0000-4000-8000-000000000000/rotate", JSON, {"overlap_seconds": 86401}, claims=ADMIN_CLAIMS),
        "sessions.200": event("GET", "/v1/admin/sessions", claims=ADMIN_CLAIMS),
        "session-invalidate-unknown.404": event("DELETE", "/v1/admin/sessions/00000000-0000-4000-8000-000000000000", claims=ADMIN_CLAIMS),
        "audit.200": event("GET", "/v1/admin/audit", claims=ADMIN_CLAIMS),
        "keys-without-claims.401": event("GET", "/v1/admin/keys"),
        "keys-without-admin-role.403": event("GET", "/v1/admin/keys", claims=VIEWER_CLAIMS),
    },
    "accounts-api": {
        "skus.200": partner("GET", "/v1/skus"),
        "accounts-list.200": partner("GET", "/v1/accounts", query="state=paying&limit=10"),
        "accounts-list-bad-state.400": partner("GET", "/v1/accounts", query="state=gone"),
        "accounts-delete-collection.405": partner("DELETE", "/v1/accounts"),
        "account-create.201": partner("POST", "/v1/accounts", body=NEW_ACCOUNT),
        "account-create-bad-country.400": partner("POST", "/v1/accounts", body={"name": "Acme AB", "country": "UK"}),
        "account-create-unknown-field.400": partner("POST", "/v1/accounts", body={**NEW_ACCOUNT, "partnership_id": PARTNERSHIP_ID}),
        "account-create-no-session.401": event("POST", "/v1/accounts", JSON, NEW_ACCOUNT, route="POST /v1/accounts"),
        "account-get.200": partner("GET", "/v1/accounts/{id}", ACCOUNT_ID),
        "account-get-unknown.404": partner("GET", "/v1/accounts/{id}", UNKNOWN_ID),
        "account-get-malformed-id.404": partner("GET", "/v1/accounts/{id}", "42"),
        "account-update.200": partner("PATCH", "/v1/accounts/{id}", ACCOUNT_ID, {"name": "Acme Group AB"}),
        "account-update-back-to-trial.409": partner("PATCH", "/v1/accounts/{id}", ACCOUNT_ID, {"state": "trial"}),
        "account-replace.200": partner("PUT", "/v1/accounts/{id}", ACCOUNT_ID, {"name": "Acme AB", "state": "paying", "country": "NO"}),
        "account-replace-without-state.400": partner("PUT", "/v1/accounts/{id}", ACCOUNT_ID, NEW_ACCOUNT),
        "account-delete-with-active-subscription.409": partner("DELETE", "/v1/accounts/{id}", ACCOUNT_ID),
        "subscriptions-list.200": partner("GET", "/v1/accounts/{id}/subscriptions", ACCOUNT_ID),
        "subscriptions-delete-collection.405": partner("DELETE", "/v1/accounts/{id}/subscriptions", ACCOUNT_ID),
        "subscription-create.201": partner("POST", "/v1/accounts/{id}/subscriptions", ACCOUNT_ID, NEW_SUBSCRIPTION),
        "subscription-create-end-before-start.400": partner("POST", "/v1/accounts/{id}/subscriptions", ACCOUNT_ID, {**NEW_SUBSCRIPTION, "end_date": "2026-11-30"}),
        "subscription-get.200": partner("GET", "/v1/subscriptions/{id}", SUBSCRIPTION_ID),
        "subscription-update.200": partner("PATCH", "/v1/subscriptions/{id}", SUBSCRIPTION_ID, {"quantity": 30}),
        "subscription-replace.200": partner("PUT", "/v1/subscriptions/{id}", SUBSCRIPTION_ID, NEW_SUBSCRIPTION),
        "subscription-delete.200": partner("DELETE", "/v1/subscriptions/{id}", SUBSCRIPTION_ID),
        "subscription-delete-unknown.404": partner("DELETE", "/v1/subscriptions/{id}", UNKNOWN_ID),
    },
    "reports-api": {
        "mssp-periods.200": partner("GET", "/v1/mssp/periods", query="limit=3"),
        "mssp-companies.200": partner("GET", "/v1/mssp/periods/{id}/companies", "2026-11"),
        "mssp-usage.200": partner("GET", "/v1/mssp/periods/{id}/usage", "2026-11"),
        "mssp-usage-future-period.404": partner("GET", "/v1/mssp/periods/{id}/usage", "2026-12"),
        "reseller-periods-with-an-mssp-key.404": partner("GET", "/v1/reseller/periods"),
    },
    "customers-api": {
        "customers.200": partner("GET", "/v1/customers"),
        "customers-high-risk.200": partner("GET", "/v1/customers", query="churn_risk=high"),
        "customers-bad-filter.400": partner("GET", "/v1/customers", query="churn_risk=severe"),
        "customer-get.200": partner("GET", "/v1/customers/{id}", ACCOUNT_ID),
        "customer-get-unknown.404": partner("GET", "/v1/customers/{id}", UNKNOWN_ID),
    },
    "docs": {
        "docs.200": event("GET", "/docs", route="GET /docs"),
        "openapi.200": event("GET", "/openapi.json", route="GET /openapi.json"),
        "docs-post.405": event("POST", "/docs", JSON, {}),
    },
    "console": {
        "console.200": event("GET", "/console", route="GET /console"),
        "console-post.405": event("POST", "/console", JSON, {}),
    },
    "fallback-api": {
        "unknown-path.404": event("GET", "/v1/nothing-here"),
        "wrong-method.405": event("PUT", "/v1/auth/session", JSON, {}),
    },
}

def sqs_message(message_id, record):
    return {
        "messageId": message_id,
        "receiptHandle": "AQEB" + message_id,
        "body": json.dumps(record),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795379445000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:partner-portal-usage",
        "awsRegion": "us-east-1",
    }


# When the platform measured the records (a later observation replaces an earlier one).
OBSERVED_AT = "2026-11-21T20:00:00Z"

# The SQS batch usage-ingest receives; tests/api/events.rs expects exactly the failures
# named in the file name (here: the message with an unknown product).
USAGE_BATCH = {"Records": [
    sqs_message("msg-1", {"account_id": ACCOUNT_ID, "product": "SNS", "date": "2026-11-21", "observed_at": OBSERVED_AT, "units": 14}),
    sqs_message("msg-2", {"account_id": ACCOUNT_ID, "date": "2026-11-21", "observed_at": OBSERVED_AT, "logins": 4, "scans": {"SNS": 2, "WAS": 0, "CS": 1},
                          "failed_scans": 0, "pat_assessments": 0, "reports_created": 1, "risk_score": 42, "threat_score": 7,
                          "inactive_appliances": 0}),
    sqs_message("msg-3", {"account_id": ACCOUNT_ID, "product": "XYZ", "date": "2026-11-21", "observed_at": OBSERVED_AT, "units": 1}),
]}

root = pathlib.Path(__file__).resolve().parent.parent / "events"
for function, cases in EVENTS.items():
    folder = root / function
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    for case, payload in cases.items():
        (folder / f"{case}.json").write_text(json.dumps(payload, indent=2) + "\n")
(root / "usage-ingest").mkdir(exist_ok=True)
(root / "usage-ingest" / "daily-records.fails-msg-3.json").write_text(json.dumps(USAGE_BATCH, indent=2) + "\n")
print(f"wrote {sum(len(c) for c in EVENTS.values()) + 1} events under {root}")
