// Output: progress on stdout, the one-line failure reason on stderr. Colour only on a terminal
// (kolorist honours NO_COLOR / FORCE_COLOR and non-TTY output).
import { bold, cyan, dim, green, red, yellow } from "kolorist";
import { redactSecrets } from "./keys.js";
import type { RerunHint } from "./rerun.js";

/** Steps that have changed something, for the "what was done" message on failure or Ctrl-C. */
export const progress: string[] = [];

/** A spinner line is on screen (TTY only): clear it before printing, the next frame redraws it. */
let spinning = false;
function say(line: string): void {
  if (spinning) process.stdout.write("\r\x1b[K");
  console.log(line);
}

export function step(message: string): void {
  progress.push(message);
  say(`${green("✔")} ${message}`);
}

export function info(message: string): void {
  say(`${cyan("›")} ${message}`);
}

export function note(message: string): void {
  say(`${yellow("!")} ${message}`);
}

/**
 * Shows that a slow step is under way until `work` settles: a spinner on a terminal, one
 * "…" line otherwise (a log, CI). Lines printed meanwhile (step reports) stay readable.
 */
export async function withSpinner<T>(message: string, work: Promise<T>): Promise<T> {
  if (!process.stdout.isTTY) {
    console.log(`${dim("…")} ${message}`);
    return work;
  }
  const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
  let frame = 0;
  const draw = () => process.stdout.write(`\r${cyan(frames[frame++ % frames.length]!)} ${message}\x1b[K`);
  spinning = true;
  draw();
  const timer = setInterval(draw, 80);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    spinning = false;
    process.stdout.write("\r\x1b[K");
  }
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
