#!/usr/bin/env node
// Prints the Markdown tables of BENCHMARKS.md from bench/results/*.json, so the document
// quotes measured output rather than hand-copied numbers: `node bench/report.mjs`.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { resultsDir } from "./lib/env.mjs";
import { table } from "./lib/table.mjs";

const load = (part) => {
  const file = join(resultsDir, `${part}.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : null;
};
const header = (r) => {
  const m = r.machine;
  return `_${r.finishedAt.slice(0, 16).replace("T", " ")} UTC · \`${r.command}\` · load average ${m.loadavg.join(" ")} → ${m.loadavgAtEnd?.join(" ")} · commit ${r.result.source?.commit ?? m.gitCommit}_`;
};
const out = [];
const section = (title, r, body) => r && out.push(`### ${title}\n\n${header(r)}\n\n${body}\n`);
const drop = (rows, ...keys) => rows.map((row) => Object.fromEntries(Object.entries(row).filter(([k]) => !keys.includes(k))));

const worker = load("worker");
if (worker) {
  worker.result.repetitions.forEach((rep, i) => {
    const tag = worker.result.repetitions.length > 1 ? ` (repetition ${i + 1})` : "";
    section(`Paid request, sequential${tag}`, worker, `${rep.latency.about}\n\n${table(rep.latency.rows)}\n\n${table(rep.latency.rowsVsFloor)}`);
    section(`Paid request, 16 in flight${tag}`, worker, `${rep.throughput.about}\n\n${table(rep.throughput.rows)}`);
  });
  if (worker.result.spread) section("Ratios across repetitions", worker, table(worker.result.spread));
  const w = worker.result.webhook;
  if (w) {
    const rows = Object.entries(w).filter(([, s]) => s && typeof s === "object" && "p50" in s).map(([path, s]) => ({ path, ...s }));
    section("Webhook handling, end to end", worker, `${w.note}\n\n${table(rows)}\n\nDurable Object calls while funding (${w.webhooksDelivered} webhooks, plus GET /me and bare seeds): \`${JSON.stringify(w.doCallsWhileFunding)}\`; Stripe API calls: ${w.stripeApiCallsWhileFunding}`);
  }
  out.push(`Balance check after the run: ${worker.result.balances.ok ? "every counted charge is in the balances" : "MISMATCH"} (${JSON.stringify(worker.result.balances.chargesCounted)})\n`);
}
const users = load("users");
if (users) {
  users.result.repetitions.forEach((rep, i) => {
    const tag = users.result.repetitions.length > 1 ? ` (repetition ${i + 1})` : "";
    section(`Users in parallel${tag}`, users, `${rep.about}\n\n${table(rep.rows)}\n\nDurable Object calls while the load ran (worker:* from the Worker on the request path, object:* from Durable Objects, i.e. the mirror): \`${JSON.stringify(rep.aggregate.duringLoad)}\`; after it: \`${JSON.stringify(rep.aggregate.afterLoad)}\`; aggregate equal to every user's database afterwards: ${JSON.stringify(rep.aggregate.aggregateEqualsUserDatabases)}`);
  });
}
const crypto = load("crypto");
section("Identity and crypto, CPU per call", crypto, crypto && `${crypto.result.runtime}; ${crypto.result.walletIdentity}\n\n${table(crypto.result.rows)}`);
const bundle = load("bundle");
section("Worker bundle", bundle, bundle && `${table(drop(bundle.result.rows, "command"))}\n\nCommands:\n${bundle.result.rows.map((r) => `- ${r.worker}: \`${r.command}\``).join("\n")}`);
const pack = load("pack");
section("CLI package", pack, pack && `${table(pack.result.rows)}\n\nLargest packed files: ${pack.result.files.slice(0, 6).map((f) => `${f.path} (${(f.size / 1024).toFixed(0)} KiB)`).join(", ")}`);
const scaffold = load("scaffold");
section("Scaffold without install", scaffold, scaffold && `${scaffold.result.node}. ${scaffold.result.note}\n\n${table(drop(scaffold.result.rows, "command"))}\n\nCommands:\n${scaffold.result.rows.map((r) => `- ${r.tool}: \`${r.command}\``).join("\n")}`);
const agents = load("agents");
if (agents) {
  const { bundles, latency } = agents.result;
  section("Agent payments: bundle", agents, `${bundles.summary}\n\n${table(bundles.rows)}\n\nCommands:\n${bundles.rows.map((r, i) => `- ${r.worker}: \`${bundles.commands[i]}\``).join("\n")}`);
  section("Agent payments: a paid retry beside a plain paid request", agents, `${latency.about}\n\n${table(latency.rows)}`);
}
const cost = load("cost");
if (cost) {
  const c = cost.result;
  // One line per statement, whatever phase it ran in (a mirror alarm may fire while requests run).
  const writes = (name) => {
    const merged = new Map();
    for (const { phase: _p, ...w } of c.writes[name]) {
      const key = `${w.side}|${w.statement}`;
      const m = merged.get(key) ?? { ...w, "per request": 0, "rows read per request": 0, "rows written per request": 0 };
      m["per request"] = +(m["per request"] + w["per request"]).toFixed(3);
      m["rows read per request"] = +(m["rows read per request"] + (w["rows read per request"] ?? 0)).toFixed(3);
      m["rows written per request"] = +(m["rows written per request"] + w["rows written per request"]).toFixed(3);
      merged.set(key, m);
    }
    return table([...merged.values()].sort((a, b) => b["rows written per request"] - a["rows written per request"]));
  };
  section(
    "Cost per request, in billing units",
    cost,
    `${c.prices.asOf}: Worker request $${c.prices.workerRequest * 1e6}/M, CPU $${c.prices.workerCpuMs * 1e6}/M ms; Durable Object request $${c.prices.doRequest * 1e6}/M, duration $${c.prices.doGbSecond * 1e6}/M GB-s; SQLite rows read $${c.prices.rowRead * 1e6}/M, rows written $${c.prices.rowWritten * 1e6}/M. ${c.assumptions}.\n\n${table(c.rows.map((r) => ({ ...r, "$ vs bare": r["$ vs bare"] ?? "", vs: r.vs ?? "" })))}\n\nWhere the rows written go, per request (declared price):\n\n${writes("wallet-declared")}\n\nThe bare Worker's:\n\n${writes("bare-1rt")}${c.writes["wallet-declared-sustained"] ? `\n\nUnder sustained load (declared price, each account charged once a second):\n\n${writes("wallet-declared-sustained")}` : ""}`,
  );
}
const aggregate = load("aggregate");
if (aggregate) {
  const a = aggregate.result;
  section("The aggregate's intake, measured", aggregate, `${a.intake.about}\n\n${table(a.intake.rows)}`);
  section("The aggregate at scale, modelled", aggregate, `${a.model.about}\n\n${table(a.model.rows)}`);
}
const mcp = load("mcp");
if (mcp) {
  const { bundle: b, latency: l } = mcp.result;
  section("MCP template: bundle", mcp, `${table(b.rows)}\n\nCommand: \`${b.commands[0]}\``);
  section("MCP: a paid tool call beside a bare one", mcp, `${l.about}\n\n${table(l.rows)}`);
  if (mcp.result.cost) section("MCP: what a tool call bills", mcp, `${mcp.result.cost.about}\n\n${table(mcp.result.cost.rows)}`);
}
console.log(out.join("\n"));
