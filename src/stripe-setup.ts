// The Stripe and deploy steps shared by both commands: a new project (index.ts) and the wallet
// added to an existing Worker (add.ts). Each takes what differs between the two (where
// .dev.vars values come from and how they are saved) as callbacks.
import { randomBytes, randomUUID } from "node:crypto";
import type { Flags } from "./args.js";
import { deployWorker, checkLogin, findWrangler, uploadSecrets } from "./deploy.js";
import { DEV_VARS_KEYS } from "./dev-vars.js";
import { fail, guard } from "./failures.js";
import { lookupKey, maskSecret, publishableKeyMode, readHomeVars, secretKeyMode, type StripeMode } from "./keys.js";
import * as ask from "./prompts.js";
import { newProjectId, writeState, type ProjectState, type StripeRecord } from "./state.js";
import type { SummaryInput } from "./summary.js";
import { heading, info, note, step, withSpinner } from "./ui.js";
import { readWorkerConfig } from "./wrangler-dorm.js";

// The Stripe SDK is the heaviest thing we load (~60 ms): only runs that talk to Stripe pay for it.
export const loadStripe = () => import("./stripe.js");

export interface StripeKeys {
  secret: string;
  publishable: string;
  mode: StripeMode;
}

/**
 * Flag, environment, the project's .dev.vars, ~/.stripeflare.dev.vars, then a prompt; checked
 * against the API before anything is created anywhere. undefined: no key, Stripe is skipped.
 */
export async function resolveStripeKeys(flags: Flags, interactive: boolean, projectVars: Record<string, string>): Promise<StripeKeys | undefined> {
  if (!flags.stripe) return undefined;
  const homeVars = readHomeVars();
  let secret = lookupKey(flags.stripeSecret, "STRIPE_SECRET", process.env, homeVars, projectVars)?.value;
  if (flags.stripeSecret) note("--stripe-secret is visible to other users of this machine in the process list: prefer STRIPE_SECRET in the environment, or the prompt.");
  if (!secret && interactive) secret = await ask.askStripeSecret();
  if (!secret && !interactive) fail("missing Stripe secret key: pass --stripe-secret <key> (or set STRIPE_SECRET), or --no-stripe to skip Stripe");
  if (!secret) {
    note("No Stripe key: skipping Stripe. Fill in .dev.vars later or run again with --stripe-secret.");
    return undefined;
  }
  const mode = guard(() => secretKeyMode(secret!));
  // Live objects are real money: without a person to ask, only an explicit --live allows them.
  if (mode === "live" && !interactive && !flags.live) {
    fail(`${maskSecret(secret)} is a LIVE key: pass --live to create real products, prices, links and webhooks without a prompt, or use a test key (sk_test_…)`);
  }
  let publishable = lookupKey(flags.stripePublishableKey, "STRIPE_PUBLISHABLE_KEY", process.env, homeVars, projectVars)?.value;
  if (!publishable && interactive) publishable = await ask.askPublishableKey(mode);
  if (!publishable) fail("missing Stripe publishable key: pass --stripe-publishable-key <pk_…> (or set STRIPE_PUBLISHABLE_KEY)");
  const publishableMode = guard(() => publishableKeyMode(publishable!));
  if (publishableMode !== mode) fail(`the secret key is ${mode} mode but the publishable key ${maskSecret(publishable!)} is ${publishableMode} mode`);
  const { checkStripeKey, createStripeClient, KEY_CHECK_TIMEOUT_MS, stripeHost } = await loadStripe();
  // Once, with a short limit: a Stripe that accepts connections and never answers is named
  // within seconds, not after three 30-second attempts.
  const client = guard(() => createStripeClient(secret!, undefined, { timeout: KEY_CHECK_TIMEOUT_MS, maxNetworkRetries: 0 })); // also validates STRIPE_API_BASE
  await withSpinner(`checking the Stripe key with ${stripeHost()}`, checkStripeKey(client, secret)).catch((error: Error) => fail(error.message));
  info(`Stripe key ${maskSecret(secret)} works (${mode} mode)`);
  if (mode === "live") {
    if (interactive && !flags.live) {
      if (!(await ask.askConfirmLive())) fail("stopped before using the live key; nothing was created");
    } else note("LIVE mode (--live): the objects below are real and so are payments through the link.");
  }
  return { secret, publishable: publishable!, mode };
}

/**
 * Refuses a deploy that cannot go ahead, before anything changes: one that would upload
 * local-only values (with the STRIPE_SECRET this run will use), or one without a wrangler to run.
 */
export function refuseUndeployable(flags: Flags, root: string, projectVars: Record<string, string>): void {
  const problem = localOnlyProblem(projectVars, flags.stripeSecret ?? process.env.STRIPE_SECRET ?? projectVars.STRIPE_SECRET);
  if (problem) fail(problem);
  if (!flags.install && !findWrangler(root)) fail("--deploy needs wrangler, which comes with the dependencies: drop --no-install (or install wrangler globally)");
}

/** The key `npm run pay -- --setup` (the template's local payment script) writes: never a real one. */
export const LOCAL_STAND_IN_SECRET = "sk_test_stripeflare_local_stand_in";

/**
 * Why .dev.vars must not be uploaded as production secrets, or undefined when it may be.
 * `secret` is the STRIPE_SECRET the run will use (a flag replaces the file's value).
 */
export function localOnlyProblem(vars: Record<string, string>, secret = vars.STRIPE_SECRET): string | undefined {
  const reasons: string[] = [];
  if (secret === LOCAL_STAND_IN_SECRET) reasons.push("STRIPE_SECRET is the local stand-in key from `npm run pay -- --setup`");
  if (vars.STRIPE_API_BASE) reasons.push(`STRIPE_API_BASE is set (${vars.STRIPE_API_BASE})`);
  if (!reasons.length) return undefined;
  return (
    `not deploying local-only values: in .dev.vars ${reasons.join(" and ")}. ` +
    "Put your real Stripe keys in .dev.vars (or pass --stripe-secret and --stripe-publishable-key), remove STRIPE_API_BASE, then run again"
  );
}

export interface StripeStepsInput {
  root: string;
  name: string;
  title: string;
  titleExplicit: boolean;
  unitAmount: number;
  currency: string;
  domain?: string;
  state: ProjectState;
  keys?: StripeKeys;
  /** The current value of a .dev.vars key. */
  devVar: (key: string) => string | undefined;
  /** Saves .dev.vars values (the webhook secret exists nowhere else: this must persist it). */
  saveDevVars: (updates: Record<string, string>) => void;
}

export type StripeSteps = ReturnType<typeof stripeSteps>;

/** Product, price and payment link now; the webhook endpoint once there is a public URL. */
export function stripeSteps(input: StripeStepsInput) {
  const { root, state, keys } = input;
  const runId = randomUUID();
  let client: Awaited<ReturnType<typeof loadStripe>> | undefined;
  let stripe: ReturnType<Awaited<ReturnType<typeof loadStripe>>["createStripeClient"]> | undefined;
  const connect = async () => {
    client ??= await loadStripe();
    stripe ??= client.createStripeClient(keys!.secret);
    return { api: client, stripe };
  };
  const recordOf = (): StripeRecord => (keys ? (state.stripe[keys.mode] ?? {}) : {});
  const saveRecord = (record: StripeRecord) => {
    state.stripe[keys!.mode] = record;
    writeState(root, state);
  };
  const publicUrl = () => (input.domain ? `https://${input.domain}` : state.deployedUrl);
  // Files written before project ids existed get one now (objects they recorded are adopted).
  const projectId = () => {
    if (!state.projectId) {
      state.projectId = newProjectId();
      writeState(root, state);
    }
    return state.projectId;
  };

  const provisionCatalog = async () => {
    const { api, stripe } = await connect();
    // The paying browser comes back to the wallet's payment return: login by payment.
    const redirectUrl = publicUrl() && `${publicUrl()}${api.PAYMENT_RETURN_PATH}`;
    const catalog = await withSpinner(`product, price and payment link at ${api.stripeHost()}`, api.provisionCatalog(
      stripe,
      { project: input.name, projectId: projectId(), title: input.title, titleExplicit: input.titleExplicit, unitAmount: input.unitAmount, currency: input.currency, redirectUrl, runId },
      recordOf(),
      saveRecord,
      step,
    ));
    input.saveDevVars({ STRIPE_PAYMENT_LINK: catalog.paymentLink.url });
  };
  const provisionEndpoint = async () => {
    const { api, stripe } = await connect();
    await withSpinner(`webhook endpoint at ${api.stripeHost()}`, api.provisionWebhook(
      stripe,
      { project: input.name, projectId: projectId(), url: `${publicUrl()}/stripe-webhook`, currentSecret: input.devVar("STRIPE_WEBHOOK_SIGNING_SECRET") || undefined, runId },
      recordOf(),
      (record, secret) => {
        input.saveDevVars({ STRIPE_WEBHOOK_SIGNING_SECRET: secret }); // the secret first: it exists nowhere else
        saveRecord(record);
      },
      step,
    ));
  };

  return {
    enabled: Boolean(keys),
    recordOf,
    publicUrl,
    provisionCatalog,
    provisionEndpoint,
    /** What the closing summary shows of Stripe (the secrets masked there); undefined without a key. */
    summary: (): SummaryInput["stripe"] =>
      keys && {
        mode: keys.mode,
        record: recordOf(),
        unitAmount: input.unitAmount,
        currency: input.currency,
        secret: keys.secret,
        webhookSecret: input.devVar("STRIPE_WEBHOOK_SIGNING_SECRET") || undefined,
      },
    /** Everything that can be done before a deploy. */
    async run(deploy: boolean): Promise<void> {
      if (!keys) return;
      heading(`Stripe (${keys.mode} mode)`);
      await provisionCatalog();
      if (publicUrl()) await provisionEndpoint();
      else if (!deploy) note("No --domain and no --deploy, so no public URL yet: skipped the webhook endpoint. Run again with --domain <host> or --deploy to create it.");
    },
  };
}

/**
 * Login check, then secrets and code. A config that lists `secrets.required` (the template's)
 * gets its secrets with the deploy itself (`--secrets-file`), since wrangler refuses to deploy
 * it without them; on a first deploy without a domain the webhook's secret does not exist yet
 * (its endpoint needs the URL), so a random placeholder that verifies nothing stands in until
 * the real one follows the endpoint. Other configs: on a Worker's first deploy the code goes
 * first (secrets sent to a Worker that does not exist yet would create a draft without the
 * Durable Object class, which Cloudflare refuses), later deploys send secrets first, so new code
 * never runs with old secrets.
 */
export async function deployProject(input: StripeStepsInput, steps: StripeSteps): Promise<void> {
  const { root, state, domain } = input;
  heading("Deploying to Cloudflare");
  const wrangler = findWrangler(root) ?? fail("wrangler was not found in node_modules/.bin or on PATH");
  await checkLogin(wrangler).catch((error: Error) => fail(error.message));
  // Only the five production keys, and only non-empty ones: .dev.vars may also hold local-only
  // keys, and wrangler would store empty strings as secrets.
  const secrets = () => Object.fromEntries(DEV_VARS_KEYS.map((key) => [key, input.devVar(key)]).filter(([, value]) => value)) as Record<string, string>;
  const upload = async () => {
    const values = secrets();
    await uploadSecrets(wrangler, values).catch((error: Error) => fail(error.message));
    step(`uploaded ${Object.keys(values).length} secrets from .dev.vars (wrangler secret bulk)`);
  };
  const required = requiredSecrets(root);
  const previousUrl = state.deployedUrl;
  let withDeploy: Record<string, string> | undefined;
  let placeholders: string[] = [];
  if (required.length) {
    withDeploy = secrets();
    placeholders = required.filter((key) => !withDeploy![key]);
    for (const key of placeholders) withDeploy[key] = `${key === "STRIPE_WEBHOOK_SIGNING_SECRET" ? "whsec_" : ""}placeholder_${randomBytes(24).toString("base64url")}`;
  } else if (previousUrl) await upload();
  const url = await deployWorker(wrangler, domain, withDeploy).catch((error: Error) => fail(error.message));
  if (withDeploy) step(`uploaded ${Object.keys(withDeploy).length - placeholders.length} secrets from .dev.vars with the deploy${placeholders.length ? ` (${placeholders.join(", ")}: a placeholder until below)` : ""}`);
  state.deployedUrl = url;
  writeState(root, state);
  step(`deployed ${url}`);
  const movedWebhook = Boolean(steps.enabled && !domain && url !== previousUrl);
  if (movedWebhook) {
    await steps.provisionCatalog(); // points the payment link's redirect at the new URL
    await steps.provisionEndpoint();
  }
  if (required.length ? placeholders.length > 0 || movedWebhook : !previousUrl || movedWebhook) await upload();
}

/** The names under `secrets.required` in the project's wrangler config (none when it has no such list). */
function requiredSecrets(root: string): string[] {
  let required: unknown;
  try {
    required = readWorkerConfig(root)?.config.secrets?.required;
  } catch {
    return []; // a config wrangler cannot read either: its deploy says why
  }
  return Array.isArray(required) ? required.filter((name): name is string => typeof name === "string") : [];
}
