// Runs in Node before the Worker tests: starts the local Stripe stand-in and hands its URL to
// the Worker as STRIPE_API_BASE (see vitest.config.ts).
import type { TestProject } from "vitest/node";
import { startStripeLocal } from "../scripts/stripe-local.ts";

export const WALLET_LINK_ID = "plink_test_stripeflare";

declare module "vitest" {
  export interface ProvidedContext {
    stripeLocalUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const stripe = await startStripeLocal({ port: 0 });
  // The wallet's own Payment Link (vitest.config.ts: STRIPE_PAYMENT_LINK), as the CLI makes it.
  stripe.recordPaymentLink({ id: WALLET_LINK_ID, url: "https://buy.stripe.com/test_stripeflare", currency: "usd", unit_amount: 500 });
  project.provide("stripeLocalUrl", stripe.url);
  return () => stripe.close();
}
