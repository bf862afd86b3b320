// Output: progress on stdout, the one-line failure reason on stderr. Colour only on a terminal
// (kolorist honours NO_COLOR / FORCE_COLOR and non-TTY output).
import { bold, cyan, dim, green, red, yellow } from "kolorist";
import { redactSecrets } from "./keys.js";
import type { RerunHint } from "./rerun.js";

/** Steps that have changed something, for the "what was done" message on failure or Ctrl-C. */
export const progress: string[] = [];

export function step(message: string): void {
  progress.push(message);
  console.log(`${green("✔")} ${message}`);
}

export function info(message: string): void {
  console.log(`${cyan("›")} ${message}`);
}

export function note(message: string): void {
  console.log(`${yellow("!")} ${message}`);
}

export function heading(message: string): void {
  console.log(`\n${bold(message)}`);
}

export function failure(message: string): void {
  // Redacted here too: the reason may come from a library or a child process, not from us.
  process.stderr.write(`${red("✖")} ${redactSecrets(message.split("\n")[0])}\n`);
}

/** Printed before exiting on failure or interrupt, so a user knows what exists and what to do. */
export function reportProgress(rerun: RerunHint): void {
  if (!progress.length) {
    console.log(dim("Nothing was changed."));
    return;
  }
  console.log(`\n${bold("Done before stopping:")}`);
  for (const line of progress) console.log(`  ${dim("-")} ${line}`);
  console.log(`Run ${cyan(rerun.command)} again to finish; it reuses what exists instead of creating duplicates.`);
  if (rerun.maskedSecret) console.log(dim(`(Put your full secret key where it shows ${rerun.maskedSecret}, or set STRIPE_SECRET and leave the flag out.)`));
}

export { bold, cyan, dim, green, red, yellow };
