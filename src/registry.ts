// The projects this CLI made on this machine: ~/.stripeflare/projects.json maps each project's
// folder (real path) to its project id. A folder is ours to continue in only when it is listed
// here with the id its .stripeflare.json names: that file alone is easy to write by hand (or to
// find in a cloned repository), and continuing runs the folder's install scripts with the
// user's Stripe work around them.
import { existsSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "./dev-vars.js";

function registryFile(): string {
  return join(homedir(), ".stripeflare", "projects.json");
}

function read(): Record<string, string> {
  try {
    const parsed = JSON.parse(readFileSync(registryFile(), "utf8"));
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

function key(dir: string): string {
  return existsSync(dir) ? realpathSync(dir) : dir;
}

export function isRemembered(dir: string, projectId: string | undefined): boolean {
  return Boolean(projectId) && read()[key(dir)] === projectId;
}

/** Best effort: a home folder we cannot write to only means the next run asks for --force. */
export function remember(dir: string, projectId: string): void {
  try {
    const all = read();
    if (all[key(dir)] === projectId) return;
    all[key(dir)] = projectId;
    mkdirSync(join(homedir(), ".stripeflare"), { recursive: true, mode: 0o700 });
    writeFileAtomic(registryFile(), JSON.stringify(all, null, 2) + "\n", 0o600);
  } catch {
    // not fatal
  }
}
