#!/usr/bin/env node
// One entry point for every benchmark of create-stripeflare (see ../BENCHMARKS.md).
//
//   node bench/run.mjs [part ...] [--quick] [--repeat=N]
//   parts: worker (paid request vs bare), users (1/10/100 users, aggregate off the path),
//          crypto (identity + webhook crypto CPU), bundle (Worker gzip size),
//          pack (CLI packed/installed size), scaffold (--no-install scaffold time),
//          agents (MPP: bundle with and without, paid retry vs plain paid request),
//          mcp (MCP template bundle; paid tool call vs bare tool call),
//          cost (billing units per request: DO calls, SQLite rows, alarms, CPU; $ per million),
//          aggregate (pushes/s one aggregate object absorbs; modelled lag at 1k/10k/100k accounts); default: all
//
// Each part prints a table and writes bench/results/<part>.json (<part>.quick.json with
// --quick, not kept) with the machine, the date and the exact command. These are benchmarks, not tests: they compare ratios measured side
// by side in one run and never pass or fail on a timing.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { machine, node22, resultsDir } from "./lib/env.mjs";
import { table } from "./lib/table.mjs";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const ALL = ["crypto", "bundle", "pack", "scaffold", "worker", "users", "cost", "aggregate", "agents", "mcp"];
const parts = argv.filter((a) => !a.startsWith("--"));
for (const p of parts) if (!ALL.includes(p)) fail(`unknown part "${p}"; parts: ${ALL.join(", ")}`);
const selected = parts.length ? ALL.filter((p) => parts.includes(p)) : ALL;

// wrangler (and create-cloudflare) need Node 22.12+: on an older Node, run again on the
// root devDependency's Node 22 when it is installed.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  if (existsSync(node22)) {
    const child = spawnSync(node22, process.argv.slice(1), { stdio: "inherit" });
    process.exit(child.status ?? 1);
  }
  fail(`Node ${process.versions.node}: wrangler needs Node 22.12+. Run \`npm install\` at the repository root, then: PATH=$PWD/node_modules/.bin:$PATH node bench/run.mjs`);
}

mkdirSync(resultsDir, { recursive: true });
const command = `node bench/run.mjs ${argv.join(" ")}`.trim();
const info = machine();
console.log(`machine: ${info.nproc} × ${info.cpu}, ${info.memoryGiB} GiB, ${info.os}; load ${info.loadavg.join(" ")} (shared machine)`);
console.log(`node ${info.node}; wrangler ${info.wrangler}; ${info.workerd}; commit ${info.gitCommit}\n`);

function save(part, result) {
  // A --quick run is for trying the harness: it never overwrites the recorded figures.
  const file = join(resultsDir, quick ? `${part}.quick.json` : `${part}.json`);
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
if (selected.includes("agents")) {
  const { agentBundles, agentLatency } = await import("./parts/agents.mjs");
  const bundles = await agentBundles();
  show("Agent payments: Worker bundle (wrangler deploy --dry-run --outdir)", bundles.rows, bundles.summary);
  const latency = await agentLatency({ rounds: quick ? 10 : 60 });
  show("Agent payments: a paid retry beside a plain paid request (sequential, interleaved)", latency.rows, latency.about);
  save("agents", { bundles, latency });
}
if (selected.includes("mcp")) {
  const { mcpBundle, mcpCost, mcpLatency } = await import("./parts/mcp.mjs");
  const bundle = await mcpBundle();
  show("MCP template: Worker bundle (wrangler deploy --dry-run --outdir)", bundle.rows);
  const latency = await mcpLatency({ rounds: quick ? 20 : 200 });
  show("MCP: a paid tool call beside a bare one (sequential, interleaved)", latency.rows, latency.about);
  const cost = await mcpCost({ n: quick ? 100 : 500 });
  show("MCP: what a tool call bills", cost.rows, cost.about);
  save("mcp", { bundle, latency, cost });
}
if (["worker", "users", "cost", "aggregate"].some((part) => selected.includes(part))) {
  const { setup, paidRequest, usersInParallel, verifyBalances } = await import("./parts/worker.mjs");
  console.log("starting wrangler dev and funding 100 users through the webhook...");
  const env = await setup({ users: 100 });
  try {
    if (!env.hasWallet) console.log("NOTE: templates/default/src/stripeflare/index.ts is missing: bare Worker only.\n");
    if (env.webhook) show("Webhook handling (end to end)", Object.entries(env.webhook).filter(([, s]) => s && typeof s === "object" && "p50" in s).map(([k, s]) => ({ path: k, ...s })), env.webhook.note);
    // --repeat=N: the whole measurement N times in one session, to show how much the ratios
    // move on a shared machine; every repetition is kept in the results file.
    const repeat = Number(argv.find((a) => a.startsWith("--repeat="))?.split("=")[1] ?? 1);
    if (selected.includes("worker")) {
      const reps = [];
      for (let i = 0; i < repeat; i++) {
        const r = await paidRequest(env, { rounds: quick ? 2 : 8, n: n(250), throughputN: n(400) });
        const tag = repeat > 1 ? ` [repetition ${i + 1}/${repeat}]` : "";
        show(`Paid request latency (sequential)${tag}`, r.latency.rows, r.latency.about);
        show(`Latency against the one-round-trip floor${tag}`, r.latency.rowsVsFloor);
        show(`Paid request throughput${tag}`, r.throughput.rows, r.throughput.about);
        reps.push(r);
      }
      if (repeat > 1) show("Ratios across repetitions (p50 vs paired bare; req/s vs paired bare)", spread(reps));
      save("worker", { source: env.source, repetitions: reps, spread: repeat > 1 ? spread(reps) : undefined, webhook: env.webhook, balances: await verifyBalances(env) });
    }
    if (selected.includes("users")) {
      const reps = [];
      for (let i = 0; i < repeat; i++) {
        const r = await usersInParallel(env, { rounds: quick ? 1 : 4, n: n(600) });
        show(`Users in parallel${repeat > 1 ? ` [repetition ${i + 1}/${repeat}]` : ""}`, r.rows, r.about);
        console.log("aggregate database calls:", JSON.stringify(r.aggregate, null, 2), "\n");
        reps.push(r);
      }
      save("users", { source: env.source, repetitions: reps, balances: await verifyBalances(env) });
    }
    if (selected.includes("cost")) {
      const { costReport } = await import("./parts/cost.mjs");
      const r = await costReport(env, { n: quick ? 200 : 1000, sustained: { users: 20, seconds: quick ? 35 : 120 } });
      show("Cost per request, in billing units", r.rows, `${r.prices.asOf}; ${r.assumptions}`);
      save("cost", { source: env.source, ...r });
    }
    if (selected.includes("aggregate")) {
      const { measureIntake, modelLag } = await import("./parts/aggregate.mjs");
      const intake = await measureIntake(env, { sources: quick ? 1_000 : 5_000 });
      show("The aggregate's intake (one object)", intake.rows, intake.about);
      const here = intake.updatesPerSecond;
      const rows = [...modelLag({ perSecond: here, label: `${here}/s (measured here)` }), ...modelLag({ perSecond: 1_000, label: "1000/s (Cloudflare's soft limit per object)" })];
      const about = `a discrete-event simulation (bench/parts/aggregate.mjs): N accounts each charged every second from the same moment, one aggregate serving pushes one at a time at the capacity shown, the wallet's own IntakeMeter and nextInterval for the adaptive policy (target ${(await import("../templates/default/src/stripeflare/mirror.ts")).MIRROR_TARGET_PUSHES_PER_SECOND} pushes/s); settled figures over the last quarter of the run; lag = how long the oldest change not yet in the admin copy had waited when its push landed`;
      show("The aggregate at scale, modelled", rows, about);
      save("aggregate", { source: env.source, intake, model: { about, rows } });
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

/** Per variant: the p50 and req/s ratios of each repetition, in order. */
function spread(reps) {
  return Object.keys(reps[0].latency.raw).map((variant) => {
    const pick = (part, col) => reps.map((r) => r[part].rows.find((row) => row.variant === variant)?.[col]).join(" / ");
    return {
      variant,
      "p50 vs bare (sequential)": pick("latency", "p50 vs bare"),
      "p50 vs bare-1rt (sequential)": reps.map((r) => r.latency.rowsVsFloor.find((row) => row.variant === variant)?.["p50 vs bare-1rt"]).join(" / "),
      "req/s vs bare (16 in flight)": pick("throughput", "req/s vs bare"),
    };
  });
}

function fail(message) {
  console.error(message);
  process.exit(1);
}
