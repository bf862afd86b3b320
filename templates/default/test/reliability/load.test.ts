// Load: 1,000 concurrent charges on one account never overdraw it, every successful charge is
// in the ledger exactly once, and the ledger adds up to the balance. Three paths: a declared
// price (charged in the session round trip), X-Price (charged after the handler), chargeUser.
import { createExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { chargeUser } from "../../src/stripeflare";
import { books, checkoutEvent, deliver, fixture, ledger, me, pay, request, testEnv } from "../helpers";
import { fundedVisitor } from "./support";

const CHARGES = 1_000;

/** Charges `/charge/<i>/<cents>` declares a price of <cents>: each request is identifiable in the ledger. */
const pricedByPath = (req: Request) => {
  const match = /^\/charge\/\d+\/(\d+)$/.exec(new URL(req.url).pathname);
  return match ? Number(match[1]) : undefined;
};

/** Checks the ledger of an account is a consistent history: amounts chain into balance_after, never below 0. */
function expectConsistentHistory(rows: Record<string, any>[]) {
  let running = 0;
  for (const row of rows) {
    running += row.amount;
    expect(row.balance_after, `ledger row ${row.id}`).toBe(running);
    expect(row.balance_after, `ledger row ${row.id} overdrew`).toBeGreaterThanOrEqual(0);
  }
  return running;
}

describe(`${CHARGES} concurrent charges on one account (allowNegativeBalance false)`, () => {
  it("declared prices: never overdrawn; the ledger holds exactly the charges that answered 200", async () => {
    const worker = fixture({ prices: pricedByPath });
    const funded = 1_000;
    const visitor = await fundedVisitor(worker, funded);
    const amounts = Array.from({ length: CHARGES }, (_, i) => 1 + (i % 3)); // demand: 1,999 cents
    // All at once: the test isolate holds 1,000 requests (each one Durable Object RPC) open together.
    const responses = await Promise.all(amounts.map((cents, i) => worker(request(`/charge/${i}/${cents}`, visitor))));
    const statuses = responses.map((r) => r.status);
    expect(new Set(statuses)).toEqual(new Set([200, 402]));

    const charged = amounts.map((cents, i) => ({ i, cents, status: statuses[i], balance: Number(responses[i]!.headers.get("X-Balance")) }));
    const ok = charged.filter((c) => c.status === 200);
    const refused = charged.filter((c) => c.status === 402);
    const { balance, ledger: sum, rows } = await books(worker.version, visitor.account);

    expect(balance).toBeGreaterThanOrEqual(0); // overdrafts: 0
    expect(ok.reduce((n, c) => n + c.cents, 0)).toBe(funded - balance!); // successful charges = balance drop
    expect(sum).toBe(balance); // ledger = balance
    expect(rows).toBe(1 + ok.length); // one credit + one row per successful charge, no duplicates

    // Each successful request is in the ledger once, under its own description and amount.
    const history = await ledger(worker.version, visitor.account);
    expect(expectConsistentHistory(history)).toBe(balance);
    const charges = history.filter((r) => r.kind === "charge");
    expect(charges.map((r) => `${r.description} ${-r.amount}`).sort()).toEqual(ok.map((c) => `GET /charge/${c.i}/${c.cents} ${c.cents}`).sort());
    // The X-Balance each success reported is the balance right after its own ledger row.
    const after = new Map(charges.map((r) => [r.description, r.balance_after]));
    for (const c of ok) expect(c.balance).toBe(after.get(`GET /charge/${c.i}/${c.cents}`));
    // A refusal was real: the balance could not cover it then, nor at the end (it only falls).
    for (const c of refused) {
      expect(c.balance).toBeLessThan(c.cents);
      expect(balance).toBeLessThan(c.cents);
    }
    expect((await me(worker, visitor)).body.balance).toBe(balance);
    console.log(`[reliability] declared: ${CHARGES} charges, ${ok.length} ok, ${refused.length} refused, balance ${balance}`);
  });

  it("X-Price: 1,000 one-cent requests on 600 cents: exactly 600 succeed, balance 0, no overdraft", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 600);
    const responses = await Promise.all(Array.from({ length: CHARGES }, () => worker(request("/price?value=1", visitor))));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(600);
    expect(statuses.filter((s) => s === 402)).toHaveLength(400);
    // The 600 successes each saw a different balance after their charge: 599 ... 0.
    const seen = responses.filter((r) => r.status === 200).map((r) => Number(r.headers.get("X-Balance")));
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 0, ledger: 0, rows: 601 });
    expectConsistentHistory(await ledger(worker.version, visitor.account));
    console.log(`[reliability] X-Price: ${CHARGES} charges, 600 ok, 400 refused, balance 0`);
  });

  it("chargeUser from outside a request (queue/cron style), 100 in flight at a time, with payments landing mid-race", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 500);
    const ctx = createExecutionContext();
    const amounts = Array.from({ length: CHARGES }, (_, i) => 1 + (i % 5)); // demand: 3,000 cents
    // 100 charges in flight at a time; a top-up is paid after 100, 300 and 500 answers, so
    // credits land in the middle of the race rather than after it.
    const results: Awaited<ReturnType<typeof chargeUser>>[] = new Array(CHARGES);
    const topUps: Promise<number>[] = [];
    // The payments exist at Stripe before the race; during it, only their webhooks arrive.
    const events = new Map(await Promise.all([200, 400, 600].map(async (amount) => [amount, await checkoutEvent({ reference: visitor.reference, amount })] as const)));
    let next = 0;
    let answered = 0;
    const lane = async () => {
      while (next < CHARGES) {
        const i = next++;
        results[i] = await chargeUser(testEnv, ctx, visitor.token, undefined, worker.version, amounts[i]!, false);
        answered++;
        const topUp = { 100: 200, 300: 400, 500: 600 }[answered];
        if (topUp) {
          const amount = topUp;
          topUps.push(deliver(worker, events.get(amount)!).then((response) => response.status));
        }
      }
    };
    await Promise.all(Array.from({ length: 100 }, lane));
    expect(await Promise.all(topUps)).toEqual([200, 200, 200]);
    const credited = 500 + 200 + 400 + 600;

    const ok = results.filter((r) => r.charged);
    expect([...new Set(results.filter((r) => !r.charged).map((r) => r.message))].filter((m) => m !== "User balance too low")).toEqual([]);
    const spent = amounts.filter((_, i) => results[i]!.charged).reduce((n, c) => n + c, 0);
    const { balance, ledger: sum, rows } = await books(worker.version, visitor.account);
    expect(balance).toBeGreaterThanOrEqual(0);
    expect(balance).toBe(credited - spent);
    expect(sum).toBe(balance);
    expect(rows).toBe(4 + ok.length);
    const history = await ledger(worker.version, visitor.account);
    expect(expectConsistentHistory(history)).toBe(balance);
    // The top-ups really landed mid-race: charges succeeded after the last credit too.
    const lastCredit = history.findLastIndex((r) => r.kind === "credit");
    expect(lastCredit).toBeGreaterThan(0);
    expect(history.slice(lastCredit + 1).some((r) => r.kind === "charge")).toBe(true);
    console.log(`[reliability] chargeUser: ${CHARGES} charges + 3 credits, ${ok.length} ok, balance ${balance}`);
  });
});
