// Stripe keys: where they come from (flag, env, ~/.stripeflare.dev.vars, prompt), what mode they
// are in, and how to show them without leaking them.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse as parseDotenv } from "dotenv";

export type StripeMode = "test" | "live";

export interface KeySource {
  value: string;
  from: "flag" | "environment" | "project .dev.vars" | "~/.stripeflare.dev.vars" | "prompt";
}

export const HOME_VARS_FILE = ".stripeflare.dev.vars";

/** ~/.stripeflare.dev.vars in dotenv format; missing or unreadable -> {}. */
export function readHomeVars(home = homedir()): Record<string, string> {
  try {
    return parseDotenv(readFileSync(join(home, HOME_VARS_FILE), "utf8"));
  } catch {
    return {};
  }
}

/**
 * Flag, environment, then (on a rerun) the project's own .dev.vars, then ~/.stripeflare.dev.vars.
 * The project's file comes before the home file so a rerun never silently switches accounts.
 */
export function lookupKey(
  flag: string | undefined,
  envName: "STRIPE_SECRET" | "STRIPE_PUBLISHABLE_KEY",
  env: NodeJS.ProcessEnv,
  homeVars: Record<string, string>,
  projectVars: Record<string, string> = {},
): KeySource | undefined {
  if (flag) return { value: flag.trim(), from: "flag" };
  if (env[envName]) return { value: env[envName]!.trim(), from: "environment" };
  if (projectVars[envName]) return { value: projectVars[envName].trim(), from: "project .dev.vars" };
  if (homeVars[envName]) return { value: homeVars[envName].trim(), from: "~/.stripeflare.dev.vars" };
  return undefined;
}

const SECRET_KEY = /^(sk|rk)_(test|live)_[A-Za-z0-9_]{8,}$/;
const PUBLISHABLE_KEY = /^pk_(test|live)_[A-Za-z0-9_]{8,}$/;

export function secretKeyMode(key: string): StripeMode {
  const match = SECRET_KEY.exec(key);
  if (!match) throw new Error(`the Stripe secret key ${maskSecret(key)} ${keyProblem(key, /^(sk|rk)_(test|live)_/, "sk_test_…, sk_live_…, rk_test_… or rk_live_…")}${key.startsWith("pk_") ? " (that is the publishable key)" : ""}`);
  return match[2] as StripeMode;
}

export function publishableKeyMode(key: string): StripeMode {
  const match = PUBLISHABLE_KEY.exec(key);
  if (!match) throw new Error(`the Stripe publishable key ${maskSecret(key)} ${keyProblem(key, /^pk_(test|live)_/, "pk_test_… or pk_live_…")}`);
  return match[1] as StripeMode;
}

/** What is wrong with a key whose shape is off: say which part, not just "expected …". */
function keyProblem(key: string, prefix: RegExp, expected: string): string {
  const head = prefix.exec(key)?.[0];
  if (!head) return `is not one: it should start with ${expected}`;
  const rest = key.slice(head.length);
  if (rest.length < 8) return `is too short: ${rest.length} character${rest.length === 1 ? "" : "s"} after ${head} (copy the whole key from the Stripe dashboard)`;
  return `has characters a Stripe key never has after ${head} (only letters, digits and _): check for spaces or quotes copied with it`;
}

/** Secret and restricted API keys and webhook signing secrets, wherever they appear in a text. */
const SECRET_IN_TEXT = /\b(?:(?:sk|rk)_(?:test|live)_|whsec_)[A-Za-z0-9_]+/g;

/**
 * Masks every secret in a text: the last line of defence for messages we did not write (a
 * library's error, a child process's output). Publishable keys are public by design and stay.
 */
export function redactSecrets(text: string): string {
  return text.replace(SECRET_IN_TEXT, (secret) => maskSecret(secret));
}

/** "sk_test_51Habc…xyz9" -> "sk_test_…xyz9": enough to recognise, useless to steal. */
export function maskSecret(value: string): string {
  if (!value) return "(empty)";
  const prefix = /^(?:sk|rk|pk)_(?:test|live)_|^whsec_/.exec(value)?.[0] ?? "";
  const tail = value.length - prefix.length > 8 ? value.slice(-4) : "";
  return `${prefix}…${tail}`;
}
