// The API settings console (`GET /console`) in headless Chromium (Debian's chromium, driven by
// playwright-core), against a fresh local server: sign-in through the local OIDC provider
// (authorization code with PKCE), every action end to end with the API checked afterwards,
// the acknowledgement rule, the secret shown once, keyboard-only use of the create form,
// re-sign-in with the page's state kept, 360 px and 1280 px, no console error, and axe-core.
//
//   node --test tests/browser/    (scripts/browser-tests.sh sets the environment)
//
// CONSOLE_BASE_URL, DEMO_FILE (the server's demo.json), CHROMIUM (the browser's path);
// SCREENSHOT_DIR, when set, receives a PNG of each state (make screenshots).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const base = process.env.CONSOLE_BASE_URL;
const demo = JSON.parse(readFileSync(process.env.DEMO_FILE, "utf8"));
const shots = process.env.SCREENSHOT_DIR;
const problems = [];
let browser;
let context;
let page;

async function shot(name) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

// The partner API, as an integration calls it.
async function partner(method, path, { token, body } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Session ${token}`;
  const response = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}
async function openSession(organizationKey, apiKey) {
  const created = await partner("POST", "/v1/auth/session", { body: { organization_key: organizationKey, api_key: apiKey } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body._data[0].session_token;
}
async function admin(method, path) {
  const response = await fetch(base + path, { method, headers: { Authorization: `Bearer ${demo.admin_token}` } });
  return response.json();
}
// The admin API as the demo organization's second admin (`demo-colleague`) calls it.
async function colleague(method, path, body) {
  const headers = { Authorization: `Bearer ${demo.colleague_token}`, "Content-Type": "application/json" };
  const response = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

// The browser logs every refused request; the tests provoke exactly a 400 (a bad origin)
// and 401s (an expired sign-in, checks of ended sessions). Anything else is a problem.
const PROVOKED = /^Failed to load resource: the server responded with a status of (400|401) /;

function watch(p) {
  p.on("console", (message) => {
    if (message.type() === "error" && !PROVOKED.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  p.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
}

async function signIn() {
  await page.goto(base + "/console");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(base + "/console");
  await page.getByRole("heading", { name: /Organization key|API access is off/ }).waitFor();
}

/** The console as a fresh load shows it (the sign-in stays in sessionStorage). */
async function fresh() {
  await page.goto(base + "/console");
  await page.getByRole("heading", { name: /Organization key|API access is off/ }).waitFor();
}

async function confirm(action) {
  const dialog = page.locator("#confirm-dialog");
  await dialog.waitFor({ state: "visible" });
  await dialog.getByRole("button", { name: action }).click();
  await dialog.waitFor({ state: "hidden" });
}

/** Reads the Key created modal and closes it (confirming the key was copied). */
async function takeCreatedKeys() {
  const modal = page.locator("#created-dialog");
  await modal.waitFor({ state: "visible" });
  assert.match(await modal.textContent(), /SECRET/);
  const apiKey = (await page.locator("#created-key").textContent()).trim();
  const organizationKey = (await page.locator("#created-org").textContent()).trim();
  assert.match(apiKey, /^hsp_/);
  assert.match(organizationKey, /^hsp_org_/);
  await shot("created-modal");
  await page.locator("#created-close").click();
  await confirm("I copied it");
  await modal.waitFor({ state: "hidden" });
  return { apiKey, organizationKey };
}

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  page = await context.newPage();
  watch(page);
});

after(async () => {
  await browser?.close();
});

test("an unsigned visitor sees only the sign-in, and the page loads nothing from elsewhere", async () => {
  const response = await page.goto(base + "/console");
  const csp = response.headers()["content-security-policy"];
  assert.match(csp, /default-src 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.ok(await page.getByRole("button", { name: "Sign in" }).isVisible());
  assert.equal(await page.locator("#view-access").isVisible(), false);
  assert.equal(await page.locator('script[src], link[rel="stylesheet"], img[src^="http"]').count(), 0);
  assert.equal(await page.getByRole("link", { name: "API guide" }).getAttribute("href"), "/docs");
});

test("a stale or forged sign-in answer is refused and the sign-in is offered again", async () => {
  await page.goto(base + "/console?code=forged&state=forged");
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  assert.match(await page.locator("#error").textContent(), /does not match this page/);
  assert.equal(page.url(), base + "/console");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("console.token")), null);
});

test("sign-in runs the OIDC code flow with PKCE and keeps the token out of localStorage and cookies", async () => {
  const authorizeRequests = [];
  page.on("request", (r) => r.url().includes("/_local/oidc/authorize") && authorizeRequests.push(r.url()));
  await signIn();
  const authorize = new URL(authorizeRequests[0]);
  assert.equal(authorize.searchParams.get("code_challenge_method"), "S256");
  assert.equal(authorize.searchParams.get("redirect_uri"), base + "/console");
  assert.equal(page.url(), base + "/console", "the code is removed from the address");
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  assert.equal((await context.cookies()).length, 0);
  assert.ok(await page.evaluate(() => sessionStorage.getItem("console.token")));
  // The organization key is shown with a copy button.
  const orgKey = (await page.locator("#org-key").textContent()).trim();
  assert.equal(orgKey, demo.organization_key);
  await page.locator('[data-copy="org-key"]').click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), orgKey);
  await shot("keys");
});

test("create a key with the keyboard only; empty origins need the acknowledgement; the secret is shown once", async () => {
  await page.getByRole("button", { name: "Create API key" }).focus();
  await page.keyboard.press("Enter");
  await page.locator("#create-dialog").waitFor({ state: "visible" });
  assert.equal(await page.evaluate(() => document.activeElement.id), "key-name");
  await page.keyboard.type("Browser key");
  const create = page.locator("#create-submit");
  assert.equal(await create.isDisabled(), true, "no origins and no acknowledgement");
  // Tab through portal, the three scopes (space toggles customers:read), origins, My IP,
  // acknowledgement, browser origins, share with.
  await page.keyboard.press("Tab"); // portal
  await page.keyboard.press("Tab"); // customers:read
  await page.keyboard.press("Space");
  await page.keyboard.press("Tab"); // accounts:read
  await page.keyboard.press("Tab"); // accounts:write
  await page.keyboard.press("Tab"); // origins
  await page.keyboard.press("Tab"); // My IP
  await page.keyboard.press("Tab"); // acknowledgement
  assert.equal(await page.evaluate(() => document.activeElement.id), "key-ack");
  await page.keyboard.press("Space");
  assert.equal(await create.isDisabled(), false);
  await page.keyboard.press("Tab"); // browser origins
  assert.equal(await page.evaluate(() => document.activeElement.id), "key-cors");
  await page.keyboard.press("Tab"); // share with
  assert.equal(await page.evaluate(() => document.activeElement.id), "key-share");
  await page.keyboard.press("Tab"); // expiry (a date field: three parts)
  while ((await page.evaluate(() => document.activeElement.id)) === "key-expiry") await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.id), "create-cancel");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.id), "create-submit");
  await page.keyboard.press("Enter");
  const { apiKey, organizationKey } = await takeCreatedKeys();
  assert.equal(organizationKey, demo.organization_key);
  // The API has the key, with the scope the form asked for.
  const keys = (await admin("GET", "/v1/admin/keys?limit=100"))._data;
  const stored = keys.find((k) => k.name === "Browser key");
  assert.ok(stored.scopes.includes("customers:read") && stored.allow_any_origin, JSON.stringify(stored));
  assert.ok(apiKey.startsWith(stored.prefix));
  // Shown once: gone after a reload.
  await page.reload();
  await page.locator("#keys tr", { hasText: "Browser key" }).waitFor();
  assert.equal((await page.content()).includes(apiKey), false);
  assert.equal(await page.evaluate((k) => JSON.stringify(sessionStorage).includes(k), apiKey), false);
  const token = await openSession(organizationKey, apiKey);
  assert.equal((await partner("GET", "/v1/me", { token })).status, 200);
  await partner("DELETE", "/v1/auth/session", { token });
});

test("the API's refusal is shown next to the field, and My IP adds the address the API sees", async () => {
  await fresh();
  await page.getByRole("button", { name: "Create API key" }).click();
  await page.locator("#key-name").fill("Bad origins");
  await page.locator("#key-origins").fill("not a host!");
  await page.locator("#create-submit").click();
  await page.locator("#error-allowed_origins").filter({ hasText: /./ }).waitFor();
  assert.match(await page.locator("#error-allowed_origins").textContent(), /`not a host!` is not an IP address/);
  await page.locator("#key-origins").fill("");
  await page.getByRole("button", { name: "My IP" }).click();
  await page.waitForFunction(() => document.getElementById("key-origins").value.length > 0);
  assert.equal(await page.locator("#key-origins").inputValue(), "127.0.0.1");
  assert.equal(await page.locator("#ack-row").isVisible(), false, "no acknowledgement with origins");
  await page.locator("#create-cancel").click();
  const names = (await admin("GET", "/v1/admin/keys?limit=100"))._data.map((k) => k.name);
  assert.equal(names.includes("Bad origins"), false, "nothing was stored");
});

test("sessions: n of 5, refresh, invalidate ends the integration's session", async () => {
  await fresh();
  const key = demo.keys.find((k) => k.partnership_type === "mssp" && k.allowed_origins.length === 0);
  const token = await openSession(demo.organization_key, key.api_key);
  await page.getByRole("button", { name: "Refresh" }).click();
  await page.locator("#slots", { hasText: "1 of 5 slots in use" }).waitFor();
  const row = page.locator("#sessions tr", { hasText: key.name });
  assert.match(await row.textContent(), /127\.0\.0\.1/);
  await shot("sessions");
  await row.getByRole("button", { name: /Invalidate/ }).click();
  await confirm("Invalidate");
  await page.locator("#slots", { hasText: "0 of 5 slots in use" }).waitFor();
  const after = await partner("GET", "/v1/me", { token });
  assert.equal(after.status, 401);
});

test("edit origins, rotate and revoke a key; its sessions end and revoked keys stay listed, greyed", async () => {
  await fresh();
  const row = () => page.locator("#keys tr", { hasText: "Browser key" }).first();
  await row().getByRole("button", { name: /Edit/ }).click();
  await page.locator("#edit-origins").fill("127.0.0.1, 10.0.0.0/8");
  await page.locator("#edit-dialog").getByRole("button", { name: "Save" }).click();
  await page.locator("#keys tr", { hasText: "10.0.0.0/8" }).waitFor();

  await row().getByRole("button", { name: /Rotate/ }).click();
  await confirm("Rotate");
  const rotated = await takeCreatedKeys();
  await page.locator("#keys tr.revoked", { hasText: "Browser key" }).waitFor();
  const token = await openSession(rotated.organizationKey, rotated.apiKey);
  assert.equal((await partner("GET", "/v1/me", { token })).status, 200);

  const active = page.locator("#keys tr:not(.revoked)", { hasText: "Browser key" });
  await active.getByRole("button", { name: /Revoke/ }).click();
  await confirm("Revoke");
  await page.locator("#keys tr:not(.revoked)", { hasText: "Browser key" }).waitFor({ state: "detached" });
  assert.equal(await page.locator("#keys tr.revoked", { hasText: "Browser key" }).count(), 2);
  assert.equal((await partner("GET", "/v1/me", { token })).status, 401, "the revoked key's session is over");
});

test("the audit trail lists the actions newest first, paged", async () => {
  await fresh();
  await page.locator("#audit tr").first().waitFor();
  const rows = await page.locator("#audit tr").allTextContents();
  const at = (action) => rows.findIndex((r) => r.includes(action));
  assert.ok(at("api_key.revoked") >= 0, rows.join("\n"));
  assert.ok(at("api_key.revoked") < at("api_key.rotated") && at("api_key.rotated") < at("api_key.created"), "newest first");
  assert.match(rows[at("api_key.revoked")], /admin@northwind\.example/);
  const older = page.getByRole("button", { name: "Older" });
  if (!(await older.isDisabled())) {
    await older.click();
    await page.getByRole("button", { name: "Newer" }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Newer" }).isDisabled(), false);
  }
  await shot("audit");
});

test("browser origins and sharing: set at creation, edited; a share is listed, withdrawn, or revealed once by its recipient", async () => {
  await fresh();
  await page.getByRole("button", { name: "Create API key" }).click();
  await page.locator("#key-name").fill("Web app key");
  await page.locator("#key-origins").fill("127.0.0.1");
  // The API's refusals land under their own fields.
  await page.locator("#key-cors").fill("app.example.com");
  await page.locator("#create-submit").click();
  await page.locator("#error-cors_origins").filter({ hasText: /./ }).waitFor();
  assert.match(await page.locator("#error-cors_origins").textContent(), /no scheme/);
  await page.locator("#key-cors").fill("https://APP.example.com/");
  await page.locator("#key-share").fill("nobody");
  await page.locator("#create-submit").click();
  await page.locator("#error-share_with").filter({ hasText: /./ }).waitFor();
  assert.match(await page.locator("#error-share_with").textContent(), /`nobody` is not an admin/);
  assert.equal(await page.locator("#error-cors_origins").textContent(), "", "the earlier refusal is cleared");
  await page.locator("#key-share").fill("demo-colleague");
  await page.locator("#create-submit").click();
  await takeCreatedKeys();
  const stored = (await admin("GET", "/v1/admin/keys?limit=100"))._data.find((k) => k.name === "Web app key");
  assert.deepEqual(stored.cors_origins, ["https://app.example.com"], "stored as browsers send it");
  const row = page.locator("#keys tr", { hasText: "Web app key" });
  await row.filter({ hasText: "Browsers: https://app.example.com" }).waitFor();

  // Shared with the colleague: listed here without a reveal, and withdrawn.
  const shared = page.locator("#shares tr", { hasText: "Web app key" });
  await shared.waitFor();
  assert.match(await shared.textContent(), /demo-colleague/);
  assert.equal(await shared.getByRole("button", { name: /Reveal/ }).count(), 0, "only its recipient reveals a share");
  await shot("shared-keys");
  await shared.getByRole("button", { name: /Unshare/ }).click();
  await confirm("Unshare");
  await shared.waitFor({ state: "detached" });
  const left = await colleague("GET", "/v1/admin/shared-keys?limit=100");
  assert.equal(left.body._data.some((s) => s.api_key.id === stored.id), false, "the colleague no longer sees it");

  // Browser origins edited beside the allowed ones.
  await row.getByRole("button", { name: /Edit/ }).click();
  assert.equal(await page.locator("#edit-cors").inputValue(), "https://app.example.com");
  await page.locator("#edit-cors").fill("https://portal.example.com");
  await page.locator("#edit-dialog").getByRole("button", { name: "Save" }).click();
  await page.locator("#keys tr", { hasText: "Browsers: https://portal.example.com" }).waitFor();
  const edited = await admin("GET", `/v1/admin/keys/${stored.id}`);
  assert.deepEqual(edited._data[0].cors_origins, ["https://portal.example.com"]);

  // The colleague shares a new key with this admin: revealed here, once, and it works.
  const made = await colleague("POST", "/v1/admin/keys", {
    name: "From a colleague",
    partnership_id: stored.partnership.id,
    allowed_origins: ["127.0.0.1"],
    share_with: ["demo-admin"],
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  await fresh();
  const mine = page.locator("#shares tr", { hasText: "From a colleague" });
  await mine.waitFor();
  assert.match(await mine.textContent(), /you/);
  await mine.getByRole("button", { name: /Reveal/ }).click();
  await confirm("Reveal");
  await page.locator("#created-dialog").waitFor({ state: "visible" });
  assert.equal(await page.locator("#created-title").textContent(), "Key shared with you");
  const revealed = await takeCreatedKeys();
  assert.equal(revealed.apiKey, made.body._data[0].api_key);
  await mine.waitFor({ state: "detached" });
  const token = await openSession(revealed.organizationKey, revealed.apiKey);
  assert.equal((await partner("GET", "/v1/me", { token })).status, 200);
  await partner("DELETE", "/v1/auth/session", { token });
});

test("rotate with an overlap: the old key keeps working, shows when it stops, and is not rotated twice", async () => {
  await fresh();
  const key = demo.keys.find((k) => k.name === "Demo reseller");
  await page.locator("#keys tr:not(.revoked)", { hasText: "Demo reseller" }).getByRole("button", { name: /Rotate/ }).click();
  await page.locator("#confirm-overlap").selectOption("3600");
  await confirm("Rotate");
  const rotated = await takeCreatedKeys();
  const old = page.locator("#keys tr", { hasText: "Replaced: stops" });
  await old.waitFor();
  assert.match(await old.textContent(), /Demo reseller/);
  assert.equal(await old.getByRole("button", { name: /Rotate/ }).count(), 0, "a replaced key is not offered for rotation");
  assert.equal(await page.locator("#keys tr:not(.revoked)", { hasText: "Demo reseller" }).count(), 2);
  // Both keys open sessions: the integration switches to the new one without downtime.
  const oldToken = await openSession(demo.organization_key, key.api_key);
  assert.equal((await partner("GET", "/v1/me", { token: oldToken })).status, 200);
  const newToken = await openSession(rotated.organizationKey, rotated.apiKey);
  assert.equal((await partner("GET", "/v1/me", { token: newToken })).status, 200);
  const keys = (await admin("GET", "/v1/admin/keys?status=active&limit=100"))._data;
  const replaced = keys.find((k) => k.name === "Demo reseller" && k.replaced_by);
  assert.ok(replaced, JSON.stringify(keys));
  assert.ok(Date.parse(replaced.expires_at) - Date.now() <= 3600 * 1000);
});

test("a key past its expiry shows as expired and is only offered for revocation", async () => {
  const partnerships = (await admin("GET", "/v1/admin/partnerships"))._data;
  // Whole seconds, two to three from now: the API takes any time in the future.
  const expiresAt = new Date(Math.ceil((Date.now() + 2000) / 1000) * 1000).toISOString().replace(".000Z", "Z");
  const created = await fetch(base + "/v1/admin/keys", {
    method: "POST",
    headers: { Authorization: `Bearer ${demo.admin_token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "Short-lived", partnership_id: partnerships[0].id, allow_any_origin: true, expires_at: expiresAt }),
  });
  assert.equal(created.status, 201, await created.text());
  await new Promise((resolve) => setTimeout(resolve, Date.parse(expiresAt) - Date.now() + 500));
  await fresh();
  const row = page.locator("#keys tr", { hasText: "Short-lived" });
  await row.waitFor();
  assert.equal((await row.locator(".badge").first().textContent()).trim(), "expired");
  assert.equal(await row.getAttribute("class"), "revoked", "shown like a revoked key");
  assert.equal(await row.getByRole("button", { name: /Rotate|Edit/ }).count(), 0);
  assert.equal(await row.getByRole("button", { name: /Revoke/ }).count(), 1);
  const expired = (await admin("GET", "/v1/admin/keys?status=expired&limit=100"))._data;
  assert.deepEqual(expired.map((k) => k.name), ["Short-lived"]);
});

test("an expired sign-in goes through sign-in again and keeps the form being filled", async () => {
  await fresh();
  await page.getByRole("button", { name: "Create API key" }).click();
  await page.locator("#key-name").fill("Draft kept");
  // The token expires (or is refused): the next call signs in again.
  await page.evaluate(() => sessionStorage.setItem("console.token", JSON.stringify({ token: "expired", expiresAt: Date.now() + 600000 })));
  const signedInAgain = page.waitForResponse((r) => r.url().endsWith("/_local/oidc/token") && r.status() === 200);
  await page.getByRole("button", { name: "My IP" }).click();
  await signedInAgain;
  await page.locator("#create-dialog").waitFor({ state: "visible" });
  assert.equal(await page.locator("#key-name").inputValue(), "Draft kept");
  await page.locator("#create-cancel").click();
});

test("disable after a confirmation that says what happens; the locked tab enables access again", async () => {
  await fresh();
  // The delete icon, named for assistive technology.
  await page.getByRole("button", { name: "Disable API access" }).click();
  assert.match(await page.locator("#confirm-text").textContent(), /every active API key is revoked and every live session ends/);
  await confirm("Disable API access");
  await page.getByRole("heading", { name: "API access is off" }).waitFor();
  await shot("locked");
  const key = demo.keys[0];
  const refused = await partner("POST", "/v1/auth/session", { body: { organization_key: demo.organization_key, api_key: key.api_key } });
  assert.equal(refused.status, 401);
  await page.getByRole("button", { name: "Enable API access" }).click();
  await page.getByRole("heading", { name: "Organization key" }).waitFor();
  const renewed = (await page.locator("#org-key").textContent()).trim();
  assert.notEqual(renewed, demo.organization_key);
  assert.match(renewed, /^hsp_org_/);
});

test("sign-out forgets the token", async () => {
  await page.getByRole("button", { name: "Sign out" }).click();
  assert.ok(await page.getByRole("button", { name: "Sign in" }).isVisible());
  assert.equal(await page.evaluate(() => sessionStorage.getItem("console.token")), null);
});

test("works at 360 px: nothing overflows the page", async () => {
  const narrow = await browser.newContext({ viewport: { width: 360, height: 800 } });
  const small = await narrow.newPage();
  watch(small);
  await small.goto(base + "/console");
  await small.getByRole("button", { name: "Sign in" }).click();
  await small.getByRole("heading", { name: "Organization key" }).waitFor();
  const width = await small.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `the page is ${width}px wide`);
  await narrow.close();
});

test("axe-core finds no serious or critical accessibility violation", async () => {
  // axe is injected by the test; the page's own policy would (rightly) refuse it.
  const audit = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
  const p = await audit.newPage();
  await p.goto(base + "/console");
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("heading", { name: "Organization key" }).waitFor();
  await p.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  const results = await p.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = results.violations.filter((v) => ["serious", "critical"].includes(v.impact));
  assert.deepEqual(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`), []);
  await audit.close();
});

test("no console error or page error on the way", () => {
  assert.deepEqual(problems, []);
});
