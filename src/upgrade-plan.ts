// What `upgrade` would change, decided before anything is written. Three kinds of files:
// - the wallet's own (src/stripeflare/, its tests, scripts, configs of the toolchain): replaced
//   when unedited, three-way merged when edited (the released file is the base), and when a merge
//   does not apply cleanly the new file goes in and the user's copy is kept beside it (.yours);
// - the example app and docs (src/index.ts, src/page*, README.md, ...): the user's to change, so
//   replaced only when unedited, otherwise kept as they are;
// - package.json and wrangler.jsonc: edited in place, key by key, never replaced.
// A copy made by `add` (the wallet beside someone's Worker) has only the first kind, in its folder.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { applyEdits, findNodeAtLocation, modify, parseTree } from "jsonc-parser";
import type { Release } from "./wallet-history.js";
import { releasedContent, sha256 } from "./wallet-history.js";
import { parseJsonc } from "./wrangler-config.js";

export type Layout = "template" | "add";

export type FileAction =
  | { kind: "write"; path: string; content: Buffer; why: "updated" | "added" | "merged" | "restored" }
  | { kind: "delete"; path: string }
  /** The new file goes in; the user's edited copy is kept at `keptAs`. */
  | { kind: "conflict"; path: string; content: Buffer; keptAs: string; yours: Buffer }
  | { kind: "keep"; path: string; why: "edited, and this file did not change" | "edited example file" | "no longer part of the wallet" | "edited generated types" | "removed by you" };

export interface Plan {
  actions: FileAction[];
  /** package.json / wrangler.jsonc, new text and one line per change. */
  configs: { path: string; text: string; changes: string[]; kept: string[] }[];
}

const CONFIG = new Set(["package.json", "wrangler.jsonc"]);
const NOT_MANAGED = new Set([".gitignore", "package-lock.json", ".dev.vars", ".stripeflare.json"]);
const EXAMPLE = [/^src\/index\.ts$/, /^src\/page\.ts$/, /^src\/page\//, /^README\.md$/, /^\.dev\.vars\.example$/, /^worker-configuration\.d\.ts$/];
export const WALLET_PREFIX = "src/stripeflare/";

/**
 * Three-way merge of the user's file with the new one over the released base (`git merge-file`).
 * undefined when it does not apply cleanly, or git is not there to try.
 */
export function mergeThreeWay(yours: Buffer, base: Buffer, next: Buffer): Buffer | undefined {
  const dir = mkdtempSync(join(tmpdir(), "stripeflare-merge-"));
  try {
    const [a, b, c] = ["yours", "base", "next"].map((name) => join(dir, name));
    writeFileSync(a!, yours);
    writeFileSync(b!, base);
    writeFileSync(c!, next);
    const result = spawnSync("git", ["merge-file", "-p", "--quiet", a!, b!, c!], { maxBuffer: 64 * 1024 * 1024 });
    return result.status === 0 ? result.stdout : undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A name beside `path` that is free: <file>.yours, then <file>.yours-2, ... */
function keptName(root: string, path: string, taken: Set<string>): string {
  for (let n = 1; ; n++) {
    const name = `${path}.yours${n === 1 ? "" : `-${n}`}`;
    if (!existsSync(join(root, name)) && !taken.has(name)) return (taken.add(name), name);
  }
}

/**
 * Decides every file. `toProject` maps a template path to the project's (identity for the
 * template layout, into the wallet folder for `add`); only paths it returns are considered.
 */
export function planFiles(
  root: string,
  base: Release,
  current: Release & { source: Record<string, string> },
  toProject: (templatePath: string) => string | undefined,
): FileAction[] {
  const actions: FileAction[] = [];
  const taken = new Set<string>();
  const paths = [...new Set([...Object.keys(base.files), ...Object.keys(current.files)])].sort();
  for (const templatePath of paths) {
    if (CONFIG.has(templatePath) || NOT_MANAGED.has(templatePath)) continue;
    const path = toProject(templatePath);
    if (!path) continue;
    const file = join(root, path);
    const theirs = existsSync(file) ? readFileSync(file) : undefined;
    const next = current.source[templatePath] ? readFileSync(current.source[templatePath]!) : undefined;
    const baseHash = base.files[templatePath];
    const theirHash = theirs && sha256(theirs);
    if (theirHash !== undefined && theirHash === current.files[templatePath]) continue; // already the new one
    const example = EXAMPLE.some((pattern) => pattern.test(templatePath));

    if (!theirs) {
      if (!next) continue;
      if (baseHash && example) actions.push({ kind: "keep", path, why: "removed by you" });
      else actions.push({ kind: "write", path, content: next, why: baseHash ? "restored" : "added" });
      continue;
    }
    if (theirHash === baseHash) {
      actions.push(next ? { kind: "write", path, content: next, why: "updated" } : { kind: "delete", path });
      continue;
    }
    // Edited (or not from the released version at all).
    if (!next) {
      actions.push({ kind: "keep", path, why: "no longer part of the wallet" });
    } else if (example) {
      actions.push({ kind: "keep", path, why: templatePath === "worker-configuration.d.ts" ? "edited generated types" : "edited example file" });
    } else if (baseHash === current.files[templatePath]) {
      actions.push({ kind: "keep", path, why: "edited, and this file did not change" });
    } else {
      const baseContent = releasedContent(baseHash);
      const merged = baseContent && mergeThreeWay(theirs, baseContent, next);
      if (merged) actions.push({ kind: "write", path, content: merged, why: "merged" });
      else actions.push({ kind: "conflict", path, content: next, keptAs: keptName(root, path, taken), yours: theirs });
    }
  }
  return actions;
}

/** The template layout maps paths as they are; `add` maps only the wallet into its folder. */
export function pathMapper(layout: Layout, root: string, walletDir: string): (templatePath: string) => string | undefined {
  if (layout === "template") return (path) => path;
  const prefix = relative(root, walletDir).split("\\").join("/");
  return (path) => (path.startsWith(WALLET_PREFIX) ? `${prefix}/${path.slice(WALLET_PREFIX.length)}` : undefined);
}

const FORMAT = { formattingOptions: { insertSpaces: true, tabSize: 2, eol: "\n" } };

/**
 * package.json: each script, dependency and allowScripts entry of the template that the project
 * still has as released (or lacks) takes the new value; one the user changed is kept and named.
 */
export function planPackageJson(text: string, base: Record<string, any>, next: Record<string, any>): { text: string; changes: string[]; kept: string[] } {
  const json = JSON.parse(text) as Record<string, any>;
  const changes: string[] = [];
  const kept: string[] = [];
  let out = text;
  const indent = /^([ \t]+)"/m.exec(text)?.[1];
  const format = { formattingOptions: { insertSpaces: !indent?.includes("\t"), tabSize: indent?.length ?? 2, eol: "\n" } };
  for (const field of ["scripts", "dependencies", "devDependencies", "allowScripts"]) {
    for (const [key, value] of Object.entries<unknown>(next[field] ?? {})) {
      const have = json[field]?.[key];
      if (JSON.stringify(have) === JSON.stringify(value)) continue;
      if (have === undefined || JSON.stringify(have) === JSON.stringify(base[field]?.[key])) {
        out = applyEdits(out, modify(out, [field, key], value, format));
        changes.push(`${have === undefined ? "added" : "updated"} ${field}.${key}`);
      } else {
        kept.push(`${field}.${key} (yours: ${JSON.stringify(have)}; the template's: ${JSON.stringify(value)})`);
      }
    }
  }
  return { text: out, changes, kept };
}

/**
 * wrangler.jsonc: what the new template declares and the project lacks (secrets.required,
 * vars.CURRENCY, vars.TOP_UP_AMOUNT from the project's price, vars.STRIPE_NETWORK_ID empty:
 * agent payments stay off until the project asks for them).
 */
export function planWranglerConfig(text: string, next: Record<string, any>, currency: string, topUp?: string): { text: string; changes: string[]; kept: string[] } {
  parseJsonc(text, "wrangler.jsonc");
  const changes: string[] = [];
  let out = text;
  const has = (path: string[]) => findNodeAtLocation(parseTree(out)!, path) !== undefined;
  const required: string[] | undefined = next.secrets?.required;
  if (required && !has(["secrets"])) {
    out = applyEdits(out, modify(out, ["secrets"], { required }, FORMAT));
    changes.push(`secrets.required: ${required.join(", ")} (deploy refuses without them)`);
  }
  if (next.vars?.CURRENCY !== undefined && !has(["vars", "CURRENCY"])) {
    out = applyEdits(out, modify(out, ["vars", "CURRENCY"], currency, FORMAT));
    changes.push(`vars.CURRENCY = "${currency}" (the page shows amounts in it)`);
  }
  if (next.vars?.TOP_UP_AMOUNT !== undefined && !has(["vars", "TOP_UP_AMOUNT"])) {
    const amount = topUp ?? String(next.vars.TOP_UP_AMOUNT);
    out = applyEdits(out, modify(out, ["vars", "TOP_UP_AMOUNT"], amount, FORMAT));
    changes.push(`vars.TOP_UP_AMOUNT = "${amount}" (what an agent's top-up credits, in the smallest unit)`);
  }
  if (next.vars?.STRIPE_NETWORK_ID !== undefined && !has(["vars", "STRIPE_NETWORK_ID"])) {
    out = applyEdits(out, modify(out, ["vars", "STRIPE_NETWORK_ID"], "", FORMAT));
    changes.push(`vars.STRIPE_NETWORK_ID = "" (agent payments stay off; set your Stripe profile id to turn them on)`);
  }
  return { text: out, changes, kept: [] };
}
