// Where things are, and what machine this is: every figure is stored with both.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..");
export const root = join(benchDir, "..");
export const template = join(root, "templates/default");
export const resultsDir = join(benchDir, "results");
export const walletDir = join(template, "src/stripeflare");

// wrangler >= 4.87 needs Node >= 22.12; the root devDependency node@22 provides it.
export const node22 = join(root, "node_modules/.bin/node");
export const wranglerBin = join(template, "node_modules/.bin/wrangler");

/** Environment for child processes that run wrangler: Node 22 first on PATH, no telemetry. */
export function toolEnv(extra = {}) {
  return {
    ...process.env,
    PATH: `${join(root, "node_modules/.bin")}:${process.env.PATH}`,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_LOG_PATH: join(os.tmpdir(), "stripeflare-bench-wrangler-logs"),
    CI: "1",
    ...extra,
  };
}

function quiet(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], ...opts }).trim();
  } catch {
    return null;
  }
}

function packageVersion(dir) {
  const file = join(dir, "package.json");
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")).version : null;
}

let cached;
export function machine() {
  if (cached) return cached;
  const cpu = os.cpus()[0]?.model ?? "unknown";
  cached = {
    date: new Date().toISOString(),
    nproc: Number(quiet("nproc")) || os.availableParallelism(),
    cpu,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    loadavg: os.loadavg().map((x) => +x.toFixed(2)),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    node22: quiet(node22, ["--version"]),
    wrangler: packageVersion(join(template, "node_modules/wrangler")),
    workerd: quiet(join(template, "node_modules/.bin/workerd"), ["--version"]),
    stripeSdk: packageVersion(join(template, "node_modules/stripe")),
    dormroom: packageVersion(join(template, "node_modules/dormroom")),
    gitCommit: quiet("git", ["rev-parse", "--short", "HEAD"], { cwd: root }),
    sharedMachine: true,
  };
  return cached;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
