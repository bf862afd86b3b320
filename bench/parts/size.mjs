// Sizes: the Worker bundle (gzip) as `wrangler deploy --dry-run --outdir` builds it, for
// the template and for the bare bench Worker; the CLI's packed and installed size beside
// create-vite and create-cloudflare.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { ensureTool } from "../lib/compare-tools.mjs";
import { toolEnv, wranglerBin } from "../lib/env.mjs";
import { builtSnapshot, snapshot } from "../lib/snapshot.mjs";

export async function bundle() {
  // From a snapshot of the commit (see lib/snapshot.mjs), so the checkout is not touched.
  const src = snapshot();
  try {
    const rows = [
      dryRun("template (wallet + example app)", join(src.dir, "templates/default"), join(src.dir, "templates/default/wrangler.jsonc"), "cd templates/default && npx wrangler deploy --dry-run --outdir <tmp>"),
      dryRun("bare bench Worker (floor)", join(src.dir, "bench/worker"), join(src.dir, "bench/worker/wrangler.bare.jsonc"), "npx wrangler deploy --dry-run -c bench/worker/wrangler.bare.jsonc --outdir <tmp>"),
    ];
    return { source: { from: src.source, commit: src.commit }, rows };
  } finally {
    src.close();
  }
}

export function dryRun(label, cwd, config, command) {
  const outdir = mkdtempSync(join(os.tmpdir(), "stripeflare-bench-bundle-"));
  try {
    const result = spawnSync(wranglerBin, ["deploy", "--dry-run", "-c", config, "--outdir", outdir], {
      cwd,
      env: toolEnv(),
      encoding: "utf8",
    });
    if (result.status !== 0) throw new Error(`wrangler deploy --dry-run failed for ${label}:\n${result.stdout}\n${result.stderr}`);
    const reported = (result.stdout + result.stderr).match(/Total Upload:\s*([\d.]+) KiB\s*\/\s*gzip:\s*([\d.]+) KiB/);
    const files = walk(outdir).filter((f) => /\.(m?js|wasm)$/.test(f));
    let raw = 0;
    let gzip = 0;
    for (const file of files) {
      const bytes = readFileSync(file);
      raw += bytes.length;
      gzip += gzipSync(bytes, { level: 9 }).length;
    }
    return {
      worker: label,
      "modules": files.map((f) => relative(outdir, f)).join(", "),
      "raw KiB": +(raw / 1024).toFixed(1),
      "gzip -9 KiB": +(gzip / 1024).toFixed(1),
      "wrangler: upload KiB": reported ? +reported[1] : null,
      "wrangler: gzip KiB": reported ? +reported[2] : null,
      command,
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** Packed size (`npm pack --dry-run --json`) and installed size (a real `npm install` of the tarball). */
export async function pack() {
  // From a clean export of HEAD, built: what a publish from a fresh clone would pack.
  const repo = builtSnapshot();
  const ours = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: repo.dir, encoding: "utf8", env: toolEnv() }))[0];
  if (!ours.files.some((f) => f.path.startsWith("dist/"))) throw new Error("the packed CLI has no dist/: the build did not run");
  const rows = [packRow("create-stripeflare", `HEAD ${repo.commit}`, ours, installedSize("create-stripeflare", repo.dir))];
  for (const pkg of ["create-vite", "create-cloudflare"]) {
    const tool = ensureTool(pkg);
    const info = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", `${pkg}@${tool.version}`], { cwd: os.tmpdir(), encoding: "utf8" }))[0];
    rows.push(packRow(pkg, tool.version, info, du(join(tool.prefix, "node_modules"))));
  }
  const base = rows[0];
  for (const row of rows) {
    row["packed vs create-stripeflare"] = +(row["packed KiB"] / base["packed KiB"]).toFixed(2);
    row["installed vs create-stripeflare"] = +(row["installed KiB"] / base["installed KiB"]).toFixed(2);
  }
  return {
    rows,
    files: ours.files.map((f) => ({ path: f.path, size: f.size })).sort((a, b) => b.size - a.size).slice(0, 15),
    commands: ["git archive HEAD | tar -x -C <tmp>; node scripts/build.mjs; npm pack --dry-run --json --ignore-scripts", "npm pack --dry-run --json <pkg>@<version>", "npm install --prefix <tmp> <tarball or pkg>; du -sb <tmp>/node_modules"],
  };
}

function packRow(name, version, info, installed) {
  return {
    package: name,
    version,
    files: info.entryCount,
    "packed KiB": +(info.size / 1024).toFixed(1),
    "unpacked KiB": +(info.unpackedSize / 1024).toFixed(1),
    "installed KiB": +(installed.bytes / 1024).toFixed(0),
    "installed packages": installed.packages,
  };
}

/** Install our own packed tarball into a temporary folder and measure node_modules. */
function installedSize(name, dir) {
  const tmp = mkdtempSync(join(os.tmpdir(), "stripeflare-bench-install-"));
  try {
    const out = JSON.parse(execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", tmp], { cwd: dir, encoding: "utf8", env: toolEnv() }))[0];
    const prefix = join(tmp, "prefix");
    mkdirSync(prefix);
    execFileSync("npm", ["install", "--prefix", prefix, "--no-audit", "--no-fund", "--omit=dev", join(tmp, out.filename)], { stdio: "ignore" });
    return du(join(prefix, "node_modules"));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function du(dir) {
  const bytes = Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split(/\s/)[0]);
  const packages = walkPackages(dir);
  return { bytes, packages };
}

function walkPackages(dir) {
  let count = 0;
  for (const name of readdirSync(dir)) {
    if (name.startsWith(".")) continue;
    const path = join(dir, name);
    if (name.startsWith("@")) count += walkPackages(path);
    else if (existsSync(join(path, "package.json"))) {
      count++;
      if (existsSync(join(path, "node_modules"))) count += walkPackages(join(path, "node_modules"));
    }
  }
  return count;
}
