// .dev.vars for local payments: read it, set keys in it without touching other lines, and
// what `npm run pay -- --setup` adds to it.

import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";
import { UsageError } from "./usage-error.ts";

/** Where --setup points the Worker's Stripe reads (stripe-mock's customary port). */
export const LOCAL_STRIPE_API_BASE = "http://127.0.0.1:12111";
/**
 * The key --setup gives a project without a Stripe account, so the Worker can authenticate to
 * the stand-in. Stripe rejects it; it opens nothing anywhere.
 */
export const LOCAL_STRIPE_SECRET = "sk_test_stripeflare_local_stand_in";
/**
 * The Payment Link --setup names when the project has none: the stand-in learns it on the
 * first local payment. The Worker credits only sessions of STRIPE_PAYMENT_LINK's own link.
 */
export const LOCAL_PAYMENT_LINK = "https://buy.stripe.com/test_stripeflare_local_stand_in";
/**
 * The Stripe profile --setup names for agent payments against the stand-in (any id works
 * there): `npm run dev` passes it over wrangler.jsonc's empty STRIPE_NETWORK_ID, so the local
 * Worker's 402s are payable by `npm run agent`.
 */
export const LOCAL_NETWORK_ID = "profile_local_stand_in";

export interface DevVarsFile {
  path: string;
  vars: Record<string, string>;
}

export function readDevVars(dir: string): DevVarsFile {
  const path = join(dir, ".dev.vars");
  if (!existsSync(path)) {
    throw new UsageError(
      "no .dev.vars here. Run this in the project folder; create-stripeflare writes .dev.vars " +
        "(or: cp .dev.vars.example .dev.vars and set DB_SECRET, e.g. `openssl rand -hex 32`).",
    );
  }
  return { path, vars: parseEnv(readFileSync(path, "utf8")) as Record<string, string> };
}

/**
 * Sets keys in .dev.vars, keeping every other line (and its comments) as it is. Written to a
 * temporary file and renamed, keeping the file's mode (0600 from the CLI).
 */
export function updateDevVars(file: DevVarsFile, updates: Record<string, string>): void {
  const lines = readFileSync(file.path, "utf8").split("\n");
  const pending = new Map(Object.entries(updates));
  const updated = lines.map((line) => {
    const key = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1];
    if (key && pending.has(key)) {
      const value = pending.get(key)!;
      pending.delete(key);
      return `${key}=${value}`;
    }
    return line;
  });
  if (pending.size > 0) {
    while (updated.length > 0 && updated[updated.length - 1] === "") updated.pop();
    updated.push("", "# Local development only, written by `npm run pay -- --setup`. Never a production secret.");
    for (const [key, value] of pending) updated.push(`${key}=${value}`);
    updated.push("");
  }
  const mode = statSync(file.path).mode & 0o777;
  const temp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(temp, updated.join("\n"), { mode });
  chmodSync(temp, mode);
  renameSync(temp, file.path);
  Object.assign(file.vars, updates);
}

/** What --setup would change in .dev.vars (empty when it is ready for local payments). */
export function localSetup(vars: Record<string, string>): Record<string, string> {
  const changes: Record<string, string> = {};
  if (!vars.STRIPE_WEBHOOK_SIGNING_SECRET) {
    // Made here, known only to this .dev.vars and so to the local Worker.
    changes.STRIPE_WEBHOOK_SIGNING_SECRET = `whsec_${randomBytes(24).toString("base64url")}`;
  }
  // No Stripe account in use (no key, or the stand-in's from an earlier --setup, which may
  // predate some of these keys): the Worker's Stripe reads go to the stand-in, with a key that
  // only the stand-in accepts, and its Payment Link is one only the stand-in knows.
  if (!vars.STRIPE_SECRET || vars.STRIPE_SECRET === LOCAL_STRIPE_SECRET) {
    if (!vars.STRIPE_SECRET) changes.STRIPE_SECRET = LOCAL_STRIPE_SECRET;
    if (!vars.STRIPE_API_BASE) changes.STRIPE_API_BASE = LOCAL_STRIPE_API_BASE;
    if (!vars.STRIPE_PAYMENT_LINK) changes.STRIPE_PAYMENT_LINK = LOCAL_PAYMENT_LINK;
    if (!vars.STRIPE_NETWORK_ID) changes.STRIPE_NETWORK_ID = LOCAL_NETWORK_ID;
  }
  return changes;
}
