// The wallet module (templates/default/src/stripeflare) as `add` puts it into someone's project:
// copied from the bundled template at run time, so it is always this version's wallet, and the
// packages it imports, at the versions the template's package.json pins.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { applyEdits, modify } from "jsonc-parser";
import { copyTemplateDir, templatesRoot } from "./template.js";
import { parseJsonc } from "./wrangler-config.js";

export const WALLET_DIR_NAME = "stripeflare";

export function walletSource(): string {
  return join(templatesRoot(), "default", "src", WALLET_DIR_NAME);
}

function walletFiles(dir: string, rel = ""): string[] {
  return readdirSync(join(dir, rel)).flatMap((entry) => {
    const path = rel ? `${rel}/${entry}` : entry;
    return statSync(join(dir, path)).isDirectory() ? walletFiles(dir, path) : [path];
  });
}

export type WalletCopy = "copied" | "present" | "differs";

/** Whether `dir` holds the Stripeflare wallet (its index.ts exports withStripeflare). */
export function isWalletDir(dir: string): boolean {
  const index = join(dir, "index.ts");
  return existsSync(index) && readFileSync(index, "utf8").includes("withStripeflare");
}

/**
 * Copies the wallet into `dest`. A folder from an earlier run is left alone (it may have been
 * edited): "present" when it matches this version's wallet, "differs" otherwise. A folder of that
 * name that is not the wallet is refused.
 */
export function copyWallet(dest: string, shownAs: string): WalletCopy {
  const source = walletSource();
  if (!existsSync(join(source, "index.ts"))) throw new Error(`the bundled wallet is missing (${source}); reinstall create-stripeflare`);
  if (existsSync(dest)) {
    if (!isWalletDir(dest)) {
      throw new Error(`${shownAs} already exists and is not the Stripeflare wallet: move it away first`);
    }
    const same = walletFiles(source).every((file) => existsSync(join(dest, file)) && readFileSync(join(dest, file)).equals(readFileSync(join(source, file))));
    return same ? "present" : "differs";
  }
  copyTemplateDir(source, dest);
  return "copied";
}

export interface WalletDependencies {
  /** Imported at run time: package.json "dependencies". */
  runtime: Record<string, string>;
  /** Only `import type`: "devDependencies" (type-checking; the bundle never contains them). */
  types: Record<string, string>;
}

const packageName = (specifier: string) => specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");

/** The bare packages the wallet's sources import, read from the sources themselves. */
export function walletImports(dir = walletSource()): { runtime: Set<string>; types: Set<string> } {
  const runtime = new Set<string>();
  const types = new Set<string>();
  const statement = /^\s*(?:import|export)\s+(type\s+)?(?:[^;'"]*?\sfrom\s+)?["']([^"']+)["']/gm;
  for (const file of walletFiles(dir).filter((f) => /\.[cm]?[jt]sx?$/.test(f))) {
    const declarations = file.endsWith(".d.ts");
    for (const [, typeOnly, specifier] of readFileSync(join(dir, file), "utf8").matchAll(statement)) {
      if (specifier.startsWith(".") || /^[a-z]+:/.test(specifier)) continue; // relative, node:, cloudflare:
      (typeOnly || declarations ? types : runtime).add(packageName(specifier));
    }
  }
  for (const name of runtime) types.delete(name);
  return { runtime, types };
}

/** Versions from the template's package.json, where the template engineers pin them. */
export function walletDependencies(): WalletDependencies {
  const manifest = JSON.parse(readFileSync(join(templatesRoot(), "default", "package.json"), "utf8"));
  const pinned: Record<string, string> = { ...manifest.devDependencies, ...manifest.dependencies };
  const { runtime, types } = walletImports();
  const versions = (names: Set<string>) =>
    Object.fromEntries(
      [...names].sort().map((name) => {
        if (!pinned[name]) throw new Error(`the wallet imports ${name}, which the bundled template's package.json does not list`);
        return [name, pinned[name]];
      }),
    );
  return { runtime: versions(runtime), types: versions(types) };
}

/**
 * Adds what is missing to package.json (a package already listed anywhere keeps its version),
 * keeping the file's indentation. Returns the added "name@range" strings.
 */
export function addDependencies(root: string, deps: WalletDependencies, fallbackName: string): string[] {
  const file = join(root, "package.json");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  let json: Record<string, any>;
  try {
    json = text ? JSON.parse(text) : { name: fallbackName, private: true };
  } catch {
    throw new Error("package.json is not valid JSON");
  }
  const listed = (name: string) => ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"].some((field) => json[field]?.[name]);
  const added: string[] = [];
  for (const [field, wanted] of [["dependencies", deps.runtime], ["devDependencies", deps.types]] as const) {
    for (const [name, range] of Object.entries(wanted)) {
      if (listed(name)) continue;
      json[field] = Object.fromEntries(Object.entries({ ...json[field], [name]: range }).sort(([a], [b]) => a.localeCompare(b)));
      added.push(`${name}@${range}${field === "devDependencies" ? " (dev)" : ""}`);
    }
  }
  if (added.length || !text) {
    const indent = /^([ \t]+)"/m.exec(text)?.[1] ?? 2;
    writeFileSync(file, JSON.stringify(json, null, indent) + "\n");
  }
  return added;
}

/**
 * dormroom ships raw TypeScript that fails `tsc --strict` (skipLibCheck covers .d.ts only), so
 * like the template, point the module name at the wallet's declarations for type-checking; the
 * bundler still uses the package. Returns whether tsconfig.json changed.
 */
export function mapDormroomTypes(root: string, walletDir: string): boolean {
  const file = join(root, "tsconfig.json");
  if (!existsSync(file)) return false;
  const text = readFileSync(file, "utf8");
  const config = parseJsonc<Record<string, any>>(text, "tsconfig.json");
  if (config.compilerOptions?.paths?.dormroom) return false;
  const base = config.compilerOptions?.baseUrl ? resolve(root, config.compilerOptions.baseUrl) : root;
  let target = relative(base, join(walletDir, "dormroom.d.ts")).split("\\").join("/");
  if (!target.startsWith(".")) target = `./${target}`;
  const tabs = /^\t/m.test(text);
  const formattingOptions = { insertSpaces: !tabs, tabSize: tabs ? 1 : 2, eol: "\n" };
  const path = config.compilerOptions?.paths ? ["compilerOptions", "paths", "dormroom"] : ["compilerOptions", "paths"];
  const value = config.compilerOptions?.paths ? [target] : { dormroom: [target] };
  writeFileSync(file, applyEdits(text, modify(text, path, value, { formattingOptions })));
  return true;
}

/** The import specifier of the wallet folder as seen from the Worker's main module. */
export function walletImportPath(mainFile: string, walletDir: string): string {
  const rel = relative(dirname(mainFile), walletDir).split("\\").join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}
