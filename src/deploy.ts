// Deploying with the project's own wrangler: whoami first (so a missing login is reported before
// anything changes), then the secrets and the Worker.
import { existsSync } from "node:fs";
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

/** Runs `wrangler deploy` and returns the public URL it reports (or the custom domain's). */
export async function deployWorker(wrangler: Wrangler, domain?: string): Promise<string> {
  const result = await run(wrangler, ["deploy"], { show: true });
  if (result.exitCode !== 0) throw new Error(`wrangler deploy failed (exit ${result.exitCode}); see its output above`);
  if (domain) return `https://${domain}`;
  const url = /https:\/\/[a-z0-9][a-z0-9.-]*\.workers\.dev\b/i.exec(result.all ?? "")?.[0];
  if (!url) throw new Error("wrangler deploy succeeded but printed no workers.dev URL; pass --domain so the webhook has an address");
  return url;
}
