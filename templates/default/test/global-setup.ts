// Runs in Node before the Worker tests: starts the local Stripe stand-in and hands its URL to
// the Worker as STRIPE_API_BASE (see vitest.config.ts).
import type { TestProject } from "vitest/node";
import { startStripeLocal } from "../scripts/stripe-local.ts";

declare module "vitest" {
  export interface ProvidedContext {
    stripeLocalUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const stripe = await startStripeLocal({ port: 0 });
  project.provide("stripeLocalUrl", stripe.url);
  return () => stripe.close();
}
