// `npm run agent -- [url]`: an AI agent paying this Worker by itself, end to end, with mppx's
// own client (the MPP reference implementation): it calls the paid route, gets 402 with a
// `WWW-Authenticate: Payment` challenge, pays it with a Stripe Shared Payment Token, is served
// and keeps the wallet's token (X-Access-Token); spends again from the wallet; mints a budget
// token for a sub-agent and spends with it until the budget says no.
//
// The token comes from Stripe's test helper, so this runs in test mode only: against the local
// stand-in (`npm run pay -- --setup`, `npm run stripe-local`, `npm run dev`), or a Worker on a
// Stripe test account enabled for Shared Payment Tokens, with its sk_test_ key in .dev.vars.
import { parseArgs } from "node:util";
import { Receipt } from "mppx";
import { Mppx, stripe } from "mppx/client";
import { readDevVars } from "./pay/dev-vars.ts";
import { UsageError } from "./pay/usage-error.ts";

const PREVIEW_VERSION = "2026-07-29.preview";
const USAGE = `Usage: npm run agent -- [url] [--path /charge] [--method POST] [--card pm_card_visa]

Plays an agent against the Worker at url (default http://localhost:8787): pays the 402 by itself
(MPP, Stripe Shared Payment Token from the test helper), spends again with the token it got, then
with a budget token of 2 cents until refused. Needs STRIPE_SECRET (a test key) in .dev.vars.`;

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      path: { type: "string", default: "/charge" },
      method: { type: "string", default: "POST" },
      card: { type: "string", default: "pm_card_visa" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return console.log(USAGE);
  const base = new URL(positionals[0] ?? "http://localhost:8787");
  const { vars } = readDevVars(process.cwd());
  const secret = vars.STRIPE_SECRET ?? "";
  if (!/^(sk|rk)_test_/.test(secret)) throw new UsageError("STRIPE_SECRET in .dev.vars must be a test key (sk_test_…): agents' tokens come from Stripe's test helper here.");
  const stripeApi = (vars.STRIPE_API_BASE || "https://api.stripe.com").replace(/\/+$/, "");
  const target = new URL(values.path, base).toString();
  const init = { method: values.method, headers: { Accept: "application/json" } };

  const agent = Mppx.create({
    polyfill: false,
    methods: [
      stripe.charge({
        paymentMethod: values.card,
        // What an agent's wallet provider does: grant this seller a token for exactly this amount.
        createToken: async ({ amount, currency, expiresAt, networkId, paymentMethod }) => {
          const response = await fetch(`${stripeApi}/v1/test_helpers/shared_payment/granted_tokens`, {
            method: "POST",
            headers: { Authorization: `Bearer ${secret}`, "Stripe-Version": PREVIEW_VERSION, "Content-Type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({
              payment_method: paymentMethod ?? values.card,
              "usage_limits[currency]": currency,
              "usage_limits[max_amount]": amount,
              "usage_limits[expires_at]": String(expiresAt),
              ...(networkId ? { "seller_details[network_id]": networkId } : {}),
            }),
          });
          const body = (await response.json()) as { id?: string; error?: { message: string } };
          if (!response.ok || !body.id) throw new Error(`Stripe refused the Shared Payment Token: ${body.error?.message ?? response.status}`);
          console.log(`  paid the challenge: ${amount} ${currency} (smallest unit) with ${body.id}`);
          return body.id;
        },
      }),
    ],
  });

  console.log(`1. ${values.method} ${target} with no wallet`);
  const probe = await fetch(target, init);
  if (probe.status !== 402) throw new UsageError(`expected 402 from ${target}, got ${probe.status}: is it a paid route?`);
  if (!/(^|,)\s*payment\s/i.test(probe.headers.get("WWW-Authenticate") ?? "")) {
    throw new UsageError(
      "the 402 carries no Payment challenge: agent payments are off on this Worker. Set STRIPE_NETWORK_ID " +
        "(wrangler.jsonc vars; locally `npm run pay -- --setup` writes one to .dev.vars) and restart npm run dev.",
    );
  }
  const paid = await agent.fetch(target, init);
  if (!paid.ok) throw new Error(`the paid retry answered ${paid.status}: ${await paid.text()}`);
  const receipt = Receipt.fromResponse(paid);
  const token = paid.headers.get("X-Access-Token");
  if (!token) throw new Error("the paid answer carries no X-Access-Token");
  console.log(`  served ${paid.status}; Payment-Receipt ${receipt.reference}; balance ${paid.headers.get("X-Balance")}; token in X-Access-Token`);

  const bearer = { ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` } };
  console.log("2. again, with the wallet's token (no payment)");
  const again = await fetch(target, bearer);
  console.log(`  ${again.status}; balance ${again.headers.get("X-Balance")}`);

  console.log("3. a budget token of 2 cents for a sub-agent, spent until refused");
  const minted = await fetch(new URL("/me/tokens", base), {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ cap: 2, expires_in: 3600, label: "npm run agent" }),
  });
  const budget = (await minted.json()) as { access_token?: string; error?: string };
  if (!budget.access_token) throw new Error(`POST /me/tokens answered ${minted.status}: ${budget.error}`);
  const sub = { ...init, headers: { ...init.headers, Authorization: `Bearer ${budget.access_token}` } };
  for (let i = 1; i <= 5; i++) {
    const response = await fetch(target, sub);
    console.log(`  sub-agent call ${i}: ${response.status}`);
    if (response.status === 402) {
      const me = (await (await fetch(new URL("/me", base), { headers: sub.headers })).json()) as { budget?: { cap: number; spent: number } };
      console.log(`  refused with 402, nothing charged: the budget token has spent ${me.budget?.spent} of its ${me.budget?.cap} cents`);
      return;
    }
  }
  throw new Error("the budget token was never refused");
}

main().catch((error) => {
  console.error(`npm run agent: ${error instanceof Error ? error.message : error}`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
