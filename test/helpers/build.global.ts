// vitest globalSetup: build the CLI bundle before any test runs it.
import { execFileSync } from "node:child_process";
import { join, resolve } from "node:path";

export default function setup(): void {
  const root = resolve(import.meta.dirname, "..", "..");
  execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" });
}
