// The local stand-in for the Stripe API, for the Worker and the CLI alike (one server, so the
// two cannot drift apart):
// - the catalog the CLI sets up (./stripe-local/catalog.ts): products, prices, payment links
//   (the Worker reads them back, `expand[]=line_items`) and webhook endpoints, per mode, with
//   Stripe's parameter checks, list pagination and filters, metadata, `Idempotency-Key` replay,
//   and webhook secrets only on creation;
// - the payments around a Stripeflare top-up (./stripe-local/state.ts): PaymentIntents paid with
//   test payment methods, their charges, refunds, disputes and completed checkout sessions.
// Local-only additions (Stripe makes these objects itself; the SDK cannot):
//   POST /local/checkout_sessions        records a completed Checkout Session (JSON)
//   POST /local/payment_links            a Payment Link with a given URL and price (JSON), or the
//                                        one already there with that URL
//   POST /local/refunds/:id/fail         a refund of pm_card_refundFail fails, as it would later
//   POST /local/failures                 a Failure (below) to inject, from tests that cannot reach
//                                        this process (the Worker tests in workerd)
// Shared Payment Tokens (preview API, ./stripe-local/shared-payment.ts): the test helper that
// grants one, and PaymentIntents confirmed with `shared_payment_granted_token` (agents, MPP).
// State lives in memory.
//
//   npm run stripe-local [-- --port 12111]      then STRIPE_API_BASE=http://127.0.0.1:12111
//
// Keys: any well-formed sk_/rk_ key works, its mode from its prefix, unless the server is started
// with a fixed set of keys (the CLI's tests), when others get Stripe's 401. A key containing
// "_legacy_" is an account whose default API version predates 2022-11-15: a request without
// Stripe-Version gets the old shapes. Tests can make requests fail (`fail`), and see them all
// (`requests`).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type Stripe from "stripe";
import { Store, type Kind } from "./stripe-local/catalog.ts";
import { apiError, parseForm, type Form } from "./stripe-local/form.ts";
import { invalid, list as listPage, localId, StripeApiError, type LocalCheckoutSession } from "./stripe-local/objects.ts";
import { StripeLocalState } from "./stripe-local/state.ts";
import { SharedPaymentTokens } from "./stripe-local/shared-payment.ts";

export * from "./stripe-local/objects.ts";
export { StripeLocalState } from "./stripe-local/state.ts";
export { Store, type Kind } from "./stripe-local/catalog.ts";
export { SharedPaymentTokens, type LocalGrantedToken } from "./stripe-local/shared-payment.ts";

export interface RecordedRequest {
  method: string;
  path: string;
  params: Form;
  idempotencyKey?: string;
  status: number;
  replayed: boolean;
  livemode?: boolean;
}

/**
 * A failure to inject. `method` and `path` (a prefix) pick requests; the `nth` matching request
 * (1-based, default 1) and the `times - 1` after it fail.
 *  - "error": answer `status` with a Stripe error (Stripe-Should-Retry: false).
 *  - "drop-after": carry the request out, then cut the connection without answering.
 *  - "drop-before": cut the connection before doing anything.
 *  - "hang": never answer (until close).
 */
export interface Failure {
  method?: string;
  path?: string;
  nth?: number;
  times?: number;
  kind: "error" | "drop-after" | "drop-before" | "hang";
  status?: number;
  message?: string;
  /** Only requests whose body contains this (one test's own objects, when files run side by side). */
  bodyIncludes?: string;
}

export interface StripeLocalOptions {
  port?: number;
  /** Only these keys are accepted (key -> live mode); any well-formed key when absent. */
  keys?: Map<string, boolean>;
}

const CATALOG_PATHS: Record<string, Kind> = {
  "/v1/products": "product",
  "/v1/prices": "price",
  "/v1/payment_links": "payment_link",
  "/v1/webhook_endpoints": "webhook_endpoint",
};

export interface StripeLocal {
  url: string;
  port: number;
  state: StripeLocalState;
  catalog: Store;
  sharedPayment: SharedPaymentTokens;
  requests: RecordedRequest[];
  fail(failure: Failure): void;
  clearFailures(): void;
  /** POST /local/payment_links, from code: the test-mode link with this URL (made once). */
  recordPaymentLink(input: { id?: string; url: string; currency: string; unit_amount: number }): { id: string; url: string };
  close(): Promise<void>;
}

/** Starts the stand-in on 127.0.0.1 (`port` 0: any free port). */
export async function startStripeLocal(options: StripeLocalOptions = {}): Promise<StripeLocal> {
  const state = new StripeLocalState();
  const catalog = new Store();
  const sharedPayment = new SharedPaymentTokens();
  const requests: RecordedRequest[] = [];
  const failures: (Failure & { seen: number })[] = [];
  const idempotency = new Map<string, { fingerprint: string; status: number; body: string }>();

  function takeFailure(method: string, path: string, rawBody: string): Failure | undefined {
    for (const f of failures) {
      if ((f.method && f.method !== method) || (f.path && !path.startsWith(f.path))) continue;
      if (f.bodyIncludes && !rawBody.includes(f.bodyIncludes)) continue;
      f.seen++;
      const nth = f.nth ?? 1;
      if (f.seen >= nth && f.seen < nth + (f.times ?? 1)) return f;
    }
    return undefined;
  }

  /** The link with this URL (a local payment's, or one the CLI made), else a new one. */
  function localPaymentLink(input: Record<string, unknown>): { id: string; url: string } {
    if (typeof input.url !== "string" || !/^https?:\/\//.test(input.url)) throw invalid("A payment link needs a url.", "url");
    const existing = catalog.all<Stripe.PaymentLink>("payment_link", false).find((link) => link.url === input.url);
    if (existing) return existing;
    if (typeof input.currency !== "string" || !/^[a-z]{3}$/.test(input.currency)) throw invalid("Missing or invalid currency.", "currency");
    const amount = input.unit_amount;
    if (typeof amount !== "number" || !Number.isSafeInteger(amount) || amount < 1) throw invalid("unit_amount must be a positive integer.", "unit_amount");
    const r = (params: Form) => ({ method: "POST", params, livemode: false });
    const product = catalog.createProduct(r({ name: "Top-up" }));
    const price = catalog.createPrice(r({ product: product.id, currency: input.currency, unit_amount: String(amount) }));
    const id = typeof input.id === "string" && input.id.startsWith("plink_") ? input.id : undefined;
    return catalog.createPaymentLink(r({ line_items: [{ price: price.id, quantity: "1" }] }), { id, url: input.url });
  }

  function authenticate(request: IncomingMessage): { key: string; livemode: boolean } {
    const header = request.headers.authorization ?? "";
    const key = /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? (header.startsWith("Basic ") ? Buffer.from(header.slice(6), "base64").toString().split(":")[0] : "");
    if (!key) {
      throw apiError(401, "invalid_request_error", "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth.");
    }
    const livemode = options.keys ? options.keys.get(key) : /^(sk|rk)_(test|live)_\w+$/.test(key) ? key.includes("_live_") : undefined;
    if (livemode === undefined) {
      throw apiError(401, "invalid_request_error", `Invalid API Key provided: ${key.slice(0, 8)}${"*".repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`);
    }
    return { key, livemode };
  }

  function dispatch(request: IncomingMessage, url: URL, rawBody: string, params: Form, key: string, livemode: boolean): unknown {
    const method = request.method ?? "GET";
    const path = url.pathname.replace(/\/+$/, "");
    const r = { method, params, livemode };
    let match: RegExpExecArray | null;

    // Local-only routes.
    if (method === "POST" && path === "/local/checkout_sessions") return state.recordCheckoutSession(jsonBody(rawBody) as LocalCheckoutSession);
    if (method === "POST" && path === "/local/payment_links") return localPaymentLink(jsonBody(rawBody));
    if (method === "POST" && (match = /^\/local\/refunds\/([^/]+)\/fail$/.exec(path))) return state.failRefund(decodeURIComponent(match[1]!));
    if (method === "POST" && path === "/local/failures") {
      const failure = jsonBody(rawBody) as unknown as Failure;
      if (!["error", "drop-after", "drop-before", "hang"].includes(failure.kind)) throw invalid("kind must be error, drop-after, drop-before or hang.", "kind");
      failures.push({ ...failure, seen: 0 });
      return { ok: true };
    }

    // The catalog.
    const listKind = CATALOG_PATHS[path];
    if (listKind && method === "GET") return list(listKind, path, r);
    if (listKind && method === "POST") {
      if (listKind === "product") return catalog.createProduct(r);
      if (listKind === "price") return catalog.createPrice(r);
      if (listKind === "payment_link") return catalog.createPaymentLink(r);
      return catalog.createWebhookEndpoint(r);
    }
    const one = /^(\/v1\/[a-z_]+)\/([A-Za-z0-9_]+)$/.exec(path);
    const kind = one && CATALOG_PATHS[one[1]!];
    if (one && kind) {
      const id = one[2]!;
      if (method === "GET") {
        const expand = expandOf(url, new URLSearchParams(rawBody));
        return kind === "payment_link" && expand.includes("line_items") ? catalog.paymentLinkWithItems(id, livemode) : catalog.get(kind, id, livemode);
      }
      if (method === "POST") {
        if (kind === "product") return catalog.updateProduct(id, r);
        if (kind === "price") return catalog.updatePrice(id, r);
        if (kind === "payment_link") return catalog.updatePaymentLink(id, r);
        return catalog.updateWebhookEndpoint(id, r);
      }
      if (method === "DELETE" && (kind === "webhook_endpoint" || kind === "product")) {
        catalog.get(kind, id, livemode);
        if (kind === "product" && catalog.all("price", livemode).some((p) => (p as { product: string }).product === id)) {
          throw apiError(400, "invalid_request_error", "This product cannot be deleted because it has one or more user-created prices.", "product_has_prices");
        }
        catalog.remove(id);
        return { id, object: kind, deleted: true };
      }
    }

    // The payments around a top-up.
    // An account whose default API version predates 2022-11-15 (a key containing "_legacy_"):
    // a request without Stripe-Version gets the old shapes, as Stripe would answer.
    const legacy = key.includes("_legacy_") && !request.headers["stripe-version"];
    const body = new URLSearchParams(request.headers["content-type"]?.includes("json") ? "" : rawBody);
    const expand = expandOf(url, body);
    const version = request.headers["stripe-version"] as string | undefined;
    if (method === "POST" && path === "/v1/test_helpers/shared_payment/granted_tokens") return sharedPayment.grant(body, livemode, version);
    if (method === "GET" && (match = /^\/v1\/shared_payment\/granted_tokens\/([^/]+)$/.exec(path))) return sharedPayment.retrieve(decodeURIComponent(match[1]!), livemode, version);
    if (method === "POST" && path === "/v1/payment_intents") {
      const spt = body.get("shared_payment_granted_token");
      if (spt === null) return state.createPaymentIntent(body);
      // An agent's Shared Payment Token pays with the card it was granted for, once.
      const paid = new URLSearchParams(body);
      paid.set("payment_method", sharedPayment.paymentMethodFor(body, livemode, version));
      const intent = state.createPaymentIntent(paid, { shared_payment_granted_token: spt });
      sharedPayment.consume(spt);
      return intent;
    }
    if (method === "GET" && (match = /^\/v1\/payment_intents\/([^/]+)$/.exec(path))) return state.paymentIntent(decodeURIComponent(match[1]!), expand, legacy);
    if (method === "GET" && (match = /^\/v1\/charges\/([^/]+)$/.exec(path))) return state.charge(decodeURIComponent(match[1]!), expand);
    if (method === "POST" && path === "/v1/refunds") return state.createRefund(body);
    if (method === "GET" && path === "/v1/refunds") return state.listRefunds(url.searchParams);
    if (method === "GET" && (match = /^\/v1\/refunds\/([^/]+)$/.exec(path))) return state.refund(decodeURIComponent(match[1]!));
    if (method === "GET" && path === "/v1/disputes") return state.listDisputes(url.searchParams);
    if ((match = /^\/v1\/disputes\/([^/]+)(\/close)?$/.exec(path))) {
      const id = decodeURIComponent(match[1]!);
      if (method === "GET" && !match[2]) return state.dispute(id);
      if (method === "POST" && match[2]) return state.closeDispute(id);
      if (method === "POST") return state.updateDispute(id, body);
    }
    if (method === "GET" && path === "/v1/checkout/sessions") return state.listCheckoutSessions(url.searchParams);
    if (method === "GET" && (match = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(path))) return state.checkoutSession(decodeURIComponent(match[1]!), expand, legacy);
    throw apiError(404, "invalid_request_error", `Unrecognized request URL (${method}: ${url.pathname}).`);
  }

  /** A catalog list: Stripe's filters on the objects of the key's mode, then one page. */
  function list(kind: Kind, path: string, r: { params: Form; livemode: boolean }) {
    const p = r.params;
    let items = catalog.all(kind, r.livemode) as unknown as (Record<string, unknown> & { id: string })[];
    for (const filter of ["active", "product", "currency", "type"] as const) {
      if (typeof p[filter] === "string") items = items.filter((item) => String(item[filter]) === p[filter]);
    }
    const query = new URLSearchParams(Object.entries(p).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
    return listPage(path, items, query);
  }

  const server: Server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const method = request.method ?? "GET";
    const rawBody = await readBody(request);
    const json = request.headers["content-type"]?.includes("json");
    const params = method === "GET" || method === "DELETE" ? parseForm(url.search.slice(1)) : json ? {} : parseForm(rawBody);
    const idempotencyKey = request.headers["idempotency-key"] as string | undefined;
    const record: RecordedRequest = { method, path: url.pathname, params, idempotencyKey, status: 0, replayed: false };
    requests.push(record);

    const failure = takeFailure(method, url.pathname, rawBody);
    if (failure?.kind === "drop-before") return void request.socket.destroy();
    if (failure?.kind === "hang") return;
    const send = (status: number, payload: string, headers: Record<string, string> = {}) => {
      record.status = status;
      if (failure?.kind === "drop-after") return void request.socket.destroy();
      response.writeHead(status, { "Content-Type": "application/json", "Request-Id": `req_${localId()}`, ...headers });
      response.end(payload);
    };
    try {
      const { key, livemode } = authenticate(request);
      record.livemode = livemode;
      if (failure?.kind === "error") {
        const status = failure.status ?? 500;
        const error = apiError(status, status === 429 ? "rate_limit_error" : "api_error", failure.message ?? "An unknown error occurred (injected by the test).");
        return send(status, JSON.stringify(error.body), { "Stripe-Should-Retry": "false" });
      }
      const fingerprint = `${method} ${url.pathname} ${rawBody}`;
      const scoped = method === "POST" && idempotencyKey ? `${livemode}:${idempotencyKey}` : undefined;
      const previous = scoped ? idempotency.get(scoped) : undefined;
      if (previous) {
        if (previous.fingerprint !== fingerprint) {
          throw apiError(
            400,
            "idempotency_error",
            `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
            "idempotency_key_in_use",
          );
        }
        record.replayed = true;
        return send(previous.status, previous.body, { "Idempotent-Replayed": "true", "Idempotency-Key": idempotencyKey! });
      }
      const payload = JSON.stringify(dispatch(request, url, rawBody, params, key, livemode), null, 2);
      if (scoped) idempotency.set(scoped, { fingerprint, status: 200, body: payload });
      send(200, payload, idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {});
    } catch (error) {
      if (error instanceof StripeApiError) return send(error.status, JSON.stringify(error.body));
      send(500, JSON.stringify(apiError(500, "api_error", `Stand-in bug: ${(error as Error).message}`).body));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    state,
    catalog,
    sharedPayment,
    requests,
    fail: (failure) => void failures.push({ ...failure, seen: 0 }),
    clearFailures: () => void failures.splice(0),
    recordPaymentLink: (input) => localPaymentLink(input),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** expand[]=x (curl, the Worker) or expand[0]=x (the stripe SDK), from the query or the body. */
function expandOf(url: URL, body: URLSearchParams): string[] {
  return [...url.searchParams, ...body].filter(([key]) => /^expand\[\d*\]$/.test(key)).map(([, value]) => value);
}

function jsonBody(raw: string): Record<string, unknown> {
  try {
    const body = JSON.parse(raw);
    if (body && typeof body === "object") return body;
  } catch {}
  throw invalid("The body must be a JSON object.");
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (data += chunk));
    request.on("end", () => resolve(data));
    request.on("error", reject);
  });
}

// Standalone: `node scripts/stripe-local.ts [--port N]` (Node 22 strips the types).
if (import.meta.url === `file://${process.argv[1]}`) {
  const flag = process.argv.indexOf("--port");
  const port = Number(flag > 0 ? process.argv[flag + 1] : (process.env.PORT ?? 12111));
  const local = await startStripeLocal({ port });
  console.log(`Stripe stand-in listening on ${local.url} (set STRIPE_API_BASE=${local.url})`);
}
