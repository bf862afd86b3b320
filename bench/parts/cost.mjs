// What a request costs on Cloudflare's bill, in the units Cloudflare bills (issue 14): for each
// variant, per request, the Durable Object calls, SQLite statements, rows read and rows written
// (from the SQL API's own cursor counters: exact, not timed), alarms set, and workerd's CPU
// (from /proc; local workerd runs the Worker and every object, so it is an upper bound of the
// Worker CPU billed). The mirror's share (the alarm that pushes rows to the aggregate, after the
// requests) is counted in its own phase.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { template } from "../lib/env.mjs";
import { execFileSync } from "node:child_process";
import { sleep } from "../lib/env.mjs";
import { drive, keepAliveAgent, request } from "../lib/load.mjs";
import { deliver, paymentEvent } from "../lib/wallet-client.mjs";

/**
 * Cloudflare's published prices (Workers Paid, "Standard" usage model; Durable Objects with
 * SQLite storage), beyond the monthly included amounts, in USD. As published on
 * developers.cloudflare.com/workers/platform/pricing and /durable-objects/platform/pricing;
 * not re-read for this run (no network here): check them before quoting a figure.
 */
export const PRICES = {
  asOf: "Cloudflare's published list prices as of 2025 (not re-checked offline on 2026-12-05)",
  workerRequest: 0.3 / 1e6,
  workerCpuMs: 0.02 / 1e6,
  doRequest: 0.15 / 1e6,
  doGbSecond: 12.5 / 1e6,
  rowRead: 0.001 / 1e6,
  rowWritten: 1.0 / 1e6,
  kvRead: 0.5 / 1e6,
  kvWrite: 5.0 / 1e6, // writes, deletes and lists
};
/**
 * Alarms, as assumed here (not re-read offline): each run of an alarm handler is billed as a
 * Durable Object request, and each setAlarm() as one row written (the conservative reading).
 */
const ALARM_SET_ROWS = 1;
/** A Durable Object is billed 128 MB while active; a call is assumed to keep it active 1 ms (no local counter). */
const DO_GB = 0.128;
const DO_ACTIVE_SECONDS_PER_CALL = 0.001;

const CLK_TCK = 100;
/** Longer than the wallet's MIRROR_BATCH_MS (30 s), so every push of a variant is counted with it. */
export const MIRROR_WAIT_MS = 32_000;
export function workerdPids(pid) {
  const out = execFileSync("ps", ["-o", "pid=,comm=", "-g", String(pid)], { encoding: "utf8" });
  return out.split("\n").map((l) => l.trim().split(/\s+/)).filter(([, comm]) => comm === "workerd").map(([p]) => Number(p));
}
export function cpuMs(pids) {
  let ticks = 0;
  for (const p of pids) {
    const fields = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ");
    ticks += Number(fields[11]) + Number(fields[12]); // utime + stime
  }
  return (ticks * 1000) / CLK_TCK;
}

/**
 * One counted phase: counters reset, `work()` (which returns the status tally), then the mirror's
 * pushes it caused, waited out (the first 1 s after a write, a busy account's next one
 * MIRROR_BATCH_MS after its last) so none lands in the next phase. workerd's CPU is split into
 * the work's share and the wait's (the mirror's).
 */
export async function countPhase({ origin, pids }, work) {
  await request(origin, "/__bench/reset?phase=load", { method: "POST" });
  const before = cpuMs(pids);
  const statuses = await work();
  const cpuLoad = cpuMs(pids) - before;
  await request(origin, "/__bench/phase?name=after", { method: "POST" });
  await sleep(MIRROR_WAIT_MS);
  const cpuAfter = cpuMs(pids) - before - cpuLoad;
  const snapshot = JSON.parse((await request(origin, "/__bench/counts?queries")).body);
  return { statuses, snapshot, cpuLoad, cpuAfter };
}

/**
 * The request path and the mirror, over both phases (an alarm may fire while requests still
 * run): the request path is the Worker's Durable Object calls and the work in the user's own
 * database and the payment index; the mirror is the objects' calls to the aggregate and the
 * work in the aggregate. (The outbox version a charge bumps in the user's database is counted
 * with the request: it is written in the charge's transaction.)
 */
function split(snapshot) {
  const zero = () => ({ doCalls: 0, statements: 0, rowsRead: 0, rowsWritten: 0, alarmsSet: 0, alarmsRun: 0 });
  const path = zero();
  const mirror = zero();
  for (const [key, n] of Object.entries(snapshot.counts)) {
    const [, side] = key.split("|");
    (side === "object" ? mirror : path).doCalls += n;
  }
  for (const [key, c] of Object.entries(snapshot.storage)) {
    const kind = key.split("|")[2];
    const into = kind === "aggregate" ? mirror : path;
    for (const k of ["statements", "rowsRead", "rowsWritten", "alarmsSet"]) into[k] += c[k];
    mirror.alarmsRun += c.alarmsRun ?? 0; // an alarm runs only to push the mirror
  }
  return { path, mirror };
}

/** Open-loop pacing: request i is sent at i / perSecond seconds, whatever the earlier ones took. */
async function paced({ origin, n, perSecond, make, inspect, agent }) {
  const statuses = {};
  const started = performance.now();
  const inFlight = [];
  for (let i = 0; i < n; i++) {
    const wait = started + (i * 1000) / perSecond - performance.now();
    if (wait > 0) await sleep(wait);
    const spec = make(i);
    inFlight.push(
      request(origin, spec.path, { ...spec, agent }).then((res) => {
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        inspect(res, i);
      }),
    );
  }
  await Promise.all(inFlight);
  return statuses;
}

export async function costReport(env, { n = 600, concurrency = 4, sustained = { users: 20, seconds: 120 } } = {}) {
  const pids = workerdPids(env.pid);
  const users = env.users;
  const plans = [
    ...Object.entries(env.variants)
      .filter(([name]) => name !== "wallet-declared-nomirror")
      .map(([name, v]) => ({ name, about: v.about, make: (i) => ({ path: v.path, headers: { authorization: `Bearer ${users[i % users.length].token}` } }) })),
    { name: "wallet-statement", about: "withStripeflare, GET /me/transactions (a statement page, read only)", make: (i) => ({ path: "/me/transactions?limit=25", headers: { authorization: `Bearer ${users[i % users.length].token}`, accept: "application/json" } }) },
  ];
  const rows = [];
  const writes = {};
  const queries = {};
  /** Counts `work` as the variant `plan` of `n` requests, and keeps its row and its statements. */
  const counted = async (plan, n, work) => {
    const { statuses, snapshot, cpuLoad, cpuAfter } = await countPhase({ origin: env.origin, pids }, work);
    writes[plan.name] = writers(snapshot, n);
    queries[plan.name] = statements(snapshot, n);
    rows.push(row(plan, n, statuses, snapshot, cpuLoad, cpuAfter));
  };
  /** One closed-loop variant: every user warmed once and the mirror settled, then n requests. */
  const measure = async (plan, inspect) => {
    const agent = keepAliveAgent(concurrency);
    // First-touch work in an isolate is not per-request cost.
    await drive({ origin: env.origin, n: users.length, concurrency, make: plan.make, agent, inspect });
    await sleep(MIRROR_WAIT_MS);
    await counted(plan, n, async () => (await drive({ origin: env.origin, n, concurrency, make: plan.make, agent, inspect })).statuses);
    agent.destroy();
  };
  // A budget token (POST /me/tokens): the declared price again, spent through each user's agent
  // token with a cap, so the budget's own bookkeeping is what differs.
  {
    const budgets = [];
    for (const user of users) {
      const res = await request(env.origin, "/me/tokens", {
        method: "POST",
        headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
        body: JSON.stringify({ cap: 1_000_000, expires_in: 86_400, label: "bench" }),
      });
      if (res.status !== 201) throw new Error(`POST /me/tokens: ${res.status} ${res.body}`);
      budgets.push(JSON.parse(res.body).access_token);
    }
    const plan = { name: "wallet-declared-budget", about: "withStripeflare, declared price, spent with a budget token (cap and expiry) instead of the wallet's own token", make: (i) => ({ path: env.variants["wallet-declared"].path, headers: { authorization: `Bearer ${budgets[i % budgets.length]}` } }) };
    await measure(plan, (res, i) => {
      if (res.status === 200) env.charges.wallet[i % users.length]++;
    });
  }
  // An agent that comes without a token and pays by itself (MPP): the 402 with its challenge,
  // then the retry with a Shared Payment Token credential (PaymentIntent, payment index, credit,
  // charge, receipt). Two Worker requests per cycle; each agent is a new wallet.
  {
    const { Challenge, Credential } = await import(pathToFileURL(join(template, "node_modules/mppx/dist/index.js")).href);
    const agents = Math.min(100, Math.max(20, Math.floor(n / 10)));
    const plan = { name: "agent-topup-cycle", about: "an agent without a token: GET /agent → 402 with an MPP challenge, then the retry with a credential (Stripe PaymentIntent from a Shared Payment Token, payment index claim, credit of TOP_UP_AMOUNT 500, the 1-cent charge, Payment-Receipt); per cycle of two Worker requests", workerRequests: 2 };
    await counted(plan, agents, async () => {
      const statuses = {};
      for (let i = 0; i < agents; i++) {
        const refused = await request(env.origin, "/agent", { headers: { accept: "application/json" } });
        if (refused.status !== 402 || !refused.headers["www-authenticate"]) throw new Error(`/agent without a token: ${refused.status} ${refused.body}`);
        const challenge = Challenge.deserialize(refused.headers["www-authenticate"]);
        const credential = Credential.serialize({ challenge, payload: { spt: `spt_bench_${i}_${Date.now()}` } });
        const paid = await request(env.origin, "/agent", { headers: { accept: "application/json", "payment-authorization": credential } });
        if (paid.status !== 200 || !paid.headers["payment-receipt"]) throw new Error(`/agent with a credential: ${paid.status} ${paid.body}`);
        statuses[paid.status] = (statuses[paid.status] ?? 0) + 1;
      }
      return statuses;
    });
  }
  for (const plan of plans) {
    const paid = !env.variants[plan.name]?.unpaid && plan.name !== "wallet-statement";
    const side = plan.name.startsWith("bare") ? "bare" : "wallet";
    // Charges are counted as the worker part counts them, so the final balance check holds.
    await measure(plan, (res, i) => {
      if (res.status === 200 && paid) env.charges[side][i % users.length]++;
    });
  }
  // Sustained load: each of `sustained.users` accounts charged once a second for
  // `sustained.seconds`, the shape the mirror batches (a busy account pushes every
  // MIRROR_BATCH_MS instead of every second); beside the bare Worker under the same pacing.
  for (const base of ["bare-1rt", "wallet-declared"]) {
    const v = env.variants[base];
    const side = base.startsWith("bare") ? "bare" : "wallet";
    const pool = users.slice(0, sustained.users);
    const agent = keepAliveAgent(sustained.users);
    const total = sustained.users * sustained.seconds;
    const plan = { name: `${base}-sustained`, about: `${v.about}; ${sustained.users} accounts, each charged once a second for ${sustained.seconds} s` };
    await counted(plan, total, () =>
      paced({
        origin: env.origin,
        n: total,
        perSecond: sustained.users,
        agent,
        make: (i) => ({ path: v.path, headers: { authorization: `Bearer ${pool[i % pool.length].token}` } }),
        inspect: (res, i) => {
          if (res.status === 200) env.charges[side][i % pool.length]++;
        },
      }),
    );
    agent.destroy();
  }
  // A webhook credit: a second payment for existing users.
  const credits = Math.min(100, users.length);
  const credit = { name: "webhook-credit", about: "POST /stripe-webhook, a paid checkout session of an existing account (signature, payment index, credit, one Stripe read)" };
  await counted(credit, credits, async () => {
    for (let i = 0; i < credits; i++) {
      await deliver(env.origin, paymentEvent(users[i], 100, env.stripe));
      env.charges.wallet[i] -= 100; // a credit, for the final balance check
    }
    return { 200: credits };
  });
  // Run in the order that fails fastest (the new variants first); shown in reading order.
  const order = ["bare-1rt", "bare-2rt", "wallet-declared", "wallet-xprice", "wallet-ctxcharge", "wallet-me", "wallet-statement", "bare-1rt-sustained", "wallet-declared-sustained", "wallet-declared-budget", "agent-topup-cycle", "webhook-credit"];
  rows.sort((x, y) => order.indexOf(x.variant) - order.indexOf(y.variant));
  for (const r of rows) if (r.variant.startsWith("wallet") || r.variant === "webhook-credit") Object.assign(r, ratioTo(r, rows.find((b) => b.variant === bareFor(r.variant))));
  return {
    writes,
    queries,
    prices: PRICES,
    assumptions: `Durable Object duration: ${DO_GB} GB × ${DO_ACTIVE_SECONDS_PER_CALL * 1000} ms per call (no local counter); an alarm run priced as a Durable Object request and a setAlarm() as ${ALARM_SET_ROWS} row written; Worker CPU: all of local workerd's CPU (Worker + objects + the dev proxy's share in workerd), an upper bound; miniflare's own write of an object's name at start-up (local only) not counted`,
    rows,
  };
}

/** The bare variant a wallet variant is compared with: same round trips, same pacing. */
function bareFor(variant) {
  if (variant === "wallet-declared-sustained") return "bare-1rt-sustained";
  return ["wallet-declared", "wallet-declared-budget", "wallet-me", "wallet-statement"].includes(variant) ? "bare-1rt" : "bare-2rt";
}

/** Where one variant's written rows go: statements that wrote, per request, most first. */
function writers(snapshot, n) {
  return statements(snapshot, n).filter((q) => q["rows written per request"] > 0);
}

/** Every statement of a variant, per request: how often, rows read, rows written. */
function statements(snapshot, n) {
  return Object.entries(snapshot.queries ?? {})
    .map(([key, q]) => {
      const [phase, side, ...text] = key.split("|");
      return { phase, side, statement: text.join("|"), "per request": +(q.count / n).toFixed(3), "rows read per request": +(q.rowsRead / n).toFixed(3), "rows written per request": +(q.rowsWritten / n).toFixed(3) };
    })
    .sort((a, b) => b["rows written per request"] - a["rows written per request"] || b["rows read per request"] - a["rows read per request"]);
}

export function row(plan, n, statuses, snapshot, cpuLoad, cpuAfter) {
  const { path: load, mirror: after } = split(snapshot);
  const kv = { reads: 0, writes: 0 };
  for (const [key, count] of Object.entries(snapshot.kv ?? {})) kv[/\|get/.test(key) ? "reads" : "writes"] += count;
  const per = (x) => +(x / n).toFixed(3);
  const r = {
    variant: plan.name,
    requests: n,
    ok: statuses[200] ?? 0,
    "DO calls": per(load.doCalls),
    statements: per(load.statements),
    "rows read": per(load.rowsRead),
    "rows written": per(load.rowsWritten),
    "alarms set": per(load.alarmsSet),
    "KV reads": per(kv.reads),
    "KV writes": per(kv.writes),
    "CPU ms": per(cpuLoad),
    "mirror: statements": per(after.statements),
    "mirror: alarms run": per(after.alarmsRun),
    "mirror: DO calls": per(after.doCalls),
    "mirror: rows written": per(after.rowsWritten),
    "mirror: CPU ms": per(cpuAfter),
  };
  const perCall = PRICES.doRequest + PRICES.doGbSecond * DO_GB * DO_ACTIVE_SECONDS_PER_CALL;
  // The path's alarms are set by requests; the runs they cause are the mirror's.
  const pathDollars =
    PRICES.workerRequest * (plan.workerRequests ?? 1) +
    PRICES.workerCpuMs * r["CPU ms"] +
    perCall * r["DO calls"] +
    PRICES.rowRead * r["rows read"] +
    PRICES.rowWritten * (r["rows written"] + ALARM_SET_ROWS * r["alarms set"]) +
    PRICES.kvRead * r["KV reads"] +
    PRICES.kvWrite * r["KV writes"];
  const mirrorDollars =
    PRICES.workerCpuMs * r["mirror: CPU ms"] +
    perCall * (r["mirror: DO calls"] + r["mirror: alarms run"]) +
    PRICES.rowRead * per(after.rowsRead) +
    PRICES.rowWritten * r["mirror: rows written"];
  r["$ per million"] = +((pathDollars + mirrorDollars) * 1e6).toFixed(3);
  r["of which mirror $"] = +(mirrorDollars * 1e6).toFixed(3);
  return r;
}

function ratioTo(r, bare) {
  if (!bare) return {};
  return { "$ vs bare": +(r["$ per million"] / bare["$ per million"]).toFixed(2), "vs": bare.variant };
}
