// The paid request, measured in real workerd (`wrangler dev`) with real SQLite Durable
// Objects: the wallet beside a bare Worker doing the same SQL by hand, interleaved.
//
// One wrangler dev serves both (bench/worker/entry.ts), so both sides share the runtime,
// the dev proxy in front of it and the counting wrapper; only the code under test differs.
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { sleep } from "../lib/env.mjs";
import { snapshot } from "../lib/snapshot.mjs";
import { drive, keepAliveAgent, request } from "../lib/load.mjs";
import { ratio, round, summary } from "../lib/stats.mjs";
import { PAYMENT_LINK, startStripeStandIn, webhookSecret } from "../lib/stripe.mjs";
import { deliver, me, newVisitor, paymentEvent } from "../lib/wallet-client.mjs";
import { startWrangler } from "../lib/wrangler.mjs";

const FUNDS = 1_000_000; // cents per user: far more than any run spends
// > the wallet's MIRROR_DELAY_MS (1 s): a quiet account's push. Since the wallet batches busy
// accounts (MIRROR_BATCH_MS, 30 s), their next push may still land in a later slot; the worker
// and users parts have not been re-run since (the cost part waits pushes out).
const SETTLE_MS = 1500;

export const VARIANTS = {
  "bare-1rt": { path: "/bare/1rt", side: "bare", about: "bare: charge in one call (price known up front)" },
  "bare-2rt": { path: "/bare/2rt", side: "bare", about: "bare: read user, handler, charge by X-Price" },
  "wallet-declared": { path: "/declared", side: "wallet", about: "withStripeflare, price declared (prices option)" },
  "wallet-xprice": { path: "/xprice", side: "wallet", about: "withStripeflare, X-Price after the handler" },
  "wallet-ctxcharge": { path: "/ctxcharge", side: "wallet", about: "withStripeflare, ctx.charge(1) in the handler" },
  // Diagnostic (users part only): the declared-price request with the mirror's scheduling
  // paused for the slot (bench/worker/count.ts benchFlags), to see what the mirror costs here.
  "wallet-declared-nomirror": { path: "/declared", side: "wallet", pauseMirror: true, about: "as wallet-declared, mirror scheduling paused (diagnostic)" },
  // Not a paid request: the session read alone (no write, so no mirror), for comparison.
  "wallet-me": { path: "/me", side: "wallet", unpaid: true, about: "withStripeflare, GET /me (read only, nothing charged)" },
};

/** Start the bench Worker (with the wallet when it exists) and fund `users` visitors on both sides. */
export async function setup({ users = 100 } = {}) {
  const src = snapshot();
  const hasWallet = existsSync(join(src.dir, "templates/default/src/stripeflare/index.ts"));
  const stripe = await startStripeStandIn();
  const dbSecret = randomBytes(32).toString("base64url");
  const server = await startWrangler({
    onError: () => src.close(),
    label: "bench worker",
    config: join(src.dir, "bench", hasWallet ? "worker/wrangler.jsonc" : "worker/wrangler.bare.jsonc"),
    vars: {
      DB_SECRET: dbSecret,
      STRIPE_SECRET: "sk_test_bench",
      STRIPE_PUBLISHABLE_KEY: "pk_test_bench",
      STRIPE_WEBHOOK_SIGNING_SECRET: webhookSecret,
      STRIPE_PAYMENT_LINK: PAYMENT_LINK.url,
      STRIPE_API_BASE: stripe.base,
      // Agent payments (MPP) for the /agent route of the cost part; the other routes leave them off.
      STRIPE_NETWORK_ID: "profile_bench",
      TOP_UP_AMOUNT: "500",
      CURRENCY: "usd",
    },
  });
  const origin = server.origin;
  const people = [];
  const webhook = { newAccount: [], topUp: [], duplicate: [] };
  try {
    for (let index = 0; index < users; index++) {
      let user;
      if (hasWallet) {
        const visitor = await newVisitor(origin);
        user = { index, ...visitor };
        // First payment: creates the account (and, by design, looks up the card).
        const first = paymentEvent(user, FUNDS / 2, stripe);
        webhook.newAccount.push(await deliver(origin, first));
        // The same event again: must credit nothing (timed as the duplicate path).
        webhook.duplicate.push(await deliver(origin, first));
        const after = await me(origin, user.token);
        user.clientReferenceId = after.client_reference_id;
        // A second payment to an existing account.
        webhook.topUp.push(await deliver(origin, paymentEvent(user, FUNDS / 2, stripe)));
        const funded = await me(origin, user.token);
        if (funded.balance !== FUNDS) throw new Error(`user ${index}: balance ${funded.balance} after funding, expected ${FUNDS}`);
      } else {
        user = { index, token: `${randomBytes(16).toString("base64url")}.${randomBytes(32).toString("base64url")}` };
      }
      const seeded = await request(origin, `/bare/seed?balance=${FUNDS}`, { method: "POST", headers: { authorization: `Bearer ${user.token}` } });
      if (seeded.status !== 200) throw new Error(`bare seed: ${seeded.status} ${seeded.body}`);
      people.push(user);
    }
  } catch (error) {
    await server.close();
    await stripe.close();
    src.close();
    throw Object.assign(error, { serverOutput: server.output() });
  }
  const variants = Object.fromEntries(Object.entries(VARIANTS).filter(([, v]) => hasWallet || v.side === "bare"));
  // Durable Object calls made while funding: 3 webhook deliveries and 2 GET /me per user,
  // plus one bare seed (the "idle" phase, before any load).
  const fundingCalls = JSON.parse((await request(origin, "/__bench/counts")).body).counts;
  return {
    origin,
    source: { from: src.source, commit: src.commit },
    dbSecret,
    hasWallet,
    users: people,
    variants,
    charges: { bare: new Array(users).fill(0), wallet: new Array(users).fill(0) },
    webhook: hasWallet
      ? {
          note: "POST /stripe-webhook end to end through wrangler dev (signature check, Durable Object writes, Stripe stand-in reads), sequential, ms",
          "first payment (creates the account)": summary(webhook.newAccount),
          "same event delivered again (no credit)": summary(webhook.duplicate),
          "second payment (existing account)": summary(webhook.topUp),
          doCallsWhileFunding: fundingCalls,
          stripeApiCallsWhileFunding: stripe.calls.length,
          webhooksDelivered: 3 * users,
        }
      : null,
    stripeCalls: stripe.calls,
    // For the cost part: more payments at the stand-in, and wrangler's process group (workerd's CPU).
    stripe,
    pid: server.pid,
    async close() {
      await server.close();
      await stripe.close();
      src.close();
    },
    output: server.output,
  };
}

/** One timed run of a variant: n requests, `concurrency` in flight, over the first `userCount` users. */
async function runVariant(env, name, { n, concurrency, userCount, agent }) {
  const v = env.variants[name];
  if (v.pauseMirror) await request(env.origin, "/__bench/mirror?paused=1", { method: "POST" });
  try {
    return await driveVariant(env, v, { n, concurrency, userCount, agent });
  } finally {
    if (v.pauseMirror) await request(env.origin, "/__bench/mirror?paused=0", { method: "POST" });
  }
}

async function driveVariant(env, v, { n, concurrency, userCount, agent }) {
  const calls = {};
  const result = await drive({
    origin: env.origin,
    n,
    concurrency,
    agent,
    make: (i) => ({ path: v.path, headers: { authorization: `Bearer ${env.users[i % userCount].token}` } }),
    inspect: (res, i) => {
      if (res.status === 200 && !v.unpaid) env.charges[v.side][i % userCount]++;
      const key = `${res.headers["x-bench-do-calls"]} [${res.headers["x-bench-do-detail"]}]`;
      calls[key] = (calls[key] ?? 0) + 1;
      return res.status === 200 ? undefined : `${res.status} ${res.body.slice(0, 80)}`;
    },
  });
  return { ...result, calls };
}

/** Interleaved rounds (order rotated each round) of every variant; samples pooled per variant. */
async function interleaved(env, names, { rounds, n, concurrency, userCount, warmup = 50 }) {
  const agents = Object.fromEntries(names.map((name) => [name, keepAliveAgent(concurrency)]));
  const pooled = Object.fromEntries(names.map((name) => [name, { latencies: [], rps: [], statuses: {}, warmupStatuses: {}, calls: {}, errors: {} }]));
  for (const name of names) {
    const out = await runVariant(env, name, { n: warmup, concurrency, userCount, agent: agents[name] });
    for (const [k, c] of Object.entries(out.statuses)) pooled[name].warmupStatuses[k] = (pooled[name].warmupStatuses[k] ?? 0) + c;
    for (const [k, c] of Object.entries(out.tallies)) pooled[name].errors[k] = (pooled[name].errors[k] ?? 0) + c;
  }
  for (let r = 0; r < rounds; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]);
    for (const name of order) {
      const out = await runVariant(env, name, { n, concurrency, userCount, agent: agents[name] });
      // A wallet write schedules its mirror push 1 s later (a Durable Object alarm). Locally
      // every object shares one workerd, so let that deferred work finish here rather than
      // inside the next variant's timed slot (which could be the bare Worker's).
      if (env.variants[name].side === "wallet" && !env.variants[name].unpaid) await sleep(SETTLE_MS);
      const p = pooled[name];
      p.latencies.push(...out.latencies);
      p.rps.push(out.rps);
      for (const [k, c] of Object.entries(out.statuses)) p.statuses[k] = (p.statuses[k] ?? 0) + c;
      for (const [k, c] of Object.entries(out.calls)) p.calls[k] = (p.calls[k] ?? 0) + c;
      for (const [k, c] of Object.entries(out.tallies)) p.errors[k] = (p.errors[k] ?? 0) + c;
    }
  }
  for (const agent of Object.values(agents)) agent.destroy();
  return Object.fromEntries(
    names.map((name) => {
      const p = pooled[name];
      const rps = [...p.rps].sort((a, b) => a - b);
      return [name, { ...summary(p.latencies), rps: round(rps[Math.floor(rps.length / 2)], 0), rpsPerRound: p.rps.map((x) => round(x, 0)), statuses: p.statuses, warmupStatuses: p.warmupStatuses, doCalls: p.calls, errors: p.errors }];
    }),
  );
}

/**
 * Sequential latency, interleaved request by request: A, B, C, ..., then the next user, with
 * the order rotated each cycle. Every variant keeps its own keep-alive connection. Noise from
 * the shared machine (and the wallet's deferred mirror work) lands on all variants alike.
 */
async function interleavedSequential(env, names, { n, userCount, warmup = 30 }) {
  const agents = Object.fromEntries(names.map((name) => [name, keepAliveAgent(1)]));
  const out = Object.fromEntries(names.map((name) => [name, { latencies: [], statuses: {}, calls: {}, errors: {} }]));
  for (let k = -warmup; k < n; k++) {
    const user = env.users[((k % userCount) + userCount) % userCount];
    const cycle = ((k % names.length) + names.length) % names.length;
    for (let j = 0; j < names.length; j++) {
      const name = names[(j + cycle) % names.length];
      const v = env.variants[name];
      const res = await request(env.origin, v.path, { headers: { authorization: `Bearer ${user.token}` }, agent: agents[name] });
      if (res.status === 200 && !v.unpaid) env.charges[v.side][user.index]++;
      if (k < 0) continue;
      const o = out[name];
      o.latencies.push(res.ms);
      o.statuses[res.status] = (o.statuses[res.status] ?? 0) + 1;
      const key = `${res.headers["x-bench-do-calls"]} [${res.headers["x-bench-do-detail"]}]`;
      o.calls[key] = (o.calls[key] ?? 0) + 1;
      if (res.status !== 200) o.errors[`${res.status} ${res.body.slice(0, 80)}`] = (o.errors[`${res.status} ${res.body.slice(0, 80)}`] ?? 0) + 1;
    }
  }
  for (const agent of Object.values(agents)) agent.destroy();
  return Object.fromEntries(
    names.map((name) => {
      const o = out[name];
      const s = summary(o.latencies);
      // One request in flight: requests per second is the inverse of the mean latency.
      return [name, { ...s, rps: round(1000 / s.mean, 0), statuses: o.statuses, doCalls: o.calls, errors: o.errors }];
    }),
  );
}

function rowsFor(results, baseFor) {
  return Object.entries(results).map(([name, s]) => {
    const base = results[baseFor(name)];
    return {
      variant: name,
      requests: s.n,
      "p50 ms": s.p50,
      "p99 ms": s.p99,
      "req/s": s.rps,
      "DO calls/request": Object.keys(s.doCalls).join("; "),
      "p50 vs bare": base ? ratio(s.p50, base.p50) : "",
      "req/s vs bare": base ? ratio(s.rps, base.rps) : "",
      "non-200": Object.entries(s.statuses).filter(([k]) => k !== "200").map(([k, c]) => `${k}×${c}`).join(" "),
    };
  });
}

// The bare Worker a wallet variant is compared against: the one with the same number of
// round trips it should need (goal: 1 when the price is declared, 2 otherwise).
// (GET /me, one read-only round trip, is set beside bare-1rt.)
const pairedBare = (name) =>
  ["wallet-declared", "wallet-declared-nomirror", "wallet-me", "bare-2rt"].includes(name) ? "bare-1rt" : name.startsWith("wallet") ? "bare-2rt" : "bare-1rt";

export async function paidRequest(env, { rounds = 8, n = 250, throughputN = 400, concurrency = 16 } = {}) {
  const names = Object.keys(env.variants).filter((name) => !env.variants[name].unpaid && !env.variants[name].pauseMirror);
  const userCount = Math.min(10, env.users.length);
  // The read-only session (GET /me) rides along in the latency run as a reference point.
  const latencyNames = env.variants["wallet-me"] ? [...names, "wallet-me"] : names;
  const latency = await interleavedSequential(env, latencyNames, { n: rounds * n, userCount });
  const throughput = await interleaved(env, names, { rounds, n: throughputN, concurrency, userCount: env.users.length });
  return {
    latency: {
      about: `sequential (1 in flight), interleaved request by request (A, B, C, ...), ${rounds * n} requests per variant, users round-robin over ${userCount}; req/s = 1000 / mean latency`,
      rows: rowsFor(latency, pairedBare),
      rowsVsFloor: rowsFor(latency, () => "bare-1rt").map(({ variant, "p50 vs bare": p50, "req/s vs bare": rps }) => ({ variant, "p50 vs bare-1rt": p50, "req/s vs bare-1rt": rps })),
      raw: latency,
    },
    throughput: {
      about: `${concurrency} in flight, ${rounds} interleaved rounds (order rotated) × ${throughputN} requests per variant, ${env.users.length} users, ${SETTLE_MS} ms pause after each wallet slot`,
      rows: rowsFor(throughput, pairedBare),
      raw: throughput,
    },
  };
}

async function control(env, path) {
  const res = await request(env.origin, path, { method: path.includes("counts") ? "GET" : "POST" });
  return JSON.parse(res.body);
}

/** Sum counters "phase|side|kind|method" into { "side:kind": n } for one phase. */
function byPhase(counts, phase) {
  const out = {};
  for (const [key, n] of Object.entries(counts)) {
    const [p, side, kind] = key.split("|");
    if (p === phase) out[`${side}:${kind}`] = (out[`${side}:${kind}`] ?? 0) + n;
  }
  return out;
}

export async function usersInParallel(env, { userCounts = [1, 10, 100], rounds = 2, n = 1500, concurrency = 16 } = {}) {
  const names = Object.keys(env.variants).filter((v) => ["bare-1rt", "bare-2rt", "wallet-declared", "wallet-declared-nomirror", "wallet-xprice", "wallet-me"].includes(v));
  await control(env, "/__bench/reset?phase=load");
  const perUsers = {};
  for (const userCount of userCounts) {
    await control(env, `/__bench/phase?name=load-${userCount}`);
    perUsers[userCount] = await interleaved(env, names, { rounds, n, concurrency, userCount: Math.min(userCount, env.users.length), warmup: 20 });
  }
  // Load over: from now on, calls to the aggregate are the mirror catching up. A write made
  // while the mirror was paused (diagnostic variant) is only scheduled by the account's next
  // write, so every user gets one more paid request first (counted like any other).
  await control(env, "/__bench/phase?name=after");
  for (const user of env.users) {
    const res = await request(env.origin, env.variants["wallet-declared"]?.path ?? "/bare/1rt", { headers: { authorization: `Bearer ${user.token}` } });
    if (res.status === 200) env.charges[env.variants["wallet-declared"] ? "wallet" : "bare"][user.index]++;
  }
  const loadEnded = Date.now();
  let last = -1;
  let stableSince = Date.now();
  let after = {};
  while (Date.now() - loadEnded < 60_000) {
    after = byPhase((await control(env, "/__bench/counts")).counts, "after");
    const total = Object.values(after).reduce((a, b) => a + b, 0);
    if (total !== last) {
      last = total;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 4000) break;
    await sleep(250);
  }
  const counts = (await control(env, "/__bench/counts")).counts;
  const during = Object.fromEntries(userCounts.map((u) => [`${u} users`, byPhase(counts, `load-${u}`)]));
  const converged = env.hasWallet ? await aggregateMatches(env) : null;
  const rows = [];
  for (const name of names) {
    for (const userCount of userCounts) {
      const s = perUsers[userCount][name];
      const one = perUsers[userCounts[0]][name];
      const base = perUsers[userCount][pairedBare(name)];
      rows.push({
        variant: name,
        users: userCount,
        "req/s": s.rps,
        [`req/s vs ${userCounts[0]} user`]: ratio(s.rps, one.rps),
        "p50 ms": s.p50,
        "p99 ms": s.p99,
        "req/s vs bare": ratio(s.rps, base.rps),
        "non-200": Object.entries(s.statuses).filter(([k]) => k !== "200").map(([k, c]) => `${k}×${c}`).join(" "),
      });
    }
  }
  return {
    about: `${concurrency} in flight, ${rounds} interleaved rounds × ${n} requests per variant and user count`,
    rows,
    aggregate: {
      note:
        "Durable Object calls counted by the bench wrapper. worker:* = made by the Worker while serving requests; object:* = made by Durable Objects (the mirror). 'load' = while the load ran; 'after' = one more paid request per user, then until no new calls for 4 s.",
      duringLoad: during,
      afterLoad: byPhase(counts, "after"),
      mirrorSettledMsAfterLoad: stableSince - loadEnded,
      aggregateEqualsUserDatabases: converged,
    },
    raw: perUsers,
  };
}

/** After the mirror settled: the aggregate's balance of every user equals the user's own database (GET /me). */
async function aggregateMatches(env) {
  const res = await request(env.origin, "/db/aggregate", {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`admin:${env.dbSecret}`).toString("base64")}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "query", statement: "SELECT access_token, balance FROM users" }),
  });
  const rows = JSON.parse(res.body).result?.rows;
  if (!rows) return { ok: false, error: `/db/aggregate: ${res.status} ${res.body.slice(0, 200)}` };
  const mirrored = new Map(rows.map((r) => [r.access_token, r.balance]));
  const mismatches = [];
  for (const user of env.users) {
    const own = (await me(env.origin, user.token)).balance;
    const copy = mirrored.get(user.token.split(".")[0]);
    if (copy !== own) mismatches.push(`user ${user.index}: aggregate ${copy}, own ${own}`);
  }
  return { ok: mismatches.length === 0, users: env.users.length, aggregateRows: rows.length, mismatches: mismatches.slice(0, 10) };
}

/** Every successful charge must show in the balance: measured requests were real charges. */
export async function verifyBalances(env) {
  const problems = [];
  for (const user of env.users) {
    const bare = JSON.parse((await request(env.origin, "/bare/me", { headers: { authorization: `Bearer ${user.token}` } })).body).balance;
    if (bare !== FUNDS - env.charges.bare[user.index]) problems.push(`bare user ${user.index}: ${bare} != ${FUNDS} - ${env.charges.bare[user.index]}`);
    if (env.hasWallet) {
      const wallet = (await me(env.origin, user.token)).balance;
      if (wallet !== FUNDS - env.charges.wallet[user.index]) problems.push(`wallet user ${user.index}: ${wallet} != ${FUNDS} - ${env.charges.wallet[user.index]}`);
    }
  }
  const total = (side) => env.charges[side].reduce((a, b) => a + b, 0);
  return { ok: problems.length === 0, chargesCounted: { bare: total("bare"), wallet: total("wallet") }, problems: problems.slice(0, 20) };
}
