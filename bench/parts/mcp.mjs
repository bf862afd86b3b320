// The paid MCP server (templates/mcp): its bundle, and a paid tool call beside a bare MCP tool
// call on the same SDK (bench/worker-mcp serves both from one wrangler dev, interleaved).
//
//   bare   POST /bare/mcp tools/call sha256: createMcpHandler, the same tool, no OAuth, no wallet
//   paid   POST /mcp tools/call sha256 with an OAuth access token: the provider's token check
//          (KV), the tool, the charge through the grant's budget token (one Durable Object call)
import { symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { root } from "../lib/env.mjs";
import { sleep } from "../lib/env.mjs";
import { request } from "../lib/load.mjs";
import { ratio, summary } from "../lib/stats.mjs";
import { snapshot } from "../lib/snapshot.mjs";
import { startWrangler } from "../lib/wrangler.mjs";
import { dryRun } from "./size.mjs";

const mcpTemplate = join(root, "templates/mcp");

export async function mcpBundle() {
  const src = snapshot();
  try {
    const row = dryRun("MCP template (wallet, OAuth provider, MCP SDK)", join(src.dir, "templates/mcp"), join(src.dir, "templates/mcp/wrangler.jsonc"), "cd templates/mcp && npx wrangler deploy --dry-run --outdir <tmp>");
    const { command, ...rest } = row;
    return { source: { from: src.source, commit: src.commit }, rows: [rest], commands: [command] };
  } finally {
    src.close();
  }
}

/** The MCP bench Worker under wrangler dev, a funded wallet and an OAuth token for it; `run` gets them. */
async function withMcpServer(run) {
  const src = snapshot();
  symlinkSync(join(mcpTemplate, "node_modules"), join(src.dir, "bench/worker-mcp/node_modules"));
  const dir = join(src.dir, "templates/mcp");
  const { startStripeLocal } = await import(pathToFileURL(join(dir, "scripts/stripe-local.ts")).href);
  const stripe = await startStripeLocal({ port: 0 });
  const link = stripe.recordPaymentLink({ url: "https://buy.stripe.com/test_bench_mcp", currency: "usd", unit_amount: 500 });
  const webhookSecret = `whsec_${randomBytes(12).toString("hex")}`;
  const server = await startWrangler({
    onError: () => src.close(),
    label: "MCP bench worker",
    config: join(src.dir, "bench/worker-mcp/wrangler.jsonc"),
    readyPath: "/me",
    vars: {
      DB_SECRET: randomBytes(32).toString("base64url"),
      STRIPE_SECRET: "sk_test_bench_mcp",
      STRIPE_PUBLISHABLE_KEY: "pk_test_bench_mcp",
      STRIPE_WEBHOOK_SIGNING_SECRET: webhookSecret,
      STRIPE_PAYMENT_LINK: link.url,
      STRIPE_API_BASE: stripe.url,
    },
  });
  const origin = server.origin;
  try {
    const token = await authorize(origin, dir, webhookSecret, stripe);
    const call = (path, headers = {}, i = 0) =>
      request(origin, path, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18", ...headers },
        body: JSON.stringify({ jsonrpc: "2.0", id: i, method: "tools/call", params: { name: "sha256", arguments: { text: `bench ${i}` } } }),
      });
    const check = (response, what) => {
      if (response.status !== 200 || /"isError":true/.test(response.body)) throw new Error(`${what}: ${response.status} ${response.body.slice(0, 300)}`);
    };
    for (let i = 0; i < 10; i++) {
      check(await call("/bare/mcp", {}, i), "bare warm-up");
      check(await call("/mcp", { authorization: `Bearer ${token}` }, i), "paid warm-up");
    }
    return await run({ origin, pid: server.pid, token, call, check, source: { from: src.source, commit: src.commit } });
  } finally {
    await server.close();
    await stripe.close();
    src.close();
  }
}

export async function mcpLatency({ rounds = 200 } = {}) {
  return withMcpServer(async ({ token, call, check, source }) => {
    const samples = { bare: [], paid: [] };
    for (let i = 0; i < rounds; i++) {
      // Alternate which side goes first, so neither always follows the other.
      const order = i % 2 ? ["paid", "bare"] : ["bare", "paid"];
      for (const side of order) {
        const response = side === "bare" ? await call("/bare/mcp", {}, i) : await call("/mcp", { authorization: `Bearer ${token}` }, i);
        check(response, side);
        samples[side].push(response.ms);
      }
    }
    const bare = summary(samples.bare);
    const paid = summary(samples.paid);
    return {
      source,
      rows: [
        { call: "bare MCP tool call (same SDK, no auth, free)", ...bare, "p50 vs bare": 1 },
        { call: "paid MCP tool call (OAuth token, wallet charge)", ...paid, "p50 vs bare": ratio(paid.p50, bare.p50) },
      ],
      about: `${rounds} rounds, one of each per round, order alternating; wrangler dev (local workerd, KV and Durable Objects local); tools/call of sha256 over Streamable HTTP (2025-06-18, stateless)`,
    };
  });
}

/**
 * What a paid tool call bills beside a bare one, in the cost part's units (bench/parts/cost.mjs):
 * Durable Object calls, SQLite rows, KV operations (the OAuth provider's token lookups), alarms,
 * workerd CPU; the mirror's pushes after the calls are waited out and counted.
 */
export async function mcpCost({ n = 500 } = {}) {
  const { countPhase, row, workerdPids, MIRROR_WAIT_MS } = await import("./cost.mjs");
  return withMcpServer(async ({ origin, pid, token, call, check, source }) => {
    const pids = workerdPids(pid);
    const rows = [];
    // The bare paid floor's user, funded by hand (its token only names its object).
    const bareToken = `bare_${randomBytes(16).toString("hex")}`;
    const seeded = await request(origin, "/bare/seed?balance=100000000", { method: "POST", headers: { authorization: `Bearer ${bareToken}` } });
    if (seeded.status !== 200) throw new Error(`bare seed: ${seeded.status} ${seeded.body}`);
    for (const [name, path, headers, about] of [
      ["mcp-bare", "/bare/mcp", {}, "POST /bare/mcp tools/call: the same SDK and tool, no OAuth, no wallet, free"],
      ["mcp-bare-paid", "/bare-paid/mcp", { authorization: `Bearer ${bareToken}` }, "the same bare server, then a hand-written 1-cent charge (HMAC of a Bearer token names a SQLite object; balance and ledger row in one transaction)"],
      ["mcp-paid", "/mcp", { authorization: `Bearer ${token}` }, "POST /mcp tools/call with an OAuth token: token lookup, tool, charge through the grant's budget token"],
    ]) {
      await sleep(MIRROR_WAIT_MS); // the previous phase's pushes land before counting starts
      const { statuses, snapshot, cpuLoad, cpuAfter } = await countPhase({ origin, pids }, async () => {
        const tally = {};
        for (let i = 0; i < n; i++) {
          const response = await call(path, headers, i);
          check(response, name);
          tally[response.status] = (tally[response.status] ?? 0) + 1;
        }
        return tally;
      });
      rows.push(row({ name, about }, n, statuses, snapshot, cpuLoad, cpuAfter));
    }
    const [, floor, paid] = rows;
    paid["$ vs bare"] = +(paid["$ per million"] / floor["$ per million"]).toFixed(2);
    paid.vs = floor.variant;
    return { source, rows, about: `${n} sequential tools/call of sha256 each, one wallet (so its object stays warm), wrangler dev; priced as the cost part prices (KV reads at $0.5/M, writes at $5/M)` };
  });
}

/** A funded wallet and an OAuth access token for it, the way an MCP client gets one. */
async function authorize(origin, dir, webhookSecret, stripe) {
  const require = createRequire(join(dir, "package.json"));
  const Stripe = require("stripe");
  const signer = new (Stripe.default ?? Stripe)("sk_test_bench_mcp");
  const visitor = await request(origin, "/me", { headers: { accept: "application/json" } });
  const cookie = visitor.headers["set-cookie"][0].split(";")[0];
  const { client_reference_id: reference } = JSON.parse(visitor.body);
  // Funded through the webhook, as `npm run pay` does: a paid session of the wallet's link.
  const { checkoutSession, recordPayment } = await import(pathToFileURL(join(dir, "scripts/pay/stand-in.ts")).href);
  const { checkoutCompletedEvent } = await import(pathToFileURL(join(dir, "scripts/pay/events.ts")).href);
  const vars = { STRIPE_SECRET: "sk_test_bench_mcp", STRIPE_API_BASE: stripe.url, STRIPE_PAYMENT_LINK: "https://buy.stripe.com/test_bench_mcp", STRIPE_WEBHOOK_SIGNING_SECRET: webhookSecret };
  const options = { clientReferenceId: reference, amount: 1_000_000, currency: "usd", email: "bench@example.com", name: "Bench", card: "visa" };
  const payment = await recordPayment(vars, options);
  const session = checkoutSession(options, payment.paymentIntent, payment.paymentLink);
  await payment.recordSession(session);
  const event = checkoutCompletedEvent(session);
  const payload = JSON.stringify(event);
  const header = await signer.webhooks.generateTestHeaderStringAsync({ payload, secret: webhookSecret });
  await payment.close();
  const credited = await request(origin, "/stripe-webhook", { method: "POST", headers: { "content-type": "application/json", "stripe-signature": header }, body: payload });
  if (credited.status !== 200) throw new Error(`funding webhook: ${credited.status} ${credited.body}`);

  const registered = await request(origin, "/oauth/register", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ client_name: "bench", redirect_uris: ["http://127.0.0.1:9/cb"], token_endpoint_auth_method: "none", grant_types: ["authorization_code"], response_types: ["code"] }) });
  const { client_id: clientId } = JSON.parse(registered.body);
  const verifier = randomBytes(32).toString("base64url");
  const challenge = Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))).toString("base64url");
  const query = new URLSearchParams({ response_type: "code", client_id: clientId, redirect_uri: "http://127.0.0.1:9/cb", code_challenge: challenge, code_challenge_method: "S256", resource: `${origin}/mcp` });
  const allowed = await request(origin, `/authorize?${query}`, { method: "POST", headers: { cookie, "sec-fetch-site": "same-origin", "content-type": "application/x-www-form-urlencoded" }, body: "budget=100000000&days=1" });
  if (allowed.status !== 302) throw new Error(`authorize: ${allowed.status} ${allowed.body.slice(0, 300)}`);
  const code = new URL(allowed.headers.location).searchParams.get("code");
  const exchanged = await request(origin, "/oauth/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: "http://127.0.0.1:9/cb", client_id: clientId, code_verifier: verifier }).toString() });
  const token = JSON.parse(exchanged.body).access_token;
  if (!token) throw new Error(`token: ${exchanged.status} ${exchanged.body}`);
  return token;
}
