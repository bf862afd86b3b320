// The Worker's only contact with Stripe: checking a webhook's signature, reading a checkout
// session and how it was paid (login by payment), whether a Payment Link is this wallet's,
// a charge's refunds and checkout session (for refunds and disputes), and the one write: an
// agent's PaymentIntent paid with a Shared Payment Token. WebCrypto + fetch instead of the `stripe` SDK:
// the SDK would add ~87 KiB gzip to the Worker for two GETs and one HMAC (numbers in
// ./README.md). Types still come from the SDK (type-only imports cost nothing at runtime).

import type Stripe from "stripe";
import { equalStrings, utf8 } from "./identity";

/**
 * The Stripe API version every request of the Worker pins (`Stripe-Version`), the one the
 * CLI creates the webhook endpoint with (the `stripe` SDK's own, tested to be equal). Without
 * it, the account's default version decides field shapes: `latest_charge` exists only since
 * 2022-11-15, and an old default would break login by payment.
 */
export const STRIPE_API_VERSION = "2026-10-28.endive";

/** Stripe's default tolerance: a signed event older than this is refused (replay protection). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export class SignatureError extends Error {}

/**
 * Verifies `Stripe-Signature` (t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">, possibly
 * several v1 while a secret rolls) over the raw body bytes, then parses the event.
 */
export async function verifyWebhook(
  body: Uint8Array,
  header: string | null,
  secret: string,
  now: number = Date.now() / 1000,
): Promise<Stripe.Event> {
  if (!header) throw new SignatureError("missing Stripe-Signature header");
  let timestamp = NaN;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const [key, value] = part.split("=", 2).map((s) => s.trim());
    if (key === "t") timestamp = Number(value);
    if (key === "v1" && value) signatures.push(value);
  }
  if (!Number.isInteger(timestamp) || signatures.length === 0) {
    throw new SignatureError("malformed Stripe-Signature header");
  }
  const key = await crypto.subtle.importKey("raw", utf8(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const signed = new Uint8Array(body.length + String(timestamp).length + 1);
  signed.set(utf8(`${timestamp}.`));
  signed.set(body, String(timestamp).length + 1);
  const expected = toHex(new Uint8Array(await crypto.subtle.sign("HMAC", key, signed)));
  if (!signatures.some((signature) => equalStrings(signature, expected))) {
    throw new SignatureError("no signature matches the signing secret");
  }
  if (now - timestamp > SIGNATURE_TOLERANCE_SECONDS) {
    throw new SignatureError(`timestamp outside the ${SIGNATURE_TOLERANCE_SECONDS} s tolerance`);
  }
  let event: unknown;
  try {
    event = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new SignatureError("signed body is not JSON");
  }
  // `null`, an array or a bare value would crash every `event.type` read after this.
  if (typeof event !== "object" || event === null || Array.isArray(event)) {
    throw new SignatureError("signed body is not a JSON object (a Stripe event)");
  }
  return event as Stripe.Event;
}

/** A Stripe API answer that says the request itself was wrong (retrying will not help). */
export class StripeRequestError extends Error {}

export interface PaymentMethodFacts {
  /** `payment_method_details.type` of the latest charge ("card", "link", ...). */
  type: string | null;
  cardFingerprint: string | null;
  /** The latest charge's id (ch_…), which refunds and disputes name. */
  chargeId: string | null;
  /** When the charge was made (unix seconds). */
  paidAt: number | null;
}

/**
 * How a PaymentIntent was paid: its latest charge's payment method details. One GET with the
 * charge expanded; a second GET for the charge when the expansion did not happen.
 */
export async function paymentMethodOf(
  env: { STRIPE_SECRET?: string; STRIPE_API_BASE?: string },
  paymentIntentId: string,
): Promise<PaymentMethodFacts> {
  const intent = await stripeGet<Stripe.PaymentIntent>(
    env,
    `/v1/payment_intents/${encodeURIComponent(paymentIntentId)}?expand[]=latest_charge`,
  );
  let charge = intent.latest_charge;
  if (typeof charge === "string") charge = await stripeGet<Stripe.Charge>(env, `/v1/charges/${encodeURIComponent(charge)}`);
  return factsOf(charge);
}

function factsOf(charge: Stripe.Charge | null | undefined): PaymentMethodFacts {
  const details = charge?.payment_method_details;
  return {
    type: details?.type ?? null,
    cardFingerprint: details?.card?.fingerprint ?? null,
    chargeId: charge?.id ?? null,
    paidAt: typeof charge?.created === "number" ? charge.created : null,
  };
}

/** Every refund of a charge (`GET /v1/refunds?charge=`, all pages), oldest first. */
export async function refundsOf(env: StripeApiEnv, chargeId: string): Promise<Stripe.Refund[]> {
  const refunds: Stripe.Refund[] = [];
  for (let after = ""; ; ) {
    const page = await stripeGet<Stripe.ApiList<Stripe.Refund>>(
      env,
      `/v1/refunds?charge=${encodeURIComponent(chargeId)}&limit=100${after ? `&starting_after=${encodeURIComponent(after)}` : ""}`,
    );
    refunds.push(...page.data);
    if (!page.has_more || page.data.length === 0) break;
    after = page.data[page.data.length - 1]!.id;
  }
  return refunds.reverse();
}

/** A Checkout Session as Stripe holds it now, with its PaymentIntent and latest charge expanded. */
export async function checkoutSessionOf(env: StripeApiEnv, sessionId: string): Promise<Stripe.Checkout.Session> {
  return stripeGet<Stripe.Checkout.Session>(
    env,
    `/v1/checkout/sessions/${encodeURIComponent(sessionId)}?expand[]=payment_intent.latest_charge`,
  );
}

/** How a Checkout Session's expanded PaymentIntent was paid (null fields when not expanded or not a card). */
export function paymentMethodOfSession(session: Partial<Stripe.Checkout.Session>): PaymentMethodFacts | null {
  const intent = session.payment_intent;
  if (!intent || typeof intent !== "object") return null;
  const charge = intent.latest_charge;
  if (!charge || typeof charge !== "object") return null;
  return factsOf(charge);
}

export interface WalletLink {
  /** The link's URL is this Worker's STRIPE_PAYMENT_LINK: sessions on it are this wallet's top-ups. */
  ours: boolean;
  /** The currency of the link's price: the wallet's currency. */
  currency: string | null;
}

// A Payment Link's URL and price never change, so each link is read once per isolate. Bounded:
// ids come from signed events, but a busy Stripe account may have many links.
const linkCache = new Map<string, Promise<WalletLink>>();

/**
 * Whether a Payment Link is this wallet's (its URL is STRIPE_PAYMENT_LINK), and the currency
 * of its price. Every Payment Link of a Stripe account accepts `?client_reference_id=`, so a
 * visitor could otherwise append theirs to a cheaper link of another product.
 */
export function walletLink(env: StripeApiEnv & { STRIPE_PAYMENT_LINK?: string }, linkId: string): Promise<WalletLink> {
  const key = `${env.STRIPE_PAYMENT_LINK ?? ""} ${linkId}`;
  let found = linkCache.get(key);
  if (!found) {
    found = stripeGet<Stripe.PaymentLink>(env, `/v1/payment_links/${encodeURIComponent(linkId)}?expand[]=line_items`).then((link) => {
      const prices = (link.line_items?.data ?? []).map((item) => item.price?.currency ?? item.currency);
      return {
        ours: !!env.STRIPE_PAYMENT_LINK && sameLink(link.url, env.STRIPE_PAYMENT_LINK),
        currency: prices[0] ?? link.currency ?? null,
      };
    });
    found.catch(() => linkCache.delete(key));
    if (linkCache.size >= 256) linkCache.delete(linkCache.keys().next().value!);
    linkCache.set(key, found);
  }
  return found;
}

/** Two Payment Link URLs name the same link: same origin and path (query and trailing slash aside). */
export function sameLink(a: string, b: string): boolean {
  const normal = (url: string) => {
    try {
      const parsed = new URL(url.trim());
      return `${parsed.origin.toLowerCase()}${parsed.pathname.replace(/\/+$/, "")}`;
    } catch {
      return null;
    }
  };
  const left = normal(a);
  return left !== null && left === normal(b);
}

/** Whether a secret key is a live one (sk_live_, rk_live_); events of the other mode are not ours. */
export function liveKey(secret: string | undefined): boolean {
  return /^(sk|rk)_live_/.test(secret ?? "");
}

/** Ids of the checkout sessions a PaymentIntent paid (`GET /v1/checkout/sessions?payment_intent=`). */
export async function checkoutSessionsOf(env: StripeApiEnv, paymentIntentId: string): Promise<string[]> {
  const page = await stripeGet<Stripe.ApiList<Stripe.Checkout.Session>>(
    env,
    `/v1/checkout/sessions?payment_intent=${encodeURIComponent(paymentIntentId)}&limit=10`,
  );
  return page.data.map((session) => session.id);
}

type StripeApiEnv = { STRIPE_SECRET?: string; STRIPE_API_BASE?: string };

/**
 * Stripe's preview API version, pinned only by the calls that exist only there (Shared Payment
 * Tokens: an agent's MPP payment, ./agent-payments.ts). Every other call pins STRIPE_API_VERSION.
 */
export const STRIPE_PREVIEW_API_VERSION = "2026-07-29.preview";

/**
 * Creates and confirms a PaymentIntent paid by an agent's Shared Payment Token, with its latest
 * charge expanded. The same idempotency key sent again (a retried credential) gets the same
 * PaymentIntent back. A 4xx (declined, spent or expired token, ...) throws StripeRequestError
 * with Stripe's message; anything else (5xx, network) throws Error.
 */
export function createSptPaymentIntent(env: StripeApiEnv, params: Record<string, string>, idempotencyKey: string): Promise<Stripe.PaymentIntent> {
  return stripeRequest<Stripe.PaymentIntent>(env, "POST", "/v1/payment_intents", {
    version: STRIPE_PREVIEW_API_VERSION,
    headers: { "Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": idempotencyKey },
    body: new URLSearchParams({ ...params, "expand[]": "latest_charge" }),
  });
}

function stripeGet<T>(env: StripeApiEnv, path: string): Promise<T> {
  return stripeRequest<T>(env, "GET", path);
}

/** One Stripe API call with the key and a pinned version; Stripe's errors as StripeRequestError (4xx) or Error. */
async function stripeRequest<T>(
  env: StripeApiEnv,
  method: "GET" | "POST",
  path: string,
  { version = STRIPE_API_VERSION, headers = {}, body }: { version?: string; headers?: Record<string, string>; body?: URLSearchParams } = {},
): Promise<T> {
  if (!env.STRIPE_SECRET) throw new Error("STRIPE_SECRET is not set");
  const base = (env.STRIPE_API_BASE || "https://api.stripe.com").replace(/\/+$/, "");
  const response = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${env.STRIPE_SECRET}`, "Stripe-Version": version, ...headers },
    body,
  });
  const json = (await response.json().catch(() => null)) as (T & { error?: Stripe.StripeRawError }) | null;
  if (response.ok && json && !json.error) return json;
  const message = `Stripe ${method} ${path.split("?")[0]} answered ${response.status}: ${json?.error?.message ?? "no JSON body"}`;
  // 4xx other than rate limiting: our request is wrong for this account (unknown id, ...).
  if (response.status >= 400 && response.status < 500 && response.status !== 429) throw new StripeRequestError(message);
  throw new Error(message);
}

/**
 * Stripe's largest amount for one charge: eight digits in the currency's smallest unit
 * (99,999,999, i.e. $999,999.99). No checkout, refund or dispute can carry more.
 */
export const STRIPE_MAX_AMOUNT = 99_999_999;

/**
 * An amount Stripe can produce: a whole, non-negative number of the smallest unit, at most
 * STRIPE_MAX_AMOUNT. A signed event claiming anything else is not taken at its word: beyond
 * 2^53 a JavaScript number is no longer exact, and such a balance could not be summed.
 */
export function isStripeAmount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value <= STRIPE_MAX_AMOUNT;
}

/** A field of a signed event that should be a string: anything else counts as absent. */
export function stringOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
