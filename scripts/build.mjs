// Bundles src/ into dist/index.js with esbuild. Everything but the Stripe SDK is bundled (small,
// pure JS), so installing the CLI pulls one dependency; giget is split into its own chunk and
// loaded only for remote templates.
import { readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

rmSync(join(root, "dist"), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { index: "src/index.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20.19",
  minify: true,
  legalComments: "linked",
  external: ["stripe"],
  // jsonc-parser's "main" is a UMD build that require()s its parts dynamically; take its ESM build.
  mainFields: ["module", "main"],
  // prompts picks a transpiled copy for Node < 8.6 at run time; bundle only the modern one.
  alias: { prompts: "prompts/lib/index.js" },
  define: { __VERSION__: JSON.stringify(pkg.version) },
  // Bundled CommonJS (prompts) calls require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  metafile: true,
  logLevel: "warning",
});
const bytes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith(".js"))
  .reduce((sum, [, output]) => sum + output.bytes, 0);
// stderr, so `npm pack --json` (which runs this as prepack) keeps a clean stdout.
console.error(`built dist/ (${(bytes / 1024).toFixed(1)} KiB of JavaScript)`);
