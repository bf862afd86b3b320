// The alternative to the wallet's own MPP code, measured for size only (bench/parts/agents.mjs):
// the same 402 challenge and settlement with the maintained server library, `mppx` (its
// `stripe` method), as a Worker would have to bundle it. Not deployed, not run.
import { Mppx } from "mppx/server";
import { stripe } from "mppx/stripe/server";

interface Env {
  DB_SECRET: string;
  STRIPE_SECRET: string;
  STRIPE_NETWORK_ID: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const mppx = Mppx.create({
      secretKey: env.DB_SECRET,
      methods: [stripe.charge({ secretKey: env.STRIPE_SECRET, networkId: env.STRIPE_NETWORK_ID, paymentMethodTypes: ["card"], currency: "usd", decimals: 2 })],
    });
    const result = await (mppx as any)["stripe/charge"]({ amount: "5" })(request);
    if (result.status === 402) return result.challenge;
    return result.withReceipt(new Response("paid"));
  },
};
