// A small stateful stand-in for the Stripe API on 127.0.0.1, reached through STRIPE_API_BASE.
// It answers as Stripe does for the resources we use: Bearer-key auth per mode, required and
// unknown params checked, Stripe's error format and statuses, list pagination, metadata,
// Idempotency-Key replay, and webhook secrets only on creation. Tests can inject failures.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { StripeApiError, noSuch } from "./errors.js";
import { parseForm, type Form } from "./form.js";
import { Store, type Kind, type Request } from "./resources.js";

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
 * A failure to inject. `match` picks requests (method and path prefix); the `nth` matching request
 * (1-based, default 1) and the `times - 1` after it fail.
 *  - "error": answer `status` with a Stripe error (Stripe-Should-Retry: false, so the SDK gives up).
 *  - "drop-after": carry the request out, then cut the connection without answering, as a network
 *    failure after Stripe committed the write.
 *  - "drop-before": cut the connection before doing anything.
 *  - "hang": never answer (until close), to interrupt a client mid-request.
 */
export interface Failure {
  method?: string;
  path?: string;
  nth?: number;
  times?: number;
  kind: "error" | "drop-after" | "drop-before" | "hang";
  status?: number;
  message?: string;
}

export type RouteHandler = (req: Request & { path: string; match: RegExpExecArray }) => unknown;

export interface StripeStandIn {
  url: string;
  /** Accepted keys: a test pair and a live pair. */
  keys: { secret: string; publishable: string; liveSecret: string; livePublishable: string; restricted: string };
  store: Store;
  requests: RecordedRequest[];
  fail(failure: Failure): void;
  /** Forget injected failures that have not fired (yet). */
  clearFailures(): void;
  /** Objects of one kind in one mode, newest first. */
  list<T = unknown>(kind: Kind, livemode?: boolean): T[];
  webhookSecret(endpointId: string): string | undefined;
  /** Extra routes for other resources (e.g. checkout sessions for Worker tests). */
  route(method: string, pattern: RegExp, handler: RouteHandler): void;
  close(): Promise<void>;
}

const LIST_PATH: Record<string, Kind> = {
  "/v1/products": "product",
  "/v1/prices": "price",
  "/v1/payment_links": "payment_link",
  "/v1/webhook_endpoints": "webhook_endpoint",
};

export async function startStripeStandIn(options: { port?: number } = {}): Promise<StripeStandIn> {
  const store = new Store();
  const requests: RecordedRequest[] = [];
  const failures: (Failure & { seen: number })[] = [];
  const idempotency = new Map<string, { fingerprint: string; status: number; body: string }>();
  const extraRoutes: { method: string; pattern: RegExp; handler: RouteHandler }[] = [];
  const token = () => randomBytes(12).toString("hex");
  const keys = {
    secret: `sk_test_standin${token()}`,
    publishable: `pk_test_standin${token()}`,
    liveSecret: `sk_live_standin${token()}`,
    livePublishable: `pk_live_standin${token()}`,
    restricted: `rk_test_standin${token()}`,
  };
  const modeOf = new Map([
    [keys.secret, false],
    [keys.restricted, false],
    [keys.liveSecret, true],
  ]);

  function authenticate(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? "";
    const key = /^Bearer (.+)$/.exec(header)?.[1] ?? (header.startsWith("Basic ") ? Buffer.from(header.slice(6), "base64").toString().split(":")[0] : "");
    if (!key) {
      throw new StripeApiError(401, "invalid_request_error", "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth.");
    }
    const livemode = modeOf.get(key);
    if (livemode === undefined) {
      const masked = `${key.slice(0, 8)}${"*".repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`;
      throw new StripeApiError(401, "invalid_request_error", `Invalid API Key provided: ${masked}`);
    }
    return livemode;
  }

  function dispatch(method: string, path: string, r: Request): unknown {
    for (const route of extraRoutes) {
      const match = route.method === method ? route.pattern.exec(path) : null;
      if (match) return route.handler({ ...r, path, match });
    }
    const listKind = LIST_PATH[path];
    if (listKind && method === "GET") return list(listKind, path, r);
    if (listKind && method === "POST") {
      if (listKind === "product") return store.createProduct(r);
      if (listKind === "price") return store.createPrice(r);
      if (listKind === "payment_link") return store.createPaymentLink(r);
      return store.createWebhookEndpoint(r);
    }
    const one = /^(\/v1\/[a-z_]+)\/([A-Za-z0-9_]+)$/.exec(path);
    const kind = one && LIST_PATH[one[1]];
    if (one && kind) {
      const id = one[2];
      if (method === "GET") return store.get(kind, id, r.livemode);
      if (method === "POST") {
        if (kind === "product") return store.updateProduct(id, r);
        if (kind === "price") return store.updatePrice(id, r);
        if (kind === "payment_link") return store.updatePaymentLink(id, r);
        return store.updateWebhookEndpoint(id, r);
      }
      if (method === "DELETE" && (kind === "webhook_endpoint" || kind === "product")) {
        store.get(kind, id, r.livemode);
        if (kind === "product" && store.all("price", r.livemode).some((p) => (p as { product: string }).product === id)) {
          throw new StripeApiError(400, "invalid_request_error", "This product cannot be deleted because it has one or more user-created prices.", "product_has_prices");
        }
        store.remove(id);
        return { id, object: kind, deleted: true };
      }
    }
    throw new StripeApiError(404, "invalid_request_error", `Unrecognized request URL (${method}: ${path}).`);
  }

  function list(kind: Kind, path: string, r: Request) {
    const p = r.params;
    let items = store.all(kind, r.livemode) as unknown as (Record<string, unknown> & { id: string })[];
    for (const filter of ["active", "product", "currency", "type"] as const) {
      if (typeof p[filter] === "string") items = items.filter((item) => String(item[filter]) === p[filter]);
    }
    const limit = p.limit === undefined ? 10 : Number(p.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw new StripeApiError(400, "invalid_request_error", "Invalid limit: must be between 1 and 100", "parameter_invalid_integer", "limit");
    }
    let start = 0;
    if (typeof p.starting_after === "string") {
      const at = items.findIndex((item) => item.id === p.starting_after);
      if (at < 0) throw noSuch(kind.replace("_", " "), p.starting_after, "starting_after");
      start = at + 1;
    } else if (typeof p.ending_before === "string") {
      const at = items.findIndex((item) => item.id === p.ending_before);
      if (at < 0) throw noSuch(kind.replace("_", " "), p.ending_before, "ending_before");
      start = Math.max(0, at - limit);
      items = items.slice(0, at);
    }
    const data = items.slice(start, start + limit);
    return { object: "list", data, has_more: start + limit < items.length, url: path };
  }

  function takeFailure(method: string, path: string): Failure | undefined {
    for (const f of failures) {
      if ((f.method && f.method !== method) || (f.path && !path.startsWith(f.path))) continue;
      f.seen++;
      const nth = f.nth ?? 1;
      if (f.seen >= nth && f.seen < nth + (f.times ?? 1)) return f;
    }
    return undefined;
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const method = req.method ?? "GET";
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString();
    const params = method === "GET" || method === "DELETE" ? parseForm(url.search.slice(1)) : parseForm(body);
    const idempotencyKey = req.headers["idempotency-key"] as string | undefined;
    const record: RecordedRequest = { method, path: url.pathname, params, idempotencyKey, status: 0, replayed: false };
    requests.push(record);

    const failure = takeFailure(method, url.pathname);
    if (failure?.kind === "drop-before") return void req.socket.destroy();
    if (failure?.kind === "hang") return;

    const send = (status: number, payload: string, headers: Record<string, string> = {}) => {
      record.status = status;
      if (failure?.kind === "drop-after") return void req.socket.destroy();
      res.writeHead(status, { "content-type": "application/json", "request-id": `req_${token()}`, ...headers });
      res.end(payload);
    };

    try {
      const livemode = authenticate(req);
      record.livemode = livemode;
      if (failure?.kind === "error") {
        const status = failure.status ?? 500;
        const error = new StripeApiError(status, status === 429 ? "rate_limit_error" : "api_error", failure.message ?? "An unknown error occurred (injected by the test).");
        return send(status, JSON.stringify(error.body()), { "stripe-should-retry": "false" });
      }
      const fingerprint = `${method} ${url.pathname} ${body}`;
      const scopedKey = idempotencyKey && `${livemode}:${idempotencyKey}`;
      if (method === "POST" && scopedKey) {
        const previous = idempotency.get(scopedKey);
        if (previous) {
          if (previous.fingerprint !== fingerprint) {
            throw new StripeApiError(
              400,
              "idempotency_error",
              `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
              "idempotency_key_in_use",
            );
          }
          record.replayed = true;
          return send(previous.status, previous.body, { "idempotent-replayed": "true", "idempotency-key": idempotencyKey! });
        }
      }
      const payload = JSON.stringify(dispatch(method, url.pathname, { method, params, livemode }));
      if (method === "POST" && scopedKey) idempotency.set(scopedKey, { fingerprint, status: 200, body: payload });
      send(200, payload, idempotencyKey ? { "idempotency-key": idempotencyKey } : {});
    } catch (error) {
      if (error instanceof StripeApiError) return send(error.status, JSON.stringify(error.body()));
      const internal = new StripeApiError(500, "api_error", `Stand-in bug: ${(error as Error).message}`);
      send(500, JSON.stringify(internal.body()));
    }
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    keys,
    store,
    requests,
    fail: (failure) => failures.push({ ...failure, seen: 0 }),
    clearFailures: () => void failures.splice(0),
    list: <T>(kind: Kind, livemode = false) => store.all(kind, livemode) as T[],
    webhookSecret: (id) => store.webhookSecrets.get(id),
    route: (method, pattern, handler) => extraRoutes.push({ method, pattern, handler }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
