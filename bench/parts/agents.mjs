// Agent payments (MPP): what they add to the Worker bundle, and what an agent's paid retry
// costs beside a plain paid request.
//
// Bundle: `wrangler deploy --dry-run` of the template (wallet with its own MPP code), of the
// template at the last commit before agent payments, and of a Worker doing the same with the
// maintained server library instead (bench/worker-mppx: `mppx/server` + its `stripe` method).
//
// Latency: the template's example app under `wrangler dev` (real workerd and SQLite Durable
// Objects) with the template's own Stripe stand-in (scripts/stripe-local.ts, Shared Payment
// Tokens included). Interleaved, one of each per round:
//   plain      POST /charge with a funded Bearer token (the paid request as agents make it)
//   402        POST /charge with no token: the 402 and its challenge
//   retry      the same request with the credential: Stripe PaymentIntent, credit, charge, receipt
//   cycle      402 + token grant at the stand-in + retry, as an agent experiences it
import { execSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { randomBytes } from "node:crypto";
import os from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { root, template } from "../lib/env.mjs";
import { request } from "../lib/load.mjs";
import { ratio, summary } from "../lib/stats.mjs";
import { snapshot } from "../lib/snapshot.mjs";
import { dryRun } from "./size.mjs";
import { startWrangler } from "../lib/wrangler.mjs";

/** The last commit before agent payments (wallet 1.1.0). */
export const BEFORE_AGENT_PAYMENTS = "25687a3";
const PREVIEW = "2026-07-29.preview";
const NETWORK_ID = "profile_bench";

export async function agentBundles() {
  const src = snapshot();
  const before = mkdtempSync(join(os.tmpdir(), "stripeflare-bench-before-"));
  try {
    execSync(`git archive ${BEFORE_AGENT_PAYMENTS} templates/default | tar -x -C ${JSON.stringify(before)}`, { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
    symlinkSync(join(template, "node_modules"), join(before, "templates/default/node_modules"));
    symlinkSync(join(template, "node_modules"), join(src.dir, "bench/worker-mppx/node_modules"));
    const rows = [
      dryRun("template, wallet with its own MPP code", join(src.dir, "templates/default"), join(src.dir, "templates/default/wrangler.jsonc"), "cd templates/default && npx wrangler deploy --dry-run --outdir <tmp>"),
      dryRun(`template before agent payments (${BEFORE_AGENT_PAYMENTS})`, join(before, "templates/default"), join(before, "templates/default/wrangler.jsonc"), `git archive ${BEFORE_AGENT_PAYMENTS} templates/default, then the same`),
      dryRun("mppx server alone (stripe method, no wallet)", join(src.dir, "bench/worker-mppx"), join(src.dir, "bench/worker-mppx/wrangler.jsonc"), "npx wrangler deploy --dry-run -c bench/worker-mppx/wrangler.jsonc --outdir <tmp>"),
    ];
    const [ours, old, mppx] = rows;
    const added = +(ours["gzip -9 KiB"] - old["gzip -9 KiB"]).toFixed(1);
    return {
      source: { from: src.source, commit: src.commit },
      rows: rows.map(({ command: _c, ...row }) => row),
      commands: rows.map((row) => row.command),
      summary: `agent payments add ${added} KiB gzip to the template (${old["gzip -9 KiB"]} → ${ours["gzip -9 KiB"]}); mppx's server alone is ${mppx["gzip -9 KiB"]} KiB gzip, ${ratio(mppx["gzip -9 KiB"], ours["gzip -9 KiB"])}× the whole template`,
    };
  } finally {
    src.close();
    rmSync(before, { recursive: true, force: true });
  }
}

export async function agentLatency({ rounds = 60 } = {}) {
  const src = snapshot();
  const dir = join(src.dir, "templates/default");
  const { startStripeLocal } = await import(pathToFileURL(join(dir, "scripts/stripe-local.ts")).href);
  const { Challenge, Credential } = await import(pathToFileURL(join(template, "node_modules/mppx/dist/index.js")).href);
  const stripe = await startStripeLocal({ port: 0 });
  const link = stripe.recordPaymentLink({ url: "https://buy.stripe.com/test_bench_agents", currency: "usd", unit_amount: 500 });
  const secret = "sk_test_bench_agents";
  const server = await startWrangler({
    onError: () => src.close(),
    label: "template (agents)",
    config: join(dir, "wrangler.jsonc"),
    readyPath: "/me",
    vars: {
      DB_SECRET: randomBytes(32).toString("base64url"),
      STRIPE_SECRET: secret,
      STRIPE_PUBLISHABLE_KEY: "pk_test_bench_agents",
      STRIPE_WEBHOOK_SIGNING_SECRET: `whsec_${randomBytes(12).toString("hex")}`,
      STRIPE_PAYMENT_LINK: link.url,
      STRIPE_API_BASE: stripe.url,
      STRIPE_NETWORK_ID: NETWORK_ID,
      // One large top-up funds the plain side for the whole run.
      TOP_UP_AMOUNT: "1000000",
    },
  });
  const origin = server.origin;
  const json = { accept: "application/json" };
  const grant = async (challenge) => {
    const response = await fetch(`${stripe.url}/v1/test_helpers/shared_payment/granted_tokens`, {
      method: "POST",
      headers: { Authorization: `Bearer ${secret}`, "Stripe-Version": PREVIEW, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        payment_method: "pm_card_visa",
        "usage_limits[currency]": challenge.request.currency,
        "usage_limits[max_amount]": challenge.request.amount,
        "usage_limits[expires_at]": String(Math.floor(Date.now() / 1000) + 3600),
        "seller_details[network_id]": NETWORK_ID,
      }),
    });
    return (await response.json()).id;
  };
  /** One agent cycle: 402, token, paid retry. Returns the three timings and the new wallet's token. */
  const cycle = async () => {
    const started = process.hrtime.bigint();
    const refused = await request(origin, "/charge", { method: "POST", headers: json });
    if (refused.status !== 402) throw new Error(`expected 402, got ${refused.status}: ${refused.body}`);
    const challenge = Challenge.deserialize(refused.headers["www-authenticate"]);
    const spt = await grant(challenge);
    const credential = Credential.serialize({ challenge, payload: { spt } });
    const paid = await request(origin, "/charge", { method: "POST", headers: { ...json, "payment-authorization": credential } });
    if (paid.status !== 200 || !paid.headers["payment-receipt"]) throw new Error(`paid retry: ${paid.status} ${paid.body}`);
    return { challenge: refused.ms, retry: paid.ms, total: Number(process.hrtime.bigint() - started) / 1e6, token: paid.headers["x-access-token"] };
  };
  try {
    // Warm up (and fund the plain side): a first cycle gives a wallet of 1,000,000 cents.
    const { token } = await cycle();
    for (let i = 0; i < 5; i++) await request(origin, "/charge", { method: "POST", headers: { ...json, authorization: `Bearer ${token}` } });
    const samples = { plain: [], challenge: [], retry: [], total: [] };
    for (let round = 0; round < rounds; round++) {
      const plain = await request(origin, "/charge", { method: "POST", headers: { ...json, authorization: `Bearer ${token}` } });
      if (plain.status !== 200) throw new Error(`plain paid request: ${plain.status} ${plain.body}`);
      samples.plain.push(plain.ms);
      const c = await cycle();
      samples.challenge.push(c.challenge);
      samples.retry.push(c.retry);
      samples.total.push(c.total);
    }
    const plain = summary(samples.plain);
    const row = (what, stats) => ({ request: what, ...stats, "p50 vs plain paid": ratio(stats.p50, plain.p50) });
    return {
      source: { from: src.source, commit: src.commit },
      rows: [
        row("plain paid request (Bearer, funded)", plain),
        row("402 with the challenge (no token)", summary(samples.challenge)),
        row("paid retry: credential → PaymentIntent, credit, charge, receipt", summary(samples.retry)),
        row("agent's whole cycle: 402 + token grant + paid retry", summary(samples.total)),
      ],
      about: `${rounds} rounds, one of each per round, interleaved; wrangler dev (local workerd) and the template's Stripe stand-in on loopback, so Stripe's own latency (a real PaymentIntent confirmation: hundreds of ms) is not in these figures`,
    };
  } finally {
    await server.close();
    await stripe.close();
    src.close();
  }
}
