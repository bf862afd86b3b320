// Money that goes back to the payer: refunds and disputes of payments this Worker credited.
//
//   charge.refunded            the charge's refunds, each debited once (reference re_…)
//   charge.refund.updated      one refund changed; failed / canceled gives a debit back
//   charge.dispute.created     the disputed amount is held (debited, reference dp_…)
//   charge.dispute.closed      won: the hold is released (credited back); lost: it stays
//
// Both refund events read the charge's refunds from Stripe rather than trusting the event's
// snapshot, and a refund seen failed or canceled stays so (its ledger row says so), in
// whatever order the events arrive.
//
// Refunds and disputes name only the charge (and its PaymentIntent), so the payment index
// maps those ids to the account the checkout credited, which may be another visitor's
// account after login by payment. A charge the index does not know is not this Worker's:
// 200, nothing written. The account's ledger keys each row by (kind, Stripe object id), so
// any number of deliveries, concurrent or days apart, in any order, apply each change once.
// The balance may go negative; the wallet then refuses paid requests (402) until a top-up.

import type Stripe from "stripe";
import { stub, type Databases } from "./databases";
import { text } from "./routes";
import { checkoutSessionsOf, isStripeAmount, refundsOf, StripeRequestError, stringOrNull } from "./stripe";
import type { PaymentRecord, RefundRequest, StripeflareEnv } from "./types";

export const REVERSAL_EVENTS = new Set([
  "charge.refunded",
  "charge.refund.updated",
  "charge.dispute.created",
  "charge.dispute.closed",
]);

/** Statuses of a refund whose money has left (or is leaving) the merchant. */
const LIVE_REFUND = new Set(["succeeded", "pending", "requires_action"]);
/** Closed dispute statuses that give the held amount back (an inquiry closes as warning_closed). */
const RELEASED = new Set(["won", "warning_closed", "prevented"]);

class RetryLater extends Error {}

export async function handleReversal(event: Stripe.Event, env: StripeflareEnv, dbs: Databases): Promise<Response> {
  try {
    return event.type.startsWith("charge.dispute.") ? await dispute(event, env, dbs) : await refund(event, env, dbs);
  } catch (error) {
    if (!(error instanceof RetryLater)) throw error;
    console.error(`[stripeflare] webhook ${event.id}: ${error.message}; Stripe will retry`);
    return text(503, `${error.message}; retry later`);
  }
}

async function refund(event: Stripe.Event, env: StripeflareEnv, dbs: Databases): Promise<Response> {
  const object = (event.data?.object ?? {}) as Partial<Stripe.Charge> & Partial<Stripe.Refund>;
  // charge.refunded carries the Charge; charge.refund.updated carries one Refund.
  const isCharge = event.type === "charge.refunded";
  const chargeId = isCharge ? stringOrNull(object.id) : idOf(object.charge);
  if (typeof chargeId !== "string" || !chargeId) return ignore(event, "event names no charge");
  const payment = await findPayment(env, dbs, chargeId, idOf(object.payment_intent));
  if (!payment) return ignore(event, `charge ${chargeId} is not a payment this Worker credited`);

  // Whatever the event carries is a snapshot, and Stripe may deliver an old one late (a
  // "succeeded" refund that has failed since): what counts is the refunds' state now.
  const refunds = await stripeRead(`the refunds of ${chargeId}`, () => refundsOf(env, chargeId));
  const usable = refunds.filter((r) => r && typeof r.id === "string" && isStripeAmount(r.amount) && r.amount > 0);
  if (usable.length < refunds.length) {
    console.warn(`[stripeflare] webhook ${event.id}: ${refunds.length - usable.length} refund(s) of ${chargeId} without an id or an amount Stripe can charge; skipped`);
  }
  const request: RefundRequest = {
    account: payment.account,
    charge: chargeId,
    refunds: usable
      .map((r) => {
        const status = stringOrNull(r.status);
        return { id: r.id, amount: r.amount, currency: stringOrNull(r.currency), status, active: LIVE_REFUND.has(status ?? "") };
      }),
  };
  const setup = dbs.account(payment.account);
  const result = await stub(env, setup).refund(setup, request);
  return done(event, payment, chargeId, result);
}

async function dispute(event: Stripe.Event, env: StripeflareEnv, dbs: Databases): Promise<Response> {
  const object = (event.data?.object ?? {}) as Partial<Stripe.Dispute>;
  const chargeId = idOf(object.charge);
  if (typeof object.id !== "string" || !object.id || !chargeId) return ignore(event, "event names no dispute or charge");
  if (!isStripeAmount(object.amount) || object.amount <= 0) return ignore(event, `dispute ${object.id} has no positive amount Stripe can charge`);
  const payment = await findPayment(env, dbs, chargeId, idOf(object.payment_intent));
  if (!payment) return ignore(event, `charge ${chargeId} is not a payment this Worker credited`);

  const status = stringOrNull(object.status) ?? "";
  let outcome: "open" | "won" | "lost" = "open";
  if (event.type === "charge.dispute.closed") {
    if (status === "lost") outcome = "lost";
    else if (RELEASED.has(status)) outcome = "won";
    else console.warn(`[stripeflare] webhook ${event.id}: dispute ${object.id} closed with status ${status}; the hold stays`);
  }
  const setup = dbs.account(payment.account);
  const result = await stub(env, setup).dispute(setup, {
    account: payment.account,
    id: object.id,
    charge: chargeId,
    amount: object.amount!,
    currency: stringOrNull(object.currency),
    reason: stringOrNull(object.reason),
    outcome,
  });
  return done(event, payment, chargeId, result);
}

/**
 * The account a charge's payment credited. Payments credited before the index recorded
 * charge ids are found through their checkout session, which Stripe lists by PaymentIntent.
 */
async function findPayment(env: StripeflareEnv, dbs: Databases, chargeId: string, intentId: string | null): Promise<PaymentRecord | null> {
  const ids = intentId ? [chargeId, intentId] : [chargeId];
  const index = stub(env, dbs.index);
  const found = await index.payment(dbs.index, ids);
  if (found || !intentId) return found;
  let sessions: string[];
  try {
    sessions = await checkoutSessionsOf(env, intentId);
  } catch (error) {
    // Stripe does not know it for this key (another account's payment): not ours.
    if (error instanceof StripeRequestError) return null;
    throw new RetryLater(`could not read the checkout session of ${intentId} from Stripe (${messageOf(error)})`);
  }
  return sessions.length ? index.payment(dbs.index, ids, sessions) : null;
}

/** A Stripe read whose failure must make Stripe deliver the event again (nothing is written). */
async function stripeRead<T>(what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw new RetryLater(`could not read ${what} from Stripe (${messageOf(error)})`);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function done(event: Stripe.Event, payment: PaymentRecord, chargeId: string, result: { applied: string[]; balance: number }) {
  const what = result.applied.length ? result.applied.join(", ") : "already applied";
  console.log(`[stripeflare] webhook ${event.id}: ${event.type} of ${chargeId} (checkout ${payment.checkoutSession}): ${what} (balance ${result.balance})`);
  return Response.json({ received: true, applied: result.applied, duplicate: result.applied.length === 0 });
}

function ignore(event: Stripe.Event, reason: string): Response {
  console.log(`[stripeflare] webhook ${event.id}: ${reason}; nothing written`);
  return text(200, `Ignored: ${reason} (not for this Worker)`);
}

function idOf(value: string | { id: string } | null | undefined): string | null {
  if (typeof value === "string") return value || null;
  return value && typeof value.id === "string" ? value.id : null;
}
