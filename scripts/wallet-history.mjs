// Records a released version of the default template, so `create-stripeflare upgrade` can tell
// an unmodified copy from an edited one and merge edits (the released files are the merge base).
//
//   node scripts/wallet-history.mjs <version> <git-ref>
//
// Run it for the version being replaced, from the commit that released it, before the template's
// WALLET_VERSION moves on. It writes history/default/<version>.json (every file a project got
// from the template then, path → sha256, as the CLI copied it) and history/objects/<sha256>
// (the files' contents, stored once however many versions share them). Two generated files keep
// only their hash: worker-configuration.d.ts (`wrangler types` makes it again) and
// package-lock.json (npm does).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const [version, ref] = process.argv.slice(2);
if (!/^\d+\.\d+\.\d+$/.test(version ?? "") || !ref) {
  console.error("usage: node scripts/wallet-history.mjs <version> <git-ref>   (e.g. 1.0.0 a182d92)");
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const git = (...args) => execFileSync("git", args, { cwd: root, maxBuffer: 64 * 1024 * 1024 });
const prefix = "templates/default/";
// As src/template.ts copies: these never reach a project, and _gitignore becomes .gitignore
// (the template's own .gitignore is for this repository).
const SKIPPED = new Set(["node_modules", ".wrangler", ".dev.vars", "test-results", ".git", ".stripeflare.json", "coverage", ".DS_Store"]);
const HASH_ONLY = new Set(["worker-configuration.d.ts", "package-lock.json"]);

const files = {};
for (const line of git("ls-tree", "-r", "--name-only", ref, prefix).toString().split("\n").filter(Boolean)) {
  const rel = line.slice(prefix.length);
  if (rel.split("/").some((part) => SKIPPED.has(part)) || rel === ".gitignore" || rel.endsWith(".tgz")) continue;
  const target = rel === "_gitignore" ? ".gitignore" : rel;
  const content = git("show", `${ref}:${line}`);
  const sha = createHash("sha256").update(content).digest("hex");
  files[target] = sha;
  const object = join(root, "history", "objects", sha);
  if (!HASH_ONLY.has(target) && !existsSync(object)) {
    mkdirSync(dirname(object), { recursive: true });
    writeFileSync(object, content);
  }
}
const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b)));
const commit = git("rev-parse", "--short", ref).toString().trim();
writeFileSync(join(root, "history", "default", `${version}.json`), JSON.stringify({ version, commit, files: sorted }, null, 2) + "\n");
console.log(`history/default/${version}.json: ${Object.keys(sorted).length} files from ${commit}`);
