// POST /stripe-webhook: turns a paid checkout session of this wallet's Payment Link into
// exactly one credit, and refunds and disputes of those payments into debits (./reversals.ts).
//
//   1. Verify the signature on the raw body (400, nothing written, if it fails); read at most
//      WEBHOOK_BODY_LIMIT bytes.
//   2. Events not meant for this Worker answer 2xx and write nothing: a connected account's
//      (`account`), the other mode's (`livemode` unlike the secret key's), another Payment
//      Link's, a currency the wallet cannot value, or a client_reference_id that this
//      DB_SECRET cannot open.
//   3. creditSession (shared with the payment return, ./payment-return.ts): read how it was
//      paid, claim the session in the payment index (always for the link's owner), credit
//      that account; its ledger's unique reference makes a repeat a no-op.
// Any step failing before the end answers 5xx, and Stripe's redelivery resumes idempotently.
// Login by payment is not decided here: only the browser that paid, coming back through the
// Payment Link's redirect, may log in (./payment-return.ts).

import type Stripe from "stripe";
import { databases, stub, type Databases } from "./databases";
import { decodeReference, encodeReference } from "./identity";
import {
  isStripeAmount,
  liveKey,
  paymentMethodOf,
  paymentMethodOfSession,
  SignatureError,
  STRIPE_MAX_AMOUNT,
  StripeRequestError,
  stringOrNull,
  verifyWebhook,
  walletLink,
  type PaymentMethodFacts,
} from "./stripe";
import { REVERSAL_EVENTS, handleReversal } from "./reversals";
import { text } from "./routes";
import type { Migrations, StripeflareEnv } from "./types";

const CHECKOUT_EVENTS = new Set(["checkout.session.completed", "checkout.session.async_payment_succeeded"]);

/** Largest body read: Stripe's events are a few KiB; this stops anyone making us buffer and hash megabytes. */
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

/** Every event type the wallet acts on: what its Stripe webhook endpoint should subscribe to. */
export const WEBHOOK_EVENTS = [...CHECKOUT_EVENTS, ...REVERSAL_EVENTS];

export async function handleWebhook(
  request: Request,
  env: StripeflareEnv,
  migrations: Migrations | undefined,
  version: string | undefined,
): Promise<Response> {
  if (request.method !== "POST") return text(405, "Method not allowed: send Stripe events with POST", { Allow: "POST" });
  if (!env.STRIPE_WEBHOOK_SIGNING_SECRET) {
    console.error("[stripeflare] webhook refused: STRIPE_WEBHOOK_SIGNING_SECRET is not set");
    return text(500, "Webhook signing secret is not configured (STRIPE_WEBHOOK_SIGNING_SECRET)");
  }

  const tooLarge = () => text(413, `Payload too large: a Stripe event is at most ${WEBHOOK_BODY_LIMIT} bytes`);
  if (Number(request.headers.get("Content-Length")) > WEBHOOK_BODY_LIMIT) return tooLarge();
  let event: Stripe.Event;
  try {
    const body = await readLimited(request, WEBHOOK_BODY_LIMIT);
    if (!body) return tooLarge();
    event = await verifyWebhook(body, request.headers.get("Stripe-Signature"), env.STRIPE_WEBHOOK_SIGNING_SECRET);
  } catch (error) {
    if (!(error instanceof SignatureError)) throw error;
    console.warn(`[stripeflare] webhook rejected: ${error.message}`);
    return text(400, `Webhook signature verification failed: ${error.message}`);
  }

  // Signed, but still data: a field of the wrong type must not turn into a 500 (and retries).
  if (!event || typeof event !== "object" || typeof event.type !== "string") return text(200, "Ignored: not a Stripe event (no type)");
  if (typeof event.id !== "string") event = { ...event, id: "(no id)" };
  const notOurs = foreignEvent(event, env);
  if (notOurs) {
    console.log(`[stripeflare] webhook ${event.id}: ${notOurs}; nothing written`);
    return text(200, `Ignored: ${notOurs}`);
  }
  const dbs = databases(migrations, version);
  if (CHECKOUT_EVENTS.has(event.type)) {
    const outcome = await creditSession((event.data?.object ?? {}) as Partial<Stripe.Checkout.Session>, env, dbs, `webhook ${event.id}`);
    if (outcome.kind === "ignored") return text(200, `Ignored: ${outcome.reason}`);
    if (outcome.kind === "retry") return text(503, `${outcome.reason}; retry later`);
    return Response.json({ received: true, credited: outcome.credited, duplicate: outcome.duplicate });
  }
  if (REVERSAL_EVENTS.has(event.type)) return handleReversal(event, env, dbs);
  return text(200, `Ignored event type ${event.type}`);
}

/**
 * Why a signed event is not this Worker's to act on, or null. One webhook secret may receive
 * a platform's connected accounts' events (`account`), and test and live events must never
 * cross: the mode of the secret key decides which ones count.
 */
export function foreignEvent(event: Stripe.Event, env: StripeflareEnv): string | null {
  const account = (event as { account?: unknown }).account;
  if (account !== undefined && account !== null) return `the event belongs to connected account ${JSON.stringify(account)}`;
  if (typeof event.livemode === "boolean" && event.livemode !== liveKey(env.STRIPE_SECRET)) {
    return `a ${event.livemode ? "live" : "test"} mode event, but STRIPE_SECRET is a ${liveKey(env.STRIPE_SECRET) ? "live" : "test"} key`;
  }
  return null;
}

export type CreditOutcome =
  | { kind: "ignored"; reason: string }
  | { kind: "retry"; reason: string }
  | { kind: "credited"; account: string; credited: boolean; duplicate: boolean; balance: number };

/**
 * Credits a paid Checkout Session of this wallet's Payment Link once, to the account named by
 * its client_reference_id (or the account that one was merged into). `session` is the signed
 * event's object or the session as read from Stripe (then its PaymentIntent is expanded).
 */
export async function creditSession(
  session: Partial<Stripe.Checkout.Session>,
  env: StripeflareEnv,
  dbs: Databases,
  label: string,
): Promise<CreditOutcome> {
  const ignore = (reason: string): CreditOutcome => {
    console.log(`[stripeflare] ${label}: ${reason}; nothing written`);
    return { kind: "ignored", reason };
  };
  const retry = (reason: string): CreditOutcome => {
    console.error(`[stripeflare] ${label}: ${reason}; Stripe will retry`);
    return { kind: "retry", reason };
  };

  if (typeof session.id !== "string" || !session.id) return ignore("event carries no checkout session id");
  if (session.payment_status !== "paid") return ignore(`checkout session ${session.id} is not paid (${JSON.stringify(session.payment_status)})`);
  const reference = typeof session.client_reference_id === "string" ? session.client_reference_id : "";
  const visitor = reference ? await decodeReference(env.DB_SECRET, reference) : null;
  if (!visitor) return ignore(`client_reference_id of ${session.id} is missing or not readable with this DB_SECRET (not for this Worker)`);

  // Only this wallet's own Payment Link tops it up: every link of the account takes a
  // client_reference_id, including a cheaper one of another product.
  const linkId = typeof session.payment_link === "string" ? session.payment_link : session.payment_link?.id;
  if (!linkId) return ignore(`checkout session ${session.id} was not made by a Payment Link`);
  let link;
  try {
    link = await walletLink(env, linkId);
  } catch (error) {
    if (error instanceof StripeRequestError) return ignore(`Payment Link ${linkId} cannot be read with this key (${error.message})`);
    return retry(`could not read Payment Link ${linkId} from Stripe (${error instanceof Error ? error.message : error})`);
  }
  if (!link.ours) return ignore(`checkout session ${session.id} was paid on Payment Link ${linkId}, which is not STRIPE_PAYMENT_LINK`);
  const value = walletAmount(session, link.currency);
  if (typeof value === "string") {
    console.error(`[stripeflare] ${label}: ${value}; the money stays in Stripe (refund it from the dashboard)`);
    return ignore(value);
  }
  const { amount, currency } = value;

  // How it was paid. No PaymentIntent (e.g. a 100% discount) or no card (a wallet without
  // fingerprint): credited all the same, and nobody can log in with it.
  let facts: PaymentMethodFacts | null = paymentMethodOfSession(session);
  const intentId = typeof session.payment_intent === "string" ? session.payment_intent : (session.payment_intent?.id ?? null);
  if (!facts && intentId) {
    try {
      facts = await paymentMethodOf(env, intentId);
    } catch (error) {
      if (!(error instanceof StripeRequestError)) return retry(`could not read payment ${intentId} (${error})`);
      console.warn(`[stripeflare] ${label}: ${error.message}; crediting without card details`);
    }
  }
  const email = stringOrNull(session.customer_details?.email);
  const verifiedEmail = facts?.type === "link" && email ? email.trim().toLowerCase() : null;
  const cardFingerprint = facts?.cardFingerprint ?? null;

  const claim = await stub(env, dbs.index).claim(dbs.index, {
    reference: session.id,
    visitor: visitor.account,
    amount,
    cardFingerprint,
    verifiedEmail,
    paidAt: facts?.paidAt ?? null,
    paymentIds: [intentId, facts?.chargeId].filter((id): id is string => !!id),
  });
  const account = claim.account;
  const credit = await stub(env, dbs.account(account)).credit(dbs.account(account), {
    account,
    reference: session.id,
    amount,
    currency,
    email,
    name: stringOrNull(session.customer_details?.name),
    cardFingerprint,
    verifiedEmail,
    // Only the payment that creates an account registers the visitor's token with it.
    tokenHash: claim.createdAccount ? (visitor.tokenHash ?? null) : null,
    clientReferenceId: await encodeReference(env.DB_SECRET, { account }),
    // Not the session id: it is what logs the paying browser in (./payment-return.ts).
    description: intentId ? `Stripe payment ${intentId}` : "Stripe payment",
  });
  const what = credit.duplicate ? "already credited" : `credited ${amount} ${currency}`;
  console.log(`[stripeflare] ${label}: checkout ${session.id} ${what} to ${account} (balance ${credit.balance})`);
  if (claim.mergedInto) {
    // The account was merged into another by login by payment after this session was claimed
    // (a first delivery that came late): what it holds moves on, once per session.
    const from = dbs.account(account);
    const into = dbs.account(claim.mergedInto);
    const moved = await stub(env, from).mergeOut(from, account, session.id, claim.mergedInto);
    await stub(env, into).acceptLogin(into, claim.mergedInto, session.id, account, moved, null);
  }
  return { kind: "credited", account, credited: credit.credited, duplicate: credit.duplicate, balance: credit.balance };
}

/**
 * What a session is worth in the wallet's currency (the currency of its link's price): the
 * items paid for, after discounts, without tax or shipping (neither is wallet money). Paid in
 * another currency through Adaptive Pricing, Stripe reports the amounts in the price's own
 * currency (`currency_conversion`); any other currency is refused, never taken at face value.
 */
export function walletAmount(session: Partial<Stripe.Checkout.Session>, walletCurrency: string | null): { amount: number; currency: string } | string {
  const id = session.id;
  if (!walletCurrency) return `the Payment Link of ${id} has no price currency`;
  const currency = stringOrNull(session.currency)?.toLowerCase();
  const details = session.total_details;
  const discount = isStripeAmount(details?.amount_discount) ? details.amount_discount : 0;
  let amount: number;
  if (currency === walletCurrency) {
    if (isStripeAmount(session.amount_subtotal)) amount = session.amount_subtotal - discount;
    else if (isStripeAmount(session.amount_total)) {
      const tax = isStripeAmount(details?.amount_tax) ? details.amount_tax : 0;
      const shipping = isStripeAmount(details?.amount_shipping) ? details.amount_shipping : 0;
      amount = session.amount_total - tax - shipping;
    } else return `checkout session ${id} has no amount Stripe can charge (a whole number from 0 to ${STRIPE_MAX_AMOUNT})`;
  } else {
    const conversion = session.currency_conversion;
    const rate = Number(conversion?.fx_rate);
    if (conversion?.source_currency?.toLowerCase() !== walletCurrency || !isStripeAmount(conversion.amount_subtotal) || !(rate > 0)) {
      return `checkout session ${id} was paid in ${JSON.stringify(session.currency)}, not in the wallet's currency ${walletCurrency}`;
    }
    amount = conversion.amount_subtotal - Math.round(discount / rate);
  }
  if (!isStripeAmount(amount) || amount === 0) return `checkout session ${id} has no positive amount for the wallet (${amount})`;
  return { amount, currency: walletCurrency };
}

/** The body, or null once it grows past `limit` bytes (stops reading there: no Content-Length needed). */
async function readLimited(request: Request, limit: number): Promise<Uint8Array | null> {
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}
