// A small local stand-in for the Stripe API calls around a Stripeflare payment: create and
// confirm a PaymentIntent with a test payment method (as `POST /v1/payment_intents` does in
// test mode), and read it back (with `expand[]=latest_charge`) or read its Charge: the two
// reads the Worker makes for login by payment. Refunds (`POST /v1/refunds`, listed by charge)
// and disputes (the test card pm_card_createDispute opens one, as in Stripe test mode; evidence
// "winning_evidence" / "losing_evidence" or `POST /v1/disputes/:id/close` decides it) for the
// refund and dispute webhooks. State lives in memory.
//
//   npm run stripe-local [-- --port 12111]      then STRIPE_API_BASE=http://127.0.0.1:12111
//
// Objects are typed against the `stripe` SDK's own types (the fields this server fills in);
// errors use Stripe's format `{ error: { type, code, message, param } }`. Test payment
// methods behave as in Stripe test mode: pm_card_visa, pm_card_mastercard, pm_card_amex,
// pm_card_discover, pm_card_visa_debit succeed with a stable card fingerprint per card;
// pm_card_chargeDeclined fails with card_declined; pm_card_createDispute and
// pm_card_createDisputeInquiry succeed and open a dispute (an inquiry). Local-only additions:
// `pm_link` pays with Link (payment_method_details.type "link"; pass `receipt_email` as its
// email), `pm_card_new` pays with a card never seen before (a fingerprint of its own), and
// `POST /local/checkout_sessions` (a JSON Checkout Session) records a completed
// checkout, as a Payment Link checkout would, so `GET /v1/checkout/sessions?payment_intent=`
// finds it.
//
// The objects and their state live in ./stripe-local/ (objects.ts, state.ts); this file is the
// HTTP server in front of them.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { invalid, localId, StripeApiError, type LocalCheckoutSession } from "./stripe-local/objects.ts";
import { StripeLocalState } from "./stripe-local/state.ts";

export * from "./stripe-local/objects.ts";
export { StripeLocalState } from "./stripe-local/state.ts";

/** Answers one request the way the Stripe API would. */
export async function handle(state: StripeLocalState, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? "/", "http://127.0.0.1");
  const send = (status: number, body: unknown) => {
    response.writeHead(status, { "Content-Type": "application/json", "Request-Id": `req_${localId()}` });
    response.end(JSON.stringify(body, null, 2));
  };
  try {
    const key = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
    if (!key) {
      throw invalid(
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        undefined,
        undefined,
        401,
      );
    }
    if (!/^(sk|rk)_(test|live)_\w+$/.test(key)) throw invalid(`Invalid API Key provided: ${key.slice(0, 8)}****`, undefined, undefined, 401);

    // An account whose default API version predates 2022-11-15 (local: a key containing
    // "_legacy_"): a request without Stripe-Version gets the old shapes, as Stripe would answer.
    const legacy = key.includes("_legacy_") && !request.headers["stripe-version"];
    const rawBody = await readBody(request);
    const body = new URLSearchParams(request.headers["content-type"]?.includes("json") ? "" : rawBody);
    // expand[]=x (curl, the Worker) or expand[0]=x (the stripe SDK).
    const expand = [...url.searchParams, ...body].filter(([key]) => /^expand\[\d*\]$/.test(key)).map(([, value]) => value);
    const path = url.pathname.replace(/\/+$/, "");
    let match: RegExpExecArray | null;
    if (request.method === "POST" && path === "/v1/payment_intents") {
      return send(200, state.createPaymentIntent(body));
    }
    if (request.method === "GET" && (match = /^\/v1\/payment_intents\/([^/]+)$/.exec(path))) {
      return send(200, state.paymentIntent(decodeURIComponent(match[1]!), expand, legacy));
    }
    if (request.method === "GET" && (match = /^\/v1\/charges\/([^/]+)$/.exec(path))) {
      return send(200, state.charge(decodeURIComponent(match[1]!), expand));
    }
    if (request.method === "POST" && path === "/v1/refunds") return send(200, state.createRefund(body));
    if (request.method === "GET" && path === "/v1/refunds") return send(200, state.listRefunds(url.searchParams));
    if (request.method === "GET" && (match = /^\/v1\/refunds\/([^/]+)$/.exec(path))) {
      return send(200, state.refund(decodeURIComponent(match[1]!)));
    }
    if (request.method === "GET" && path === "/v1/disputes") return send(200, state.listDisputes(url.searchParams));
    if ((match = /^\/v1\/disputes\/([^/]+)(\/close)?$/.exec(path))) {
      const id = decodeURIComponent(match[1]!);
      if (request.method === "GET" && !match[2]) return send(200, state.dispute(id));
      if (request.method === "POST" && match[2]) return send(200, state.closeDispute(id));
      if (request.method === "POST") return send(200, state.updateDispute(id, body));
    }
    if (request.method === "GET" && path === "/v1/checkout/sessions") return send(200, state.listCheckoutSessions(url.searchParams));
    if (request.method === "GET" && (match = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(path))) {
      return send(200, state.checkoutSession(decodeURIComponent(match[1]!), expand, legacy));
    }
    if (request.method === "GET" && (match = /^\/v1\/payment_links\/([^/]+)$/.exec(path))) {
      return send(200, state.paymentLink(decodeURIComponent(match[1]!), expand));
    }
    if (request.method === "POST" && path === "/local/payment_links") return send(200, state.recordPaymentLink(jsonBody(rawBody)));
    if (request.method === "POST" && (match = /^\/local\/refunds\/([^/]+)\/fail$/.exec(path))) {
      return send(200, state.failRefund(decodeURIComponent(match[1]!)));
    }
    if (request.method === "POST" && path === "/local/checkout_sessions") {
      return send(200, state.recordCheckoutSession(jsonBody(rawBody) as LocalCheckoutSession));
    }
    throw invalid(`Unrecognized request URL (${request.method}: ${url.pathname}).`, undefined, undefined, 404);
  } catch (error) {
    if (error instanceof StripeApiError) return send(error.status, error.body);
    send(500, { error: { type: "api_error", message: String(error) } });
  }
}

export interface StripeLocal {
  url: string;
  port: number;
  state: StripeLocalState;
  close(): Promise<void>;
}

/** Starts the stand-in on 127.0.0.1 (`port` 0: any free port). */
export async function startStripeLocal({ port = 0 }: { port?: number } = {}): Promise<StripeLocal> {
  const state = new StripeLocalState();
  const server: Server = createServer((request, response) => void handle(state, request, response));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
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
