// The aggregate at scale (issue 14, item 3). One aggregate object takes every account's mirror
// pushes, so its intake is a ceiling on how fresh the admin copy can stay.
//
// 1. Measured: how many pushes a second one aggregate object absorbs here (wrangler dev, local
//    workerd), as account objects send them (an RPC each, one users row), for accounts seen for
//    the first time (insert) and for known ones (update).
// 2. Modelled: a discrete-event simulation of N busy accounts (each charged every second) and
//    one aggregate serving pushes one at a time at the measured rate, for three push policies:
//    every second (wallet 1.1.0), every 30 s (fixed batching), and the wallet's adaptive
//    interval (the real IntakeMeter and nextInterval from mirror.ts, imported, not copied).
//    The lag is the admin copy's staleness when a push lands: how long the account's oldest
//    change not yet in the aggregate had waited.
import { request } from "../lib/load.mjs";
import { cpuMs, workerdPids } from "./cost.mjs";

const mirror = await import("../../templates/default/src/stripeflare/mirror.ts");

export async function measureIntake(env, { sources = 5_000, concurrency = 32 } = {}) {
  const pids = workerdPids(env.pid);
  const rows = [];
  const run = async (label, query, n) => {
    const cpuBefore = cpuMs(pids);
    const started = performance.now();
    const res = await request(env.origin, `/__bench-intake?${query}`);
    const ms = performance.now() - started;
    if (res.status !== 200) throw new Error(`intake ${query}: ${res.status} ${res.body.slice(0, 300)}`);
    const body = JSON.parse(res.body);
    if (body.applied !== n) throw new Error(`intake ${query}: ${body.applied} of ${n} applied`);
    const cpu = cpuMs(pids) - cpuBefore;
    rows.push({ pushes: label, n, "in flight": Number(new URLSearchParams(query).get("concurrency")), "wall s": +(ms / 1000).toFixed(2), "pushes/s": Math.round((n * 1000) / ms), "workerd CPU ms per push": +(cpu / n).toFixed(3) });
    return body;
  };
  await run("warm-up (first pushes of 500 accounts)", `n=500&sources=500&round=1&concurrency=${concurrency}`, 500);
  await run(`first push of ${sources} accounts (insert)`, `n=${sources}&sources=${sources}&round=2&concurrency=${concurrency}`, sources);
  await run(`next push of the same ${sources} (update)`, `n=${sources}&sources=${sources}&round=3&concurrency=${concurrency}`, sources);
  const last = await run(`again (update)`, `n=${sources}&sources=${sources}&round=4&concurrency=${concurrency}`, sources);
  await run(`one at a time (update)`, `n=1000&sources=${sources}&round=5&concurrency=1`, 1000);
  const updates = rows.filter((r) => /update/.test(r.pushes) && r["in flight"] > 1).map((r) => r["pushes/s"]);
  return {
    about: `one aggregate object under wrangler dev; each push an RPC from the Worker with one users row (default migrations), ${concurrency} in flight; workerd runs the Worker and the object on one machine, so the rate is what the object and its caller absorb together (a lower bound of the object alone)`,
    rows,
    updatesPerSecond: Math.min(...updates),
    intervalsAsked: last.intervals,
  };
}

/** Binary min-heap of [time, account]. */
class Heap {
  items = [];
  push(item) {
    const a = this.items;
    a.push(item);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (a[p][0] <= a[i][0]) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }
  pop() {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l][0] < a[m][0]) m = l;
        if (r < a.length && a[r][0] < a[m][0]) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
  get size() {
    return this.items.length;
  }
}

const POLICIES = {
  "every 1 s (1.1.0)": { fixed: 1_000 },
  "every 30 s (fixed batching)": { fixed: mirror.MIRROR_BATCH_MS },
  "adaptive (1.2.0)": { adaptive: true },
};

/**
 * N accounts charged every second from t = 0 (first changes spread over the first second), one
 * aggregate serving pushes in arrival order at `perSecond`, `seconds` of simulated time. An
 * account's alarm fires MIRROR_DELAY_MS after its first change, then its interval after each
 * acknowledgement; its snapshot is taken when the alarm fires; a busy account always has a
 * change within a second of its last snapshot. Figures are over the last quarter of the run
 * (settled), except the first minute's queue (every account's first push at once).
 */
export function simulate({ accounts, perSecond, seconds = 600, policy }) {
  const service = 1000 / perSecond;
  const end = seconds * 1000;
  const heap = new Heap();
  const lastSnapshot = new Float64Array(accounts).fill(NaN);
  const firstChange = new Float64Array(accounts);
  for (let a = 0; a < accounts; a++) {
    firstChange[a] = (a * 1000) / accounts;
    heap.push([firstChange[a] + mirror.MIRROR_DELAY_MS, a]);
  }
  const meter = new mirror.IntakeMeter();
  let free = 0;
  const settledFrom = end * 0.75;
  const lags = [];
  const waits = [];
  let settledPushes = 0;
  let burstWait = 0;
  while (heap.size) {
    const [at, a] = heap.pop();
    if (at > end) break;
    const start = Math.max(at, free);
    const done = start + service;
    free = done;
    if (at < 60_000) burstWait = Math.max(burstWait, start - at);
    // The oldest change this push carries: the first change after the previous snapshot (a busy
    // account changes every second: on average half a second later), or the very first one.
    const oldest = Number.isNaN(lastSnapshot[a]) ? firstChange[a] : lastSnapshot[a] + 500;
    lastSnapshot[a] = at;
    let next;
    if (policy.fixed) next = done + Math.max(mirror.MIRROR_DELAY_MS, policy.fixed);
    else {
      meter.record(`account:${a}`, start);
      next = done + Math.max(mirror.MIRROR_DELAY_MS, meter.interval(start));
    }
    if (done >= settledFrom && done <= end) {
      settledPushes++;
      lags.push(done - oldest);
      waits.push(start - at);
    }
    heap.push([next, a]);
  }
  const settledSeconds = (end - settledFrom) / 1000;
  const q = (xs, p) => (xs.sort((x, y) => x - y), xs.length ? xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] : NaN);
  const s = (ms) => +(ms / 1000).toFixed(1);
  return {
    "pushes/s": Math.round(settledPushes / settledSeconds),
    "aggregate busy": `${Math.round(((settledPushes * service) / 1000 / settledSeconds) * 100)}%`,
    "lag p50 s": s(q(lags, 0.5)),
    "lag max s": s(q(lags, 1)),
    "queue wait p99 s": s(q(waits, 0.99)),
    "first minute: longest queue wait s": s(burstWait),
  };
}

export function modelLag({ perSecond, label }) {
  const rows = [];
  for (const accounts of [1_000, 10_000, 100_000]) {
    // Long enough for three of the adaptive interval's cycles after the first minute.
    const seconds = Math.max(600, Math.ceil((3 * accounts) / mirror.MIRROR_TARGET_PUSHES_PER_SECOND) + 120);
    for (const [name, policy] of Object.entries(POLICIES)) {
      rows.push({ capacity: label, accounts, policy: name, "simulated s": seconds, ...simulate({ accounts, perSecond, seconds, policy }) });
    }
  }
  return rows;
}
