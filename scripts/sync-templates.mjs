// The MCP template (templates/mcp) carries the same wallet and local tools as the default
// template: one source, templates/default, copied here so each template folder deploys on its
// own (the Deploy to Cloudflare button copies one folder). `node scripts/sync-templates.mjs`
// copies; `--check` exits 1 naming what differs (test/templates-shared.test.ts runs it).
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const from = join(root, "templates/default");
/** Paths every template gets from the default one, as they are there. */
export const SHARED = [
  "src/stripeflare",
  "scripts/pay.ts",
  "scripts/pay",
  "scripts/stripe-local.ts",
  "scripts/stripe-local",
  "scripts/dev.mjs",
  "scripts/node-check.mjs",
  "scripts/test.mjs",
  "test/global-setup.ts",
  "test/raw.d.ts",
  ".dev.vars.example",
  "_gitignore",
  ".gitignore",
  "tsconfig.json",
];
export const TARGETS = ["templates/mcp"];

function files(dir) {
  if (!existsSync(dir)) return [];
  if (statSync(dir).isFile()) return [dir];
  return readdirSync(dir).flatMap((name) => files(join(dir, name)));
}

/** Shared files that differ between the default template and `target` (relative paths). */
export function differences(target) {
  const out = [];
  for (const path of SHARED) {
    const a = files(join(from, path)).map((f) => relative(from, f));
    const b = files(join(root, target, path)).map((f) => relative(join(root, target), f));
    for (const file of new Set([...a, ...b])) {
      const left = join(from, file);
      const right = join(root, target, file);
      if (!existsSync(left) || !existsSync(right) || !readFileSync(left).equals(readFileSync(right))) out.push(file);
    }
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const check = process.argv.includes("--check");
  let differing = 0;
  for (const target of TARGETS) {
    const diff = differences(target);
    if (check) {
      for (const file of diff) console.error(`${target}/${file} differs from templates/default/${file}`);
      differing += diff.length;
      continue;
    }
    for (const path of SHARED) {
      rmSync(join(root, target, path), { recursive: true, force: true });
      if (existsSync(join(from, path))) cpSync(join(from, path), join(root, target, path), { recursive: true });
    }
    console.log(`${target}: ${SHARED.length} shared paths copied from templates/default`);
  }
  if (differing) {
    console.error("run `node scripts/sync-templates.mjs` (edit the wallet in templates/default only)");
    process.exit(1);
  }
}
