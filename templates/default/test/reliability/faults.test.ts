// Faults: the aggregate failing and objects restarting, then recovering (the aggregate ends
// equal to the account databases, nothing lost); an account's Durable Object reset while
// charges are in flight (each charge applied whole, balance and ledger, or not at all).
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DORM } from "../../src/stripeflare";
import { MIRROR_FAULT_KEY } from "../../src/stripeflare/mirror";
import { CUSTOM_MIGRATIONS } from "../fixtures/worker";
import { books, fixture, ledger, newVisitor, pay, payAndReturn, request, sqlIn, type Worker } from "../helpers";
import { abortObject, accountDb, database, fundedVisitor } from "./support";

const pricedByPath = (req: Request) => {
  const match = /^\/charge\/\d+\/(\d+)$/.exec(new URL(req.url).pathname);
  return match ? Number(match[1]) : undefined;
};

describe("a Durable Object reset mid-charge loses no money", () => {
  it("declared prices: resetting the account's object while 600 charges are in flight: each is applied whole or not at all", async () => {
    const worker = fixture({ prices: pricedByPath });
    const funded = 2_000;
    const visitor = await fundedVisitor(worker, funded);
    const stub = accountDb(worker.version, visitor.account);
    const amounts = Array.from({ length: 600 }, (_, i) => 1 + (i % 4));
    // 50 charges in flight at any time; after every 100 answers the object is reset, so each
    // reset lands on an object with charges queued and running, as a runtime restart would.
    const responses: Response[] = new Array(amounts.length);
    let next = 0;
    let answered = 0;
    const resets: Promise<void>[] = [];
    const lane = async () => {
      while (next < amounts.length) {
        const i = next++;
        responses[i] = await worker(request(`/charge/${i}/${amounts[i]}`, visitor));
        if (++answered % 100 === 0) resets.push(abortObject(stub));
      }
    };
    await Promise.all(Array.from({ length: 50 }, lane));
    await Promise.all(resets);
    const statuses = responses.map((r) => r.status);
    const counts = { ok: statuses.filter((s) => s === 200).length, failed: statuses.filter((s) => s === 500).length };
    expect(statuses.every((s) => s === 200 || s === 500)).toBe(true);
    expect(counts.failed).toBeGreaterThan(0); // the resets did land on charges in flight

    const history = await ledger(worker.version, visitor.account);
    const charged = new Set(history.filter((r) => r.kind === "charge").map((r) => r.description));
    // Every 200 is in the ledger; a 500 may or may not have committed before the reset, but
    // whatever committed is whole: the balance is exactly the credit minus the ledger's charges.
    for (const [i, status] of statuses.entries()) if (status === 200) expect(charged.has(`GET /charge/${i}/${amounts[i]}`)).toBe(true);
    const { balance, ledger: sum, rows } = await books(worker.version, visitor.account);
    expect(sum).toBe(balance);
    expect(rows).toBe(1 + charged.size);
    const spent = amounts.filter((cents, i) => charged.has(`GET /charge/${i}/${cents}`)).reduce((n, c) => n + c, 0);
    expect(balance).toBe(funded - spent);
    expect(charged.size).toBeGreaterThanOrEqual(counts.ok);
    console.log(`[reliability] reset mid-charge (declared): ok ${counts.ok}, failed ${counts.failed}, committed ${charged.size}`);
  });

  it("X-Price (charged after the handler, a second round trip): resets in flight lose no money either", async () => {
    const worker = fixture();
    const funded = 2_000;
    const visitor = await fundedVisitor(worker, funded);
    const stub = accountDb(worker.version, visitor.account);
    const responses: Response[] = [];
    let answered = 0;
    const resets: Promise<void>[] = [];
    const lane = async (start: number) => {
      for (let i = start; i < 600; i += 50) {
        responses[i] = await worker(request(`/price?value=${1 + (i % 4)}`, visitor));
        if (++answered % 100 === 0) resets.push(abortObject(stub));
      }
    };
    await Promise.all(Array.from({ length: 50 }, (_, start) => lane(start)));
    await Promise.all(resets);
    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 500)).toBe(true);
    expect(statuses.filter((s) => s === 500).length).toBeGreaterThan(0);
    const history = await ledger(worker.version, visitor.account);
    const charges = history.filter((r) => r.kind === "charge");
    const { balance, ledger: sum } = await books(worker.version, visitor.account);
    expect(sum).toBe(balance);
    expect(balance).toBe(funded + charges.reduce((n, r) => n + r.amount, 0));
    // Every 200 is a committed charge: its X-Balance is the balance right after one ledger row.
    const after = new Set(charges.map((r) => r.balance_after));
    const ok = responses.filter((r) => r.status === 200);
    for (const r of ok) expect(after.has(Number(r.headers.get("X-Balance")))).toBe(true);
    expect(charges.length).toBeGreaterThanOrEqual(ok.length);
    console.log(`[reliability] reset mid-charge (X-Price): ok ${ok.length}, failed ${statuses.length - ok.length}, committed ${charges.length}`);
  });

  it("with an Idempotency-Key, a request that got a 500 from a reset is retried until it answers, and every request is charged exactly once", async () => {
    // The gap the key closes: a 500 after a reset does not tell whether the charge committed.
    // Retrying with the same key settles it: a committed charge is replayed, a lost one made.
    const worker = fixture({ prices: pricedByPath });
    const funded = 2_000;
    const visitor = await fundedVisitor(worker, funded);
    const stub = accountDb(worker.version, visitor.account);
    const amounts = Array.from({ length: 300 }, (_, i) => 1 + (i % 4));
    const send = (i: number) => worker(request(`/charge/${i}/${amounts[i]}`, visitor, { headers: { "Idempotency-Key": `req-${i}` } }));
    let answered = 0;
    let failures = 0;
    const resets: Promise<void>[] = [];
    const lane = async (start: number) => {
      for (let i = start; i < amounts.length; i += 30) {
        let response = await send(i);
        if (++answered % 60 === 0) resets.push(abortObject(stub));
        for (let attempt = 0; response.status === 500 && attempt < 10; attempt++) {
          failures++;
          response = await send(i);
        }
        expect(response.status, `request ${i}`).toBe(200);
      }
    };
    await Promise.all(Array.from({ length: 30 }, (_, start) => lane(start)));
    await Promise.all(resets);
    expect(failures).toBeGreaterThan(0); // the resets did land on charges in flight
    const history = await ledger(worker.version, visitor.account);
    const perRequest = new Map<string, number>();
    for (const row of history.filter((r) => r.kind === "charge")) perRequest.set(row.description, (perRequest.get(row.description) ?? 0) + 1);
    expect(perRequest.size).toBe(amounts.length);
    expect([...perRequest.values()].every((n) => n === 1)).toBe(true);
    const { balance, ledger: sum } = await books(worker.version, visitor.account);
    expect(sum).toBe(balance);
    expect(balance).toBe(funded - amounts.reduce((n, c) => n + c, 0));
    console.log(`[reliability] reset mid-charge with Idempotency-Key: ${failures} 500s retried, each of ${amounts.length} requests charged once`);
  });
});

// ---- the aggregate mirror under faults -------------------------------------------------

function setFault(version: string, on: boolean) {
  return runInDurableObject(database(version, "aggregate"), (_instance: DORM, state) => {
    if (on) state.storage.kv.put(MIRROR_FAULT_KEY, true);
    else state.storage.kv.delete(MIRROR_FAULT_KEY);
  });
}

const byToken = (a: Record<string, any>, b: Record<string, any>) => String(a.access_token).localeCompare(String(b.access_token));

/** Every users row of the given account databases (the source of truth). */
async function sourceRows(version: string, accounts: string[]) {
  const rows = await Promise.all(accounts.map((a) => sqlIn(accountDb(version, a), `SELECT * FROM users`)));
  return rows.flat().sort(byToken);
}

async function aggregateRows(version: string) {
  return (await sqlIn(database(version, "aggregate"), `SELECT * FROM users`)).sort(byToken);
}

/** Runs every account's mirror alarm until none is left pending; returns how many alarms ran. */
async function drainMirrors(version: string, accounts: string[]): Promise<number> {
  let ran = 0;
  for (let round = 0; round < 5; round++) {
    const results = await Promise.all(accounts.map((a) => runDurableObjectAlarm(accountDb(version, a))));
    const n = results.filter(Boolean).length;
    ran += n;
    if (n === 0) break;
  }
  return ran;
}

describe("the aggregate mirror failing for a while, with restarts, then recovering", () => {
  it("ends equal to the account databases, row for row, with nothing lost", async () => {
    const worker: Worker = fixture({ customMigrations: CUSTOM_MIGRATIONS });
    const { version } = worker as Worker & { version: string };
    await setFault(version, true);

    // Activity of every kind while the aggregate refuses snapshots: first payments (new
    // accounts), charges, a custom column, a rotation, a login by payment (a second row).
    const owners = await Promise.all(Array.from({ length: 6 }, (_, i) => fundedVisitor(worker, 1_000 + i, i === 0 ? "pm_card_visa" : undefined)));
    await Promise.all(owners.flatMap((o) => Array.from({ length: 20 }, (_, j) => worker(request(`/price?value=${1 + (j % 7)}`, o)))));
    await worker(request("/nickname?set=during-outage", owners[1]!));
    expect((await worker(request("/rotate-token", owners[2]!, { method: "POST" }))).status).toBe(200);
    const newcomer = await newVisitor(worker);
    await payAndReturn(worker, newcomer, { amount: 250, paymentMethod: "pm_card_visa" }); // owner 0's card: login by payment
    const accounts = [...owners.map((o) => o.account), newcomer.account];

    // Pushes fail (the alarms also fire by themselves and back off), and the aggregate is empty.
    expect(await drainMirrors(version, accounts)).toBeGreaterThanOrEqual(accounts.length);
    const outboxes = await Promise.all(accounts.map((a) => sqlIn(accountDb(version, a), `SELECT * FROM stripeflare_mirror`).then((r) => r[0]!)));
    for (const outbox of outboxes) {
      expect(outbox.acked).toBeLessThan(outbox.version);
      expect(outbox.attempts).toBeGreaterThan(0);
      expect(outbox.last_error).toMatch(/fault injected/);
    }
    expect(await aggregateRows(version)).toEqual([]);

    // Restarts during the outage: every object evicted, the aggregate hard-reset, and one
    // account's pending alarm deleted outright (as if lost); waking up must re-arm it.
    await runInDurableObject(accountDb(version, owners[3]!.account), async (_i: DORM, state) => {
      await state.storage.deleteAlarm();
    });
    await abortObject(database(version, "aggregate"));
    for (const a of accounts) await evictDurableObject(accountDb(version, a)).catch(() => undefined);
    // The account whose alarm was lost re-arms it as it wakes up (no new write needed).
    const rearmed = await runInDurableObject(accountDb(version, owners[3]!.account), (_i: DORM, state) => state.storage.getAlarm());
    expect(rearmed).not.toBeNull();
    // More activity on the other restarted objects, still during the outage.
    await Promise.all(owners.filter((_, i) => i !== 3).map((o) => worker(request("/price?value=3", o))));

    // Recovery.
    await setFault(version, false);
    await drainMirrors(version, accounts);
    const expected = await sourceRows(version, accounts);
    expect(expected).toHaveLength(accounts.length);
    expect(await aggregateRows(version)).toEqual(expected);
    for (const a of accounts) {
      const [outbox] = await sqlIn(accountDb(version, a), `SELECT version, acked, attempts, last_error FROM stripeflare_mirror`);
      expect(outbox).toMatchObject({ acked: outbox!.version, attempts: 0, last_error: null });
    }
    // Nothing lost: money in the aggregate = money credited - money charged, per the ledgers.
    let total = 0;
    for (const a of accounts) {
      const { balance, ledger: sum } = await books(version, a);
      expect(sum).toBe(balance ?? 0);
      total += balance ?? 0;
    }
    const [{ money }] = (await sqlIn(database(version, "aggregate"), `SELECT sum(balance) AS money FROM users`)) as [{ money: number }];
    expect(money).toBe(total);
    expect((await aggregateRows(version)).find((r) => r.access_token === owners[1]!.account)).toMatchObject({ nickname: "during-outage" });
    expect((await aggregateRows(version)).find((r) => r.access_token === newcomer.account)).toMatchObject({
      verified_user_access_token: owners[0]!.account,
    });
    console.log(`[reliability] mirror outage: ${accounts.length} accounts, ${outboxes.reduce((n, o) => n + o.attempts, 0)} failed pushes, aggregate == sources after recovery`);
  });
});
