// Running the built CLI the way a user would: a separate Node process, in a temporary folder,
// with a clean environment (its own HOME, no Stripe keys or package-manager hints leaking in from
// the test runner). Reused by the template engineer's tests: keep these signatures stable.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { execa, type ResultPromise } from "execa";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const BIN = join(ROOT, "bin", "create-stripeflare.js");
/** Node 22 from the root devDependency (what `npm run` uses) and the system Node 20 (found on PATH). */
export const NODE_22 = join(ROOT, "node_modules", ".bin", "node");
export const NODE_20 = findSystemNode(20) ?? "node-20-not-found";

/** The first `node` of a given major outside node_modules (the system one; Node 20 here). */
export function findSystemNode(major: number): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter((d) => d && !d.includes("node_modules")), "/usr/local/bin", "/usr/bin"];
  for (const dir of dirs) {
    const candidate = join(dir, "node");
    if (!existsSync(candidate)) continue;
    try {
      const version = execFileSync(candidate, ["--version"], { encoding: "utf8" }).trim();
      if (version.startsWith(`v${major}.`)) return candidate;
    } catch {
      // not runnable: try the next one
    }
  }
  return undefined;
}

/** Builds dist/ if it is missing (vitest's globalSetup builds it fresh anyway). */
export function ensureBuilt(): void {
  if (!existsSync(join(ROOT, "dist", "index.js"))) {
    execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { cwd: ROOT, stdio: "inherit" });
  }
}

const made: string[] = [];
/** A fresh folder under the OS temp dir; removed by cleanupTempDirs(). */
export function tempDir(prefix = "csf-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
export function cleanupTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface CliOptions {
  cwd: string;
  /** Added to the clean environment. */
  env?: Record<string, string | undefined>;
  /** Text written to the CLI's stdin (a pipe, so never a TTY). */
  input?: string;
  /** The Node binary; default NODE_22. */
  node?: string;
  timeout?: number;
}

/** The environment a CLI run gets: HOME in the test's folder and a git identity, nothing else of ours. */
export function cleanEnv(home: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const key of ["PATH", "LANG", "TERM", "TMPDIR", "SystemRoot"]) if (process.env[key]) env[key] = process.env[key];
  const all: Record<string, string | undefined> = {
    ...env,
    HOME: home,
    NO_COLOR: "1",
    GIT_AUTHOR_NAME: "Test Author",
    GIT_AUTHOR_EMAIL: "author@example.com",
    GIT_COMMITTER_NAME: "Test Author",
    GIT_COMMITTER_EMAIL: "author@example.com",
    GIT_CONFIG_NOSYSTEM: "1",
    npm_config_update_notifier: "false",
    ...extra,
  };
  // A key given as undefined in `extra` removes it (e.g. to run without a git identity).
  return Object.fromEntries(Object.entries(all).filter(([, value]) => value !== undefined));
}

/**
 * What a developer's shell has in a new project: a scratch HOME (no ~/.stripeflare.dev.vars,
 * no wrangler login), no Stripe keys, and Node 22 (root devDependency `node@22`) first on
 * PATH, since wrangler and vitest 5 need it. How this machine reaches the npm registry (proxy,
 * CA bundle, ~/.npmrc) and npm's cache stay the real ones, for --prefer-offline.
 */
export function projectEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const realHome = process.env.HOME ?? home;
  const network = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => /^(https?_proxy|no_proxy|node_extra_ca_certs|ssl_cert_(file|dir))$/i.test(key)),
  );
  return cleanEnv(home, {
    ...network,
    PATH: [dirname(NODE_22), process.env.PATH].join(delimiter),
    npm_config_userconfig: process.env.npm_config_userconfig ?? join(realHome, ".npmrc"),
    npm_config_cache: process.env.npm_config_cache ?? join(realHome, ".npm"),
    WRANGLER_SEND_METRICS: "false",
    ...extra,
  }) as NodeJS.ProcessEnv;
}

/** Runs `create-stripeflare ...args`; never throws on a non-zero exit (check `exitCode`). */
export function runCli(args: string[], options: CliOptions): ResultPromise<{ reject: false; all: true }> {
  ensureBuilt();
  const home = options.env?.HOME ?? options.cwd;
  return execa(options.node ?? NODE_22, [BIN, ...args], {
    cwd: options.cwd,
    env: cleanEnv(home, options.env),
    extendEnv: false,
    input: options.input ?? "",
    reject: false,
    all: true,
    timeout: options.timeout ?? 120_000,
  }) as ResultPromise<{ reject: false; all: true }>;
}
