// The example app: a Worker that sells one thing, `/charge`, for one cent a request.
// Everything about money (identity, balance, payments, the ledger) lives in ./stripeflare;
// this file only decides what a request costs. See src/stripeflare/README.md.

import { withStripeflare, chargeUser, DORM, type StripeUser } from "./stripeflare";

// The DORM Durable Object class must be exported from the Worker's main module so the
// DORM_NAMESPACE binding in wrangler.jsonc can find it.
export { DORM };

// StripeUser can be extended with your own columns (see customMigrations in the README).
type User = StripeUser;

// `chargeUser(env, ctx, accessToken, migrations, version, cents, allowNegativeBalance)`
// charges a visitor from a handler that has no request (a queue consumer, a cron trigger).
// This app only sells over fetch, so it is imported for that use but not called.

export default {
  fetch: withStripeflare<Env, User>(async (request, env, ctx) => {
    const { pathname } = new URL(request.url);

    if (pathname === "/charge") {
      // Refuse up front while the wallet is empty: the visitor gets the link to top up.
      if (ctx.user.balance < 1) {
        return new Response(`Payment required: top up your balance at ${ctx.paymentLink}\n`, {
          status: 402,
          headers: { "Content-Type": "text/plain; charset=utf-8" },
        });
      }
      // X-Price makes the wallet charge this response's price (in cents) after the handler.
      return new Response("Charged 1 cent. Thanks!\n", {
        headers: { "Content-Type": "text/plain; charset=utf-8", "X-Price": "1" },
      });
    }

    return new Response(`Hello ${ctx.user.name || "Anonymous"}!\n`, {
      headers: { "Content-Type": "text/plain; charset=utf-8" },
    });
  }),
} satisfies ExportedHandler<Env>;
