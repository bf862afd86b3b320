// .dev.vars holds the Worker's local secrets. It is written atomically (temp file in the same
// folder, then rename) with mode 0600, so an interrupted run never leaves it half-written or
// readable by others. Keys the user added by hand are kept.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseDotenv } from "dotenv";

export const DEV_VARS_KEYS = [
  "STRIPE_SECRET",
  "STRIPE_PUBLISHABLE_KEY",
  "STRIPE_WEBHOOK_SIGNING_SECRET",
  "STRIPE_PAYMENT_LINK",
  "DB_SECRET",
] as const;
export type DevVarsKey = (typeof DEV_VARS_KEYS)[number];
export type DevVars = Record<DevVarsKey, string> & Record<string, string>;

const COMMENTS: Record<DevVarsKey, string> = {
  STRIPE_SECRET: "Stripe secret key (Dashboard > Developers > API keys)",
  STRIPE_PUBLISHABLE_KEY: "Stripe publishable key (same page)",
  STRIPE_WEBHOOK_SIGNING_SECRET: "signing secret of the webhook endpoint https://<domain>/stripe-webhook",
  STRIPE_PAYMENT_LINK: "Payment Link URL for top-ups",
  DB_SECRET: "random secret, at least 32 characters; also the admin password for /db/*",
};

export const MIN_DB_SECRET_LENGTH = 32;

/** 48 random bytes as base64url: 64 characters, from the OS CSPRNG. */
export function generateDbSecret(): string {
  return randomBytes(48).toString("base64url");
}

export function readDevVars(dir: string): Record<string, string> {
  const file = join(dir, ".dev.vars");
  if (!existsSync(file)) return {};
  return parseDotenv(readFileSync(file, "utf8"));
}

/** Existing values win unless `updates` replaces them; DB_SECRET is created once and then kept. */
export function mergeDevVars(existing: Record<string, string>, updates: Partial<Record<DevVarsKey, string>>): DevVars {
  const merged: Record<string, string> = { ...existing };
  for (const [key, value] of Object.entries(updates)) if (value !== undefined) merged[key] = value;
  for (const key of DEV_VARS_KEYS) merged[key] ??= "";
  if ((merged.DB_SECRET ?? "").length < MIN_DB_SECRET_LENGTH) merged.DB_SECRET = generateDbSecret();
  return merged as DevVars;
}

function quote(value: string): string {
  // Our values (keys, URLs, base64url) need no quoting; anything a user added by hand might.
  return /^[A-Za-z0-9_.:/?=&%+@~-]*$/.test(value) ? value : JSON.stringify(value);
}

export function formatDevVars(vars: DevVars): string {
  const lines = ["# Local secrets for `wrangler dev`. Never commit this file (it is in .gitignore).", ""];
  for (const key of DEV_VARS_KEYS) lines.push(`# ${COMMENTS[key]}`, `${key}=${quote(vars[key])}`);
  const extra = Object.keys(vars).filter((key) => !(DEV_VARS_KEYS as readonly string[]).includes(key));
  if (extra.length) lines.push("", "# Added by you");
  for (const key of extra) lines.push(`${key}=${quote(vars[key])}`);
  return lines.join("\n") + "\n";
}

export function formatDevVarsExample(): string {
  const lines = ["# Copy to .dev.vars and fill in. create-stripeflare writes .dev.vars for you.", ""];
  for (const key of DEV_VARS_KEYS) lines.push(`# ${COMMENTS[key]}`, `${key}=`);
  return lines.join("\n") + "\n";
}

/** Write-then-rename in the same folder: readers see the old file or the new one, never a mix. */
export function writeFileAtomic(file: string, content: string, mode = 0o644): void {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    writeFileSync(temp, content, { mode });
    chmodSync(temp, mode); // the umask may have narrowed or the file may have existed
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

export function writeDevVars(dir: string, vars: DevVars): void {
  writeFileAtomic(join(dir, ".dev.vars"), formatDevVars(vars), 0o600);
}

/**
 * In-place edit for a .dev.vars someone else wrote (`create-stripeflare add`): each key in
 * `updates` replaces only its own line, or is appended with its comment; every other line
 * (comments, order, other keys) stays as it was. Mode 0600, written atomically.
 */
export function updateDevVarsFile(dir: string, updates: Record<string, string>): void {
  const file = join(dir, ".dev.vars");
  let text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const appended: string[] = [];
  for (const [key, value] of Object.entries(updates)) {
    const line = new RegExp(`^([ \\t]*(?:export[ \\t]+)?${key}[ \\t]*=).*$`, "m");
    if (line.test(text)) text = text.replace(line, () => `${key}=${quote(value)}`);
    else appended.push(...(key in COMMENTS ? [`# ${COMMENTS[key as DevVarsKey]}`] : []), `${key}=${quote(value)}`);
  }
  if (appended.length) {
    const header = text.trim() ? ["", "# Stripeflare wallet (create-stripeflare add)"] : ["# Local secrets for `wrangler dev`. Never commit this file (it is in .gitignore).", ""];
    text = text.replace(/\s*$/, text.trim() ? "\n" : "") + [...header, ...appended].join("\n") + "\n";
  }
  writeFileAtomic(file, text, 0o600);
}

/** .dev.vars.example: created when missing, otherwise only the missing keys are appended (empty). */
export function ensureDevVarsExample(dir: string): boolean {
  const file = join(dir, ".dev.vars.example");
  if (!existsSync(file)) {
    writeFileSync(file, formatDevVarsExample());
    return true;
  }
  const text = readFileSync(file, "utf8");
  const present = parseDotenv(text);
  const missing = DEV_VARS_KEYS.filter((key) => !(key in present));
  if (!missing.length) return false;
  const lines = ["", "# Stripeflare wallet (create-stripeflare add)", ...missing.flatMap((key) => [`# ${COMMENTS[key]}`, `${key}=`])];
  writeFileSync(file, text.replace(/\s*$/, "\n") + lines.join("\n").replace(/^\n/, text.trim() ? "\n" : "") + "\n");
  return true;
}
