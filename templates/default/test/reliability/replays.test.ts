// Replays: Stripe delivers at least once, possibly concurrently and days apart. One checkout
// session must credit exactly once, whatever the number of deliveries, the event ids carrying
// it, the activity in between, and the objects restarting (evicted, or reset mid-delivery).
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import type { DORM } from "../../src/stripeflare";
import { describe, expect, it } from "vitest";
import { books, checkoutEvent, deliver, fixture, ledger, me, newVisitor, pay, request, returnFrom, sqlIn, userRow, type Worker } from "../helpers";
import { accountDb, database, fundedVisitor } from "./support";

const DELIVERIES = 20;

/** Delivers `event` n times at once; answers (status, body) in order. */
async function deliverMany(worker: Worker, event: unknown, n = DELIVERIES) {
  const responses = await Promise.all(Array.from({ length: n }, () => deliver(worker, event)));
  return Promise.all(responses.map(async (r) => ({ status: r.status, body: r.status === 200 ? ((await r.json()) as { credited: boolean; duplicate: boolean }) : null })));
}

/** Redelivers until Stripe would stop retrying (a 2xx), as Stripe's retry schedule would. */
async function deliverUntilAccepted(worker: Worker, event: unknown) {
  for (let attempt = 1; attempt <= 10; attempt++) {
    const response = await deliver(worker, event);
    if (response.status === 200) return attempt;
  }
  throw new Error("webhook never accepted");
}

async function evictAll(version: string, accounts: string[]) {
  for (const name of ["index", "aggregate", ...accounts.map((a) => `account:${a}`)]) {
    await evictDurableObject(database(version, name)).catch(() => undefined); // not running: nothing to evict
  }
}

/** Holds the object busy for `ms` (calls queue up on it), then resets it: the queued calls fail. */
function holdThenReset(stub: ReturnType<typeof database>, ms: number): Promise<void> {
  return runInDurableObject(stub, async (_instance: DORM, state) => {
    await state.blockConcurrencyWhile(() => new Promise((resolve) => setTimeout(resolve, ms)));
    state.abort("reset while deliveries were queued");
  }).catch(() => undefined);
}

const claims = (version: string) => sqlIn(database(version, "index"), `SELECT reference, account FROM claims`);

describe(`one event delivered ${DELIVERIES} times at once, and again later`, () => {
  it("credits once: concurrent deliveries, a second event type for the same session, then replays after activity and restarts", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const event = await checkoutEvent({ reference: visitor.reference, amount: 500, paymentMethod: "pm_card_visa" });
    const sessionId = (event.data.object as { id: string }).id;
    const asyncEvent = { ...event, id: `${event.id}_async`, type: "checkout.session.async_payment_succeeded" };

    const [first, second] = await Promise.all([deliverMany(worker, event), deliverMany(worker, asyncEvent, 5)]);
    const all = [...first, ...second];
    expect(all.every((r) => r.status === 200)).toBe(true);
    expect(all.filter((r) => r.body!.credited)).toHaveLength(1);
    expect(all.filter((r) => r.body!.duplicate)).toHaveLength(all.length - 1);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 500, ledger: 500, rows: 1 });

    // Other activity: charges, a second payment, a token rotation.
    await Promise.all(Array.from({ length: 10 }, () => worker(request("/price?value=7", visitor))));
    await pay(worker, { reference: visitor.reference, amount: 300 });
    const rotated = await worker(request("/rotate-token", visitor, { method: "POST" }));
    expect(rotated.status).toBe(200);
    const before = await books(worker.version, visitor.account);
    expect(before).toEqual({ balance: 500 - 70 + 300, ledger: 730, rows: 1 + 10 + 1 + 1 });

    // Days later, after every object restarted: the same event again, 20 times at once.
    await evictAll(worker.version, [visitor.account]);
    const later = await deliverMany(worker, event);
    expect(later.every((r) => r.status === 200 && r.body!.duplicate && !r.body!.credited)).toBe(true);
    expect(await books(worker.version, visitor.account)).toEqual(before);
    const credits = (await ledger(worker.version, visitor.account)).filter((r) => r.reference === sessionId);
    expect(credits).toHaveLength(1);
    expect(await claims(worker.version)).toHaveLength(2);
    console.log(`[reliability] replays: ${all.length + later.length} deliveries of one session, 1 credit, ${credits.length} ledger row`);
  });

  it("credits once when the index and the account objects are reset while deliveries are in flight", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const event = await checkoutEvent({ reference: visitor.reference, amount: 640, paymentMethod: "pm_card_mastercard" });
    const index = database(worker.version, "index");
    const account = accountDb(worker.version, visitor.account);

    // The account object is held (blockConcurrencyWhile) and then reset, so the deliveries
    // that claimed the session in the index queue up on it and are cut off between claim and
    // credit; then the same for the index, cutting deliveries off before the claim.
    const first = holdThenReset(account, 300);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const statuses = (await Promise.all(Array.from({ length: DELIVERIES }, () => deliver(worker, event)))).map((r) => r.status);
    await first;
    // All 20 claimed the session in the index; none credited (the account was reset under them).
    expect(await claims(worker.version)).toHaveLength(1);
    expect(await userRow(worker.version, visitor.account)).toBeUndefined();
    const second = holdThenReset(index, 300);
    await new Promise((resolve) => setTimeout(resolve, 20));
    statuses.push(...(await Promise.all(Array.from({ length: DELIVERIES }, () => deliver(worker, event)))).map((r) => r.status));
    await second;
    expect(statuses.filter((s) => s >= 500).length).toBeGreaterThan(0); // the resets did cut deliveries off
    // Deliveries caught by a reset fail with 5xx (Stripe retries those); none credits twice.
    expect(statuses.every((s) => s === 200 || s >= 500)).toBe(true);
    await deliverUntilAccepted(worker, event);
    await deliverMany(worker, event);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 640, ledger: 640, rows: 1 });
    expect((await me(worker, visitor)).body).toMatchObject({ balance: 640, registered: true });
    console.log(`[reliability] replays under reset: statuses ${JSON.stringify(countBy(statuses))}`);
  });

  it("login by payment: 20 concurrent deliveries and the paying browser's return credit once, and merge once", async () => {
    const worker = fixture();
    const owner = await fundedVisitor(worker, 100, "pm_card_amex");
    const visitor = await newVisitor(worker);
    const event = await checkoutEvent({ reference: visitor.reference, amount: 250, paymentMethod: "pm_card_amex" });
    const sessionId = (event.data.object as { id: string }).id;
    const [results, back] = await Promise.all([deliverMany(worker, event), returnFrom(worker, visitor, sessionId)]);
    // One of the 21 credited (a delivery, or the return itself); the rest found it done.
    expect(results.filter((r) => r.body?.credited).length).toBeLessThanOrEqual(1);
    expect(back.token!.split(".")[0]).toBe(owner.account);
    await evictAll(worker.version, [owner.account, visitor.account]);
    await deliverMany(worker, event);
    await returnFrom(worker, visitor, sessionId);
    expect(await books(worker.version, owner.account)).toEqual({ balance: 350, ledger: 350, rows: 2 });
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 0, ledger: 0, rows: 2 });
    expect(await userRow(worker.version, visitor.account)).toMatchObject({ verified_user_access_token: owner.account });
    expect((await me(worker, visitor)).body).toMatchObject({ balance: 350 });
  });
});

function countBy(values: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
