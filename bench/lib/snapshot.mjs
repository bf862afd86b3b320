// Benchmarks measure a commit, not a working tree other people are editing: the sources are
// exported from git (`git archive`) into a temporary folder, with the template's installed
// node_modules linked in. wrangler dev then watches files nobody touches, so no reload lands
// in the middle of a run. BENCH_SOURCE=worktree measures the working tree instead (a copy).
import { execFileSync, execSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { root, template } from "./env.mjs";

const PATHS = ["templates/default", "templates/mcp", "bench/worker", "bench/worker-mppx", "bench/worker-mcp"];

export function snapshot() {
  const dir = mkdtempSync(join(os.tmpdir(), "stripeflare-bench-src-"));
  const source = process.env.BENCH_SOURCE === "worktree" ? "worktree" : "HEAD";
  let commit;
  if (source === "HEAD") {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
    execSync(`git archive HEAD ${PATHS.join(" ")} | tar -x -C ${JSON.stringify(dir)}`, { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  } else {
    commit = "worktree";
    for (const p of PATHS) {
      mkdirSync(join(dir, p), { recursive: true });
      cpSync(join(root, p), join(dir, p), {
        recursive: true,
        filter: (src) => !/\/(node_modules|\.wrangler)(\/|$)/.test(src) && !src.endsWith(".dev.vars"),
      });
    }
  }
  for (const name of ["default", "mcp"]) {
    rmSync(join(dir, `templates/${name}/node_modules`), { recursive: true, force: true });
    symlinkSync(join(root, `templates/${name}/node_modules`), join(dir, `templates/${name}/node_modules`));
  }
  return { dir, source, commit, close: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The whole repository at HEAD, built (`node scripts/build.mjs`) as a clean clone would be:
 * what `npm pack` publishes and what the CLI scaffolds from, without untracked files of the
 * working tree (generated types, local state). Built once per process.
 */
let built;
export function builtSnapshot() {
  if (built) return built;
  const dir = mkdtempSync(join(os.tmpdir(), "stripeflare-bench-repo-"));
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  execSync(`git archive HEAD | tar -x -C ${JSON.stringify(dir)}`, { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  // node_modules was only needed to build; the package must not see it.
  rmSync(join(dir, "node_modules"));
  built = { dir, commit, close: () => rmSync(dir, { recursive: true, force: true }) };
  process.once("exit", () => built?.close());
  return built;
}
