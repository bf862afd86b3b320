// What `upgrade` knows about wallet versions: the one this CLI carries (the bundled template),
// the released ones before it (history/default/<version>.json: every file a project got, by
// sha256, and history/objects/<sha256>: their contents, the merge bases), and the changelog.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { templateFileList, templatesRoot } from "./template.js";

export interface Release {
  version: string;
  /** path in a project → sha256 of the file as the CLI copied it. */
  files: Record<string, string>;
}

export interface ChangelogEntry {
  version: string;
  date: string;
  /** "Security", "Changed", "After upgrading": the bullet lines of each. */
  sections: { title: string; items: string[] }[];
}

const VERSION_LINE = /export\s+const\s+WALLET_VERSION\s*=\s*["'](\d+\.\d+\.\d+)["']/;

export const sha256 = (content: Buffer | string) => createHash("sha256").update(content).digest("hex");

export function compareVersions(a: string, b: string): number {
  const [x, y] = [a, b].map((v) => v.split(".").map(Number));
  for (let i = 0; i < 3; i++) if (x![i] !== y![i]) return x![i]! - y![i]!;
  return 0;
}

function historyRoot(): string {
  return resolve(templatesRoot(), "..", "history");
}

/** The version of the wallet this CLI carries (without hashing the template, as currentRelease does). */
export function currentVersion(template = "default"): string {
  const dir = join(templatesRoot(), template);
  const version = VERSION_LINE.exec(readFileSync(join(dir, "src/stripeflare/version.ts"), "utf8"))?.[1];
  if (!version) throw new Error(`the bundled wallet has no WALLET_VERSION (${dir}); reinstall create-stripeflare`);
  return version;
}

/** The template this CLI carries, as a release: its files as a new project gets them. */
export function currentRelease(template = "default"): Release & { source: Record<string, string> } {
  const dir = join(templatesRoot(), template);
  const version = currentVersion(template);
  const files: Record<string, string> = {};
  const source: Record<string, string> = {};
  for (const [from, target] of templateFileList(dir)) {
    if (target === ".gitignore" && !from.endsWith("_gitignore")) continue; // the template folder's own
    files[target] = sha256(readFileSync(from));
    source[target] = from;
  }
  return { version, files, source };
}

/** Released versions this CLI can upgrade from, oldest first. */
export function pastReleases(template = "default"): Release[] {
  const dir = join(historyRoot(), template);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^\d+\.\d+\.\d+\.json$/.test(name))
    .map((name) => JSON.parse(readFileSync(join(dir, name), "utf8")) as Release)
    .sort((a, b) => compareVersions(a.version, b.version));
}

/** A released file's content, when the history keeps it (generated files keep only a hash). */
export function releasedContent(hash: string | undefined): Buffer | undefined {
  if (!hash) return undefined;
  const file = join(historyRoot(), "objects", hash);
  return existsSync(file) ? readFileSync(file) : undefined;
}

/**
 * The version of the wallet in `walletDir`: from its version.ts, or "1.0.0" for a copy without
 * one (the first release had none). Throws, naming the file, when version.ts exists but says
 * no version.
 */
export function installedVersion(walletDir: string, shownAs: string): { version: string; declared: boolean } {
  const file = join(walletDir, "version.ts");
  if (!existsSync(file)) return { version: "1.0.0", declared: false };
  const version = VERSION_LINE.exec(readFileSync(file, "utf8"))?.[1];
  if (!version) {
    throw new Error(`${shownAs}/version.ts does not say which wallet version it is (edited?): restore its line \`export const WALLET_VERSION = "x.y.z";\` and run again`);
  }
  return { version, declared: true };
}

/** Entries of CHANGELOG.md newer than `after`, up to and including `upTo`, newest first. */
export function changelogBetween(text: string, after: string, upTo: string): ChangelogEntry[] {
  const entries: ChangelogEntry[] = [];
  let entry: ChangelogEntry | undefined;
  let section: ChangelogEntry["sections"][number] | undefined;
  for (const line of text.split(/\r?\n/)) {
    const version = /^## (\d+\.\d+\.\d+)(?: \(([^)]*)\))?/.exec(line);
    if (version) {
      entry = { version: version[1]!, date: version[2] ?? "", sections: [] };
      section = undefined;
      if (compareVersions(entry.version, after) > 0 && compareVersions(entry.version, upTo) <= 0) entries.push(entry);
      continue;
    }
    const title = /^### (.+)/.exec(line);
    if (title && entry) {
      section = { title: title[1]!.trim(), items: [] };
      entry.sections.push(section);
      continue;
    }
    if (!entry) continue;
    if (/^- /.test(line)) (section ??= (entry.sections.push({ title: "", items: [] }), entry.sections.at(-1)!)).items.push(line.slice(2).trim());
    else if (/^\S/.test(line) && !/^#/.test(line) && !section) entry.sections.push((section = { title: "", items: [line.trim()] }));
  }
  return entries;
}

/** How many security fixes the entries hold. */
export function securityFixes(entries: ChangelogEntry[]): number {
  return entries.reduce((n, entry) => n + (entry.sections.find((s) => s.title === "Security")?.items.length ?? 0), 0);
}

export function currentChangelog(template = "default"): string {
  return readFileSync(join(templatesRoot(), template, "src/stripeflare/CHANGELOG.md"), "utf8");
}
