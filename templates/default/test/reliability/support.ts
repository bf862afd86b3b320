// Shared by the reliability tests: whole-database snapshots (to prove "nothing written"),
// a funded visitor, and a hard reset of one Durable Object.
import { runInDurableObject } from "cloudflare:test";
import type { DORM } from "../../src/stripeflare";
import { accountDb, database, newVisitor, payAndReturn, type Worker } from "../helpers";

type Stub = DurableObjectStub<DORM>;

/** Every row of every table (wallet's and app's, not workerd's own `_cf_*`) of one database. */
export function dump(stub: Stub): Promise<Record<string, Record<string, unknown>[]>> {
  return runInDurableObject(stub, (_instance: DORM, state) => {
    const tables = state.storage.sql
      .exec<{ name: string }>(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name`)
      .toArray()
      .map((t) => t.name);
    const out: Record<string, Record<string, unknown>[]> = {};
    for (const name of tables) out[name] = state.storage.sql.exec(`SELECT * FROM "${name.replace(/"/g, '""')}"`).toArray();
    return out;
  });
}

/** Snapshot of the index, the aggregate and the given accounts of one version. */
export async function snapshot(version: string, accounts: string[] = []) {
  const names = ["index", "aggregate", ...accounts.map((a) => `account:${a}`)];
  const dumps = await Promise.all(names.map((name) => dump(database(version, name))));
  return Object.fromEntries(names.map((name, i) => [name, dumps[i]]));
}

export async function fundedVisitor(worker: Worker, amount: number, paymentMethod?: string) {
  const visitor = await newVisitor(worker);
  const { response } = await payAndReturn(worker, visitor, { amount, paymentMethod });
  if (response.status !== 200) throw new Error(`funding failed: ${response.status} ${await response.text()}`);
  return visitor;
}

/**
 * Resets one Durable Object the hard way (`ctx.abort()`): its in-memory state is dropped and
 * calls in flight on it fail, as when the runtime restarts an object. Storage stays.
 */
export async function abortObject(stub: Stub, reason = "reset by the reliability test"): Promise<void> {
  await runInDurableObject(stub, (_instance: DORM, state) => {
    state.abort(reason);
  }).catch(() => undefined); // the abort also breaks the call that made it
}

export { accountDb, database };
