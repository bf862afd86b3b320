// The payment at "Stripe": the local stand-in (scripts/stripe-local.ts) that STRIPE_API_BASE
// names. Payments and refunds go through the `stripe` SDK as any Stripe client's would, so
// the Worker's reads while it handles the event find them.

import { randomBytes } from "node:crypto";
import Stripe from "stripe";
import { LOCAL_STRIPE_API_BASE, LOCAL_STRIPE_SECRET } from "./dev-vars.ts";
import { UsageError } from "./usage-error.ts";

export interface PaymentRequest {
  clientReferenceId: string;
  amount: number;
  currency: string;
  /** A stand-in test card name, or null for a new card. */
  card: string | null;
  email: string;
  name: string;
}

export interface RecordedPayment {
  paymentIntent: string | null;
  /** The stand-in's Payment Link whose URL is STRIPE_PAYMENT_LINK. */
  paymentLink: string;
  /** Whether the stand-in outlives this command (`npm run stripe-local`), so the Worker can read the session later. */
  standInStays: boolean;
  notes: string[];
  /** Keeps the completed checkout session at the stand-in, as Stripe keeps it (refunds look it up). */
  recordSession(session: Stripe.Checkout.Session): Promise<void>;
  close(): Promise<void>;
}

/** True for localhost, 127.0.0.0/8 and [::1]: the only places a local payment may go. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** STRIPE_API_BASE when it names a local stand-in, else why not. */
function standInBase(vars: Record<string, string>): URL | string {
  if (!vars.STRIPE_API_BASE) {
    return "STRIPE_API_BASE is not set, so the Worker reads payments from Stripe itself";
  }
  const base = new URL(vars.STRIPE_API_BASE);
  if (base.protocol !== "http:" || !isLoopbackHost(base.hostname)) return `STRIPE_API_BASE (${base.origin}) is not a local stand-in`;
  return base;
}

function client(vars: Record<string, string>, base: URL): Stripe {
  return new Stripe(vars.STRIPE_SECRET || LOCAL_STRIPE_SECRET, {
    host: base.hostname,
    port: Number(base.port || 80),
    protocol: "http",
    maxNetworkRetries: 0,
    telemetry: false,
  });
}

/**
 * Records a paid PaymentIntent (and its charge) at the stand-in. Starts the stand-in for the
 * duration of this payment unless one already listens there (`npm run stripe-local`).
 */
export async function recordPayment(vars: Record<string, string>, options: PaymentRequest): Promise<RecordedPayment> {
  const base = standInBase(vars);
  if (typeof base === "string") {
    // The Worker checks every session with Stripe (its Payment Link, its currency): a payment
    // made up here would be refused there.
    throw new UsageError(
      `${base}: a local payment needs the Stripe stand-in. Add STRIPE_API_BASE=${LOCAL_STRIPE_API_BASE} to .dev.vars ` +
        "and restart `npm run dev`, or pay through your real Payment Link in Stripe's test mode.",
    );
  }
  if (!vars.STRIPE_PAYMENT_LINK) throw new UsageError("STRIPE_PAYMENT_LINK is empty in .dev.vars: run `npm run pay -- --setup` and restart `npm run dev`.");
  const { startStripeLocal } = await import("../stripe-local.ts");
  let local: Awaited<ReturnType<typeof startStripeLocal>> | undefined;
  const notes: string[] = [];
  try {
    local = await startStripeLocal({ port: Number(base.port || 80) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    notes.push(`Using the Stripe stand-in already listening on ${base.origin}.`);
  }
  const close = async () => void (await local?.close());
  try {
    const link = await localPost<{ id: string }>(vars, base, "/local/payment_links", {
      url: vars.STRIPE_PAYMENT_LINK,
      currency: options.currency,
      unit_amount: options.amount,
    });
    const intent = await client(vars, base).paymentIntents.create({
      amount: options.amount,
      currency: options.currency,
      // pm_card_new: a card no other payment used, so paying does not log the visitor in to
      // someone else's wallet (the stand-in's local-only test card).
      payment_method: `pm_card_${options.card ?? "new"}`,
      confirm: true,
      receipt_email: options.email,
    });
    const recordSession = async (session: Stripe.Checkout.Session) => {
      // The stand-in's local-only endpoint (Stripe makes sessions itself; the SDK cannot).
      await localPost(vars, base, "/local/checkout_sessions", session);
    };
    return { paymentIntent: intent.id, paymentLink: link.id, standInStays: local === undefined, notes, recordSession, close };
  } catch (error) {
    await close();
    if (local === undefined && error instanceof Stripe.errors.StripeError) {
      throw new UsageError(
        `${base.origin} (STRIPE_API_BASE) answered "${error.message}". Another program holds that port; ` +
          "if it is not scripts/stripe-local.ts, set STRIPE_API_BASE in .dev.vars to a free port and restart `npm run dev`.",
      );
    }
    throw error;
  }
}

/** A call to the stand-in's local-only endpoints (Stripe makes these objects itself; the SDK cannot). */
async function localPost<T>(vars: Record<string, string>, base: URL, path: string, body: unknown): Promise<T> {
  const response = await fetch(new URL(path, base), {
    method: "POST",
    headers: { Authorization: `Bearer ${vars.STRIPE_SECRET || LOCAL_STRIPE_SECRET}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = (await response.json().catch(() => null)) as (T & { error?: { message?: string } }) | null;
  if (!response.ok || !answer) throw new UsageError(`the Stripe stand-in refused ${path}: ${answer?.error?.message ?? response.status}`);
  return answer;
}

/**
 * Refunds (part of) a payment at the stand-in that holds it: one started with
 * `npm run stripe-local` before paying, since a stand-in started by `npm run pay` forgets its
 * payments when the command ends. Returns the charge as it is after the refund.
 */
export async function refundPayment(
  vars: Record<string, string>,
  id: string,
  amount: number | null,
): Promise<{ refund: Stripe.Refund; charge: Stripe.Charge }> {
  const base = standInBase(vars);
  if (typeof base === "string") throw new UsageError(`${base}: a local refund needs the stand-in (see npm run pay -- --help).`);
  const stripe = client(vars, base);
  const target = id.startsWith("ch_") ? { charge: id } : { payment_intent: id };
  try {
    const refund = await stripe.refunds.create({ ...target, ...(amount === null ? {} : { amount }) });
    const charge = await stripe.charges.retrieve(String(refund.charge));
    return { refund, charge };
  } catch (error) {
    if (error instanceof Stripe.errors.StripeConnectionError) {
      throw new UsageError(
        `no Stripe stand-in at ${base.origin}. Refunds need the one that holds the payment: start ` +
          "`npm run stripe-local` (and keep it running) before `npm run pay`, then refund.",
      );
    }
    throw error;
  }
}

/** The checkout session a paid Payment Link checkout completes with. */
export function checkoutSession(options: PaymentRequest, paymentIntent: string | null, paymentLink: string): Stripe.Checkout.Session {
  const created = Math.floor(Date.now() / 1000);
  return {
    id: `cs_test_local_${randomBytes(16).toString("hex")}`,
    object: "checkout.session",
    amount_subtotal: options.amount,
    amount_total: options.amount,
    cancel_url: null,
    client_reference_id: options.clientReferenceId,
    created,
    currency: options.currency,
    customer: null,
    customer_creation: "if_required",
    customer_details: { address: null, email: options.email, name: options.name, phone: null, tax_exempt: "none", tax_ids: [] },
    customer_email: null,
    expires_at: created + 24 * 60 * 60,
    livemode: false,
    metadata: {},
    mode: "payment",
    payment_intent: paymentIntent,
    payment_link: paymentLink,
    payment_method_types: ["card", "link"],
    payment_status: "paid",
    status: "complete",
    success_url: null,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    url: null,
  } as unknown as Stripe.Checkout.Session;
}
