// Agents that pay by themselves (MPP): a Worker with agent payments on, Shared Payment Tokens
// from the Stripe stand-in's test helper, and `mppx`'s own client (nobody here wrote it) as the
// agent that answers the 402s.

import { Mppx, stripe } from "mppx/client";
import { fixture, testEnv, type Worker } from "./helpers";
import type { AgentPaymentOptions } from "../src/stripeflare";

export const NETWORK_ID = "net_test_stripeflare";
export const PREVIEW = "2026-07-29.preview";

/** A fixture app with agent payments on: `/paid` costs 3 cents (declared), top-ups are 500. */
export function agentApp(options: AgentPaymentOptions | true = true, env: Record<string, string> = {}) {
  return fixture({ prices: { "/paid": 3 }, agentPayments: options }, { STRIPE_NETWORK_ID: NETWORK_ID, TOP_UP_AMOUNT: "500", CURRENCY: "usd", ...env });
}

/** Grants a test Shared Payment Token on the stand-in, as an agent's wallet provider would. */
export async function grantToken(limits: { amount: string; currency: string; expiresAt?: number; paymentMethod?: string }): Promise<string> {
  const response = await fetch(`${testEnv.STRIPE_API_BASE}/v1/test_helpers/shared_payment/granted_tokens`, {
    method: "POST",
    headers: { Authorization: `Bearer ${testEnv.STRIPE_SECRET}`, "Stripe-Version": PREVIEW, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      payment_method: limits.paymentMethod ?? "pm_card_visa",
      "usage_limits[currency]": limits.currency,
      "usage_limits[max_amount]": limits.amount,
      "usage_limits[expires_at]": String(limits.expiresAt ?? Math.floor(Date.now() / 1000) + 3600),
      "seller_details[network_id]": NETWORK_ID,
    }),
  });
  const body = (await response.json()) as { id: string };
  if (!response.ok) throw new Error(`granted_tokens: ${JSON.stringify(body)}`);
  return body.id;
}

/** The stand-in's view of a token: `deactivated_reason` "consumed" once a payment used it. */
export async function tokenState(id: string): Promise<{ deactivated_reason: string | null }> {
  const response = await fetch(`${testEnv.STRIPE_API_BASE}/v1/shared_payment/granted_tokens/${id}`, {
    headers: { Authorization: `Bearer ${testEnv.STRIPE_SECRET}`, "Stripe-Version": PREVIEW },
  });
  return response.json();
}

/**
 * An agent built on mppx's client: its fetch pays any `stripe` challenge with a token granted
 * for exactly the challenge's amount and currency (`paymentMethod` picks the card), and
 * remembers every token it granted.
 */
export function mppxAgent(worker: Worker, paymentMethod = "pm_card_visa") {
  const granted: string[] = [];
  const mppx = Mppx.create({
    polyfill: false,
    fetch: ((input: RequestInfo | URL, init?: RequestInit) => worker(new Request(input, init))) as typeof fetch,
    methods: [
      stripe.charge({
        paymentMethod,
        createToken: async ({ amount, currency, expiresAt, paymentMethod: method }) => {
          const id = await grantToken({ amount, currency, expiresAt, paymentMethod: method });
          granted.push(id);
          return id;
        },
      }),
    ],
  });
  return { fetch: mppx.fetch as (input: string, init?: RequestInit) => Promise<Response>, granted };
}
