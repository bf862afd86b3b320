// `create-stripeflare upgrade [directory] [--check]`: the project's copy of the wallet, brought up
// to the version this CLI carries. Read first, then decided (upgrade-plan.ts), then written in
// two phases: every new file is staged beside its target, then all are renamed into place with
// Ctrl-C held back for those few milliseconds, so an interruption leaves the old copy whole.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import type { Flags } from "./args.js";
import { DEV_VARS_KEYS, readDevVars } from "./dev-vars.js";
import { fail, guard } from "./failures.js";
import { toMinorUnits } from "./money.js";
import { readState } from "./state.js";
import { symlinkProblem, templatesRoot, writableProblem } from "./template.js";
import { heading, info, note, step } from "./ui.js";
import { pathMapper, planFiles, planPackageJson, planWranglerConfig, WALLET_PREFIX, type FileAction, type Layout, type Plan } from "./upgrade-plan.js";
import { isWalletDir } from "./wallet.js";
import { changelogBetween, compareVersions, currentChangelog, currentRelease, currentVersion, installedVersion, pastReleases, releasedContent, securityFixes, type ChangelogEntry } from "./wallet-history.js";
import { readWorkerConfig } from "./wrangler-dorm.js";

interface Found {
  root: string;
  layout: Layout;
  walletDir: string;
  shown: string;
  /** The project's currency (its .stripeflare.json), for a wrangler.jsonc that lacks one. */
  currency: string;
  /** Its top-up in the currency's smallest unit (its .stripeflare.json price), likewise. */
  topUp?: string;
  /** What the project is, as the heading says it. */
  what?: string;
}

/** Where the wallet is: src/stripeflare/ of a project this CLI made, or beside an `add`ed Worker's main module. */
function findWallet(root: string, where: string): Found {
  const state = guard(() => readState(root));
  const currency = state?.currency ?? "usd";
  let topUp: string | undefined;
  try {
    if (state?.price) topUp = String(toMinorUnits(state.price, currency));
  } catch {} // an unreadable price: the template's default top-up is written instead

  const found = (layout: Layout, walletDir: string): Found => ({ root, layout, walletDir, shown: relative(root, walletDir), currency, topUp });
  const templateDir = join(root, WALLET_PREFIX);
  // A project of another template (the MCP server) shares only the wallet folder with the
  // default template, whose history upgrades merge against: only that folder is upgraded.
  if (isWalletDir(templateDir) && state?.template && state.template !== "default") return { ...found("add", templateDir), what: `a create-stripeflare ${state.template} project: the wallet folder only` };
  if (isWalletDir(templateDir) && (state?.scaffolded || existsSync(join(root, "scripts", "stripe-local.ts")))) return found("template", templateDir);
  const worker = guard(() => readWorkerConfig(root));
  const main = typeof worker?.config.main === "string" ? resolve(root, worker.config.main) : undefined;
  const beside = main && join(dirname(main), "stripeflare");
  if (beside && isWalletDir(beside)) return found("add", beside);
  if (isWalletDir(templateDir)) return found("add", templateDir);
  return fail(
    `no Stripeflare wallet in ${where}: looked for src/stripeflare/index.ts${beside ? ` and ${relative(root, beside)}/index.ts` : ""}. Run upgrade in the project's folder (or pass it: create-stripeflare upgrade ./my-api)`,
  );
}

/**
 * One line when the project's wallet (template layout) is older than this CLI's, for a rerun of
 * `create-stripeflare` to say: the rerun itself never touches the wallet's files.
 */
export function walletBehind(root: string): string | undefined {
  try {
    const dir = join(root, WALLET_PREFIX);
    if (!existsSync(join(dir, "index.ts"))) return undefined;
    const installed = installedVersion(dir, WALLET_PREFIX.slice(0, -1)).version;
    const current = currentVersion();
    if (compareVersions(installed, current) >= 0) return undefined;
    const security = securityFixes(changelogBetween(currentChangelog(), installed, current));
    return `the wallet in src/stripeflare/ is ${installed}; ${current} is out${security ? ` with ${security} security fix${security === 1 ? "" : "es"}` : ""}: npx create-stripeflare@latest upgrade (keeps your edits)`;
  } catch {
    return undefined; // upgrade --check says what is wrong with it
  }
}

function printChangelog(entries: ChangelogEntry[]): void {
  for (const entry of entries) {
    console.log(`\n  ${entry.version}${entry.date ? ` (${entry.date})` : ""}`);
    for (const section of entry.sections) {
      if (section.title) console.log(`    ${section.title}${section.title === "Security" ? " fixes" : ""}:`);
      for (const item of section.items) console.log(`      - ${item}`);
    }
  }
}

export async function upgrade(flags: Flags): Promise<number> {
  const root = resolve(flags.directory ?? ".");
  const where = relative(process.cwd(), root) || ".";
  if (!existsSync(root)) fail(`${where} does not exist`);
  const found = findWallet(root, where);
  const installed = guard(() => installedVersion(found.walletDir, found.shown));
  const current = guard(() => currentRelease());
  const order = compareVersions(installed.version, current.version);
  if (order > 0) {
    fail(`${found.shown} is wallet ${installed.version}, newer than the ${current.version} this create-stripeflare carries: run \`npx create-stripeflare@latest upgrade\``);
  }
  const entries = changelogBetween(currentChangelog(), installed.version, current.version);
  const security = securityFixes(entries);
  const base = (order === 0 ? current : pastReleases().find((release) => release.version === installed.version)) ??
    fail(`${found.shown} says wallet ${installed.version}, a version this create-stripeflare has no record of: run \`npx create-stripeflare@latest upgrade\``);

  heading(`Stripeflare wallet in ${found.shown}/ (${found.what ?? (found.layout === "template" ? "a project made by create-stripeflare" : "added to a Worker")})`);
  console.log(`  installed  ${installed.version}${installed.declared ? "" : " (no version.ts: the first release)"}`);
  console.log(`  current    ${current.version}`);
  const plan = makePlan(found, base, current);
  const changed = plan.actions.filter((a) => a.kind !== "keep").length + plan.configs.filter((c) => c.changes.length).length;

  if (flags.check) {
    if (order === 0) {
      info(changed ? `up to date; ${changed} file${changed === 1 ? "" : "s"} differ from it (yours to keep, or \`upgrade\` brings them in line)` : "up to date");
      return 0;
    }
    console.log(`\n  Behind by ${entries.length} version${entries.length === 1 ? "" : "s"}${security ? `, with ${security} security fix${security === 1 ? "" : "es"}` : ""}:`);
    printChangelog(entries);
    console.log(`\n  To take them: npx create-stripeflare@latest upgrade${flags.directory ? ` ${flags.directory}` : ""}`);
    return 1;
  }

  if (!changed) {
    info(order === 0 ? "up to date: nothing to change" : "nothing to change");
    return 0;
  }
  if (entries.length) {
    console.log(`\n  What ${current.version} brings${security ? ` (${security} security fix${security === 1 ? "" : "es"})` : ""}:`);
    printChangelog(entries);
  }
  await apply(found.root, plan);
  report(found, plan, entries);
  return 0;
}

function makePlan(found: Found, base: NonNullable<ReturnType<typeof pastReleases>[number]>, current: ReturnType<typeof currentRelease>): Plan {
  const actions = planFiles(found.root, base, current, pathMapper(found.layout, found.root, found.walletDir));
  const configs: Plan["configs"] = [];
  if (found.layout === "template") {
    const json = (hash: string | undefined) => {
      const content = releasedContent(hash);
      return content ? JSON.parse(content.toString("utf8")) : {};
    };
    const pkgFile = join(found.root, "package.json");
    if (existsSync(pkgFile)) {
      const next = JSON.parse(readFileSync(current.source["package.json"]!, "utf8"));
      let edit: ReturnType<typeof planPackageJson>;
      try {
        edit = planPackageJson(readFileSync(pkgFile, "utf8"), json(base.files["package.json"]), next);
      } catch {
        return fail("package.json does not parse: fix it, then run upgrade again (nothing was changed)");
      }
      if (edit.changes.length || edit.kept.length) configs.push({ path: "package.json", ...edit });
    }
    const wranglerFile = join(found.root, "wrangler.jsonc");
    if (existsSync(wranglerFile)) {
      const next = guard(() => readWorkerConfig(join(templatesRoot(), "default"))?.config ?? {});
      let edit: ReturnType<typeof planWranglerConfig>;
      try {
        edit = planWranglerConfig(readFileSync(wranglerFile, "utf8"), next, found.currency, found.topUp);
      } catch (error) {
        return fail(`${(error as Error).message}: fix it, then run upgrade again (nothing was changed)`);
      }
      if (edit.changes.length) configs.push({ path: "wrangler.jsonc", ...edit });
    }
  }
  return { actions, configs };
}

const STAGED = ".stripeflare-upgrade";

/** Stages every write beside its target, then renames them all into place. */
async function apply(root: string, plan: Plan): Promise<void> {
  const writes: [string, Buffer | string][] = [];
  for (const action of plan.actions) {
    if (action.kind === "write" || action.kind === "conflict") writes.push([action.path, action.content]);
    if (action.kind === "conflict") writes.push([action.keptAs, action.yours]);
  }
  for (const config of plan.configs) if (config.changes.length) writes.push([config.path, config.text]);
  const deletes = plan.actions.filter((a) => a.kind === "delete").map((a) => a.path);
  const targets = [...writes.map(([path]) => path), ...deletes];
  // Every file written, deleted or staged: a link planted at any of them (or above) would send
  // the write outside the project.
  const link = symlinkProblem(root, [...targets, ...writes.map(([path]) => `${path}${STAGED}`)]);
  if (link) fail(`${link} (nothing was changed)`);
  for (const dir of new Set(targets.map((path) => dirname(join(root, path))))) {
    let existing = dir;
    while (!existsSync(existing)) existing = dirname(existing);
    const problem = writableProblem(existing);
    if (problem) fail(`${problem} (nothing was changed)`);
  }

  // A listener keeps Node from dying on Ctrl-C in the middle of the synchronous writes below:
  // the signal is handled at the next await, where nothing is half-done.
  const staged: string[] = [];
  const unstage = () => staged.forEach((file) => rmSync(file, { force: true }));
  let committed = false;
  const interrupted = () => {
    if (committed) return;
    unstage();
    console.log("\nInterrupted: nothing was changed.");
    process.exit(130);
  };
  process.on("SIGINT", interrupted);
  process.on("SIGTERM", interrupted);
  try {
    for (const [path, content] of writes) {
      const target = join(root, path);
      try {
        mkdirSync(dirname(target), { recursive: true }); // a folder a new wallet file needs
        rmSync(`${target}${STAGED}`, { force: true }); // left by a run that was killed
        writeFileSync(`${target}${STAGED}`, content, { flag: "wx" });
        staged.push(`${target}${STAGED}`);
      } catch (error) {
        unstage();
        fail(`cannot write ${path}: ${(error as Error).message} (nothing was changed)`);
      }
    }
    // For the interruption test: everything staged, nothing replaced yet.
    const pause = Number(process.env.STRIPEFLARE_UPGRADE_PAUSE_MS ?? 0);
    if (pause > 0) {
      console.log("staged");
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
    for (const [path] of writes) renameSync(`${join(root, path)}${STAGED}`, join(root, path));
    for (const path of deletes) rmSync(join(root, path), { force: true });
    committed = true;
  } finally {
    process.removeListener("SIGINT", interrupted);
    process.removeListener("SIGTERM", interrupted);
  }
}

function report(found: Found, plan: Plan, entries: ChangelogEntry[]): void {
  console.log("");
  const by = (kind: FileAction["kind"]) => plan.actions.filter((a) => a.kind === kind);
  const writes = by("write") as Extract<FileAction, { kind: "write" }>[];
  for (const why of ["updated", "added", "restored", "merged"] as const) {
    const files = writes.filter((a) => a.why === why).map((a) => a.path);
    if (files.length) step(`${why} ${files.length}: ${files.join(", ")}${why === "merged" ? " (your edits kept, merged with the new version)" : ""}`);
  }
  const deleted = by("delete").map((a) => a.path);
  if (deleted.length) step(`removed ${deleted.length} (no longer part of the wallet, and unedited): ${deleted.join(", ")}`);
  for (const config of plan.configs) {
    if (config.changes.length) step(`${config.path}: ${config.changes.join(", ")}`);
    for (const kept of config.kept) note(`${config.path}: kept ${kept}`);
  }
  const conflicts = by("conflict") as Extract<FileAction, { kind: "conflict" }>[];
  for (const c of conflicts) note(`${c.path}: your edits did not merge cleanly; the new version is in place and yours is kept as ${c.keptAs}: carry your change over, then delete it`);
  for (const kept of by("keep") as Extract<FileAction, { kind: "keep" }>[]) {
    if (kept.why === "edited, and this file did not change") continue;
    const hint = kept.why === "edited generated types" ? ": run `npm run types` after `npm install`" : kept.why === "edited example file" ? " (yours; the template's new version is in create-stripeflare's templates/default)" : "";
    info(`kept ${kept.path}: ${kept.why}${hint}`);
  }
  if (found.layout === "template" && existsSync(join(found.root, ".dev.vars"))) {
    const vars = readDevVars(found.root);
    const missing = DEV_VARS_KEYS.filter((key) => vars[key] === undefined);
    if (missing.length) note(`.dev.vars lacks ${missing.join(", ")}: see .dev.vars.example for what each is (and set them as Worker secrets before deploying)`);
  }
  const after = entries.flatMap((entry) => entry.sections.filter((s) => s.title === "After upgrading").flatMap((s) => s.items));
  console.log("\nNext steps:");
  if (plan.configs.some((c) => c.path === "package.json" && c.changes.length)) console.log("  npm install");
  if (found.layout === "template") {
    console.log("  npm run pay -- --setup   # for local payments: fills in what the new version needs locally, nothing else");
    console.log("  npm test");
  }
  console.log("  npm run deploy   # the fixes reach visitors when the Worker is deployed");
  for (const item of after) console.log(`  - ${item}`);
  if (conflicts.length) console.log(`  (first: ${conflicts.map((c) => c.keptAs).join(", ")})`);
}
