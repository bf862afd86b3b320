// Stripe for the bench: webhook events signed by the real stripe SDK (from the template's
// install), and a small stand-in for the two reads a wallet may make while crediting
// (the PaymentIntent and its latest Charge, for the card fingerprint), reached through
// STRIPE_API_BASE. Every user gets a distinct card, so no payment logs into another account.
import { randomBytes } from "node:crypto";
import http from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { template } from "./env.mjs";

const require = createRequire(join(template, "package.json"));
const Stripe = require("stripe");
const stripe = new (Stripe.default ?? Stripe)("sk_test_bench", { apiVersion: undefined });

export const webhookSecret = `whsec_bench${randomBytes(12).toString("hex")}`;

export async function signedEvent(event, secret = webhookSecret) {
  const payload = JSON.stringify(event);
  const header = await stripe.webhooks.generateTestHeaderStringAsync({ payload, secret });
  return { payload, header };
}

let seq = 0;
const id = (prefix) => `${prefix}_bench${Date.now().toString(36)}${(++seq).toString(36)}${randomBytes(4).toString("hex")}`;

/** A paid checkout.session.completed event crediting `amount` cents to `clientReferenceId`. */
export function checkoutCompleted({ clientReferenceId, amount, email, paymentIntent }) {
  const session = id("cs_test");
  return {
    id: id("evt"),
    object: "event",
    api_version: "2025-01-27.acacia",
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: "checkout.session.completed",
    data: {
      object: {
        id: session,
        object: "checkout.session",
        mode: "payment",
        status: "complete",
        payment_status: "paid",
        client_reference_id: clientReferenceId,
        amount_total: amount,
        amount_subtotal: amount,
        currency: "usd",
        customer: null,
        customer_details: { email, name: "Bench User", address: null, phone: null, tax_exempt: "none", tax_ids: [] },
        customer_email: null,
        payment_intent: paymentIntent,
        payment_link: PAYMENT_LINK.id,
        livemode: false,
        created: Math.floor(Date.now() / 1000),
        metadata: {},
      },
    },
  };
}

/** The wallet's Payment Link: the Worker credits only sessions of it (STRIPE_PAYMENT_LINK is its URL). */
export const PAYMENT_LINK = { id: "plink_bench", url: "https://buy.stripe.com/test_bench", currency: "usd" };

/**
 * A stand-in for GET /v1/payment_intents/:id and /v1/charges/:id with one card per intent,
 * GET /v1/payment_links/plink_bench (read once per isolate by the wallet), and POST
 * /v1/payment_intents confirming a Shared Payment Token (an agent's MPP payment: any `spt_`
 * token succeeds; an Idempotency-Key replays its first answer, as Stripe does).
 */
export async function startStripeStandIn() {
  const intents = new Map();
  const fingerprints = new Map(); // intent id -> card fingerprint (kept off the intent object)
  const calls = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    calls.push(`${req.method} ${url.pathname}`);
    const send = (status, body) => {
      res.writeHead(status, { "content-type": "application/json", "request-id": id("req") });
      res.end(JSON.stringify(body));
    };
    let m;
    if (req.method === "POST" && url.pathname === "/v1/payment_intents") return createWithSpt(req, send);
    if (req.method === "GET" && url.pathname === `/v1/payment_links/${PAYMENT_LINK.id}`) {
      const price = { id: "price_bench", object: "price", currency: PAYMENT_LINK.currency, unit_amount: 500 };
      const items = { object: "list", data: [{ id: "li_bench", object: "item", currency: PAYMENT_LINK.currency, price, quantity: 1 }], has_more: false };
      return send(200, { id: PAYMENT_LINK.id, object: "payment_link", active: true, url: PAYMENT_LINK.url, currency: PAYMENT_LINK.currency, line_items: items });
    }
    if (req.method === "GET" && (m = url.pathname.match(/^\/v1\/payment_intents\/([^/]+)$/))) {
      const pi = intents.get(m[1]) ?? newIntent(m[1]);
      const expand = url.searchParams.getAll("expand[]").concat(url.searchParams.getAll("expand[0]"));
      return send(200, expand.includes("latest_charge") ? { ...pi, latest_charge: charge(pi) } : pi);
    }
    if (req.method === "GET" && (m = url.pathname.match(/^\/v1\/charges\/([^/]+)$/))) {
      const pi = [...intents.values()].find((p) => p.latest_charge === m[1]);
      if (pi) return send(200, charge(pi));
    }
    send(404, { error: { type: "invalid_request_error", code: "resource_missing", message: `No such object: ${url.pathname}`, param: "id" } });
  });
  const replays = new Map();
  function createWithSpt(req, send) {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      const form = new URLSearchParams(raw);
      const key = req.headers["idempotency-key"];
      if (key && replays.has(key)) return send(200, replays.get(key));
      const token = form.get("shared_payment_granted_token") ?? "";
      const amount = Number(form.get("amount"));
      if (!token.startsWith("spt_") || !Number.isInteger(amount) || amount < 1 || !form.get("currency")) {
        return send(400, { error: { type: "invalid_request_error", message: "amount, currency and shared_payment_granted_token are required", param: "shared_payment_granted_token" } });
      }
      const pi = { ...newIntent(id("pi")), amount, amount_received: amount, currency: form.get("currency"), livemode: false, created: Math.floor(Date.now() / 1000) };
      intents.set(pi.id, pi);
      if (key) replays.set(key, pi);
      send(200, pi);
    });
  }
  function newIntent(piId) {
    const pi = {
      id: piId,
      object: "payment_intent",
      status: "succeeded",
      amount: 0,
      currency: "usd",
      latest_charge: id("ch"),
    };
    intents.set(piId, pi);
    fingerprints.set(piId, randomBytes(8).toString("hex"));
    return pi;
  }
  function charge(pi) {
    return {
      id: pi.latest_charge,
      object: "charge",
      payment_intent: pi.id,
      paid: true,
      status: "succeeded",
      billing_details: { email: null, name: null },
      payment_method_details: { type: "card", card: { brand: "visa", last4: "4242", fingerprint: fingerprints.get(pi.id), exp_month: 12, exp_year: 2030 } },
    };
  }
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    base: `http://127.0.0.1:${port}`,
    newIntent: () => newIntent(id("pi")).id,
    calls,
    close: () => new Promise((r) => server.close(r)),
  };
}
