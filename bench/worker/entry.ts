// The bench Worker: the real wallet (imported from the template, not copied) beside the
// bare floor, in one workerd, behind one counting front door (router.ts).
//
//   /bare/1rt, /bare/2rt   the bare Worker (bare.ts)
//   /declared              wallet, price declared up front with the `prices` option
//   /xprice                wallet, price set by the handler's X-Price header
//   /ctxcharge             wallet, the handler calls ctx.charge(1) itself
//   /agent                 wallet, declared price, agent payments (MPP) on
//   /me, /stripe-webhook, /db/*, ...   the wallet's own routes
import { withStripeflare, DORM as WalletDORM } from "../../templates/default/src/stripeflare";
import { databases } from "../../templates/default/src/stripeflare/databases";
import type { MirrorSnapshot } from "../../templates/default/src/stripeflare/types";
import { appHandler, BareWallet } from "./bare";
import { benchFlags, CallLog, countAlarmRun, countedEnv, countStorage } from "./count";
import { benchRouter } from "./router";

export { BareWallet };

// The wallet's Durable Object, unchanged except that the env it sees counts its calls to
// other objects (the mirror to the aggregate), under the side "object", and that the bench
// can pause the scheduling of mirror pushes for a diagnostic variant (see benchFlags).
const objectLog = new CallLog();
const scheduleMirror = (WalletDORM.prototype as any).scheduleMirror as (() => Promise<void>) | undefined;
export class DORM extends WalletDORM {
  private readonly benchState: DurableObjectState;
  constructor(state: DurableObjectState, env: any) {
    countStorage(state, "wallet");
    super(state, countedEnv(env, objectLog, "object"));
    this.benchState = state;
  }
  override async alarm(): Promise<void> {
    countAlarmRun(this.benchState, "wallet");
    return super.alarm();
  }
}
if (scheduleMirror) {
  (DORM.prototype as any).scheduleMirror = function (this: DORM) {
    return benchFlags.mirrorPaused ? Promise.resolve() : scheduleMirror.call(this);
  };
}

const byXPrice = withStripeflare<any, any>(async (request, _env, ctx) => {
  const { pathname } = new URL(request.url);
  if (pathname === "/xprice") return appHandler();
  if (pathname === "/ctxcharge") {
    const { charged, message } = await ctx.charge(1, false);
    if (!charged) return new Response(message, { status: 402 });
    return new Response("hello, paid request\n", { headers: { "content-type": "text/plain" } });
  }
  return new Response("not found\n", { status: 404 });
});

const declared = withStripeflare<any, any>(
  async () => new Response("hello, paid request\n", { headers: { "content-type": "text/plain" } }),
  { prices: { "/declared": 1 } },
);

/**
 * The aggregate's intake (issue 14, item 3): `n` mirror pushes, `concurrency` in flight, into
 * one aggregate object of its own ("intake:aggregate"), as account objects send them: one
 * users row per source, `sources` distinct accounts, versions rising with `round` so a round
 * after the first updates rows instead of inserting them. The runner times the whole call.
 */
async function intake(url: URL, env: any): Promise<Response> {
  const n = Number(url.searchParams.get("n") ?? 1000);
  const concurrency = Number(url.searchParams.get("concurrency") ?? 32);
  const sources = Number(url.searchParams.get("sources") ?? n);
  const round = Number(url.searchParams.get("round") ?? 1);
  const setup = databases(undefined, "intake").aggregate;
  const aggregate = env.DORM_NAMESPACE.get(env.DORM_NAMESPACE.idFromName(setup.name));
  let next = 0;
  let applied = 0;
  const intervals = new Map<number, number>();
  const push = async () => {
    while (next < n) {
      const i = next++;
      const account = `acct_intake_${String(i % sources).padStart(8, "0")}`;
      const snapshot: MirrorSnapshot = {
        source: `intake:account:${account}`,
        version: round * 1_000_000 + i,
        rows: [{ access_token: account, balance: 10_000 - round - (i % 997), name: null, email: null, verified_email: null, verified_user_access_token: null, card_fingerprint: null, client_reference_id: `ref_${account}` }],
        migrations: setup.migrations,
        migrationsKey: setup.migrationsKey,
      };
      const ack = await aggregate.mirror(snapshot);
      if (ack.applied) applied++;
      intervals.set(ack.interval, (intervals.get(ack.interval) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, push));
  return Response.json({ n, applied, intervals: Object.fromEntries(intervals) });
}

// The same declared price with agent payments on (MPP): a 402 carries a challenge, and a
// request with a credential settles it (Stripe PaymentIntent, credit) before it is charged.
const agent = withStripeflare<any, any>(
  async () => new Response("hello, paid request\n", { headers: { "content-type": "text/plain" } }),
  { prices: { "/agent": 1 }, agentPayments: true },
);

const routed = benchRouter((request, env, ctx) => {
  const { pathname } = new URL(request.url);
  if (pathname === "/declared") return declared(request, env, ctx);
  if (pathname === "/agent") return agent(request, env, ctx);
  return byXPrice(request, env, ctx);
});

export default {
  // The intake run makes thousands of calls: it skips the router's per-request call headers.
  fetch: (request: Request, env: any, ctx: ExecutionContext) =>
    new URL(request.url).pathname === "/__bench-intake" ? intake(new URL(request.url), env) : routed(request, env, ctx),
};
