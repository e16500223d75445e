// The whole partner flow with the generated TypeScript types (openapi-typescript) and
// openapi-fetch, no hand-written HTTP (`make clients`, then `scripts/clients.sh flows`).
//
//   node clients/typescript/dist/flow.mjs <demo.json> <openapi.json>
//
// `demo.json` is what the local server writes (base URL, organization key, the MSSP and
// reseller API keys, an admin token). Every answer's body must validate against the schema
// openapi.yaml gives for its status (JSON Schema 2020-12, formats checked) before the typed
// value is used. A 429 or 503 is answered by waiting `retry_after_ms` and sending again; at
// least one 429 must have happened (the local server keeps one request a second).
import { readFileSync } from "node:fs";
import createClient, { type Client } from "openapi-fetch";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];
type ErrorBody = Schemas["Error"];

const [demoPath, contractPath] = process.argv.slice(2);
if (!demoPath || !contractPath) throw new Error("usage: flow.mjs <demo.json> <openapi.json>");
const demo = JSON.parse(readFileSync(demoPath, "utf8")) as {
  base_url: string;
  organization_key: string;
  admin_token: string;
  keys: { api_key: string; partnership_type: string; allowed_origins: string[] }[];
};
const contract = JSON.parse(readFileSync(contractPath, "utf8"));

const ajv = new Ajv2020({ strict: false, allErrors: true });
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
addFormats(ajv);
ajv.addSchema(contract, "openapi.json");

/** The JSON pointer of the schema openapi.yaml gives `operationId`'s answer of `status`. */
function schemaPointer(operationId: string, status: number): string {
  for (const [path, item] of Object.entries<Record<string, any>>(contract.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      if (op.operationId !== operationId) continue;
      const response = op.responses[String(status)];
      if (!response) throw new Error(`${operationId}: status ${status} is not documented`);
      if (response.$ref) return `${response.$ref}/content/application~1json/schema`;
      const escaped = path.replaceAll("~", "~0").replaceAll("/", "~1");
      return `#/paths/${escaped}/${method}/responses/${status}/content/application~1json/schema`;
    }
  }
  throw new Error(`unknown operation ${operationId}`);
}

function validate(operationId: string, status: number, body: unknown): void {
  const ref = `openapi.json${schemaPointer(operationId, status)}`;
  const check = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
  if (!check(body)) {
    const errors = (check.errors ?? []).slice(0, 5).map((e) => `${e.instancePath} ${e.message}`);
    throw new Error(`${operationId} ${status}: ${errors.join("; ")}`);
  }
}

const retries = { 429: 0, 503: 0 };
let answers = 0;

/** Sends one request through openapi-fetch (again after `retry_after_ms` on 429 or 503);
 *  returns the typed body of the expected status, checked against the contract. */
async function call<T>(
  operationId: string,
  expected: number,
  send: () => Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const { data, error, response } = await send();
    const body = data ?? error;
    validate(operationId, response.status, body);
    answers++;
    if (response.status === 429 || response.status === 503) {
      retries[response.status]++;
      const wait = (error as ErrorBody).retry_after_ms ?? 1000;
      await new Promise((resolve) => setTimeout(resolve, wait));
      continue;
    }
    if (response.status !== expected || data === undefined) {
      throw new Error(`${operationId}: ${response.status} ${JSON.stringify(body).slice(0, 300)}, expected ${expected}`);
    }
    return data;
  }
  throw new Error(`${operationId}: still refused after 20 tries`);
}

/** A client that sends `Authorization: <prefix> <token>` (the API's partner scheme is
 *  `Session`, the admin routes take `Bearer`). */
function clientWith(prefix: "Session" | "Bearer", token: string): Client<paths> {
  const client = createClient<paths>({ baseUrl: demo.base_url });
  client.use({
    onRequest({ request }) {
      request.headers.set("Authorization", `${prefix} ${token}`);
      return request;
    },
  });
  return client;
}

const anonymous = createClient<paths>({ baseUrl: demo.base_url });
let firstSession: Schemas["SessionResponse"] | undefined;

async function openSession(apiKey: string): Promise<Client<paths>> {
  const created = await call("createSession", 201, () =>
    anonymous.POST("/v1/auth/session", { body: { organization_key: demo.organization_key, api_key: apiKey } }),
  );
  firstSession ??= created;
  const session = created._data[0];
  if (!session || !created._links.me.href.endsWith("/v1/me")) throw new Error("no session in the answer");
  return clientWith("Session", session.session_token);
}

/** The query of a `_links.next` URL, as the typed call's query parameters (with its cursor,
 * the next page reads only itself). */
type PageQuery = { limit: number; offset: number; cursor?: string };
function follow(href: string): PageQuery {
  const query = new URL(href).searchParams;
  const cursor = query.get("cursor");
  return {
    limit: Number(query.get("limit")),
    offset: Number(query.get("offset")),
    ...(cursor ? { cursor } : {}),
  };
}

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Runs `flow` in a session of `apiKey` that is ended however the flow goes on. */
async function inSession(apiKey: string, flow: (client: Client<paths>) => Promise<void>): Promise<void> {
  const client = await openSession(apiKey);
  try {
    await flow(client);
  } finally {
    await call("endSession", 200, () => client.DELETE("/v1/auth/session"));
  }
}

/** The check every answer passes must be able to fail: a real answer with one date broken,
 *  or one link missing, is refused. */
function theValidatorIsLive(session: Schemas["SessionResponse"]): void {
  const broken = structuredClone(session);
  broken._data[0]!.expires_at = "2026-13-45T25:61:00Z";
  const unlinked: Record<string, any> = structuredClone(session);
  delete unlinked._links.me;
  for (const bad of [broken, unlinked]) {
    let refused = false;
    try {
      validate("createSession", 201, bad);
    } catch {
      refused = true;
    }
    if (!refused) throw new Error(`the contract check accepted a broken answer: ${JSON.stringify(bad)}`);
  }
}

async function msspFlow(client: Client<paths>): Promise<void> {
  const me = (await call("getMe", 200, () => client.GET("/v1/me")))._data[0];
  console.log(`me: ${me?.organization.name} / ${me?.partnership.name} (${me?.partnership.type})`);

  const customers: Schemas["Customer"][] = [];
  let query: PageQuery | undefined = { limit: 10, offset: 0 };
  let pages = 0;
  let total = 0;
  while (query) {
    const current = query;
    const page: Schemas["CustomerList"] = await call("listCustomers", 200, () =>
      client.GET("/v1/customers", { params: { query: current } }),
    );
    customers.push(...page._data);
    pages++;
    total = page._meta.total;
    query = page._links.next ? follow(page._links.next.href) : undefined;
  }
  if (customers.length !== total || new Set(customers.map((c) => c.id)).size !== total) {
    throw new Error(`paging by _links.next gave ${customers.length} customers of ${total}`);
  }
  console.log(`customers: ${customers.length} in ${pages} pages by _links.next`);

  const periods = (await call("listMsspPeriods", 200, () => client.GET("/v1/mssp/periods")))._data;
  const period = periods[0]!.id; // the open period: the demo's records reached the closed ones late
  const companies = await call("listMsspCompanies", 200, () =>
    client.GET("/v1/mssp/periods/{id}/companies", { params: { path: { id: period }, query: { limit: 5 } } }),
  );
  const usage = await call("getMsspUsage", 200, () =>
    client.GET("/v1/mssp/periods/{id}/usage", { params: { path: { id: period } } }),
  );
  console.log(
    `MSSP period ${period} (${companies._meta.period.status}): ${companies._meta.total} companies, ${usage._meta.total} products`,
  );

  const skus = (await call("listSkus", 200, () => client.GET("/v1/skus")))._data;
  const account = (
    await call("createAccount", 201, () =>
      client.POST("/v1/accounts", { body: { name: "Generated TypeScript Client AB", country: "SE" } }),
    )
  )._data[0]!;
  const subscription = (
    await call("createSubscription", 201, () =>
      client.POST("/v1/accounts/{id}/subscriptions", {
        params: { path: { id: account.id } },
        body: {
          sku: skus[0]!.code,
          quantity: 5,
          start_date: isoDate(Date.now()),
          end_date: isoDate(Date.now() + 365 * 86_400_000),
        },
      }),
    )
  )._data[0]!;
  console.log(`created account ${account.id} and subscription ${subscription.id} (${subscription.sku})`);

  const admin = clientWith("Bearer", demo.admin_token);
  const keys = await call("listKeys", 200, () => admin.GET("/v1/admin/keys", { params: { query: { limit: 100 } } }));
  const live = await call("listSessions", 200, () => admin.GET("/v1/admin/sessions"));
  if (live._data.length < 1) throw new Error("the admin sees no live session");
  console.log(`admin: ${keys._meta.total} keys, ${live._data.length} live sessions`);

  // The subscription goes before its account (an account with a subscription active today is kept).
  await call("deleteSubscription", 200, () =>
    client.DELETE("/v1/subscriptions/{id}", { params: { path: { id: subscription.id } } }),
  );
  const deleted = await call("deleteAccount", 200, () =>
    client.DELETE("/v1/accounts/{id}", { params: { path: { id: account.id } } }),
  );
  if (!deleted._links.accounts) throw new Error("no accounts link after deleting an account");
}

async function resellerFlow(client: Client<paths>): Promise<void> {
  const months = (await call("listResellerPeriods", 200, () => client.GET("/v1/reseller/periods")))._data;
  const month = months[0]!.id;
  const companies = await call("listResellerCompanies", 200, () =>
    client.GET("/v1/reseller/periods/{id}/companies", { params: { path: { id: month } } }),
  );
  const usage = await call("getResellerUsage", 200, () =>
    client.GET("/v1/reseller/periods/{id}/usage", { params: { path: { id: month } } }),
  );
  console.log(`reseller month ${month}: ${companies._meta.total} companies, ${usage._meta.total} usage rows`);
}

const msspKey = demo.keys.find((k) => k.partnership_type === "mssp" && k.allowed_origins.length === 0);
const resellerKey = demo.keys.find((k) => k.partnership_type === "reseller");
if (!msspKey || !resellerKey) throw new Error("demo.json lacks an MSSP or a reseller key");
await inSession(msspKey.api_key, async (client) => {
  theValidatorIsLive(firstSession!);
  await msspFlow(client);
});
await inSession(resellerKey.api_key, resellerFlow);

if (retries[429] < 1) throw new Error("no 429 was met: the flow did not show retry_after_ms handling");
console.log(
  `typescript client: ${answers} answers, every one valid for its status; ${retries[429]} × 429 and ${retries[503]} × 503 waited out by retry_after_ms`,
);
