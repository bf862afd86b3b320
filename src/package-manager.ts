// Which package manager launched us (npm_config_user_agent is set by npm, pnpm, yarn and bun
// for `create` commands), and how to run it.
import { execa } from "execa";
import type { PackageManager } from "./args.js";

export function detectPackageManager(userAgent = process.env.npm_config_user_agent): PackageManager {
  const name = userAgent?.split(" ")[0]?.split("/")[0];
  return name === "pnpm" || name === "yarn" || name === "bun" ? name : "npm";
}

export function runScriptCommand(pm: PackageManager, script: string): string {
  return pm === "npm" ? `npm run ${script}` : `${pm} ${script}`;
}

export async function installDependencies(pm: PackageManager, dir: string): Promise<void> {
  try {
    // Output goes to the user's terminal: installs are slow and their progress is the feedback.
    await execa(pm, ["install"], { cwd: dir, stdio: ["ignore", "inherit", "inherit"] });
  } catch (error) {
    const e = error as { code?: string; exitCode?: number };
    if (e.code === "ENOENT") throw new Error(`${pm} is not installed or not on PATH (choose another with --pm)`);
    throw new Error(`${pm} install failed (exit ${e.exitCode ?? "?"}); fix the error above and run \`${pm} install\` in the project`);
  }
}
