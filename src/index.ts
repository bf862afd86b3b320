// create-stripeflare: scaffold a Stripeflare Worker, provision Stripe, write .dev.vars, install,
// commit and optionally deploy; or, with `add`, put the wallet into a Worker that already exists
// (add.ts); or, with `upgrade`, bring a project's wallet up to this version (upgrade.ts). Read top to bottom: every step is one call into a module named for its concern. All
// input is validated before the first side effect, so bad input loses nothing.
import { existsSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { inspect } from "node:util";
import { addToProject } from "./add.js";
import { helpText, parseArgs, swallowedByNpm, UsageError, type Flags } from "./args.js";
import { DEV_VARS_KEYS, formatDevVarsExample, generateDbSecret, mergeDevVars, readDevVars, updateDevVarsFile, writeDevVars, type DevVars } from "./dev-vars.js";
import { fail, guard, UserError } from "./failures.js";
import { initRepository, secretsFileProblem } from "./git.js";
import { redactSecrets } from "./keys.js";
import { normalizeCurrency, toMinorUnits } from "./money.js";
import { detectPackageManager, installDependencies, setPackageManagerField } from "./package-manager.js";
import { normalizeDomain, projectNameProblem, suggestProjectName } from "./project-name.js";
import * as ask from "./prompts.js";
import { rerunHint, savedInProject } from "./rerun.js";
import { isRemembered, remember } from "./registry.js";
import { newProjectId, readState, writeState, type ProjectState } from "./state.js";
import { deployProject, loadStripe, refuseUndeployable, resolveStripeKeys, stripeSteps, type StripeStepsInput } from "./stripe-setup.js";
import { summaryText } from "./summary.js";
import { ensureGitignore, fetchTemplate, isBundledTemplateName, isEmptyDir, OWN_FILES, readPackageScripts, renamePackage, symlinkProblem, writableProblem } from "./template.js";
import { failure, heading, info, note, progress, reportProgress, step } from "./ui.js";
import { upgrade, walletBehind } from "./upgrade.js";
import { updateWranglerConfig } from "./wrangler-config.js";

declare const __VERSION__: string;
const VERSION = typeof __VERSION__ === "string" ? __VERSION__ : "0.0.0-dev";

/** wrangler 4 (the generated project's toolchain) needs this; the CLI itself runs on 20.19+. */
const PROJECT_NODE = [22, 12] as const;

export async function main(argv: string[]): Promise<number> {
  const swallowed = swallowedByNpm();
  if (swallowed) {
    failure(swallowed);
    return 2;
  }
  let flags: Flags;
  try {
    flags = parseArgs(argv);
  } catch (error) {
    failure((error as Error).message);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(helpText(VERSION, flags.command));
    return 0;
  }
  if (flags.version) {
    console.log(VERSION);
    return 0;
  }

  // upgrade: its own exit codes (--check: 1 when behind) and interruption handling.
  if (flags.command === "upgrade") {
    try {
      return await upgrade(flags);
    } catch (error) {
      failure(error instanceof UserError ? error.message : `unexpected error: ${(error as Error).message}`);
      if (!(error instanceof UserError) && process.env.DEBUG) console.error(inspect(error));
      return 2;
    }
  }

  // Without a TTY on stdin nobody can answer a prompt: behave as --yes (CONTRACT §1).
  const interactive = !flags.yes && Boolean(process.stdin.isTTY);
  // Built when needed: whether a key can be left out depends on what .dev.vars holds by then.
  const rerun = () => rerunHint(argv, savedInProject(flags));
  const onInterrupt = () => {
    console.log("\nInterrupted.");
    reportProgress(rerun());
    process.exit(130);
  };
  // A library failing outside our awaits (a socket assertion, a stream error) still ends in one
  // line and the progress report, never a stack trace.
  const onCrash = (error: unknown) => {
    if (progress.length) reportProgress(rerun());
    failure(`unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.DEBUG) console.error(redactSecrets(inspect(error)));
    process.exit(1);
  };
  process.once("SIGINT", onInterrupt);
  process.once("SIGTERM", onInterrupt);
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);

  try {
    if (flags.command === "add") await addToProject(flags, interactive, VERSION);
    else await create(flags, interactive);
    return 0;
  } catch (error) {
    if (error instanceof ask.CancelledError) {
      reportProgress(rerun());
      failure("cancelled");
      return 1;
    }
    if (progress.length) reportProgress(rerun());
    const known = error instanceof UserError || error instanceof UsageError;
    failure(known ? (error as Error).message : (await loadStripe()).describeStripeError(error));
    if (!known && process.env.DEBUG) console.error(redactSecrets(inspect(error)));
    return 1;
  } finally {
    process.removeListener("SIGINT", onInterrupt);
    process.removeListener("SIGTERM", onInterrupt);
    process.removeListener("uncaughtException", onCrash);
    process.removeListener("unhandledRejection", onCrash);
  }
}

/**
 * The project folder: from the argument or a prompt; in a terminal, a name Workers cannot take
 * is offered its closest valid form, and "no" to a non-empty folder asks for another one.
 * Ours to continue in when this CLI made it on this machine (registry.ts): a .stripeflare.json
 * alone (hand-written, cloned, from another machine or an older version) needs --force, and
 * then the folder's install scripts run only if the user agrees.
 */
async function chooseFolder(flags: Flags, interactive: boolean) {
  let directory =
    flags.directory ?? (interactive ? await ask.askDirectory() : fail("missing project directory: pass it as the first argument, e.g. `create-stripeflare my-api --yes`"));
  for (;;) {
    const root = resolve(directory);
    const name = basename(root);
    const nameProblem = projectNameProblem(name);
    if (nameProblem) {
      if (!interactive) fail(nameProblem);
      const suggestion = suggestProjectName(name);
      directory = suggestion && (await ask.askUseName(name, suggestion)) ? join(dirname(root), suggestion) : await ask.askDirectory("Another project folder");
      continue;
    }
    const previous = guard(() => readState(root));
    const where = relative(process.cwd(), root) || ".";
    const projectFolder = Boolean(previous?.scaffolded && previous.project === name);
    const untrusted = projectFolder && !isRemembered(root, previous!.projectId);
    if (untrusted && !flags.force) {
      fail(`${where} has a .stripeflare.json that create-stripeflare did not write on this machine: pass --force to continue there (its install scripts will not run unless you agree)`);
    }
    if (untrusted) info(`${where}: continuing there (--force), though create-stripeflare did not make it on this machine`);
    else if (projectFolder) info(`${where} was created by create-stripeflare: continuing there`);
    else if (!isEmptyDir(root) && !flags.force) {
      if (!interactive) fail(`${where} is not empty: choose another folder, or pass --force to copy the template into it`);
      if (!(await ask.askOverwrite(where))) {
        directory = await ask.askDirectory("Another project folder");
        continue;
      }
    }
    return { root, name, previous, where, resuming: projectFolder, untrusted };
  }
}

async function create(flags: Flags, interactive: boolean): Promise<void> {
  // The CLI itself runs on Node 20.19+ (it copies files and calls Stripe), so a project can be
  // made before Node is upgraded; the project's own scripts refuse an old Node in one line
  // (templates/default/scripts/node-check.mjs), and the summary's first step says so too.
  const [major, minor] = process.versions.node.split(".").map(Number);
  const nodeTooOld = major < PROJECT_NODE[0] || (major === PROJECT_NODE[0] && minor < PROJECT_NODE[1]) ? PROJECT_NODE.join(".") : undefined;
  if (nodeTooOld) note(`The generated project needs Node ${nodeTooOld}+ for wrangler; this is Node ${process.versions.node}. Scaffolding works, but upgrade Node before \`npm run dev\`.`);

  // 1. Where: the folder, its name, and whether it is ours from an earlier run.
  const { root, name, previous, where, resuming, untrusted } = await chooseFolder(flags, interactive);
  // Nothing is written through a symbolic link already in the folder (it could point anywhere).
  const link = symlinkProblem(root, OWN_FILES);
  if (link) fail(link);
  // Before the Stripe key is checked or anything is created there: a folder we cannot write to.
  const unwritable = writableProblem(root);
  if (unwritable) fail(unwritable);
  // Which template: the flag, else (a new project, interactive) a question; a rerun keeps its own.
  const template = flags.template ?? (resuming || !interactive ? "default" : await ask.askTemplate());

  // 2. What: price, currency, domain, title. Checked now, used later.
  // A rerun keeps the earlier run's price and currency unless told otherwise: a rerun made only
  // to add --domain must not reprice the product.
  const kept = resuming ? previous : undefined;
  const currency = guard(() => normalizeCurrency(flags.currency ?? kept?.currency ?? "usd"));
  const priceText = flags.price ?? kept?.price ?? (interactive ? await ask.askPrice(currency) : "5");
  const unitAmount = guard(() => toMinorUnits(priceText, currency));
  const domain =
    flags.domain !== undefined
      ? guard(() => normalizeDomain(flags.domain!))
      : resuming
        ? previous?.domain
        : interactive
          ? await ask.askDomain()
          : undefined;
  const title = flags.title?.trim() || (interactive && !resuming ? await ask.askTitle(name) : name);
  // Agent payments (MPP): the flag, else a question for a new project that will use Stripe.
  // Without either, wrangler.jsonc keeps what it has (a rerun never turns them off).
  const networkId = flags.agentPayments ?? (interactive && !resuming && flags.stripe ? await ask.askAgentPayments() : undefined);
  const pm = flags.pm ?? detectPackageManager();

  // 3. Stripe keys: flag, environment, project .dev.vars (rerun), ~/.stripeflare.dev.vars, prompt.
  //    A --deploy that cannot go ahead is refused before the key is even checked.
  const projectVars = resuming ? readDevVars(root) : {};
  if (flags.deploy) refuseUndeployable(flags, root, projectVars);
  const stripeKeys = await resolveStripeKeys(flags, interactive, projectVars);
  const deploy = flags.deploy ?? (interactive ? await ask.askDeploy() : false);
  if (deploy && flags.deploy === undefined) refuseUndeployable(flags, root, projectVars);

  // 4. Scaffold. A folder from an earlier run keeps its files (they may have been edited);
  //    only the name, the currency, the domain route and the .gitignore entries are brought up to date.
  heading(`${resuming ? "Continuing" : "Creating"} ${name}`);
  if (!resuming) {
    const files = await fetchTemplate(template, root).catch((error: Error) => fail(error.message));
    step(`copied template "${template}" (${files.length} files) into ${relative(process.cwd(), root) || "."}`);
    const pmField = await setPackageManagerField(root, pm).catch((error: Error) => fail(error.message));
    if (pmField) step(pmField);
  }
  if (resuming) {
    const behind = walletBehind(root);
    if (behind) note(behind);
  }
  guard(() => renamePackage(root, name));
  guard(() => updateWranglerConfig(root, name, domain, { CURRENCY: currency, TOP_UP_AMOUNT: String(unitAmount), STRIPE_NETWORK_ID: networkId }));
  if (networkId) step(`agent payments on: vars.STRIPE_NETWORK_ID = "${networkId}" in wrangler.jsonc (STRIPE_SECRET must be allowed to create PaymentIntents)`);
  ensureGitignore(root);
  if (!existsSync(join(root, ".dev.vars.example"))) writeFileSync(join(root, ".dev.vars.example"), formatDevVarsExample());
  const state: ProjectState = previous && resuming ? previous : { project: name, createdBy: `create-stripeflare@${VERSION}`, scaffolded: true, stripe: {} };
  state.projectId ??= newProjectId(); // a new project, or one written before project ids
  if (!resuming) state.template = template;
  if (domain) state.domain = domain;
  Object.assign(state, { price: priceText, currency });
  writeState(root, state);
  remember(root, state.projectId);
  if (!resuming) step(`set the name "${name}" in package.json and wrangler.jsonc${domain ? `, route ${domain}` : ""}`);
  else if (domain) step(`route ${domain} is in wrangler.jsonc`);

  // The secrets must not reach a git repository this folder is in (git decides, not we).
  const leak = await secretsFileProblem(root);
  if (leak) fail(leak);
  const existing = readDevVars(root);
  // A new project gets its own DB_SECRET (the /db admin password), whatever a .dev.vars already
  // in the folder says; a project we continue keeps its own.
  const replacedDbSecret = !resuming && Boolean(existing.DB_SECRET);
  let devVars: DevVars = mergeDevVars(existing, {
    STRIPE_SECRET: stripeKeys?.secret,
    STRIPE_PUBLISHABLE_KEY: stripeKeys?.publishable,
    ...(resuming ? {} : { DB_SECRET: generateDbSecret() }),
  });
  const saveDevVars = (updates: Partial<DevVars>) => {
    devVars = mergeDevVars(devVars, updates);
    // A .dev.vars already there keeps its own lines; only our keys are set in it.
    if (existsSync(join(root, ".dev.vars"))) updateDevVarsFile(root, Object.fromEntries(Object.entries(devVars).filter(([key, value]) => existing[key] !== value || updates[key] !== undefined)));
    else writeDevVars(root, devVars);
  };
  guard(() => saveDevVars({}));
  step(`wrote .dev.vars (${DEV_VARS_KEYS.length} keys, mode 0600)`);
  if (replacedDbSecret) note("The folder's .dev.vars had a DB_SECRET: it was replaced by a new random one, since a new project gets its own (it is also the /db admin password).");

  // 5. Stripe: product, price, payment link now; the webhook endpoint once there is a public URL.
  const setup: StripeStepsInput = {
    root,
    name,
    title,
    titleExplicit: Boolean(flags.title) || (interactive && !resuming),
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

  // 6. Install and commit.
  if (flags.install) {
    // Install scripts run code of whoever wrote the package.json: ours (the bundled template)
    // yes; a remote template's, or a folder this machine did not make, only if the user agrees.
    const foreign = untrusted ? `${where} (not made here)` : isBundledTemplateName(template) ? undefined : `template "${template}"`;
    const scripts = !foreign || (interactive && (await ask.askInstallScripts(foreign)));
    heading(`Installing dependencies with ${pm}${scripts ? "" : " (install scripts off)"}`);
    // On a Node the project cannot run, npm prints one EBADENGINE warning per package: the
    // note above and the summary already say it once.
    await installDependencies(pm, root, { scripts, quiet: Boolean(nodeTooOld) }).catch((error: Error) => fail(error.message));
    step(`installed dependencies with ${pm}`);
    if (!scripts) note(`Install scripts of ${foreign} did not run. Read its package.json, then run \`${pm} install\` yourself if you trust it.`);
  }
  if (flags.git && resuming && existsSync(join(root, ".git"))) {
    info("git repository: already there (an earlier run made it, or you did)");
  } else if (flags.git) {
    const outcome = await initRepository(root);
    if (outcome.done) step("created a git repository with a first commit (git ignores .dev.vars: it is not in it)");
    else if (outcome.unsafe) fail(`no git repository made: ${outcome.reason}`);
    else note(`Skipped git: ${outcome.reason}`);
  }

  // 7. Deploy (see deployProject for the order of secrets and code).
  if (deploy) await deployProject(setup, stripe);

  process.stdout.write(
    summaryText({
      root,
      name,
      pm,
      installed: flags.install,
      deployedUrl: state.deployedUrl,
      domain,
      scripts: Object.keys(readPackageScripts(root)),
      stripe: stripe.summary(),
      // What the template's `npm run pay -- --setup` would fill in (scripts/pay/dev-vars.ts).
      localSetup: !devVars.STRIPE_SECRET || !devVars.STRIPE_WEBHOOK_SIGNING_SECRET,
      nodeTooOld,
    }),
  );
}
