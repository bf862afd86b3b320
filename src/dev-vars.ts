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

/**
 * A value written so that dotenv (what wrangler reads .dev.vars with) reads back exactly it:
 * bare when it needs nothing, else single quotes (taken literally, newlines too), else
 * backticks; each checked by parsing it back. What none of them carries intact is refused.
 */
export function quoteDevVar(key: string, value: string): string {
  const candidates = [value, `'${value}'`, `\`${value}\``];
  const fits = candidates.find((text, i) => (i > 0 || /^[^\s#'"`\\]*$/.test(value)) && parseDotenv(`${key}=${text}\n`)[key] === value);
  if (fits === undefined) {
    throw new Error(`the value for ${key} cannot be written to .dev.vars so that it reads back unchanged (its mix of quotes and line breaks): set it by hand`);
  }
  return fits;
}

export function formatDevVars(vars: DevVars): string {
  const lines = ["# Local secrets for `wrangler dev`. Never commit this file (it is in .gitignore).", ""];
  for (const key of DEV_VARS_KEYS) lines.push(`# ${COMMENTS[key]}`, `${key}=${quoteDevVar(key, vars[key])}`);
  const extra = Object.keys(vars).filter((key) => !(DEV_VARS_KEYS as readonly string[]).includes(key));
  if (extra.length) lines.push("", "# Added by you");
  for (const key of extra) lines.push(`${key}=${quoteDevVar(key, vars[key])}`);
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
 * In-place edit of a .dev.vars that may hold the user's own lines: each key in `updates` is
 * set where dotenv reads it (its last assignment, multi-line quoted values included), or
 * appended with its comment; every other line stays as it was. The result is parsed again
 * before it is written: if any key would not read back as intended, nothing is written and
 * the error says why. Mode 0600, written atomically.
 */
export function updateDevVarsFile(dir: string, updates: Record<string, string>): void {
  const file = join(dir, ".dev.vars");
  const before = existsSync(file) ? readFileSync(file, "utf8") : "";
  const lines = before.split("\n");
  const spans = assignmentSpans(lines);
  const appended: string[] = [];
  // From the bottom up, so earlier spans keep their line numbers.
  const edits = Object.entries(updates)
    .map(([key, value]) => ({ key, line: `${key}=${quoteDevVar(key, value)}`, span: spans.filter((s) => s.key === key).at(-1) }))
    .sort((a, b) => (b.span?.start ?? -1) - (a.span?.start ?? -1));
  for (const edit of edits) {
    if (edit.span) lines.splice(edit.span.start, edit.span.end - edit.span.start + 1, edit.line);
    else appended.unshift(...(edit.key in COMMENTS ? [`# ${COMMENTS[edit.key as DevVarsKey]}`] : []), edit.line);
  }
  let text = lines.join("\n");
  if (appended.length) {
    const header = text.trim() ? ["", "# Stripeflare wallet (create-stripeflare)"] : ["# Local secrets for `wrangler dev`. Never commit this file (it is in .gitignore).", ""];
    text = text.replace(/\s*$/, text.trim() ? "\n" : "") + [...header, ...appended].join("\n") + "\n";
  }
  const expected = { ...parseDotenv(before), ...updates };
  const actual = parseDotenv(text);
  const wrong = Object.keys(expected).find((key) => actual[key] !== expected[key]);
  if (wrong !== undefined) {
    throw new Error(`cannot edit .dev.vars safely (${wrong} would not read back as it should): edit it by hand, then run again`);
  }
  writeFileAtomic(file, text, 0o600);
}

/**
 * Where each assignment of a .dev.vars is, as dotenv sees it: `KEY=value` on one line, or a
 * quoted value that runs over several lines up to its closing quote. Comment lines are skipped.
 */
export function assignmentSpans(lines: string[]): { key: string; start: number; end: number }[] {
  const spans: { key: string; start: number; end: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const match = /^\s*(?:export\s+)?([\w.-]+)\s*=\s*(.*)$/.exec(lines[i]!);
    if (!match) continue;
    const [, key, value] = match as unknown as [string, string, string];
    let end = i;
    const quote = value[0];
    if (quote === "'" || quote === '"' || quote === "`") {
      const closes = (text: string) => new RegExp(`(?<!\\\\)\\${quote}`).test(text);
      if (!closes(value.slice(1))) {
        let j = i + 1;
        while (j < lines.length && !closes(lines[j]!)) j++;
        if (j < lines.length) end = j; // an unclosed quote is not multi-line to dotenv: one line
      }
    }
    spans.push({ key, start: i, end });
    i = end;
  }
  return spans;
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
