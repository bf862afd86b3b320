// The Stripe stand-in as the CLI's tests use it: the template's own (templates/default/scripts/
// stripe-local.ts, the one the Worker's tests and `npm run stripe-local` run), so the CLI and the
// Worker are tested against the same server and it cannot drift for one of them. Started with
// fixed keys (a test pair, a live pair, a restricted key): any other key gets Stripe's 401.
import { randomBytes } from "node:crypto";
import { startStripeLocal, type Failure, type Kind, type RecordedRequest, type Store } from "../../templates/default/scripts/stripe-local.ts";

export type { Failure, RecordedRequest };

export interface StripeStandIn {
  url: string;
  keys: { secret: string; publishable: string; liveSecret: string; livePublishable: string; restricted: string };
  store: Store;
  requests: RecordedRequest[];
  fail(failure: Failure): void;
  /** Forget injected failures that have not fired (yet). */
  clearFailures(): void;
  /** Objects of one kind in one mode, newest first. */
  list<T = unknown>(kind: Kind, livemode?: boolean): T[];
  webhookSecret(endpointId: string): string | undefined;
  close(): Promise<void>;
}

export async function startStripeStandIn(options: { port?: number } = {}): Promise<StripeStandIn> {
  const token = () => randomBytes(12).toString("hex");
  const keys = {
    secret: `sk_test_standin${token()}`,
    publishable: `pk_test_standin${token()}`,
    liveSecret: `sk_live_standin${token()}`,
    livePublishable: `pk_live_standin${token()}`,
    restricted: `rk_test_standin${token()}`,
  };
  const local = await startStripeLocal({
    port: options.port,
    keys: new Map([
      [keys.secret, false],
      [keys.restricted, false],
      [keys.liveSecret, true],
    ]),
  });
  return {
    url: local.url,
    keys,
    store: local.catalog,
    requests: local.requests,
    fail: local.fail,
    clearFailures: local.clearFailures,
    list: <T>(kind: Kind, livemode = false) => local.catalog.all(kind, livemode) as T[],
    webhookSecret: (id) => local.catalog.webhookSecrets.get(id),
    close: local.close,
  };
}
