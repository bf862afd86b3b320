// Test helpers: talk to a Worker the way browsers, agents and Stripe do, and look inside the
// real Durable Objects. Payments are made on the local Stripe stand-in (scripts/stripe-local.ts,
// reached at STRIPE_API_BASE) and their webhooks signed with the real `stripe` SDK.

import { createExecutionContext, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import Stripe from "stripe";
import type { DORM } from "../src/stripeflare";
import type { StripeflareEnv } from "../src/stripeflare/types";
import { fixtureWorker } from "./fixtures/worker";

export const testEnv = env as unknown as StripeflareEnv & Record<string, string>;
const stripe = new Stripe(testEnv.STRIPE_SECRET!);

export type Worker = (request: Request) => Promise<Response>;

/** The real src/index.ts (version "1"). */
export const app: Worker = (request) => exports.default.fetch(request);

/** A fixture app with its own databases (a fresh version) unless told otherwise. */
export function fixture(
  options: Partial<Parameters<typeof fixtureWorker>[0]> = {},
  envOverride: Partial<StripeflareEnv> = {},
): Worker & { version: string } {
  const version = options.version ?? `t${crypto.randomUUID().slice(0, 8)}`;
  const worker = fixtureWorker({ ...options, version });
  const run = async (request: Request) => {
    const ctx = createExecutionContext();
    const response = await worker.fetch(request, { ...testEnv, ...envOverride }, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
  return Object.assign(run, { version });
}

export interface Visitor {
  token?: string;
  bearer?: boolean;
}

/** A request as a browser (cookie) or agent (Bearer) holding `visitor.token` would send it. */
export function request(path: string, visitor: Visitor = {}, init: RequestInit = {}): Request {
  const headers = new Headers(init.headers);
  if (visitor.token) {
    if (visitor.bearer) headers.set("Authorization", `Bearer ${visitor.token}`);
    else headers.set("Cookie", `theme=dark; access_token=${visitor.token}`);
  }
  return new Request(`https://app.example${path}`, { ...init, headers });
}

export function cookieToken(response: Response): string | null {
  const cookie = response.headers.get("Set-Cookie");
  return cookie ? (/access_token=([^;]+)/.exec(cookie)?.[1] ?? null) : null;
}

/** A new browser visitor: first request, token from the cookie. */
export async function newVisitor(worker: Worker): Promise<{ token: string; reference: string; account: string }> {
  const response = await worker(request("/me"));
  const me = (await response.json()) as { client_reference_id: string };
  const token = cookieToken(response)!;
  return { token, reference: me.client_reference_id, account: token.split(".")[0]! };
}

export async function me(worker: Worker, visitor: Visitor) {
  const response = await worker(request("/me", visitor));
  return { response, body: (await response.json()) as Record<string, any> };
}

// ---- Stripe ----------------------------------------------------------------------------

export async function createPaymentIntent(params: Record<string, string>): Promise<Stripe.PaymentIntent> {
  const response = await fetch(`${testEnv.STRIPE_API_BASE}/v1/payment_intents`, {
    method: "POST",
    headers: { Authorization: `Bearer ${testEnv.STRIPE_SECRET}`, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params),
  });
  const body = (await response.json()) as Stripe.PaymentIntent;
  if (!response.ok) throw new Error(`stripe-local: ${JSON.stringify(body)}`);
  return body;
}

/** A call to the local Stripe stand-in (form-encoded params, or a JSON string for local routes). */
export async function stripeApi<T = any>(method: "GET" | "POST", path: string, params: Record<string, string> | string = {}): Promise<T> {
  const json = typeof params === "string";
  const query = method === "GET" && !json ? `?${new URLSearchParams(params)}` : "";
  const response = await fetch(`${testEnv.STRIPE_API_BASE}${path}${query}`, {
    method,
    headers: {
      Authorization: `Bearer ${testEnv.STRIPE_SECRET}`,
      "Content-Type": json ? "application/json" : "application/x-www-form-urlencoded",
    },
    body: method === "POST" ? (json ? params : new URLSearchParams(params)) : undefined,
  });
  const body = (await response.json()) as T;
  if (!response.ok) throw new Error(`stripe-local ${method} ${path}: ${JSON.stringify(body)}`);
  return body;
}

/** An event as Stripe sends it, around any object. */
export function stripeEvent(type: string, object: unknown): Stripe.Event {
  return {
    id: `evt_${crypto.randomUUID().replace(/-/g, "")}`,
    object: "event",
    api_version: "2026-10-28.endive",
    created: Math.floor(Date.now() / 1000),
    type,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object },
  } as unknown as Stripe.Event;
}

/** The charge a checkout's PaymentIntent made (as the stand-in holds it now). */
export async function chargeOfCheckout(event: Stripe.Event): Promise<Stripe.Charge> {
  const intent = (event.data.object as { payment_intent: string }).payment_intent;
  const pi = await stripeApi<Stripe.PaymentIntent>("GET", `/v1/payment_intents/${intent}`);
  return stripeApi<Stripe.Charge>("GET", `/v1/charges/${pi.latest_charge}`);
}

/** Refunds (part of) a checkout's charge at Stripe; returns the refund and the charge.refunded event. */
export async function refundCheckout(event: Stripe.Event, amount?: number) {
  const charge = await chargeOfCheckout(event);
  const refund = await stripeApi<Stripe.Refund>("POST", "/v1/refunds", { charge: charge.id, ...(amount ? { amount: String(amount) } : {}) });
  // Like a real charge.refunded event: the charge as it is now, its refunds not expanded.
  const refunded = await stripeApi<Stripe.Charge>("GET", `/v1/charges/${charge.id}`);
  return { refund, charge: refunded, event: stripeEvent("charge.refunded", refunded) };
}

/** The dispute the stand-in opened on a checkout paid with pm_card_createDispute(Inquiry). */
export async function disputeOfCheckout(event: Stripe.Event): Promise<Stripe.Dispute> {
  const charge = await chargeOfCheckout(event);
  const list = await stripeApi<Stripe.ApiList<Stripe.Dispute>>("GET", "/v1/disputes", { charge: charge.id });
  return list.data[0]!;
}

export interface CheckoutOptions {
  reference: string | null;
  amount?: number;
  paymentMethod?: string;
  email?: string;
  name?: string;
  /** Override fields of the session (payment_status, customer_details, payment_intent, ...). */
  session?: Record<string, unknown>;
  type?: string;
}

/** A checkout.session.completed event for a payment made on the local Stripe. */
export async function checkoutEvent(options: CheckoutOptions): Promise<Stripe.Event> {
  const amount = options.amount ?? 500;
  const intent = options.paymentMethod
    ? await createPaymentIntent({
        amount: String(amount),
        currency: "usd",
        payment_method: options.paymentMethod,
        confirm: "true",
        ...(options.email ? { receipt_email: options.email } : {}),
      })
    : null;
  const session: Record<string, unknown> = {
    id: `cs_test_${crypto.randomUUID().replace(/-/g, "")}`,
    object: "checkout.session",
    amount_subtotal: amount,
    amount_total: amount,
    created: Math.floor(Date.now() / 1000),
    currency: "usd",
    livemode: false,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    client_reference_id: options.reference,
    customer_details: { email: options.email ?? "payer@example.com", name: options.name ?? "Pat Payer" },
    mode: "payment",
    payment_intent: intent?.id ?? null,
    payment_link: "plink_test_stripeflare",
    payment_status: "paid",
    status: "complete",
    ...options.session,
  };
  // Stripe keeps the completed session: the payment return reads it by id, and the Worker looks
  // it up by PaymentIntent for payments credited before the payment index recorded charge ids.
  await stripeApi("POST", "/local/checkout_sessions", JSON.stringify(session));
  return {
    id: `evt_${crypto.randomUUID().replace(/-/g, "")}`,
    object: "event",
    api_version: "2026-10-28.endive",
    created: Math.floor(Date.now() / 1000),
    type: options.type ?? "checkout.session.completed",
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object: session },
  } as unknown as Stripe.Event;
}

/** POSTs an event to /stripe-webhook, signed by the stripe SDK (or not / badly, if asked). */
export async function deliver(
  worker: Worker,
  event: unknown,
  sign: { secret?: string; timestamp?: number; header?: string | null } = {},
): Promise<Response> {
  const payload = typeof event === "string" ? event : JSON.stringify(event);
  const header =
    sign.header !== undefined
      ? sign.header
      : await stripe.webhooks.generateTestHeaderStringAsync({
          payload,
          secret: sign.secret ?? testEnv.STRIPE_WEBHOOK_SIGNING_SECRET!,
          timestamp: sign.timestamp,
        });
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (header !== null) headers["Stripe-Signature"] = header;
  return worker(new Request("https://app.example/stripe-webhook", { method: "POST", headers, body: payload }));
}

/**
 * The browser that paid comes back through the Payment Link's redirect
 * (`/me/paid?session_id=…`): returns the 303 and the token it set, if any.
 */
export async function returnFrom(worker: Worker, visitor: Visitor, sessionId: string, headers: Record<string, string> = {}) {
  const response = await worker(request(`/me/paid?session_id=${encodeURIComponent(sessionId)}`, visitor, { headers, redirect: "manual" }));
  return { response, token: cookieToken(response) };
}

/** Pays, delivers the webhook, and comes back through the redirect in the visitor's browser (login by payment). */
export async function payAndReturn(worker: Worker, visitor: Visitor & { reference: string }, options: Omit<CheckoutOptions, "reference"> = {}) {
  const payment = await pay(worker, { ...options, reference: visitor.reference });
  const back = await returnFrom(worker, visitor, payment.sessionId);
  return { ...payment, token: back.token };
}

/** Pays `amount` for the visitor's reference and delivers the webhook. */
export async function pay(worker: Worker, options: CheckoutOptions) {
  const event = await checkoutEvent(options);
  const response = await deliver(worker, event);
  return { event, response, sessionId: (event.data.object as { id: string }).id };
}

// ---- Inside the databases --------------------------------------------------------------

export function database(version: string, name: string): DurableObjectStub<DORM> {
  return testEnv.DORM_NAMESPACE.get(testEnv.DORM_NAMESPACE.idFromName(`${version}:${name}`));
}

export function accountDb(version: string, account: string) {
  return database(version, `account:${account}`);
}

/**
 * Rows written by `run` through `sql`, from the SQL API's own cursor counters (what Cloudflare
 * bills SQLite-backed objects by). Call inside runInDurableObject.
 */
export function rowsWrittenBy(sql: SqlStorage, run: () => void): number {
  const exec = sql.exec.bind(sql);
  const cursors: SqlStorageCursor<any>[] = [];
  (sql as { exec: SqlStorage["exec"] }).exec = ((query: string, ...bindings: unknown[]) => {
    const cursor = exec(query, ...bindings);
    cursors.push(cursor);
    return cursor;
  }) as SqlStorage["exec"];
  try {
    run();
  } finally {
    (sql as { exec: SqlStorage["exec"] }).exec = exec;
  }
  return cursors.reduce((sum, cursor) => sum + cursor.rowsWritten, 0);
}

/** Runs SQL inside a database (returns [] when the table does not exist). */
export function sqlIn(stub: DurableObjectStub<DORM>, query: string, ...bindings: unknown[]): Promise<Record<string, any>[]> {
  return runInDurableObject(stub, (_instance: DORM, state) => {
    const exists = state.storage.sql.exec(`SELECT count(*) AS n FROM sqlite_schema`).one().n as number;
    if (!exists) return [];
    try {
      return state.storage.sql.exec(query, ...bindings).toArray();
    } catch (error) {
      if (String(error).includes("no such table")) return [];
      throw error;
    }
  });
}

export async function ledger(version: string, account: string) {
  return sqlIn(accountDb(version, account), `SELECT * FROM stripeflare_transactions ORDER BY id`);
}

export async function userRow(version: string, account: string) {
  return (await sqlIn(accountDb(version, account), `SELECT * FROM users WHERE access_token = ?`, account))[0];
}

/** balance and ledger sum of an account (they must always agree). */
export async function books(version: string, account: string) {
  const [row] = await sqlIn(
    accountDb(version, account),
    `SELECT (SELECT balance FROM users WHERE access_token = ?) AS balance,
            (SELECT coalesce(sum(amount), 0) FROM stripeflare_transactions) AS ledger,
            (SELECT count(*) FROM stripeflare_transactions) AS rows`,
    account,
  );
  return row as { balance: number | null; ledger: number; rows: number };
}

/** Runs the account's pending mirror alarm now (instead of waiting for it). */
export function runMirror(version: string, account: string) {
  return runDurableObjectAlarm(accountDb(version, account));
}
