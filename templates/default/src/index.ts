// The example app: a Worker that sells one thing, `/charge`, for one cent a request, and a
// home page that shows the wallet to people (HTML) and to programs and agents (JSON, Markdown).
// Everything about money (identity, balance, payments, the ledger) lives in ./stripeflare;
// this file only decides what a request costs and what it answers. See src/stripeflare/README.md.

import { withStripeflare, DORM, type StripeUser } from "./stripeflare";
import { homeResponse, pageOptions, paidResponse, paymentRequiredResponse, spentNotice, walletView } from "./page";

// The DORM Durable Object class must be exported from the Worker's main module so the
// DORM_NAMESPACE binding in wrangler.jsonc can find it.
export { DORM };

// StripeUser can be extended with your own columns (see customMigrations in the README).
type User = StripeUser;

const TITLE = "Stripeflare";

/** The example paid route. The page, the JSON, the Markdown and the statement all describe it from here. */
const CHARGE = { method: "POST", path: "/charge", price: 1, description: "The example paid route" } as const;

/** Agent payments (MPP) are on once STRIPE_NETWORK_ID is set (see wrangler.jsonc). */
const takesAgentPayments = (env: Env) => !!env.STRIPE_NETWORK_ID;

// Charging without a request (a queue consumer, a cron trigger) goes through `chargeUser`,
// given the visitor's access token (their `access_token` cookie or Bearer token, which the
// request that queued the job passed along):
//
//   import { chargeUser } from "./stripeflare";
//   const { charged, message } = await chargeUser(env, ctx, accessToken, undefined, undefined, 5, false, "Nightly report");
//
// `undefined, undefined` are the customMigrations and version given to withStripeflare below.

export default {
  fetch: withStripeflare<Env, User>(
    async (request, env, ctx) => {
      const url = new URL(request.url);
      const view = walletView(ctx, env.CURRENCY);

      if (url.pathname === CHARGE.path) {
        // Only POST spends: a link, a prefetch or a crawler (GET, HEAD) must never cost anything.
        if (request.method !== CHARGE.method) {
          return new Response(`Method not allowed: use ${CHARGE.method} ${CHARGE.path} (it costs one cent)\n`, {
            status: 405,
            headers: { Allow: CHARGE.method, "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "private, no-store" },
          });
        }
        // Refuse up front while the wallet is short: the answer says how to pay (link, price,
        // balance) in the format the caller asked for.
        if (ctx.user.balance < CHARGE.price) {
          return paymentRequiredResponse(request, view, CHARGE.price, pageOptions(request, TITLE, CHARGE, undefined, takesAgentPayments(env)));
        }
        // X-Price makes the wallet charge this response's price (in cents) after the handler;
        // X-Price-Description is what the visitor's statement (/me/transactions) says about it.
        return paidResponse(request, view, CHARGE, `Hello ${ctx.user.name || "Anonymous"}: this answer cost one cent.`);
      }

      if (url.pathname === "/") {
        return homeResponse(request, view, pageOptions(request, TITLE, CHARGE, spentNotice(url, env.CURRENCY), takesAgentPayments(env)));
      }

      return new Response(`Hello ${ctx.user.name || "Anonymous"}!\n`, {
        headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "private, no-store" },
      });
    },
    {
      // The wallet's own 402 (an X-Price the balance could not cover after all, for example
      // when two requests raced for the last cent) looks like the app's: page, JSON or Markdown.
      paymentRequired: (request, refused, env) =>
        paymentRequiredResponse(request, walletView(refused, env.CURRENCY), refused.price, pageOptions(request, TITLE, CHARGE, undefined, takesAgentPayments(env))),
      // Every 402 also carries an MPP challenge agents pay by themselves (Stripe Shared Payment
      // Tokens), once STRIPE_NETWORK_ID and TOP_UP_AMOUNT are set; until then, nothing changes.
      agentPayments: true,
    },
  ),
} satisfies ExportedHandler<Env>;
