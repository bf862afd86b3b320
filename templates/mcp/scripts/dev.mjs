// `npm run dev`: `wrangler dev`, plus the local-only STRIPE_API_BASE (and STRIPE_NETWORK_ID) from .dev.vars.
//
// wrangler.jsonc lists the Worker's secrets under "secrets.required", so `wrangler dev` loads
// only those five keys from .dev.vars, and `wrangler types` keeps worker-configuration.d.ts
// free of local-only names (no "Your types might be out of date" for having them). The one
// local-only value the Worker reads, STRIPE_API_BASE (the Stripe stand-in's address, written by
// `npm run pay -- --setup`), is passed here as a plain `--var` instead: it never reaches
// production, where `wrangler deploy` does not read this script. So is STRIPE_NETWORK_ID when
// .dev.vars sets it: a local value over wrangler.jsonc's (agent payments against the stand-in).
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";

const LOCAL_ONLY = ["STRIPE_API_BASE", "STRIPE_NETWORK_ID"];

const devVars = existsSync(".dev.vars") ? parseEnv(readFileSync(".dev.vars", "utf8")) : {};
const passed = LOCAL_ONLY.filter((name) => devVars[name]).flatMap((name) => ["--var", `${name}:${devVars[name]}`]);

const bin = join("node_modules", ".bin", process.platform === "win32" ? "wrangler.cmd" : "wrangler");
if (!existsSync(bin)) {
  console.error("wrangler is not installed here yet: run `npm install` first, then `npm run dev` again.");
  process.exit(1);
}
const wrangler = spawn(bin, ["dev", ...passed, ...process.argv.slice(2)], { stdio: "inherit", shell: process.platform === "win32" });
// Ctrl-C reaches wrangler through the terminal; a signal sent to this process alone is passed on.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => wrangler.kill(signal));
wrangler.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
