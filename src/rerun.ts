// The "Run … again to finish" line printed after a failure or Ctrl-C: the user's own command,
// without what must never be shown. A key the project's .dev.vars already holds is left out, since
// the rerun reads it from there (CONTRACT §1 lookup order); a secret key it does not hold is masked
// and the user is told to put it back, because a command with a masked key cannot be run as is.
import { basename, resolve } from "node:path";
import type { Flags } from "./args.js";
import { readDevVars } from "./dev-vars.js";
import { maskSecret, redactSecrets } from "./keys.js";
import { readState } from "./state.js";

const KEY_FLAGS = {
  "--stripe-secret": "STRIPE_SECRET",
  "--stripe-publishable-key": "STRIPE_PUBLISHABLE_KEY",
} as const;
export type KeyName = (typeof KEY_FLAGS)[keyof typeof KEY_FLAGS];

export interface RerunHint {
  command: string;
  /** The masked secret key shown in `command`, when the user must supply it again. */
  maskedSecret?: string;
}

/** Quotes an argument for a POSIX shell only when it needs it. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A word as printed: quoted for the shell, or masked (no longer runnable, so not quoted). */
function shown(arg: string): string {
  const redacted = redactSecrets(arg);
  return redacted === arg ? shellQuote(arg) : redacted;
}

/**
 * The command to run again. `saved(name, value)` tells whether the rerun would find that key
 * value by itself (in the project's .dev.vars); such keys are dropped from the command.
 */
export function rerunHint(argv: string[], saved: (name: KeyName, value: string) => boolean): RerunHint {
  const words = ["npx", "create-stripeflare"];
  let maskedSecret: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    if (!(flag in KEY_FLAGS)) {
      words.push(shown(arg));
      continue;
    }
    const name = KEY_FLAGS[flag as keyof typeof KEY_FLAGS];
    const value = inline ?? argv[++i];
    if (value === undefined) continue;
    if (saved(name, value.trim())) continue;
    if (name === "STRIPE_SECRET") {
      maskedSecret = maskSecret(value.trim());
      words.push(flag, maskedSecret);
    } else words.push(flag, shown(value)); // publishable keys are public by design
  }
  return { command: words.join(" "), maskedSecret };
}

/**
 * Whether a rerun of this command would read `value` for `name` from the project itself: the
 * project's .dev.vars holds it, a new project's folder is marked as ours (else the rerun would not
 * read its .dev.vars), and no different value in the environment would win over it.
 */
export function savedInProject(flags: Pick<Flags, "command" | "directory">, env: NodeJS.ProcessEnv = process.env) {
  const dir = flags.command === "add" ? resolve(flags.directory ?? ".") : flags.directory && resolve(flags.directory);
  return (name: KeyName, value: string): boolean => {
    if (!dir) return false;
    if (env[name] && env[name]!.trim() !== value) return false;
    try {
      const state = flags.command === "create" ? readState(dir) : undefined;
      if (flags.command === "create" && !(state?.scaffolded && state.project === basename(dir))) return false;
      return readDevVars(dir)[name]?.trim() === value;
    } catch {
      return false;
    }
  };
}
