"use strict";
// The API tab of the partner portal: OpenID Connect sign-in (authorization code with PKCE),
// then everything through the admin API. The token lives in sessionStorage only; the
// page keeps its state (section scroll, audit page, create-form draft) across a re-sign-in.
(() => {
  const config = JSON.parse(document.getElementById("config").textContent);
  const $ = (id) => document.getElementById(id);
  const TOKEN = "console.token";
  const PENDING = "console.pending";
  const SAVED = "console.saved";
  const SLOTS = 5;
  let auditLinks = {};
  let auditPath = "/v1/admin/audit?limit=20";
  let partnerships = [];
  let created = false;

  // ---- helpers -------------------------------------------------------------------------
  const text = (value) => (value === null || value === undefined ? "" : String(value));
  const when = (iso) => (iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 16) + " UTC" : "—");
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child instanceof Node ? child : text(child));
    return node;
  }
  function status(message) {
    $("status").textContent = message;
    clearTimeout(status.timer);
    status.timer = setTimeout(() => ($("status").textContent = ""), 4000);
  }
  function showError(message) {
    $("error").textContent = message || "";
  }
  function b64url(bytes) {
    return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  const randomString = () => b64url(crypto.getRandomValues(new Uint8Array(32)));
  const redirectUri = () => location.origin + location.pathname;
  const authority = () => new URL(config.authority, location.origin).href.replace(/\/$/, "");

  // ---- sign-in ---------------------------------------------------------------------------
  async function discovery() {
    const response = await fetch(authority() + "/.well-known/openid-configuration");
    if (!response.ok) throw new Error("the sign-in service is unavailable (" + response.status + ")");
    return response.json();
  }

  function savePageState() {
    const draft = {};
    for (const id of ["key-name", "key-origins", "key-cors", "key-share", "key-expiry"]) draft[id] = $(id).value;
    sessionStorage.setItem(SAVED, JSON.stringify({ auditPath, scrollY: window.scrollY, draft, creating: $("create-dialog").open }));
  }

  function restorePageState() {
    const saved = JSON.parse(sessionStorage.getItem(SAVED) || "null");
    sessionStorage.removeItem(SAVED);
    return saved;
  }

  async function signIn() {
    const oidc = await discovery();
    const verifier = randomString();
    const state = randomString();
    const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, token_endpoint: oidc.token_endpoint }));
    const url = new URL(oidc.authorization_endpoint, location.origin);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: config.client_id,
      redirect_uri: redirectUri(),
      scope: config.scope,
      code_challenge: challenge,
      code_challenge_method: "S256",
      state,
    }).toString();
    location.assign(url.href);
  }

  async function finishSignIn(params) {
    const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
    sessionStorage.removeItem(PENDING);
    history.replaceState(null, "", location.pathname);
    if (!pending || params.get("state") !== pending.state) throw new Error("the sign-in answer does not match this page: sign in again");
    const response = await fetch(new URL(pending.token_endpoint, location.origin).href, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: params.get("code"),
        redirect_uri: redirectUri(),
        client_id: config.client_id,
        code_verifier: pending.verifier,
      }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok || !body.access_token) throw new Error("sign-in failed: " + (body.error_description || body.error || response.status));
    const expiresAt = Date.now() + 1000 * (body.expires_in || 3600);
    sessionStorage.setItem(TOKEN, JSON.stringify({ token: body.access_token, expiresAt }));
  }

  function token() {
    const stored = JSON.parse(sessionStorage.getItem(TOKEN) || "null");
    return stored && stored.expiresAt > Date.now() + 5000 ? stored.token : null;
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(SAVED);
    show("signin");
    $("who").textContent = "";
    status("Signed out");
  }

  // ---- the admin API ---------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) {
      const info = (body && body.additional_info) || {};
      super(info.detail || body.message || body.error_description || "request failed (" + status + ")");
      this.status = status;
      this.code = info.error_code;
    }
  }

  async function api(method, path, body) {
    const current = token();
    if (!current) return expired();
    const headers = { Authorization: "Bearer " + current };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const answer = await response.json().catch(() => ({}));
    if (response.status === 401) return expired();
    if (!response.ok) throw new ApiError(response.status, answer);
    return answer;
  }

  // An expired or refused token: keep the page's state and sign in again.
  function expired() {
    sessionStorage.removeItem(TOKEN);
    savePageState();
    signIn().catch((err) => showError(err.message));
    return new Promise(() => {});
  }

  // ---- views -----------------------------------------------------------------------------
  function show(view) {
    for (const name of ["signin", "locked", "access"]) $("view-" + name).hidden = name !== view;
    $("sign-out").hidden = view === "signin";
  }

  async function load() {
    showError("");
    const access = (await api("GET", "/v1/admin/api-access"))._data[0];
    if (!access.enabled) {
      show("locked");
      return;
    }
    $("org-key").textContent = access.organization_key;
    $("enabled-at").textContent = when(access.enabled_at);
    show("access");
    await Promise.all([loadKeys(), loadShares(), loadSessions(), loadAudit(auditPath)]);
  }

  async function all(path) {
    const items = [];
    let next = path;
    while (next) {
      const page = await api("GET", next);
      items.push(...page._data);
      next = page._links.next ? new URL(page._links.next.href).pathname + new URL(page._links.next.href).search : null;
    }
    return items;
  }

  async function loadKeys() {
    const keys = await all("/v1/admin/keys?limit=100");
    const rows = keys.map((key) => {
      const revoked = key.status === "revoked";
      // Past its expiry (a rotation's overlap ended): refused, only left to revoke.
      const expired = key.status === "expired";
      const statusCell = el("td", {}, el("span", { class: "badge " + key.status }, key.status));
      if (key.rotation_due && key.status === "active") statusCell.append(" ", el("span", { class: "badge due" }, "Rotation due"));
      // Rotated with an overlap: still working, until its expiry.
      const replaced = key.status === "active" && key.replaced_by;
      if (replaced) statusCell.append(" ", el("span", { class: "badge due" }, "Replaced: stops " + when(key.expires_at)));
      const buttons = el("div", { class: "row" });
      const actions = el("td", {}, buttons);
      if (!revoked) {
        if (!expired) {
          buttons.append(el("button", { type: "button", "aria-label": "Edit origins of " + key.name, onclick: () => openEdit(key) }, "Edit"));
        }
        if (!replaced && !expired) {
          buttons.append(el("button", { type: "button", "aria-label": "Rotate " + key.name, onclick: () => rotate(key) }, "Rotate"));
        }
        buttons.append(
          el("button", { type: "button", class: "danger", "aria-label": "Revoke " + key.name, onclick: () => revoke(key) }, "Revoke"),
        );
      }
      return el(
        "tr",
        { class: revoked || expired ? "revoked" : "", "data-key": key.id },
        el("td", {}, key.name),
        el("td", {}, el("code", {}, key.prefix.slice(0, 8))),
        el("td", {}, key.partnership.name),
        el("td", {}, key.scopes.join(", ")),
        originsCell(key),
        el("td", {}, when(key.created_at)),
        el("td", {}, when(key.last_used_at)),
        statusCell,
        actions,
      );
    });
    $("keys").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "9", class: "muted" }, "No API keys yet."))]));
  }

  // Where the key may be used from: its addresses, and the web pages it serves (CORS).
  function originsCell(key) {
    const cell = el("td", {}, key.allowed_origins.length ? key.allowed_origins.join(", ") : el("span", { class: "muted" }, "any address"));
    const browsers = key.cors_origins || [];
    if (browsers.length) cell.append(el("br"), el("span", { class: "muted" }, "Browsers: "), browsers.join(", "));
    return cell;
  }

  async function loadShares() {
    const shares = await all("/v1/admin/shared-keys?limit=100");
    const rows = shares.map((share) => {
      const buttons = el("div", { class: "row" });
      if (share.for_me) {
        buttons.append(el("button", { type: "button", class: "primary", "aria-label": "Reveal " + share.api_key.name, onclick: () => run(() => reveal(share)) }, "Reveal"));
      }
      buttons.append(el("button", { type: "button", class: "danger", "aria-label": "Unshare " + share.api_key.name + " with " + share.recipient, onclick: () => run(() => unshare(share)) }, "Unshare"));
      return el(
        "tr",
        { "data-share": share.id },
        el("td", {}, share.api_key.name, " ", el("code", {}, share.api_key.prefix.slice(0, 8))),
        el("td", {}, share.for_me ? "you" : share.recipient),
        el("td", {}, share.shared_by_label ? share.shared_by_label + " (" + share.shared_by + ")" : share.shared_by),
        el("td", {}, when(share.created_at)),
        el("td", {}, when(share.expires_at)),
        el("td", {}, buttons),
      );
    });
    $("shares").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "6", class: "muted" }, "Nothing shared."))]));
  }

  async function loadSessions() {
    const sessions = (await api("GET", "/v1/admin/sessions"))._data;
    $("slots").textContent = sessions.length + " of " + SLOTS + " slots in use";
    const rows = sessions.map((s) =>
      el(
        "tr",
        { "data-session": s.id },
        el("td", {}, s.api_key.name, " ", el("code", {}, s.api_key.prefix.slice(0, 8))),
        el("td", {}, s.ip || "unknown"),
        el("td", {}, when(s.created_at)),
        el("td", {}, when(s.expires_at)),
        el("td", {}, when(s.last_used_at)),
        el("td", {}, el("button", { type: "button", class: "danger", "aria-label": "Invalidate the session of " + s.api_key.name, onclick: () => invalidate(s) }, "Invalidate")),
      ),
    );
    $("sessions").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "6", class: "muted" }, "No live session."))]));
  }

  async function loadAudit(path) {
    const page = await api("GET", path);
    auditPath = path;
    auditLinks = page._links;
    const rows = page._data.map((e) =>
      el(
        "tr",
        {},
        el("td", {}, when(e.at), e.occurrences > 1 ? " ×" + e.occurrences : ""),
        el("td", {}, e.actor_label ? e.actor_label + " (" + e.actor + ")" : e.actor),
        el("td", {}, el("code", {}, e.action)),
        el("td", {}, e.target),
        el("td", {}, e.ip || ""),
      ),
    );
    $("audit").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "5", class: "muted" }, "Nothing recorded yet."))]));
    $("audit-newer").disabled = !auditLinks.prev;
    $("audit-older").disabled = !auditLinks.next;
  }
  const linkPath = (link) => new URL(link.href).pathname + new URL(link.href).search;

  // ---- confirmations ---------------------------------------------------------------------
  // `overlap`: also offer how long a rotated key keeps working (read from #confirm-overlap).
  function confirmAction(title, message, action, overlap = false) {
    return new Promise((resolve) => {
      $("confirm-title").textContent = title;
      $("confirm-text").textContent = message;
      $("confirm-ok").textContent = action;
      $("confirm-overlap-row").hidden = !overlap;
      $("confirm-overlap").value = "0";
      const dialog = $("confirm-dialog");
      const done = (answer) => {
        $("confirm-ok").onclick = null;
        $("confirm-cancel").onclick = null;
        dialog.close();
        resolve(answer);
      };
      $("confirm-ok").onclick = () => done(true);
      $("confirm-cancel").onclick = () => done(false);
      dialog.oncancel = () => resolve(false);
      dialog.showModal();
      $("confirm-cancel").focus();
    });
  }

  // ---- actions ---------------------------------------------------------------------------
  async function run(action) {
    showError("");
    try {
      await action();
    } catch (err) {
      showError(err.message);
    }
  }

  async function enable() {
    await api("POST", "/v1/admin/api-access");
    status("API access enabled");
    await load();
  }

  async function disable() {
    const ok = await confirmAction(
      "Disable API access?",
      "The organization key is removed, every active API key is revoked and every live session ends, at once. Integrations stop working until you enable access and create new keys.",
      "Disable API access",
    );
    if (!ok) return;
    await api("DELETE", "/v1/admin/api-access");
    status("API access disabled");
    await load();
  }

  function showCreated(key, title = "Key created") {
    $("created-title").textContent = title;
    $("created-org").textContent = key.organization_key;
    $("created-key").textContent = key.api_key;
    created = true;
    $("created-dialog").showModal();
  }

  async function closeCreated() {
    const ok = await confirmAction("Did you copy the API key?", "It is not shown again. Without it the integration cannot use this key.", "I copied it");
    if (!ok) return;
    $("created-key").textContent = "";
    $("created-org").textContent = "";
    created = false;
    $("created-dialog").close();
  }

  async function rotate(key) {
    const ok = await confirmAction(
      "Rotate " + key.name + "?",
      "A new key with the same settings replaces it. Without an overlap the current key is revoked and its live sessions end now; with one, they keep working until it ends, so the integration can switch without downtime.",
      "Rotate",
      true,
    );
    if (!ok) return;
    const overlap = Number($("confirm-overlap").value);
    const body = overlap > 0 ? { overlap_seconds: overlap } : {};
    const answer = await api("POST", "/v1/admin/keys/" + key.id + "/rotate", body);
    showCreated(answer._data[0]);
    await Promise.all([loadKeys(), loadShares(), loadSessions(), loadAudit("/v1/admin/audit?limit=20")]);
  }

  async function revoke(key) {
    const ok = await confirmAction("Revoke " + key.name + "?", "The key stops working and its live sessions end now. This cannot be undone.", "Revoke");
    if (!ok) return;
    await api("POST", "/v1/admin/keys/" + key.id + "/revoke", {});
    status(key.name + " revoked");
    await Promise.all([loadKeys(), loadShares(), loadSessions(), loadAudit("/v1/admin/audit?limit=20")]);
  }

  async function reveal(share) {
    const ok = await confirmAction(
      "Reveal " + share.api_key.name + "?",
      "The secret is shown once, now; the share is then deleted. Copy it into the integration that needs it.",
      "Reveal",
    );
    if (!ok) return;
    const answer = (await api("POST", "/v1/admin/shared-keys/" + share.id + "/reveal"))._data[0];
    showCreated({ organization_key: answer.organization_key, api_key: answer.secret }, "Key shared with you");
    await Promise.all([loadShares(), loadAudit("/v1/admin/audit?limit=20")]);
  }

  async function unshare(share) {
    const ok = await confirmAction(
      "Unshare " + share.api_key.name + "?",
      (share.for_me ? "You" : share.recipient) + " can no longer reveal its secret. The key keeps working.",
      "Unshare",
    );
    if (!ok) return;
    await api("DELETE", "/v1/admin/shared-keys/" + share.id);
    status("Share withdrawn");
    await Promise.all([loadShares(), loadAudit("/v1/admin/audit?limit=20")]);
  }

  async function invalidate(session) {
    const ok = await confirmAction("Invalidate this session?", "The integration using it gets 401 on its next request and must create a new session.", "Invalidate");
    if (!ok) return;
    await api("DELETE", "/v1/admin/sessions/" + session.id);
    status("Session invalidated");
    await Promise.all([loadSessions(), loadAudit("/v1/admin/audit?limit=20")]);
  }

  // ---- the create form -------------------------------------------------------------------
  const origins = (value) => value.split(",").map((o) => o.trim()).filter(Boolean);
  function clearFieldErrors() {
    for (const field of ["name", "partnership_id", "optional_scopes", "allowed_origins", "cors_origins", "share_with", "expires_at", "form"]) {
      $("error-" + field).textContent = "";
    }
  }

  // The API names the field it refuses (or, for origins, the entry); show its words there.
  function fieldOf(message) {
    const named = ["cors_origins", "share_with"].find((f) => message.startsWith(f));
    if (named) return named;
    if (/origin|IP address|CIDR|domain/i.test(message)) return "allowed_origins";
    return ["partnership_id", "optional_scopes", "expires_at", "name"].find((f) => message.includes(f)) || "form";
  }

  function updateCreateState() {
    const empty = origins($("key-origins").value).length === 0;
    $("ack-row").hidden = !empty;
    $("create-submit").disabled = !$("key-name").value.trim() || (empty && !$("key-ack").checked);
  }

  function portalScope() {
    const p = partnerships.find((x) => x.id === $("key-portal").value);
    $("portal-scope").textContent = p ? "Report scope, fixed for this portal: " + (p.type === "mssp" ? "mssp-report:read" : "reseller-report:read") + " (and me:read)" : "";
  }

  async function openCreate(draft) {
    partnerships = (await api("GET", "/v1/admin/partnerships"))._data;
    $("key-portal").replaceChildren(...partnerships.map((p) => el("option", { value: p.id }, p.name + " (" + p.type + ")")));
    clearFieldErrors();
    if (draft) for (const [id, value] of Object.entries(draft)) $(id).value = value;
    portalScope();
    updateCreateState();
    $("create-dialog").showModal();
    $("key-name").focus();
  }

  async function submitCreate(event) {
    event.preventDefault();
    clearFieldErrors();
    const list = origins($("key-origins").value);
    const body = {
      name: $("key-name").value.trim(),
      partnership_id: $("key-portal").value,
      optional_scopes: [...document.querySelectorAll("input[name=scope]:checked")].map((c) => c.value),
      allowed_origins: list,
      allow_any_origin: list.length === 0 && $("key-ack").checked,
    };
    const browsers = origins($("key-cors").value);
    if (browsers.length) body.cors_origins = browsers;
    const recipients = origins($("key-share").value);
    if (recipients.length) body.share_with = recipients;
    if ($("key-expiry").value) body.expires_at = $("key-expiry").value + "T23:59:59Z";
    try {
      const answer = await api("POST", "/v1/admin/keys", body);
      $("create-form").reset();
      $("create-dialog").close();
      showCreated(answer._data[0]);
      await Promise.all([loadKeys(), loadShares(), loadAudit("/v1/admin/audit?limit=20")]);
    } catch (err) {
      $("error-" + fieldOf(err.message)).textContent = err.message;
    }
  }

  async function myIp() {
    const ip = (await api("GET", "/v1/admin/client-address"))._data[0].ip;
    if (!ip) throw new Error("the API does not see your address");
    const list = origins($("key-origins").value);
    if (!list.includes(ip)) list.push(ip);
    $("key-origins").value = list.join(", ");
    updateCreateState();
  }

  // ---- editing origins -------------------------------------------------------------------
  let editing = null;
  function openEdit(key) {
    editing = key;
    $("edit-title").textContent = "Origins of " + key.name;
    $("edit-origins").value = key.allowed_origins.join(", ");
    $("edit-cors").value = (key.cors_origins || []).join(", ");
    $("edit-ack").checked = key.allow_any_origin;
    $("error-edit").textContent = "";
    $("edit-dialog").showModal();
    $("edit-origins").focus();
  }

  async function submitEdit(event) {
    event.preventDefault();
    const list = origins($("edit-origins").value);
    try {
      await api("PATCH", "/v1/admin/keys/" + editing.id, {
        allowed_origins: list,
        allow_any_origin: list.length === 0 && $("edit-ack").checked,
        cors_origins: origins($("edit-cors").value),
      });
      $("edit-dialog").close();
      status("Origins saved");
      await Promise.all([loadKeys(), loadSessions(), loadAudit("/v1/admin/audit?limit=20")]);
    } catch (err) {
      $("error-edit").textContent = err.message;
    }
  }

  // ---- wiring ----------------------------------------------------------------------------
  $("sign-in").addEventListener("click", () => run(signIn));
  $("sign-out").addEventListener("click", signOut);
  $("enable").addEventListener("click", () => run(enable));
  $("disable").addEventListener("click", () => run(disable));
  $("open-create").addEventListener("click", () => run(() => openCreate()));
  $("create-cancel").addEventListener("click", () => $("create-dialog").close());
  $("create-form").addEventListener("submit", submitCreate);
  $("my-ip").addEventListener("click", () => run(myIp));
  for (const id of ["key-name", "key-origins", "key-ack"]) $(id).addEventListener("input", updateCreateState);
  $("key-portal").addEventListener("change", portalScope);
  $("created-close").addEventListener("click", () => run(closeCreated));
  $("created-dialog").addEventListener("cancel", (event) => {
    event.preventDefault();
    run(closeCreated);
  });
  $("edit-cancel").addEventListener("click", () => $("edit-dialog").close());
  $("edit-form").addEventListener("submit", submitEdit);
  $("refresh-sessions").addEventListener("click", () => run(loadSessions));
  $("audit-newer").addEventListener("click", () => run(() => loadAudit(linkPath(auditLinks.prev))));
  $("audit-older").addEventListener("click", () => run(() => loadAudit(linkPath(auditLinks.next))));
  document.addEventListener("click", (event) => {
    const source = event.target.closest("[data-copy]");
    if (!source) return;
    const value = $(source.getAttribute("data-copy")).textContent;
    navigator.clipboard.writeText(value).then(
      () => status("Copied"),
      () => status("Copy failed: select the text and copy it"),
    );
  });
  window.addEventListener("beforeunload", (event) => {
    if (created) event.preventDefault();
  });

  async function start() {
    const params = new URLSearchParams(location.search);
    if (params.has("code") || params.has("error")) {
      if (params.has("error")) {
        history.replaceState(null, "", location.pathname);
        throw new Error("sign-in refused: " + (params.get("error_description") || params.get("error")));
      }
      await finishSignIn(params);
    }
    if (!token()) {
      show("signin");
      return;
    }
    const saved = restorePageState();
    if (saved) auditPath = saved.auditPath || auditPath;
    await load();
    if (saved) {
      window.scrollTo(0, saved.scrollY || 0);
      if (saved.creating) await openCreate(saved.draft);
    }
  }
  // Whatever went wrong on the way in (a stale sign-in answer, say), offer the sign-in again.
  run(start).then(() => {
    if (["signin", "locked", "access"].every((name) => $("view-" + name).hidden)) show("signin");
  });
})();
