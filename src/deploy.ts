// Deploying with the project's own wrangler: whoami first (so a missing login is reported before
// anything changes), then the secrets and the Worker (or both at once, for a config that requires
// its secrets).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { childEnvOptions } from "./child-env.js";

export interface Wrangler {
  command: string;
  dir: string;
}

export function findWrangler(dir: string): Wrangler | undefined {
  const local = join(dir, "node_modules", ".bin", process.platform === "win32" ? "wrangler.cmd" : "wrangler");
  if (existsSync(local)) return { command: local, dir };
  const onPath = (process.env.PATH ?? "").split(process.platform === "win32" ? ";" : ":").some((p) => p && existsSync(join(p, "wrangler")));
  return onPath ? { command: "wrangler", dir } : undefined;
}

async function run(wrangler: Wrangler, args: string[], options: { input?: string; show?: boolean } = {}) {
  return execa(wrangler.command, args, {
    cwd: wrangler.dir,
    reject: false,
    all: true,
    input: options.input,
    stdin: options.input === undefined ? "ignore" : undefined,
    stdout: options.show ? ["pipe", "inherit"] : "pipe",
    stderr: options.show ? ["pipe", "inherit"] : "pipe",
    ...childEnvOptions({ WRANGLER_SEND_METRICS: "false" }),
  });
}

const firstLine = (text: string) => text.split("\n").map((l) => l.trim()).find(Boolean) ?? "";

export async function checkLogin(wrangler: Wrangler): Promise<void> {
  const result = await run(wrangler, ["whoami"]);
  // whoami exits 0 even when logged out, so the text is what tells.
  if (result.exitCode !== 0 || /not authenticated|not logged in/i.test(result.all ?? "")) {
    throw new Error(
      "not logged in to Cloudflare: run `npx wrangler login` in the project (or set CLOUDFLARE_API_TOKEN), then run this command again",
    );
  }
}

export async function uploadSecrets(wrangler: Wrangler, secrets: Record<string, string>): Promise<void> {
  // JSON on stdin: the values never touch disk or the process list.
  const result = await run(wrangler, ["secret", "bulk"], { input: JSON.stringify(secrets) });
  if (result.exitCode !== 0) throw new Error(`wrangler secret bulk failed: ${firstLine(result.all ?? "")}`);
}

/**
 * Runs `wrangler deploy` and returns the public URL it reports (or the custom domain's). Given
 * `secrets`, they go up with the new version (`--secrets-file`): for a config that lists
 * `secrets.required`, which wrangler refuses to deploy without. The file is JSON in a private
 * folder of its own, mode 0600, removed as soon as wrangler returns.
 */
export async function deployWorker(wrangler: Wrangler, domain?: string, secrets?: Record<string, string>): Promise<string> {
  const dir = secrets ? mkdtempSync(join(tmpdir(), "stripeflare-secrets-")) : undefined;
  let result: Awaited<ReturnType<typeof run>>;
  try {
    const file = dir && join(dir, "secrets.json");
    if (file) writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
    result = await run(wrangler, ["deploy", ...(file ? ["--secrets-file", file] : [])], { show: true });
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  if (result.exitCode !== 0) throw new Error(`wrangler deploy failed (exit ${result.exitCode}); see its output above`);
  if (domain) return `https://${domain}`;
  const url = /https:\/\/[a-z0-9][a-z0-9.-]*\.workers\.dev\b/i.exec(result.all ?? "")?.[0];
  if (!url) throw new Error("wrangler deploy succeeded but printed no workers.dev URL; pass --domain so the webhook has an address");
  return url;
}
