// Getting the template into the target folder: the bundled one (offline) or a giget source,
// filtered the same way, with `_gitignore` renamed (npm never ships files called .gitignore).
import { accessSync, constants, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Never copied from a template folder: local state, secrets and build output of whoever ran it. */
const SKIPPED = new Set(["node_modules", ".wrangler", ".dev.vars", "test-results", ".git", ".stripeflare.json", "coverage", ".DS_Store"]);

/** npm drops .gitignore from published packages, so templates carry these names instead. */
const RENAMED: Record<string, string> = { _gitignore: ".gitignore" };

/** Entries the generated project's .gitignore must have (CONTRACT §2), plus our state file. */
export const REQUIRED_GITIGNORE = ["node_modules", ".dev.vars", ".wrangler", ".stripeflare.json"];

export function templatesRoot(): string {
  // dist/index.js and src/template.ts both sit one level below the package root.
  return resolve(dirname(fileURLToPath(import.meta.url)), "..", "templates");
}

export function isBundledTemplateName(template: string): boolean {
  return /^[a-z0-9][a-z0-9-]*$/.test(template);
}

export function bundledTemplates(): string[] {
  const root = templatesRoot();
  if (!existsSync(root)) return [];
  return readdirSync(root).filter((name) => existsSync(join(root, name, "package.json")));
}

/** A folder that does not exist, is empty, or holds only .git counts as empty (CONTRACT §1). */
export function isEmptyDir(dir: string): boolean {
  if (!existsSync(dir)) return true;
  return readdirSync(dir).every((entry) => entry === ".git");
}

/**
 * Why files cannot be written into `dir` (created when missing), or undefined when they can.
 * Checked on `dir` or, when it does not exist yet, on its nearest existing parent: there Node's
 * recursive mkdir reports a read-only file system as ENOENT, which names no cause.
 */
export function writableProblem(dir: string, cwd = process.cwd()): string | undefined {
  const shown = (path: string) => relative(cwd, path) || ".";
  let existing = resolve(dir);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  if (!statSync(existing).isDirectory()) return `cannot create ${shown(dir)}: ${shown(existing)} is a file, not a folder`;
  try {
    accessSync(existing, constants.W_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const cause = code === "EROFS" ? "read-only file system" : code === "EACCES" || code === "EPERM" ? "permission denied" : (error as Error).message;
    const what = existing === resolve(dir) ? `cannot write to ${shown(dir)}` : `cannot create ${shown(dir)} in ${shown(existing)}`;
    return `${what}: ${cause}`;
  }
}

/** Files the CLI itself writes into a project, besides the template's. */
export const OWN_FILES = [".dev.vars", ".dev.vars.example", ".gitignore", ".stripeflare.json", "package.json", "package-lock.json", "wrangler.jsonc"];

/**
 * The first of `paths` (relative to `root`) that is, or lies under, a symbolic link already in
 * the folder: writing there would write wherever the link points, outside the project too.
 */
export function symlinkIn(root: string, paths: string[]): string | undefined {
  for (const path of paths) {
    const parts = path.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const rel = parts.slice(0, i).join("/");
      try {
        if (lstatSync(join(root, rel)).isSymbolicLink()) return rel;
      } catch {
        break; // does not exist: nothing below it can be a link
      }
    }
  }
  return undefined;
}

export function symlinkProblem(root: string, paths: string[]): string | undefined {
  const link = symlinkIn(root, paths);
  return link && `${relative(process.cwd(), join(root, link)) || link} is a symbolic link: refusing to write through it (remove it, or choose another folder)`;
}

/** [source path, path in the project] of every file a copy of `from` brings (symlinks never). */
export function templateFileList(from: string): [string, string][] {
  const files: [string, string][] = [];
  const walk = (src: string, rel: string) => {
    for (const entry of readdirSync(src)) {
      if (SKIPPED.has(entry) || entry.endsWith(".tgz")) continue;
      const srcPath = join(src, entry);
      const target = `${rel}${RENAMED[entry] ?? entry}`;
      const stat = lstatSync(srcPath);
      if (stat.isSymbolicLink()) continue; // a template's links could point anywhere on this machine
      if (stat.isDirectory()) walk(srcPath, `${target}/`);
      else files.push([srcPath, target]);
    }
  };
  walk(from, "");
  return files;
}

export function copyTemplateDir(from: string, to: string): string[] {
  const files = templateFileList(from);
  // Every path is checked before the first write: a link in the target is refused, not followed.
  const link = symlinkProblem(to, [...files.map(([, target]) => target), ...OWN_FILES]);
  if (link) throw new Error(link);
  for (const [srcPath, target] of files) {
    const dest = join(to, target);
    try {
      mkdirSync(dirname(dest), { recursive: true });
    } catch (error) {
      throw new Error(writableProblem(dirname(dest)) ?? `cannot create ${dirname(dest)}: ${(error as Error).message}`);
    }
    copyFileSync(srcPath, dest);
  }
  return files.map(([, target]) => target);
}

/** Make sure .gitignore exists and ignores what must never be committed (globs count too). */
export function ensureGitignore(dir: string): string[] {
  const file = join(dir, ".gitignore");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const missing = REQUIRED_GITIGNORE.filter((entry) => !gitignoreIgnores(text, entry));
  if (!missing.length) return [];
  const prefix = text && !text.endsWith("\n") ? "\n" : "";
  const header = text ? "\n# Added by create-stripeflare\n" : "";
  writeFileSync(file, text + prefix + header + missing.join("\n") + "\n");
  return missing;
}

/** Of REQUIRED_GITIGNORE, the folders (a pattern ending in "/" matches only folders). */
const FOLDERS = new Set(["node_modules", ".wrangler"]);

/**
 * Whether a .gitignore ignores a top-level name: later lines win, `!` re-includes, `*` and `?`
 * are globs, a backslash escapes, a leading slash does not change a top-level match and a
 * trailing one matches folders only. Enough to decide what to append; git itself has the last
 * word (git.ts asks it before anything is committed).
 */
export function gitignoreIgnores(text: string, name: string): boolean {
  let ignored = false;
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.replace(/(?<!\\)\s+$/, "");
    if (!line || line.startsWith("#")) continue;
    const negated = line.startsWith("!");
    if (negated) line = line.slice(1);
    if (line.endsWith("/") && !FOLDERS.has(name)) continue;
    line = line.replace(/^\//, "").replace(/\/$/, "").replace(/^\*\*\//, "");
    if (line.includes("/")) continue; // a nested path never names a top-level entry
    let pattern = "";
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (c === "\\" && i + 1 < line.length) pattern += line[++i].replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      else if (c === "*") pattern += "[^/]*";
      else if (c === "?") pattern += "[^/]";
      else pattern += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    }
    if (new RegExp(`^${pattern}$`).test(name)) ignored = !negated;
  }
  return ignored;
}

export async function fetchTemplate(template: string, dest: string): Promise<string[]> {
  if (isBundledTemplateName(template)) {
    const dir = join(templatesRoot(), template);
    if (!existsSync(join(dir, "package.json"))) {
      const known = bundledTemplates();
      throw new Error(
        `unknown template "${template}"; bundled: ${known.join(", ") || "(none)"}, or pass a giget source such as gh:owner/repo/path`,
      );
    }
    return copyTemplateDir(dir, dest);
  }
  // Remote: download to a scratch folder first so the same filter and renames apply, and so a
  // failed download leaves the target untouched. giget is loaded only on this path.
  const scratch = mkdtempSync(join(tmpdir(), "create-stripeflare-"));
  try {
    const { downloadTemplate } = await import("giget");
    try {
      await downloadTemplate(template, { dir: join(scratch, "t"), force: true, silent: true });
    } catch (error) {
      throw new Error(`could not download template "${template}": ${(error as Error).message.split("\n")[0]}`);
    }
    if (!existsSync(join(scratch, "t", "package.json"))) {
      throw new Error(`template "${template}" has no package.json at its root`);
    }
    return copyTemplateDir(join(scratch, "t"), dest);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Set the project name in package.json (and its lockfile, so npm ci stays quiet). */
export function renamePackage(dir: string, name: string): void {
  for (const file of ["package.json", "package-lock.json"]) {
    const path = join(dir, file);
    if (!existsSync(path)) continue;
    const json = JSON.parse(readFileSync(path, "utf8"));
    json.name = name;
    if (file === "package-lock.json" && json.packages?.[""]) json.packages[""].name = name;
    writeFileSync(path, JSON.stringify(json, null, 2) + "\n");
  }
}

export function readPackageScripts(dir: string): Record<string, string> {
  try {
    return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).scripts ?? {};
  } catch {
    return {};
  }
}
