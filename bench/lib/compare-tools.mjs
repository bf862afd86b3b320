// create-vite and create-cloudflare, installed from the npm registry into a temporary
// folder (never as dependencies of this repository), for side-by-side comparisons.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";

export const cmpDir = join(os.tmpdir(), "stripeflare-bench-cmp");

export function ensureTool(pkg) {
  const prefix = join(cmpDir, pkg);
  const manifest = join(prefix, "node_modules", pkg, "package.json");
  if (!existsSync(manifest)) {
    mkdirSync(prefix, { recursive: true });
    console.error(`installing ${pkg} from the npm registry into ${prefix}`);
    execFileSync("npm", ["install", "--prefix", prefix, "--no-audit", "--no-fund", "--no-save", pkg], { stdio: "inherit" });
  }
  const { version, bin } = JSON.parse(readFileSync(manifest, "utf8"));
  const binPath = typeof bin === "string" ? bin : bin[pkg];
  return { pkg, version, prefix, bin: join(prefix, "node_modules", pkg, binPath) };
}

/**
 * create-cloudflare has no --no-install: it always runs `npm install` (and a few npm steps
 * after it). For a like-for-like "scaffold without install" it runs with this stand-in npm
 * first on PATH, which does nothing and exits 0; everything else it does is real.
 */
export function noInstallShim() {
  const dir = join(cmpDir, "npm-shim");
  mkdirSync(dir, { recursive: true });
  for (const name of ["npm", "npx"]) {
    const file = join(dir, name);
    writeFileSync(file, '#!/bin/sh\n# bench stand-in: installs nothing\ncase "$1" in --version|-v) echo 10.9.0;; esac\nexit 0\n');
    chmodSync(file, 0o755);
  }
  return dir;
}
