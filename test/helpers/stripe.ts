// The Stripe stand-in as the CLI test files use it: one per file, started before its tests and
// closed after them, with the file's temp folders removed at the same time.
import type Stripe from "stripe";
import { afterAll, afterEach, beforeAll } from "vitest";
import { startStripeStandIn, type StripeStandIn } from "./stripe-stand-in.js";
import { cleanupTempDirs } from "./cli.js";

/**
 * Registers the file's hooks and returns an accessor: the stand-in only exists once beforeAll has
 * run, so tests call `stripe()` where they need it. `clearFailures`: forget injected failures
 * that did not fire after each test, so one test's failure cannot hit the next.
 */
export function useStripeStandIn(options: { clearFailures?: boolean } = {}): () => StripeStandIn {
  let running: StripeStandIn | undefined;
  beforeAll(async () => {
    running = await startStripeStandIn();
  });
  if (options.clearFailures) afterEach(() => running?.clearFailures());
  afterAll(async () => {
    await running?.close();
    cleanupTempDirs();
  });
  return () => {
    if (!running) throw new Error("the Stripe stand-in runs only inside tests and hooks (after beforeAll)");
    return running;
  };
}

/** The CLI flags that hand it the stand-in's test keys. */
export const keyFlags = (standIn: StripeStandIn) => ["--stripe-secret", standIn.keys.secret, "--stripe-publishable-key", standIn.keys.publishable];

/** Picks the Stripe objects the CLI tagged with this project (`metadata.stripeflare_project`). */
export const ours = (project: string) => (o: { metadata: Stripe.Metadata }) => o.metadata.stripeflare_project === project;

/** The requests since `since` (an index into `requests`) that create an object: POST /v1/<resource>. */
export const creates = (standIn: StripeStandIn, since: number) =>
  standIn.requests.slice(since).filter((r) => r.method === "POST" && /^\/v1\/[a-z_]+$/.test(r.path));
