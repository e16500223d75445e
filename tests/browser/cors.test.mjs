// CORS for browser clients, in headless Chromium against the fresh local server: a partner's
// page served from a second local origin calls the API with fetch. For an origin its key
// lists, the browser lets the page create a session, read its answers and the headers the
// API exposes (request id, RateLimit, Retry-After on a 429). For an origin no key lists, the
// browser itself blocks the call at the preflight: fetch fails and no session is created.
//
//   node --test tests/browser/    (scripts/browser-tests.sh sets the environment)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { chromium } from "playwright-core";

const base = process.env.CONSOLE_BASE_URL;
const demo = JSON.parse(readFileSync(process.env.DEMO_FILE, "utf8"));
let browser;
let listed; // { origin, close }
let unlisted;
let key; // the key listing `listed.origin`

async function admin(method, path, body) {
  const headers = { Authorization: `Bearer ${demo.admin_token}` };
  if (body) headers["Content-Type"] = "application/json";
  const response = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
  const json = await response.json();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** A second local origin: an HTTP server of one empty page on a free port. */
function pageServer(host) {
  const server = createServer((_, response) => {
    response.writeHead(200, { "Content-Type": "text/html" });
    response.end("<!doctype html><title>Partner app</title><p>Partner app</p>");
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({ origin: `http://${host}:${port}`, close: () => new Promise((done) => server.close(done)) });
    });
  });
}

/** What a page at `origin` sees when it opens a session and calls /v1/me twice. */
async function callFrom(origin) {
  const page = await browser.newPage();
  try {
    await page.goto(origin + "/");
    return await page.evaluate(
      async ({ base, organizationKey, apiKey }) => {
        try {
          const created = await fetch(base + "/v1/auth/session", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ organization_key: organizationKey, api_key: apiKey }),
          });
          const session = await created.json();
          const token = session._data[0].session_token;
          const me = await fetch(base + "/v1/me", { headers: { Authorization: `Session ${token}` } });
          const meBody = await me.json();
          const again = await fetch(base + "/v1/me", { headers: { Authorization: `Session ${token}` } });
          const againBody = await again.json();
          return {
            created: created.status,
            me: me.status,
            organization: meBody._data[0].organization.name,
            requestId: me.headers.get("x-request-id"),
            bodyRequestId: meBody._meta.request_id,
            rateLimit: me.headers.get("ratelimit"),
            again: again.status,
            retryAfter: again.headers.get("retry-after"),
            errorCode: againBody.additional_info.error_code,
          };
        } catch (error) {
          return { failed: `${error.name}: ${error.message}` };
        }
      },
      { base, organizationKey: key.organization_key, apiKey: key.api_key },
    );
  } finally {
    await page.close();
  }
}

async function liveSessions() {
  return (await admin("GET", "/v1/admin/sessions"))._data.length;
}

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ["--no-sandbox"] });
  // Two origins that differ from the API's (http://127.0.0.1:<its port>) and each other.
  listed = await pageServer("localhost");
  unlisted = await pageServer("127.0.0.1");
  const partnerships = await admin("GET", "/v1/admin/partnerships");
  const created = await admin("POST", "/v1/admin/keys", {
    name: "Browser app (CORS test)",
    partnership_id: partnerships._data[0].id,
    allowed_origins: ["127.0.0.1"],
    cors_origins: [listed.origin],
  });
  key = created._data[0];
  assert.deepEqual(key.cors_origins, [listed.origin]);
});

after(async () => {
  // Leave the demo partner as it was: the key revoked, its sessions ended.
  if (key) await admin("POST", `/v1/admin/keys/${key.id}/revoke`, { reason: "CORS test done" });
  await browser?.close();
  await listed?.close();
  await unlisted?.close();
});

test("a page of an origin its key lists opens a session and reads the answers and their headers", async () => {
  const seen = await callFrom(listed.origin);
  assert.equal(seen.failed, undefined, seen.failed);
  assert.equal(seen.created, 201);
  assert.equal(seen.me, 200);
  assert.ok(seen.organization, JSON.stringify(seen));
  assert.equal(seen.requestId, seen.bodyRequestId, "X-Request-Id is exposed");
  assert.match(seen.rateLimit ?? "", /^"session";r=0;t=1$/, "RateLimit is exposed");
  assert.equal(seen.again, 429);
  assert.equal(seen.errorCode, 12002);
  assert.equal(seen.retryAfter, "1", "Retry-After is exposed");
});

test("a page of an origin no key lists is blocked by the browser before anything reaches the API", async () => {
  const before = await liveSessions();
  const seen = await callFrom(unlisted.origin);
  assert.match(seen.failed ?? "", /^TypeError: Failed to fetch/, JSON.stringify(seen));
  assert.equal(await liveSessions(), before, "the refused preflight kept the POST from being sent");
});

test("removing the origin from the key blocks its page too", async () => {
  await admin("PATCH", `/v1/admin/keys/${key.id}`, { cors_origins: [] });
  const seen = await callFrom(listed.origin);
  assert.match(seen.failed ?? "", /^TypeError: Failed to fetch/, JSON.stringify(seen));
});
