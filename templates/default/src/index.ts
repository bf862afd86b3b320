// The example app: a Worker that sells one thing, `/charge`, for one cent a request, and a
// home page that shows the wallet to people (HTML) and to programs and agents (JSON, Markdown).
// Everything about money (identity, balance, payments, the ledger) lives in ./stripeflare;
// this file only decides what a request costs and what it answers. See src/stripeflare/README.md.

import { withStripeflare, chargeUser, DORM, type StripeUser } from "./stripeflare";
import { homeResponse, pageOptions, paidResponse, paymentRequiredResponse, spentNotice, walletView } from "./page";

// The DORM Durable Object class must be exported from the Worker's main module so the
// DORM_NAMESPACE binding in wrangler.jsonc can find it.
export { DORM };

// StripeUser can be extended with your own columns (see customMigrations in the README).
type User = StripeUser;

const TITLE = "Stripeflare";

/** The example paid route. The page, the JSON and the Markdown all describe it from here. */
const CHARGE = { method: "POST", path: "/charge", price: 1, description: "The example paid route" } as const;

// `chargeUser(env, ctx, accessToken, migrations, version, cents, allowNegativeBalance)`
// charges a visitor from a handler that has no request (a queue consumer, a cron trigger).
// This app only sells over fetch, so it is imported for that use but not called.
void chargeUser;

export default {
  fetch: withStripeflare<Env, User>(async (request, env, ctx) => {
    const url = new URL(request.url);
    const view = walletView(ctx);

    if (url.pathname === CHARGE.path) {
      // Refuse up front while the wallet is short: the answer says how to pay (link, price,
      // balance) in the format the caller asked for.
      if (ctx.user.balance < CHARGE.price) {
        return paymentRequiredResponse(request, view, CHARGE.price, pageOptions(request, TITLE, CHARGE));
      }
      // X-Price makes the wallet charge this response's price (in cents) after the handler.
      return paidResponse(request, view, CHARGE.price, `Hello ${ctx.user.name || "Anonymous"}: this answer cost one cent.`);
    }

    if (url.pathname === "/") {
      return homeResponse(request, view, pageOptions(request, TITLE, CHARGE, spentNotice(url)));
    }

    return new Response(`Hello ${ctx.user.name || "Anonymous"}!\n`, {
      headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "private, no-store" },
    });
  }),
} satisfies ExportedHandler<Env>;
