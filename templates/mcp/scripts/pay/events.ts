// The events `npm run pay` sends, shaped as Stripe sends them, and their delivery: signed
// like Stripe (`t=…,v1=…` over the raw body, with the `stripe` SDK) and posted to the local
// Worker's /stripe-webhook.

import { randomBytes } from "node:crypto";
import Stripe from "stripe";
import { UsageError } from "./usage-error.ts";

function event(type: string, object: unknown): Stripe.Event {
  return {
    id: `evt_local_${randomBytes(12).toString("hex")}`,
    object: "event",
    api_version: Stripe.API_VERSION,
    created: Math.floor(Date.now() / 1000),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  } as Stripe.Event;
}

/** A `checkout.session.completed` event as Stripe sends it for a paid Payment Link checkout. */
export function checkoutCompletedEvent(session: Stripe.Checkout.Session): Stripe.Event {
  return event("checkout.session.completed", session);
}

/** A `charge.refunded` event: the charge as it is now (its refunds are not in it, as with current API versions). */
export function chargeRefundedEvent(charge: Stripe.Charge): Stripe.Event {
  return event("charge.refunded", charge);
}

/** Signs like Stripe and posts to the local /stripe-webhook. */
export async function deliver(
  event: Stripe.Event,
  workerUrl: URL,
  secret: string,
): Promise<{ status: number; body: string }> {
  const payload = JSON.stringify(event, null, 2);
  const signature = await Stripe.webhooks.generateTestHeaderStringAsync({ payload, secret });
  const url = new URL("/stripe-webhook", workerUrl);
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature },
      body: payload,
      redirect: "manual",
    });
  } catch (error) {
    throw new UsageError(
      `cannot reach the local Worker at ${url.origin} (${(error as Error).cause ?? (error as Error).message}). ` +
        "Is `npm run dev` running? Pass --url if it listens elsewhere.",
    );
  }
  return { status: response.status, body: await response.text() };
}
