// Stripeflare: a Stripe-funded wallet for a Cloudflare Worker. Public interface
// (CONTRACT.md §3); the design is described in ./README.md.

export { withStripeflare, chargeUser } from "./middleware";
/** The Payment Link that tops up the wallet an access token names (see session.ts). */
export { paymentLinkFor } from "./session";
export { DORM } from "./durable-object";
export { DEFAULT_MIGRATIONS, createClient } from "./databases";
/** Stripe event types the wallet handles: subscribe the webhook endpoint to all of them. */
export { WEBHOOK_EVENTS } from "./webhook";
/** This copy's version (CHANGELOG.md); `npx create-stripeflare upgrade --check` compares it. */
export { WALLET_VERSION } from "./version";
export type { AgentPaymentOffer, AgentPaymentOptions } from "./agent-payments";
export type {
  ChargeResult,
  DORMClient,
  ExecQuery,
  ExecResult,
  Migrations,
  PaymentRequiredDetails,
  PriceRule,
  StatementEntry,
  StripeflareContext,
  StripeflareEnv,
  StripeflareHandler,
  StripeflareOptions,
  StripeUser,
} from "./types";
