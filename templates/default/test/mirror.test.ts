// The aggregate mirror: converges to every account database after any failure, and is never
// read on the request path.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DORM } from "../src/stripeflare";
import { chargeAccount } from "../src/stripeflare/ledger";
import { IntakeMeter, MIRROR_BATCH_MS, MIRROR_FAULT_KEY, MIRROR_MAX_INTERVAL_MS, nextInterval, takeSnapshot } from "../src/stripeflare/mirror";
import { CUSTOM_MIGRATIONS } from "./fixtures/worker";
import { accountDb, database, fixture, newVisitor, pay, payAndReturn, request, rowsWrittenBy, runMirror, sqlIn, userRow, type Worker } from "./helpers";

function aggregateRow(version: string, account: string) {
  return sqlIn(database(version, "aggregate"), `SELECT * FROM users WHERE access_token = ?`, account).then((rows) => rows[0]);
}

function setFault(version: string, on: boolean | "after-apply") {
  return runInDurableObject(database(version, "aggregate"), (_instance: DORM, state) => {
    if (on) state.storage.kv.put(MIRROR_FAULT_KEY, on);
    else state.storage.kv.delete(MIRROR_FAULT_KEY);
  });
}

function outbox(version: string, account: string) {
  return sqlIn(accountDb(version, account), `SELECT version, acked, attempts, last_error FROM stripeflare_mirror`).then((r) => r[0]);
}

async function funded(worker: Worker, amount = 500) {
  const visitor = await newVisitor(worker);
  await payAndReturn(worker, visitor, { amount, paymentMethod: "pm_card_visa" });
  return visitor;
}

describe("aggregate mirror", () => {
  it("copies each users row to the aggregate once the alarm runs (the request path does not wait)", async () => {
    const worker = fixture();
    const visitor = await funded(worker);
    // Right after the payment, the outbox holds the change; the aggregate may not yet.
    expect(await outbox(worker.version, visitor.account)).toMatchObject({ acked: 0 });
    expect(await runMirror(worker.version, visitor.account)).toBe(true);
    expect(await aggregateRow(worker.version, visitor.account)).toEqual(await userRow(worker.version, visitor.account));
    expect(await outbox(worker.version, visitor.account)).toMatchObject({ attempts: 0, last_error: null });
    // Nothing pending: no alarm left behind.
    expect(await runMirror(worker.version, visitor.account)).toBe(false);
  });

  it("the alarm also fires by itself", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 321);
    await expect.poll(() => aggregateRow(worker.version, visitor.account), { timeout: 10_000, interval: 200 }).toMatchObject({ balance: 321 });
  });

  it("converges after the aggregate failed: retries with backoff until acknowledged", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 1000);
    await setFault(worker.version, true);

    // Charges happen while the aggregate is down; the requests do not notice.
    const responses = await Promise.all(Array.from({ length: 25 }, () => worker(request("/price?value=7", visitor))));
    expect(responses.every((r) => r.status === 200)).toBe(true);

    expect(await runMirror(worker.version, visitor.account)).toBe(true);
    expect(await runMirror(worker.version, visitor.account)).toBe(true); // rescheduled after failing
    const failed = await outbox(worker.version, visitor.account);
    expect(failed.attempts).toBe(2);
    expect(failed.last_error).toMatch(/fault injected/);
    expect(failed.acked).toBeLessThan(failed.version);
    expect(await aggregateRow(worker.version, visitor.account)).toBeUndefined();

    await setFault(worker.version, false);
    expect(await runMirror(worker.version, visitor.account)).toBe(true);
    expect(await aggregateRow(worker.version, visitor.account)).toMatchObject({ balance: 1000 - 25 * 7 });
    expect(await aggregateRow(worker.version, visitor.account)).toEqual(await userRow(worker.version, visitor.account));
    const healed = await outbox(worker.version, visitor.account);
    expect(healed).toMatchObject({ attempts: 0, last_error: null, acked: healed.version });
  });

  it("never rolls the aggregate back with an older snapshot", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 50);
    await runMirror(worker.version, visitor.account);
    const current = await aggregateRow(worker.version, visitor.account);
    const { version } = await outbox(worker.version, visitor.account);
    const stale = await database(worker.version, "aggregate").mirror({
      source: `${worker.version}:account:${visitor.account}`,
      version: version - 1,
      rows: [{ ...current, balance: 999999 }],
      migrations: {},
      migrationsKey: "stale",
    });
    expect(stale.applied).toBe(false);
    expect(await aggregateRow(worker.version, visitor.account)).toEqual(current);
  });

  it("mirrors custom columns and rows changed by the app's own queries; rotation keeps one row", async () => {
    const worker = fixture({ customMigrations: CUSTOM_MIGRATIONS });
    const visitor = await funded(worker, 80);
    await worker(request("/nickname?set=zed", visitor));
    const rotated = await worker(request("/rotate-token", visitor, { method: "POST" }));
    expect(rotated.status).toBe(200);
    await runMirror(worker.version, visitor.account);
    expect(await aggregateRow(worker.version, visitor.account)).toMatchObject({ nickname: "zed", plan: "free", balance: 80 });
    expect(await sqlIn(database(worker.version, "aggregate"), `SELECT count(*) AS n FROM users`)).toEqual([{ n: 1 }]);
  });

  it("mirrors the visitor row of a login by payment, and many accounts at once", async () => {
    const worker = fixture();
    const owner = await funded(worker, 100);
    const visitor = await newVisitor(worker);
    await payAndReturn(worker, visitor, { amount: 100, paymentMethod: "pm_card_visa" });
    const others = await Promise.all(Array.from({ length: 5 }, () => newVisitor(worker)));
    await Promise.all(others.map((o, i) => pay(worker, { reference: o.reference, amount: 10 + i })));
    for (const account of [owner.account, visitor.account, ...others.map((o) => o.account)]) await runMirror(worker.version, account);
    const rows = await sqlIn(database(worker.version, "aggregate"), `SELECT access_token, balance, verified_user_access_token FROM users ORDER BY balance`);
    expect(rows).toHaveLength(7);
    expect(rows.find((r) => r.access_token === visitor.account)).toMatchObject({ balance: 0, verified_user_access_token: owner.account });
    expect(rows.find((r) => r.access_token === owner.account)).toMatchObject({ balance: 200 });
    expect(rows.map((r) => r.balance).reduce((a, b) => a + b, 0)).toBe(200 + 10 + 11 + 12 + 13 + 14);
  });
});

describe("the outbox bumps its version once per push, and loses no change", () => {
  const charge = (state: DurableObjectState, account: string, amount: number) =>
    chargeAccount(state.storage.sql, account, { amount, allowNegativeBalance: false, reference: "test", description: "test" });

  it("a change made while a push is in flight is pushed next, not acknowledged with the older snapshot", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 500);
    await runInDurableObject(accountDb(worker.version, visitor.account), async (instance: DORM, state) => {
      const push = instance.alarm(); // takes its snapshot synchronously, then awaits the aggregate
      charge(state, visitor.account, 7); // lands before the acknowledgement
      await push;
    });
    const after = await outbox(worker.version, visitor.account);
    expect(after.acked).toBeLessThan(after.version);
    expect((await aggregateRow(worker.version, visitor.account)).balance).toBe(500);
    expect(await runMirror(worker.version, visitor.account)).toBe(true);
    expect(await aggregateRow(worker.version, visitor.account)).toEqual(await userRow(worker.version, visitor.account));
    expect((await aggregateRow(worker.version, visitor.account)).balance).toBe(493);
  });

  it("a push that reached the aggregate but whose acknowledgement was lost: the next snapshot carries a newer version", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 500);
    // The snapshot is taken and applied, as if the account object died before recording the ack.
    const taken = await runInDurableObject(accountDb(worker.version, visitor.account), (_i: DORM, state) => takeSnapshot(state.storage.sql));
    expect((await database(worker.version, "aggregate").mirror(taken!.snapshot)).applied).toBe(true);
    await runInDurableObject(accountDb(worker.version, visitor.account), (_i: DORM, state) => charge(state, visitor.account, 9));
    expect(await runMirror(worker.version, visitor.account)).toBe(true);
    expect((await aggregateRow(worker.version, visitor.account)).balance).toBe(491);
    expect(await aggregateRow(worker.version, visitor.account)).toEqual(await userRow(worker.version, visitor.account));
    const healed = await outbox(worker.version, visitor.account);
    expect(healed.acked).toBe(healed.version);
  });

  it("a push whose call failed after the aggregate applied it: the next snapshot carries a newer version", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 500);
    await runMirror(worker.version, visitor.account); // this object has pushed before: no fresh-start bump below
    expect((await worker(request("/price?value=5", visitor))).status).toBe(200);
    await setFault(worker.version, "after-apply");
    expect(await runMirror(worker.version, visitor.account)).toBe(true); // applied, but the call failed
    expect((await aggregateRow(worker.version, visitor.account)).balance).toBe(495);
    await setFault(worker.version, false);
    await runInDurableObject(accountDb(worker.version, visitor.account), (_i: DORM, state) => charge(state, visitor.account, 4));
    expect(await runMirror(worker.version, visitor.account)).toBe(true);
    expect((await aggregateRow(worker.version, visitor.account)).balance).toBe(491);
    expect(await aggregateRow(worker.version, visitor.account)).toEqual(await userRow(worker.version, visitor.account));
  });

  it("an outbox made before 1.2.0 (a bump per change) gets the new triggers on the object's next start and still converges", async () => {
    const worker = fixture({ prices: { "/paid": 1 } });
    const visitor = await funded(worker, 500);
    const stub = accountDb(worker.version, visitor.account);
    const triggers = () => sqlIn(stub, `SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name`).then((rows) => rows.map((r) => r.name));
    // As 1.1.0 left it: unconditional triggers, a push pending.
    await runInDurableObject(stub, (instance: DORM, state) => {
      const sql = state.storage.sql;
      for (const event of ["insert", "update", "delete"]) {
        sql.exec(`DROP TRIGGER stripeflare_mirror_users_${event}_when_clean`);
        sql.exec(`CREATE TRIGGER stripeflare_mirror_users_${event} AFTER ${event.toUpperCase()} ON users
          BEGIN UPDATE stripeflare_mirror SET version = version + 1 WHERE id = 1; END`);
      }
      charge(state, visitor.account, 1);
      (instance as unknown as { schemaKey?: string }).schemaKey = undefined;
    });
    expect(await triggers()).toEqual(["stripeflare_mirror_users_delete", "stripeflare_mirror_users_insert", "stripeflare_mirror_users_update"]);
    expect((await worker(request("/paid", visitor))).status).toBe(200);
    expect(await triggers()).toEqual(["stripeflare_mirror_users_delete_when_clean", "stripeflare_mirror_users_insert_when_clean", "stripeflare_mirror_users_update_when_clean"]);
    const upgraded = await sqlIn(stub, `SELECT version, acked FROM stripeflare_mirror`).then((r) => r[0]!);
    expect(upgraded.acked).toBeLessThan(upgraded.version);
    expect(await runMirror(worker.version, visitor.account)).toBe(true);
    expect(await aggregateRow(worker.version, visitor.account)).toEqual(await userRow(worker.version, visitor.account));
    expect((await aggregateRow(worker.version, visitor.account)).balance).toBe(498);
  });
});

describe("the mirror writes only what changed (rows written are billed)", () => {
  it("a push after a charge writes the balance row and the source's version; an unchanged row writes nothing", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 500);
    await runMirror(worker.version, visitor.account);
    await runInDurableObject(database(worker.version, "aggregate"), async (_instance: DORM, state) => {
      const { applySnapshot } = await import("../src/stripeflare/mirror");
      const { DEFAULT_MIGRATIONS } = await import("../src/stripeflare/databases");
      const sql = state.storage.sql;
      const written = (snapshot: Parameters<typeof applySnapshot>[1]) => rowsWrittenBy(sql, () => applySnapshot(sql, snapshot));
      const [row] = sql.exec(`SELECT * FROM users WHERE access_token = ?`, visitor.account).toArray();
      const source = sql.exec(`SELECT source, version FROM stripeflare_mirror_sources`).toArray().find((r) => String(r.source).endsWith(visitor.account))!;
      const base = { source: String(source.source), migrations: DEFAULT_MIGRATIONS, migrationsKey: "x" };
      // The balance changed: the row (no index covers balance), plus the source's version.
      expect(written({ ...base, version: Number(source.version) + 1, rows: [{ ...row, balance: 499 }] })).toBe(2);
      // Nothing changed but the version: only the source's row.
      expect(written({ ...base, version: Number(source.version) + 2, rows: [{ ...row, balance: 499 }] })).toBe(1);
      expect(sql.exec(`SELECT balance FROM users WHERE access_token = ?`, visitor.account).one().balance).toBe(499);
    });
  });
});

describe("the mirror batches a busy account's pushes", () => {
  it("a quiet account pushes within a second; right after a push, the next waits for MIRROR_BATCH_MS; forced, it still converges", async () => {
    const { MIRROR_BATCH_MS, MIRROR_DELAY_MS } = await import("../src/stripeflare/mirror");
    const worker = fixture({ prices: { "/paid": 1 } });
    const visitor = await funded(worker, 500);
    const alarmIn = () => runInDurableObject(accountDb(worker.version, visitor.account), async (_i: DORM, state) => ((await state.storage.getAlarm()) ?? NaN) - Date.now());
    expect(await alarmIn()).toBeLessThanOrEqual(MIRROR_DELAY_MS);
    expect(await runMirror(worker.version, visitor.account)).toBe(true); // the push (run now instead of in a second)
    expect((await worker(request("/paid", visitor))).status).toBe(200);
    expect(await alarmIn()).toBeGreaterThan(MIRROR_BATCH_MS - 5_000);
    // The admin copy is behind by that one charge until the batched push runs.
    expect((await aggregateRow(worker.version, visitor.account)).balance).toBe(500);
    expect(await runMirror(worker.version, visitor.account)).toBe(true);
    expect((await aggregateRow(worker.version, visitor.account)).balance).toBe(499);
  });
});

describe("the accounts' push rate adapts to the aggregate's load", () => {
  it("the aggregate estimates the accounts that pushed within twice the interval it asks for (one in 16 sampled)", () => {
    const t0 = 1_000_000_000_000;
    const meter = new IntakeMeter();
    for (let i = 0; i < 1_000; i++) meter.record(`account:${i}`, t0 + i);
    for (let i = 0; i < 1_000; i++) meter.record(`account:${i}`, t0 + 10_000 + i); // the same accounts again
    expect(meter.interval(t0 + 11_000)).toBe(MIRROR_BATCH_MS);
    expect(meter.sources).toBeGreaterThan(700); // an estimate: one in 16 kept, scaled up
    expect(meter.sources).toBeLessThan(1_300);
    for (let i = 1_000; i < 30_000; i++) meter.record(`account:${i}`, t0 + 20_000);
    // 30,000 accounts at 500 pushes/s: every 60 s, within the sampling's few percent.
    expect(meter.sources / 30_000).toBeCloseTo(1, 1);
    expect(meter.interval(t0 + 20_000) / 60_000).toBeCloseTo(1, 1);
    // 121 s later every earlier push is older than the window (2 × 60 s): only new pushes count.
    for (let i = 0; i < 16 * 50; i++) meter.record(`late:${i}`, t0 + 141_000);
    expect(meter.interval(t0 + 141_000)).toBe(MIRROR_BATCH_MS);
    expect(meter.sources).toBeLessThan(2_000);
  });

  it("keeps memory small: a million accounts hold about 62,500 entries", () => {
    const meter = new IntakeMeter();
    for (let i = 0; i < 1_000_000; i++) meter.record(`2:account:${i.toString(36)}`, 1_000);
    expect(meter.sources / 1_000_000).toBeCloseTo(1, 1);
    expect((meter as unknown as { seen: Map<number, number> }).seen.size).toBeLessThan(70_000);
  });

  it("asks for N / target between MIRROR_BATCH_MS and MIRROR_MAX_INTERVAL_MS", () => {
    expect(nextInterval(0)).toBe(MIRROR_BATCH_MS);
    expect(nextInterval(10_000)).toBe(MIRROR_BATCH_MS); // 10,000 accounts every 30 s: 333 pushes/s
    expect(nextInterval(100_000)).toBe(200_000); // 100,000 accounts: every 200 s, 500 pushes/s
    expect(nextInterval(10_000_000)).toBe(MIRROR_MAX_INTERVAL_MS);
  });

  it("a busy account told by a loaded aggregate waits longer before its next push, and returns to MIRROR_BATCH_MS once the load is gone", async () => {
    const worker = fixture({ prices: { "/paid": 1 } });
    const visitor = await funded(worker, 500);
    const alarmIn = () => runInDurableObject(accountDb(worker.version, visitor.account), async (_i: DORM, state) => ((await state.storage.getAlarm()) ?? NaN) - Date.now());
    const otherAccounts = (count: number) =>
      runInDurableObject(database(worker.version, "aggregate"), (instance: DORM) => {
        const meter = new IntakeMeter();
        for (let i = 0; i < count; i++) meter.record(`other:${i}`, Date.now());
        (instance as unknown as { intake: IntakeMeter }).intake = meter;
      });
    await runMirror(worker.version, visitor.account); // the aggregate object exists
    // 60,000 other busy accounts: the next ack asks for 120 s (60,000 / 500 pushes/s).
    await otherAccounts(60_000);
    expect((await worker(request("/paid", visitor))).status).toBe(200);
    expect(await runMirror(worker.version, visitor.account)).toBe(true);
    expect((await worker(request("/paid", visitor))).status).toBe(200);
    const loaded = await alarmIn(); // 120 s within the sampling's few percent
    expect(loaded).toBeGreaterThan(105_000);
    expect(loaded).toBeLessThanOrEqual(135_000);
    // The push still converges when it runs; once the others are gone, the interval falls back.
    await otherAccounts(0);
    expect(await runMirror(worker.version, visitor.account)).toBe(true);
    expect(await aggregateRow(worker.version, visitor.account)).toEqual(await userRow(worker.version, visitor.account));
    expect((await worker(request("/paid", visitor))).status).toBe(200);
    expect(await alarmIn()).toBeLessThanOrEqual(MIRROR_BATCH_MS);
    expect(await alarmIn()).toBeGreaterThan(MIRROR_BATCH_MS - 5_000);
  });
});
