// create-stripeflare: scaffold a Stripeflare Worker, provision Stripe, write .dev.vars, install,
// commit and optionally deploy. Read top to bottom: every step is one call into a module named
// for its concern. All input is validated before the first side effect, so bad input loses nothing.
import { randomUUID } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { helpText, parseArgs, UsageError, type Flags } from "./args.js";
import { deployWorker, checkLogin, findWrangler, uploadSecrets } from "./deploy.js";
import { DEV_VARS_KEYS, formatDevVarsExample, mergeDevVars, readDevVars, writeDevVars, type DevVars } from "./dev-vars.js";
import { initRepository } from "./git.js";
import { lookupKey, maskSecret, publishableKeyMode, readHomeVars, secretKeyMode, type StripeMode } from "./keys.js";
import { normalizeCurrency, toMinorUnits } from "./money.js";
import { detectPackageManager, installDependencies } from "./package-manager.js";
import { normalizeDomain, projectNameProblem } from "./project-name.js";
import * as ask from "./prompts.js";
import { readState, writeState, type ProjectState, type StripeRecord } from "./state.js";
import { summaryText } from "./summary.js";
import { ensureGitignore, fetchTemplate, isEmptyDir, readPackageScripts, renamePackage } from "./template.js";
import { failure, heading, info, note, progress, reportProgress, step } from "./ui.js";
import { updateWranglerConfig } from "./wrangler-config.js";

// The Stripe SDK is the heaviest thing we load (~60 ms): only runs that talk to Stripe pay for it.
const loadStripe = () => import("./stripe.js");

declare const __VERSION__: string;
const VERSION = typeof __VERSION__ === "string" ? __VERSION__ : "0.0.0-dev";

/** wrangler 4 (the generated project's toolchain) needs this; the CLI itself runs on 20.19+. */
const PROJECT_NODE = [22, 12] as const;

/** A failure the user can fix from its message alone: no stack trace is printed for these. */
class UserError extends Error {}
const fail = (message: string): never => {
  throw new UserError(message);
};

export async function main(argv: string[]): Promise<number> {
  let flags: Flags;
  try {
    flags = parseArgs(argv);
  } catch (error) {
    failure((error as Error).message);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(helpText(VERSION));
    return 0;
  }
  if (flags.version) {
    console.log(VERSION);
    return 0;
  }

  // Without a TTY on stdin nobody can answer a prompt: behave as --yes (CONTRACT §1).
  const interactive = !flags.yes && Boolean(process.stdin.isTTY);
  const rerun = ["npx create-stripeflare", ...argv].join(" ");
  const onInterrupt = () => {
    console.log("\nInterrupted.");
    reportProgress(rerun);
    process.exit(130);
  };
  // A library failing outside our awaits (a socket assertion, a stream error) still ends in one
  // line and the progress report, never a stack trace.
  const onCrash = (error: unknown) => {
    if (progress.length) reportProgress(rerun);
    failure(`unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.DEBUG) console.error(error);
    process.exit(1);
  };
  process.once("SIGINT", onInterrupt);
  process.once("SIGTERM", onInterrupt);
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);

  try {
    await create(flags, interactive);
    return 0;
  } catch (error) {
    if (error instanceof ask.CancelledError) {
      reportProgress(rerun);
      failure("cancelled");
      return 1;
    }
    if (progress.length) reportProgress(rerun);
    const known = error instanceof UserError || error instanceof UsageError;
    failure(known ? (error as Error).message : (await loadStripe()).describeStripeError(error));
    if (!known && process.env.DEBUG) console.error(error);
    return 1;
  } finally {
    process.removeListener("SIGINT", onInterrupt);
    process.removeListener("SIGTERM", onInterrupt);
    process.removeListener("uncaughtException", onCrash);
    process.removeListener("unhandledRejection", onCrash);
  }
}

async function create(flags: Flags, interactive: boolean): Promise<void> {
  const guard = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      return fail((error as Error).message);
    }
  };
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < PROJECT_NODE[0] || (major === PROJECT_NODE[0] && minor < PROJECT_NODE[1])) {
    note(`The generated project needs Node ${PROJECT_NODE.join(".")}+ for wrangler; this is Node ${process.versions.node}. Scaffolding works, but upgrade Node before \`npm run dev\`.`);
  }

  // 1. Where: the folder, its name, and whether it is ours from an earlier run.
  const directory =
    flags.directory ?? (interactive ? await ask.askDirectory() : fail("missing project directory: pass it as the first argument, e.g. `create-stripeflare my-api --yes`"));
  const root = resolve(directory);
  const name = basename(root);
  const nameProblem = projectNameProblem(name);
  if (nameProblem) fail(nameProblem);
  const previous = guard(() => readState(root));
  const resuming = Boolean(previous?.scaffolded && previous.project === name);
  if (resuming) info(`${relative(process.cwd(), root) || "."} was created by create-stripeflare: continuing there`);
  else if (!isEmptyDir(root) && !flags.force) {
    const where = relative(process.cwd(), root) || ".";
    if (!interactive || !(await ask.askOverwrite(where))) fail(`${where} is not empty: choose another folder, or pass --force to copy the template into it`);
  }

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
  const pm = flags.pm ?? detectPackageManager();

  // 3. Stripe keys: flag, environment, project .dev.vars (rerun), ~/.stripeflare.dev.vars, prompt.
  //    Checked against the API before anything is created anywhere.
  let stripeKeys: { secret: string; publishable: string; mode: StripeMode } | undefined;
  if (flags.stripe) {
    const homeVars = readHomeVars();
    const projectVars = resuming ? readDevVars(root) : {};
    let secret = lookupKey(flags.stripeSecret, "STRIPE_SECRET", process.env, homeVars, projectVars)?.value;
    if (!secret && interactive) secret = await ask.askStripeSecret();
    if (!secret && !interactive) fail("missing Stripe secret key: pass --stripe-secret <key> (or set STRIPE_SECRET), or --no-stripe to scaffold only");
    if (secret) {
      const mode = guard(() => secretKeyMode(secret!));
      let publishable = lookupKey(flags.stripePublishableKey, "STRIPE_PUBLISHABLE_KEY", process.env, homeVars, projectVars)?.value;
      if (!publishable && interactive) publishable = await ask.askPublishableKey(mode);
      if (!publishable) fail("missing Stripe publishable key: pass --stripe-publishable-key <pk_…> (or set STRIPE_PUBLISHABLE_KEY)");
      const publishableMode = guard(() => publishableKeyMode(publishable!));
      if (publishableMode !== mode) fail(`the secret key is ${mode} mode but the publishable key ${maskSecret(publishable!)} is ${publishableMode} mode`);
      const { checkStripeKey, createStripeClient } = await loadStripe();
      const client = guard(() => createStripeClient(secret!)); // also validates STRIPE_API_BASE
      await checkStripeKey(client, secret).catch((error: Error) => fail(error.message));
      info(`Stripe key ${maskSecret(secret)} works (${mode} mode)`);
      if (mode === "live") {
        if (interactive) {
          if (!(await ask.askConfirmLive())) fail("stopped before using the live key; nothing was created");
        } else note("LIVE mode: the objects below are real and so are payments through the link.");
      }
      stripeKeys = { secret, publishable: publishable!, mode };
    } else note("No Stripe key: skipping Stripe. Fill in .dev.vars later or run again with --stripe-secret.");
  }
  const deploy = flags.deploy ?? (interactive ? await ask.askDeploy() : false);
  if (deploy && !flags.install && !findWrangler(root)) {
    fail("--deploy needs wrangler, which comes with the dependencies: drop --no-install (or install wrangler globally)");
  }

  // 4. Scaffold. A folder from an earlier run keeps its files (they may have been edited);
  //    only the name, the domain route and the .gitignore entries are brought up to date.
  heading(`Creating ${name}`);
  if (!resuming) {
    const files = await fetchTemplate(flags.template, root).catch((error: Error) => fail(error.message));
    step(`copied template "${flags.template}" (${files.length} files) into ${relative(process.cwd(), root) || "."}`);
  }
  guard(() => renamePackage(root, name));
  guard(() => updateWranglerConfig(root, name, domain));
  ensureGitignore(root);
  if (!existsSync(join(root, ".dev.vars.example"))) writeFileSync(join(root, ".dev.vars.example"), formatDevVarsExample());
  const state: ProjectState = previous && resuming ? previous : { project: name, createdBy: `create-stripeflare@${VERSION}`, scaffolded: true, stripe: {} };
  if (domain) state.domain = domain;
  Object.assign(state, { price: priceText, currency });
  writeState(root, state);
  if (!resuming) step(`set the name "${name}" in package.json and wrangler.jsonc${domain ? `, route ${domain}` : ""}`);
  else if (domain) step(`route ${domain} is in wrangler.jsonc`);

  let devVars: DevVars = mergeDevVars(readDevVars(root), { STRIPE_SECRET: stripeKeys?.secret, STRIPE_PUBLISHABLE_KEY: stripeKeys?.publishable });
  const saveDevVars = (updates: Partial<DevVars>) => {
    devVars = mergeDevVars(devVars, updates);
    writeDevVars(root, devVars);
  };
  saveDevVars({});
  step(`wrote .dev.vars (${DEV_VARS_KEYS.length} keys, mode 0600)`);

  // 5. Stripe: product, price, payment link now; the webhook endpoint once there is a public URL.
  const runId = randomUUID();
  const stripeApi = stripeKeys ? await loadStripe() : undefined;
  const stripe = stripeKeys ? stripeApi!.createStripeClient(stripeKeys.secret) : undefined;
  const recordOf = () => (stripeKeys ? (state.stripe[stripeKeys.mode] ?? {}) : {});
  const saveRecord = (record: StripeRecord) => {
    state.stripe[stripeKeys!.mode] = record;
    writeState(root, state);
  };
  const publicUrl = () => (domain ? `https://${domain}` : state.deployedUrl);
  const provisionStripe = async () => {
    const catalog = await stripeApi!.provisionCatalog(
      stripe!,
      { project: name, title, titleExplicit: Boolean(flags.title) || (interactive && !resuming), unitAmount, currency, redirectUrl: publicUrl() && `${publicUrl()}/`, runId },
      recordOf(),
      saveRecord,
      step,
    );
    saveDevVars({ STRIPE_PAYMENT_LINK: catalog.paymentLink.url });
    return catalog;
  };
  const provisionEndpoint = async () => {
    await stripeApi!.provisionWebhook(
      stripe!,
      { project: name, url: `${publicUrl()}/stripe-webhook`, currentSecret: devVars.STRIPE_WEBHOOK_SIGNING_SECRET || undefined, runId },
      recordOf(),
      (record, secret) => {
        saveDevVars({ STRIPE_WEBHOOK_SIGNING_SECRET: secret }); // the secret first: it exists nowhere else
        saveRecord(record);
      },
      step,
    );
  };
  if (stripe) {
    heading(`Stripe (${stripeKeys!.mode} mode)`);
    await provisionStripe();
    if (publicUrl()) await provisionEndpoint();
    else if (!deploy) note("No --domain and no --deploy, so no public URL yet: skipped the webhook endpoint. Run again with --domain <host> or --deploy to create it.");
  }

  // 6. Install and commit.
  let installed = false;
  if (flags.install) {
    heading(`Installing dependencies with ${pm}`);
    await installDependencies(pm, root).catch((error: Error) => fail(error.message));
    installed = true;
    step(`installed dependencies with ${pm}`);
  }
  if (flags.git) {
    const outcome = await initRepository(root);
    if (outcome.done) step("created a git repository with a first commit (.dev.vars is not in it)");
    else note(`Skipped git: ${outcome.reason}`);
  }

  // 7. Deploy: login check, then secrets and code. On a Worker's first deploy the code goes
  //    first: secrets sent to a Worker that does not exist yet would create a draft without the
  //    Durable Object class, which Cloudflare refuses. Later deploys send secrets first, so new
  //    code never runs with old secrets. Without a domain the URL is known only after a deploy,
  //    so the webhook endpoint (and its secret) follow it.
  if (deploy) {
    heading("Deploying to Cloudflare");
    const wrangler = findWrangler(root) ?? fail("wrangler was not found in node_modules/.bin or on PATH");
    await checkLogin(wrangler).catch((error: Error) => fail(error.message));
    const upload = async () => {
      // Only the five production keys, and only non-empty ones: .dev.vars may also hold local-only
      // keys (STRIPE_API_BASE), and wrangler would store empty strings as secrets.
      const secrets = Object.fromEntries(DEV_VARS_KEYS.filter((key) => devVars[key]).map((key) => [key, devVars[key]]));
      await uploadSecrets(wrangler, secrets).catch((error: Error) => fail(error.message));
      step(`uploaded ${Object.keys(secrets).length} secrets from .dev.vars (wrangler secret bulk)`);
    };
    const previousUrl = state.deployedUrl;
    if (previousUrl) await upload();
    const url = await deployWorker(wrangler, domain).catch((error: Error) => fail(error.message));
    state.deployedUrl = url;
    writeState(root, state);
    step(`deployed ${url}`);
    const movedWebhook = Boolean(stripe && !domain && url !== previousUrl);
    if (movedWebhook) {
      await provisionStripe(); // points the payment link's redirect at the new URL
      await provisionEndpoint();
    }
    if (!previousUrl || movedWebhook) await upload();
  }

  process.stdout.write(
    summaryText({
      root,
      name,
      pm,
      installed,
      deployedUrl: state.deployedUrl,
      domain,
      scripts: Object.keys(readPackageScripts(root)),
      stripe: stripeKeys && {
        mode: stripeKeys.mode,
        record: recordOf(),
        unitAmount,
        currency,
        secret: stripeKeys.secret,
        webhookSecret: devVars.STRIPE_WEBHOOK_SIGNING_SECRET || undefined,
      },
    }),
  );
}
