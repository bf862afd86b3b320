#!/usr/bin/env node
// One entry point for every benchmark of create-stripeflare (see ../BENCHMARKS.md).
//
//   node bench/run.mjs [part ...] [--quick]
//   parts: worker (paid request vs bare), users (1/10/100 users, aggregate off the path),
//          crypto (identity + webhook crypto CPU), bundle (Worker gzip size),
//          pack (CLI packed/installed size), scaffold (--no-install scaffold time); default: all
//
// Each part prints a table and writes bench/results/<part>.json with the machine, the date
// and the exact command. These are benchmarks, not tests: they compare ratios measured side
// by side in one run and never pass or fail on a timing.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { machine, resultsDir } from "./lib/env.mjs";
import { table } from "./lib/table.mjs";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const ALL = ["crypto", "bundle", "pack", "scaffold", "worker", "users"];
const parts = argv.filter((a) => !a.startsWith("--"));
for (const p of parts) if (!ALL.includes(p)) fail(`unknown part "${p}"; parts: ${ALL.join(", ")}`);
const selected = parts.length ? ALL.filter((p) => parts.includes(p)) : ALL;

const [major, minor] = process.versions.node.split(".").map(Number);
if ((major < 22 || (major === 22 && minor < 12)) && selected.some((p) => ["worker", "users", "bundle"].includes(p))) {
  fail(`Node ${process.versions.node}: wrangler needs Node 22.12+. Run: PATH=$PWD/node_modules/.bin:$PATH node bench/run.mjs (at the repository root)`);
}

mkdirSync(resultsDir, { recursive: true });
const command = `node bench/run.mjs ${argv.join(" ")}`.trim();
const info = machine();
console.log(`machine: ${info.nproc} × ${info.cpu}, ${info.memoryGiB} GiB, ${info.os}; load ${info.loadavg.join(" ")} (shared machine)`);
console.log(`node ${info.node}; wrangler ${info.wrangler}; ${info.workerd}; commit ${info.gitCommit}\n`);

function save(part, result) {
  const file = join(resultsDir, `${part}.json`);
  writeFileSync(file, JSON.stringify({ part, command, quick, machine: { ...machine(), loadavgAtEnd: os.loadavg().map((x) => +x.toFixed(2)) }, finishedAt: new Date().toISOString(), result }, null, 2) + "\n");
  console.log(`→ ${file}\n`);
}

function show(title, rows, about) {
  console.log(`## ${title}${about ? `\n${about}` : ""}\n${table(rows)}\n`);
}

const scale = quick ? 0.2 : 1;
const n = (x) => Math.max(20, Math.round(x * scale));

if (selected.includes("crypto")) {
  const { cryptoBench } = await import("./parts/crypto.mjs");
  const r = await cryptoBench({ rounds: quick ? 1 : 3 });
  show("Identity and crypto path, CPU per call", r.rows, `${r.runtime}; ${r.walletIdentity}`);
  save("crypto", r);
}
if (selected.includes("bundle")) {
  const { bundle } = await import("./parts/size.mjs");
  const r = await bundle();
  show("Worker bundle (wrangler deploy --dry-run --outdir)", r.rows.map(({ command: _c, ...row }) => row));
  save("bundle", r);
}
if (selected.includes("pack")) {
  const { pack } = await import("./parts/size.mjs");
  const r = await pack();
  show("CLI package size", r.rows);
  save("pack", r);
}
if (selected.includes("scaffold")) {
  const { scaffold } = await import("./parts/scaffold.mjs");
  const r = await scaffold({ runs: quick ? 3 : 10 });
  show("Scaffold without install (interleaved)", r.rows.map(({ command: _c, ...row }) => row), `${r.node}; ${r.note}`);
  save("scaffold", r);
}
if (selected.includes("worker") || selected.includes("users")) {
  const { setup, paidRequest, usersInParallel, verifyBalances } = await import("./parts/worker.mjs");
  console.log("starting wrangler dev and funding 100 users through the webhook...");
  const env = await setup({ users: 100 });
  try {
    if (!env.hasWallet) console.log("NOTE: templates/default/src/stripeflare/index.ts is missing: bare Worker only.\n");
    if (env.webhook) show("Webhook handling (end to end)", Object.entries(env.webhook).filter(([, s]) => s && typeof s === "object" && "p50" in s).map(([k, s]) => ({ path: k, ...s })), env.webhook.note);
    if (selected.includes("worker")) {
      const r = await paidRequest(env, { rounds: quick ? 2 : 5, n: n(300), throughputN: n(1500) });
      show("Paid request latency (sequential)", r.latency.rows, r.latency.about);
      show("Latency against the one-round-trip floor", r.latency.rowsVsFloor);
      show("Paid request throughput", r.throughput.rows, r.throughput.about);
      save("worker", { ...r, webhook: env.webhook, stripeCalls: env.stripeCalls.length, balances: await verifyBalances(env) });
    }
    if (selected.includes("users")) {
      const r = await usersInParallel(env, { rounds: quick ? 1 : 2, n: n(1500) });
      show("Users in parallel", r.rows, r.about);
      console.log("aggregate database calls:", JSON.stringify(r.aggregate, null, 2), "\n");
      save("users", { ...r, balances: await verifyBalances(env) });
    }
    const balances = await verifyBalances(env);
    console.log(`balance check: ${balances.ok ? "every counted charge is in the balances" : "MISMATCH"} ${JSON.stringify(balances.chargesCounted)}`);
    if (!balances.ok) console.log(balances.problems.join("\n"));
  } catch (error) {
    console.error(env.output().slice(-3000));
    throw error;
  } finally {
    // wrangler dev's own log (errors, object resets), kept for diagnosis, not committed.
    writeFileSync(join(resultsDir, "wrangler-dev.log.tmp"), env.output());
    await env.close();
  }
}

function fail(message) {
  console.error(message);
  process.exit(1);
}
