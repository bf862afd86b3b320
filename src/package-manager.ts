// Which package manager launched us (npm_config_user_agent is set by npm, pnpm, yarn and bun
// for `create` commands), and how to run it.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import type { PackageManager } from "./args.js";
import { childEnvOptions } from "./child-env.js";

export function detectPackageManager(userAgent = process.env.npm_config_user_agent): PackageManager {
  const name = userAgent?.split(" ")[0]?.split("/")[0];
  return name === "pnpm" || name === "yarn" || name === "bun" ? name : "npm";
}

export function runScriptCommand(pm: PackageManager, script: string): string {
  return pm === "npm" ? `npm run ${script}` : `${pm} ${script}`;
}

/**
 * `scripts` false: the packages' install scripts do not run (a template or folder we did not
 * make may carry code of anyone's). Never with our Stripe values in the environment.
 */
export async function installDependencies(pm: PackageManager, dir: string, { scripts = true, quiet = false } = {}): Promise<void> {
  const args = ["install", ...(scripts ? [] : ["--ignore-scripts"]), ...(quiet && pm === "npm" ? ["--loglevel=error"] : [])];
  try {
    // Output goes to the user's terminal: installs are slow and their progress is the feedback.
    await execa(pm, args, { cwd: dir, stdio: ["ignore", "inherit", "inherit"], ...childEnvOptions() });
  } catch (error) {
    const e = error as { code?: string; exitCode?: number };
    if (e.code === "ENOENT") throw new Error(`${pm} is not installed or not on PATH (choose another with --pm)`);
    throw new Error(`${pm} install failed (exit ${e.exitCode ?? "?"}); fix the error above and run \`${pm} install\` in the project`);
  }
}

/** The manager an existing project uses, told by its lockfile; undefined when it has none. */
export function projectPackageManager(dir: string): PackageManager | undefined {
  const lockfiles: [string, PackageManager][] = [
    ["pnpm-lock.yaml", "pnpm"],
    ["yarn.lock", "yarn"],
    ["bun.lock", "bun"],
    ["bun.lockb", "bun"],
    ["package-lock.json", "npm"],
  ];
  return lockfiles.find(([file]) => existsSync(join(dir, file)))?.[1];
}

/** The version of a package manager: from the user agent that launched us, else `<pm> --version`. */
async function packageManagerVersion(pm: PackageManager, userAgent = process.env.npm_config_user_agent): Promise<string | undefined> {
  const [name, version] = userAgent?.split(" ")[0]?.split("/") ?? [];
  if (name === pm && version && /^\d+\.\d+\.\d+/.test(version)) return version;
  try {
    const result = await execa(pm, ["--version"], { stdin: "ignore", timeout: 10_000, ...childEnvOptions() });
    return /^\d+\.\d+\.\d+[^\s]*$/.test(result.stdout.trim()) ? result.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The template pins npm in package.json's packageManager (Corepack enforces it) and ships an npm
 * lockfile. With another manager both would be wrong: the field names that manager (at the
 * version that runs, when known; otherwise it is removed) and the npm lockfile goes.
 * Returns a line for the progress report, or undefined when nothing changed.
 */
export async function setPackageManagerField(dir: string, pm: PackageManager): Promise<string | undefined> {
  const file = join(dir, "package.json");
  if (pm === "npm" || !existsSync(file)) return undefined;
  const text = readFileSync(file, "utf8");
  const json = JSON.parse(text) as Record<string, unknown>;
  const changes: string[] = [];
  if (typeof json.packageManager === "string" && !json.packageManager.startsWith(`${pm}@`)) {
    const version = await packageManagerVersion(pm);
    if (version) json.packageManager = `${pm}@${version}`;
    else delete json.packageManager;
    writeFileSync(file, JSON.stringify(json, null, 2) + "\n");
    changes.push(version ? `set packageManager to ${pm}@${version}` : "removed packageManager (it named npm)");
  }
  if (existsSync(join(dir, "package-lock.json"))) {
    rmSync(join(dir, "package-lock.json"));
    changes.push(`removed package-lock.json (${pm} writes its own lockfile)`);
  }
  return changes.length ? `package.json for ${pm}: ${changes.join(", ")}` : undefined;
}
