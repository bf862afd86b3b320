// The bench Worker: the real wallet (imported from the template, not copied) beside the
// bare floor, in one workerd, behind one counting front door (router.ts).
//
//   /bare/1rt, /bare/2rt   the bare Worker (bare.ts)
//   /declared              wallet, price declared up front with the `prices` option
//   /xprice                wallet, price set by the handler's X-Price header
//   /ctxcharge             wallet, the handler calls ctx.charge(1) itself
//   /me, /stripe-webhook, /db/*, ...   the wallet's own routes
import { withStripeflare, DORM as WalletDORM } from "../../templates/default/src/stripeflare";
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

export default {
  fetch: benchRouter((request, env, ctx) =>
    new URL(request.url).pathname === "/declared" ? declared(request, env, ctx) : byXPrice(request, env, ctx),
  ),
};
