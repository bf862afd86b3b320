// `create-stripeflare add`: the wallet into a Worker project that already exists. Everything is
// read and checked first (the wrangler config, its main module, DORM clashes, the compatibility
// date, the Stripe key); only then are files changed, each change only where something is
// missing, so a rerun adds nothing twice. The Stripe and deploy steps are the new project's.
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import type { Flags } from "./args.js";
import { DEV_VARS_KEYS, ensureDevVarsExample, generateDbSecret, MIN_DB_SECRET_LENGTH, readDevVars, updateDevVarsFile } from "./dev-vars.js";
import { fail, guard } from "./failures.js";
import { normalizeCurrency, toMinorUnits } from "./money.js";
import { detectPackageManager, installDependencies, projectPackageManager } from "./package-manager.js";
import { normalizeDomain } from "./project-name.js";
import * as ask from "./prompts.js";
import { secretsFileProblem } from "./git.js";
import { newProjectId, readState, writeState, type ProjectState } from "./state.js";
import { deployProject, refuseUndeployable, resolveStripeKeys, stripeSteps, type StripeStepsInput } from "./stripe-setup.js";
import { addSummaryText } from "./summary.js";
import { ensureGitignore, readPackageScripts, symlinkProblem, writableProblem } from "./template.js";
import { heading, info, note, step } from "./ui.js";
import { addDependencies, copyWallet, mapDormroomTypes, walletDependencies, walletImportPath, WALLET_DIR_NAME } from "./wallet.js";
import { parseJsonc, writeConfigFile } from "./wrangler-config.js";
import { addDomainRoute, addDormToJsonc, addDormToToml, compatibilityProblem, planDorm, readWorkerConfig } from "./wrangler-dorm.js";

/** The main module exports DORM: the three-line change has been made. */
export function exportsDorm(source: string): boolean {
  return /export\s*\{[^}]*\bDORM\b[^}]*\}/.test(source) || /export\s+(?:class|const|let)\s+DORM\b/.test(source);
}

export async function addToProject(flags: Flags, interactive: boolean, version: string): Promise<void> {
  // 1. Which project, and can the wallet go into it? Nothing is written before step 3.
  const root = resolve(flags.directory ?? ".");
  const where = relative(process.cwd(), root) || ".";
  if (!existsSync(root)) fail(`${where} does not exist`);
  const unwritable = writableProblem(root);
  if (unwritable) fail(unwritable);
  const link = symlinkProblem(root, [".dev.vars", ".dev.vars.example", ".gitignore", ".stripeflare.json"]);
  if (link) fail(link);
  const worker =
    guard(() => readWorkerConfig(root)) ??
    fail(`${where} is not a Worker project: it has no wrangler.jsonc, wrangler.json or wrangler.toml (to start a new one: npx create-stripeflare my-api)`);
  const { config, fileName } = worker;
  if (typeof config.main !== "string" || !config.main) fail(`${fileName} has no "main": the wallet wraps the fetch handler of a Worker script`);
  const mainFile = resolve(root, config.main);
  if (!existsSync(mainFile)) fail(`the Worker's main module ${config.main} (from ${fileName}) does not exist`);
  const walletDir = join(dirname(mainFile), WALLET_DIR_NAME);
  const walletShown = relative(root, walletDir);
  const plan = guard(() => planDorm(config, fileName));
  const tooOld = compatibilityProblem(config, fileName);
  if (tooOld) fail(tooOld);
  // The new config text is made (and for TOML, proven) now, written in step 3.
  let text = worker.format === "toml" ? guard(() => addDormToToml(worker.text, plan, fileName)) : addDormToJsonc(worker.text, config, plan);
  const changes = [plan.addBinding && "the DORM_NAMESPACE → DORM binding", plan.migrationTag && `migration "${plan.migrationTag}" (new_sqlite_classes DORM)`].filter(Boolean);
  const deps = guard(() => walletDependencies());
  for (const [file, parse] of [["package.json", JSON.parse], ["tsconfig.json", (t: string) => parseJsonc(t, "tsconfig.json")]] as const) {
    if (!existsSync(join(root, file))) continue;
    try {
      parse(readFileSync(join(root, file), "utf8"));
    } catch {
      fail(`${file} in ${where} does not parse: fix it, then run again`);
    }
  }
  const name = String(config.name ?? readPackageName(root) ?? basename(root));

  // 2. What: the same questions and flags as a new project; a rerun keeps the earlier answers.
  const previous = guard(() => readState(root));
  const kept = previous?.project === name ? previous : undefined;
  const currency = guard(() => normalizeCurrency(flags.currency ?? kept?.currency ?? "usd"));
  const priceText = flags.price ?? kept?.price ?? (interactive ? await ask.askPrice(currency) : "5");
  const unitAmount = guard(() => toMinorUnits(priceText, currency));
  const domain =
    flags.domain !== undefined ? guard(() => normalizeDomain(flags.domain!)) : (kept?.domain ?? (interactive ? await ask.askDomain() : undefined));
  const title = flags.title?.trim() || (interactive && !kept ? await ask.askTitle(name) : name);
  const pm = flags.pm ?? projectPackageManager(root) ?? detectPackageManager();
  if (domain) {
    const routed = guard(() => addDomainRoute(worker, text, domain));
    if (routed === undefined) note(`${fileName} has its own route setup: add ${domain} as a custom domain route yourself`);
    else if (routed !== text) {
      text = routed;
      changes.push(`route ${domain}`);
    }
  }

  // A deploy needs the fetch export changed first (wrangler refuses a binding to a class the
  // Worker does not export) and must not upload local-only values.
  const projectVars = readDevVars(root);
  const deploy = flags.deploy ?? false;
  if (deploy) {
    if (!exportsDorm(readFileSync(mainFile, "utf8"))) {
      fail(`--deploy: ${config.main} does not export DORM yet: run \`create-stripeflare add\` without --deploy, make the three-line change it prints, then deploy`);
    }
    refuseUndeployable(flags, root, projectVars);
  }
  const stripeKeys = await resolveStripeKeys(flags, interactive, projectVars);

  // 3. Files: each only where something is missing.
  heading(`Adding Stripeflare to ${name} (${where})`);
  const copied = guard(() => copyWallet(walletDir, walletShown));
  if (copied === "copied") step(`copied the wallet module into ${walletShown}/`);
  else if (copied === "present") info(`${walletShown}/ already holds this version's wallet`);
  else note(`${walletShown}/ differs from this version's wallet (edited, or an older one): left as it is. To bring it up to date and keep your edits: npx create-stripeflare@latest upgrade`);

  const added = guard(() => addDependencies(root, deps, name));
  if (added.length) step(`added to package.json: ${added.join(", ")}`);
  if (guard(() => mapDormroomTypes(root, walletDir))) step(`mapped dormroom to ${walletShown}/dormroom.d.ts in tsconfig.json (dormroom ships TypeScript that fails --strict)`);

  if (text !== worker.text) writeConfigFile(worker.file, text);
  if (changes.length) step(`added to ${fileName}: ${changes.join(", ")}`);
  else info(`${fileName} already has the DORM binding and migration`);
  if (config.env && typeof config.env === "object" && Object.keys(config.env).length) {
    note(`${fileName} has environments (${Object.keys(config.env).join(", ")}): Durable Object bindings are not inherited, so add DORM_NAMESPACE → DORM to each one you deploy`);
  }

  // .dev.vars: the five keys where missing; values already there stay unless this run replaces
  // them. First .gitignore, then git is asked whether the file would be committed: if it would,
  // nothing secret is written.
  const ignored = ensureGitignore(root);
  if (ignored.length) step(`added ${ignored.join(", ")} to .gitignore`);
  const leak = await secretsFileProblem(root);
  if (leak) fail(leak);
  const updates: Record<string, string> = {};
  for (const key of DEV_VARS_KEYS) if (projectVars[key] === undefined) updates[key] = "";
  if (!projectVars.DB_SECRET) updates.DB_SECRET = generateDbSecret();
  else if (projectVars.DB_SECRET.length < MIN_DB_SECRET_LENGTH) note(`DB_SECRET in .dev.vars is shorter than ${MIN_DB_SECRET_LENGTH} characters; the wallet needs a longer random one`);
  if (stripeKeys && projectVars.STRIPE_SECRET !== stripeKeys.secret) updates.STRIPE_SECRET = stripeKeys.secret;
  if (stripeKeys && projectVars.STRIPE_PUBLISHABLE_KEY !== stripeKeys.publishable) updates.STRIPE_PUBLISHABLE_KEY = stripeKeys.publishable;
  let devVars = { ...projectVars, ...updates };
  const saveDevVars = (values: Record<string, string>) => {
    devVars = { ...devVars, ...values };
    updateDevVarsFile(root, values);
  };
  guard(() => saveDevVars(updates));
  const fresh = Object.keys(updates).filter((key) => projectVars[key] === undefined);
  step(fresh.length ? `added ${fresh.join(", ")} to .dev.vars (mode 0600)` : "checked .dev.vars (mode 0600): all five keys were there");
  if (ensureDevVarsExample(root)) step("added the keys to .dev.vars.example");

  const state: ProjectState = kept ?? { project: name, projectId: newProjectId(), createdBy: `create-stripeflare@${version} add`, scaffolded: false, stripe: {} };
  if (domain) state.domain = domain;
  Object.assign(state, { price: priceText, currency });
  writeState(root, state);

  // 4. Stripe: the same objects as for a new project, tagged with the Worker's name.
  const setup: StripeStepsInput = {
    root,
    name,
    title,
    titleExplicit: Boolean(flags.title) || (interactive && !kept),
    unitAmount,
    currency,
    domain,
    state,
    keys: stripeKeys,
    devVar: (key) => devVars[key],
    saveDevVars,
  };
  const stripe = stripeSteps(setup);
  await stripe.run(deploy);

  // 5. Install (only when something is missing), then (only when asked, after the change) deploy.
  const missing = Object.keys({ ...deps.runtime, ...deps.types }).some((dep) => !existsSync(join(root, "node_modules", dep, "package.json")));
  if (flags.install && (added.length || missing)) {
    heading(`Installing dependencies with ${pm}`);
    await installDependencies(pm, root).catch((error: Error) => fail(error.message));
    step(`installed dependencies with ${pm}`);
  }
  if (deploy) await deployProject(setup, stripe);

  process.stdout.write(
    addSummaryText({
      root,
      name,
      pm,
      installed: flags.install,
      deployedUrl: state.deployedUrl,
      domain,
      scripts: Object.keys(readPackageScripts(root)),
      stripe: stripe.summary(),
      mainFile: config.main,
      importPath: walletImportPath(mainFile, walletDir),
      changed: exportsDorm(readFileSync(mainFile, "utf8")),
      walletReadme: `${walletShown}/README.md`,
    }),
  );
}

function readPackageName(root: string): string | undefined {
  try {
    return JSON.parse(readFileSync(join(root, "package.json"), "utf8")).name;
  } catch {
    return undefined;
  }
}
