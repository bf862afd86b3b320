// POST /stripe-webhook: turns a paid checkout session into exactly one credit, and refunds
// and disputes of those payments into debits (./reversals.ts).
//
//   1. Verify the signature on the raw body (400, nothing written, if it fails).
//   2. Open client_reference_id with DB_SECRET; if it does not open, the event belongs to
//      another app sharing the Stripe account: 200, nothing written.
//   3. Read how it was paid (card fingerprint, Link) from the PaymentIntent's latest charge.
//   4. Claim the session in the payment index: it picks the account (the visitor's own, or
//      the account that card / Link email belongs to: login by payment) and remembers the
//      choice, so every redelivery targets the same account.
//   5. Credit that account; its ledger's unique reference makes a repeat a no-op.
//   6. Login by payment: point the visitor's row at the account, so their next request is it.
// Any step failing before the end answers 5xx, and Stripe's redelivery resumes idempotently.
// The claim also records the session's PaymentIntent and Charge ids, which is how a refund or
// dispute (naming only the charge) later finds the account this payment credited.

import type Stripe from "stripe";
import { databases, stub, type Databases } from "./databases";
import { decodeReference, encodeReference } from "./identity";
import { isStripeAmount, paymentMethodOf, SignatureError, STRIPE_MAX_AMOUNT, StripeRequestError, stringOrNull, verifyWebhook } from "./stripe";
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
    const body = new Uint8Array(await request.arrayBuffer());
    if (body.length > WEBHOOK_BODY_LIMIT) return tooLarge();
    event = await verifyWebhook(body, request.headers.get("Stripe-Signature"), env.STRIPE_WEBHOOK_SIGNING_SECRET);
  } catch (error) {
    if (!(error instanceof SignatureError)) throw error;
    console.warn(`[stripeflare] webhook rejected: ${error.message}`);
    return text(400, `Webhook signature verification failed: ${error.message}`);
  }

  // Signed, but still data: a field of the wrong type must not turn into a 500 (and retries).
  if (!event || typeof event !== "object" || typeof event.type !== "string") return text(200, "Ignored: not a Stripe event (no type)");
  if (typeof event.id !== "string") event = { ...event, id: "(no id)" };
  const dbs = databases(migrations, version);
  if (CHECKOUT_EVENTS.has(event.type)) return creditCheckout(event, env, dbs);
  if (REVERSAL_EVENTS.has(event.type)) return handleReversal(event, env, dbs);
  return text(200, `Ignored event type ${event.type}`);
}

async function creditCheckout(event: Stripe.Event, env: StripeflareEnv, dbs: Databases): Promise<Response> {
  const session = (event.data?.object ?? {}) as Partial<Stripe.Checkout.Session>;
  const ignore = (reason: string) => {
    console.log(`[stripeflare] webhook ${event.id}: ${reason}; nothing written`);
    return text(200, `Ignored: ${reason}`);
  };

  if (typeof session.id !== "string" || !session.id) return ignore("event carries no checkout session id");
  if (session.payment_status !== "paid") return ignore(`checkout session ${session.id} is not paid (${JSON.stringify(session.payment_status)})`);
  const amount = session.amount_total;
  if (!isStripeAmount(amount)) {
    return ignore(`checkout session ${session.id} has amount_total ${JSON.stringify(amount) ?? "undefined"}, which Stripe cannot charge (a whole number from 0 to ${STRIPE_MAX_AMOUNT})`);
  }
  if (amount === 0) return ignore(`checkout session ${session.id} has no positive amount_total`);
  const reference = typeof session.client_reference_id === "string" ? session.client_reference_id : "";
  const visitor = reference ? await decodeReference(env.DB_SECRET, reference) : null;
  if (!visitor) return ignore(`client_reference_id of ${session.id} is missing or not readable with this DB_SECRET (not for this Worker)`);

  // How it was paid. No PaymentIntent (e.g. a 100% discount) or no card (a wallet without
  // fingerprint): credit the visitor, no login by payment.
  let cardFingerprint: string | null = null;
  let paidWithLink = false;
  let chargeId: string | null = null;
  const intentId = typeof session.payment_intent === "string" ? session.payment_intent : session.payment_intent?.id;
  if (intentId) {
    try {
      const method = await paymentMethodOf(env, intentId);
      cardFingerprint = method.cardFingerprint;
      paidWithLink = method.type === "link";
      chargeId = method.chargeId;
    } catch (error) {
      if (!(error instanceof StripeRequestError)) {
        console.error(`[stripeflare] webhook ${event.id}: could not read payment ${intentId}, Stripe will retry: ${error}`);
        return text(503, "Could not read the payment from Stripe; retry later");
      }
      console.warn(`[stripeflare] webhook ${event.id}: ${error.message}; crediting without card details`);
    }
  }
  const email = stringOrNull(session.customer_details?.email);
  const verifiedEmail = paidWithLink && email ? email.trim().toLowerCase() : null;

  const claim = await stub(env, dbs.index).claim(dbs.index, {
    reference: session.id,
    visitor: visitor.account,
    amount,
    cardFingerprint,
    verifiedEmail,
    paymentIds: [intentId, chargeId].filter((id): id is string => !!id),
  });
  const account = claim.account;
  const credit = await stub(env, dbs.account(account)).credit(dbs.account(account), {
    account,
    reference: session.id,
    amount,
    currency: stringOrNull(session.currency),
    email,
    name: stringOrNull(session.customer_details?.name),
    cardFingerprint,
    verifiedEmail,
    // Only the payment that creates an account registers the visitor's token with it.
    tokenHash: claim.createdAccount ? (visitor.tokenHash ?? null) : null,
    clientReferenceId: await encodeReference(env.DB_SECRET, { account }),
    description: `Stripe checkout ${session.id}`,
  });
  if (account !== visitor.account) {
    await stub(env, dbs.account(visitor.account)).link(dbs.account(visitor.account), visitor.account, account, visitor.tokenHash ?? null);
  }

  const what = credit.duplicate ? "already credited" : `credited ${amount}`;
  console.log(`[stripeflare] webhook ${event.id}: checkout ${session.id} ${what} (balance ${credit.balance})`);
  return Response.json({ received: true, credited: credit.credited, duplicate: credit.duplicate });
}
