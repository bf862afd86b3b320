// Scaffold time without install: create-stripeflare beside create-vite and
// create-cloudflare, each run in a fresh empty folder, interleaved (A, B, C, A, B, C, ...)
// so that noise from other work on the machine falls on all three alike.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { ensureTool, noInstallShim } from "../lib/compare-tools.mjs";
import { builtSnapshot } from "../lib/snapshot.mjs";
import { median, ratio, round, summary } from "../lib/stats.mjs";

// All three run on the same Node (this one: create-cloudflare needs Node 22). The CLI's own
// floor is Node 20.19+, so it is also timed on the machine's system Node (the first `node`
// on PATH outside node_modules/.bin, where the root's Node 22 lives).
const systemNode =
  process.env.BENCH_SYSTEM_NODE ??
  (process.env.PATH ?? "")
    .split(":")
    .filter((dir) => dir && !dir.includes("node_modules"))
    .map((dir) => join(dir, "node"))
    .find((file) => existsSync(file)) ??
  process.execPath;

export async function scaffold({ runs = Number(process.env.BENCH_SCAFFOLD_RUNS ?? 10) } = {}) {
  const vite = ensureTool("create-vite");
  const c3 = ensureTool("create-cloudflare");
  const shim = noInstallShim();
  // The CLI as built from a clean export of HEAD (templates without untracked files).
  const repo = builtSnapshot();
  const cli = join(repo.dir, "bin/create-stripeflare.js");

  const tools = [
    {
      name: "create-stripeflare",
      version: `HEAD ${repo.commit}`,
      argv: [cli, "app", "--no-stripe", "--no-install", "--no-git", "--yes"],
      expect: ["app/wrangler.jsonc", "app/package.json", "app/.dev.vars"],
      env: {},
    },
    {
      name: "create-stripeflare (system Node)",
      node: systemNode,
      version: `HEAD ${repo.commit}`,
      argv: [cli, "app", "--no-stripe", "--no-install", "--no-git", "--yes"],
      expect: ["app/wrangler.jsonc", "app/package.json", "app/.dev.vars"],
      env: {},
    },
    {
      name: "create-vite",
      version: vite.version,
      argv: [vite.bin, "app", "--template", "vanilla-ts", "--no-interactive", "--no-immediate"],
      expect: ["app/package.json", "app/index.html"],
      env: {},
    },
    {
      name: "create-cloudflare",
      version: c3.version,
      argv: [c3.bin, "app", "--type", "hello-world", "--lang", "ts", "--no-deploy", "--no-git", "--no-open", "--no-agents", "--no-auto-update"],
      expect: ["app/wrangler.jsonc", "app/package.json"],
      env: { PATH: `${shim}:${process.env.PATH}`, CREATE_CLOUDFLARE_TELEMETRY_DISABLED: "1" },
    },
  ];

  const times = Object.fromEntries(tools.map((t) => [t.name, []]));
  // One untimed warm-up each (file cache), then `runs` interleaved timed rounds.
  for (let round = -1; round < runs; round++) {
    for (const tool of round % 2 === 0 ? tools : [...tools].reverse()) {
      const cwd = mkdtempSync(join(os.tmpdir(), "stripeflare-bench-scaffold-"));
      const started = process.hrtime.bigint();
      const result = spawnSync(tool.node ?? process.execPath, tool.argv, {
        cwd,
        env: { ...process.env, CI: "1", npm_config_user_agent: "", ...tool.env },
        stdio: ["ignore", "pipe", "pipe"],
        encoding: "utf8",
      });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const missing = tool.expect.filter((f) => !existsSync(join(cwd, f)));
      rmSync(cwd, { recursive: true, force: true });
      if (result.status !== 0 || missing.length) {
        throw new Error(
          `${tool.name} failed (exit ${result.status}, missing ${missing.join(", ") || "nothing"}):\n${result.error ?? ""}${result.stderr}\n${String(result.stdout).slice(-2000)}`,
        );
      }
      if (round >= 0) times[tool.name].push(ms);
    }
  }

  const base = median(times["create-stripeflare"]);
  const rows = tools.map((t) => ({
    tool: t.name,
    version: t.version,
    ...pick(summary(times[t.name])),
    "vs create-stripeflare (median)": ratio(median(times[t.name]), base),
    command: `${t.node ? "node20" : "node"} ${t.argv.map((a) => a.replace(repo.dir + "/", "").replace(os.tmpdir(), "$TMP")).join(" ")}`,
  }));
  return {
    runs,
    node: `Node ${process.version} for all; system Node ${spawnSync(systemNode, ["--version"], { encoding: "utf8" }).stdout.trim()} for the extra create-stripeflare row`,
    note: "create-cloudflare has no --no-install; it ran with a stand-in npm on PATH that installs nothing (exit 0).",
    rows,
    samplesMs: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.map((x) => round(x, 1))])),
  };
}

function pick(s) {
  return { "median ms": round(s.p50, 1), "min ms": round(s.min, 1), "mean ms": round(s.mean, 1), "max ms": round(s.max, 1) };
}
