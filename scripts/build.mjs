// Bundles src/ into dist/ with esbuild, dependencies included, so `npx create-stripeflare` downloads
// one small tarball and installs nothing else. The Stripe SDK (23 MB installed, ~250 KB of it
// bundled) and giget are split into chunks that load only when a run talks to Stripe or fetches a
// remote template.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

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
  legalComments: "none", // license texts go to dist/THIRD_PARTY_LICENSES.md instead
  // jsonc-parser's "main" is a UMD build that require()s its parts dynamically; take its ESM build.
  mainFields: ["module", "main"],
  // prompts picks a transpiled copy for Node < 8.6 at run time; bundle only the modern one.
  alias: { prompts: "prompts/lib/index.js" },
  define: { __VERSION__: JSON.stringify(pkg.version) },
  // Bundled CommonJS (prompts) calls require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  metafile: true,
  logLevel: "warning",
  // Written below, file by file: tests (ours and other engineers') may be running dist/ while a
  // rebuild happens, so no file is ever missing or half-written.
  write: false,
});

const dist = join(root, "dist");
mkdirSync(dist, { recursive: true });
const fresh = new Set();
for (const file of result.outputFiles) {
  const temp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(temp, file.contents);
  renameSync(temp, file.path);
  fresh.add(file.path);
}
// The bundle carries other packages' code, so it carries their license texts too.
const bundled = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const at = input.lastIndexOf("node_modules/");
  if (at < 0) continue;
  const parts = input.slice(at + "node_modules/".length).split("/");
  const name = parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
  if (bundled.has(name)) continue;
  const dir = join(root, input.slice(0, at), "node_modules", name);
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  // Packages that bundle others ship those notices too (giget: dist/THIRD-PARTY-LICENSES.md).
  const files = [
    ...readdirSync(dir).filter((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f)),
    ...(existsSync(join(dir, "dist")) ? readdirSync(join(dir, "dist")).filter((f) => /^third-party-licen[cs]es/i.test(f)).map((f) => `dist/${f}`) : []),
  ];
  const text = files.map((f) => readFileSync(join(dir, f), "utf8").trim()).join("\n\n");
  bundled.set(name, { version: manifest.version, license: manifest.license, text });
}
const notices = [...bundled].sort(([a], [b]) => a.localeCompare(b)).map(
  ([name, info]) => `## ${name}@${info.version} (${info.license ?? "see text"})\n\n${info.text || "(no license file shipped)"}\n`,
);
writeFileSync(join(dist, "THIRD_PARTY_LICENSES.md"), `# Bundled third-party packages\n\n${notices.join("\n")}`);
fresh.add(join(dist, "THIRD_PARTY_LICENSES.md"));

// Chunk names carry a content hash: files of an older build are removed once the new ones exist.
for (const name of existsSync(dist) ? readdirSync(dist) : []) {
  if (!fresh.has(join(dist, name)) && !name.endsWith(".tmp")) rmSync(join(dist, name), { force: true });
}

const bytes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith(".js"))
  .reduce((sum, [, output]) => sum + output.bytes, 0);
// stderr, so `npm pack --json` (which runs this as prepack) keeps a clean stdout.
console.error(`built dist/ (${(bytes / 1024).toFixed(1)} KiB of JavaScript)`);
