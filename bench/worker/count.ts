// Counts Durable Object round trips without changing them: the bench entry hands the code
// under test an env whose Durable Object namespaces are wrapped, so every RPC method call
// (or fetch) on a stub is a real call, just counted. A "round trip" is one such call.
//
// Counts are kept twice: per request (returned in the X-Bench-DO-Calls header, which sees
// only the calls made before the response was built) and in module-wide counters (which
// also see ctx.waitUntil work and calls made from inside Durable Objects, when those run in
// the same isolate as the Worker, as under `wrangler dev`).

export type CallRecord = { name: string; method: string; at: number; side: "worker" | "object" };

export class CallLog {
  calls: CallRecord[] = [];
  record(call: CallRecord) {
    this.calls.push(call);
    const key = `${phase}|${call.side}|${kindOf(call.name)}|${call.method}`;
    totals.set(key, (totals.get(key) ?? 0) + 1);
  }
}

/**
 * Module-wide counts since the last reset, keyed by "phase|side|kind|method". The runner
 * names the phase (for example "load" and then "after"), so calls made while requests
 * were in flight can be told from calls made afterwards (an alarm mirroring to the
 * aggregate, say). Counters, not a log, so long runs stay bounded.
 */
const totals = new Map<string, number>();
let phase = "idle";
export function setPhase(name: string) {
  phase = name;
}
export function resetTotals() {
  totals.clear();
}
export function totalsObject() {
  return { phase, counts: Object.fromEntries(totals) };
}

/**
 * Diagnostic switch, only for the bench: while `mirrorPaused` is true the bench's DORM
 * subclass skips scheduling the wallet's mirror push (so no alarm, no aggregate call). Writes
 * still bump the outbox version, so the mirror catches up once the switch is off again.
 * It exists to measure what the mirror costs locally; no figure of the wallet itself uses it.
 */
export const benchFlags = { mirrorPaused: false };

/** Group calls by side and by a coarse kind of database name ("aggregate", "index" or "user"). */
export function summarize(calls: CallRecord[]) {
  const out: Record<string, number> = {};
  for (const call of calls) {
    const key = `${call.side}:${kindOf(call.name)}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/**
 * The wallet names its databases "<version>:account:<id>", "<version>:aggregate" and
 * "<version>:index"; the bare Worker's are "bare:<hash>" (per user too).
 */
export function kindOf(name: string) {
  if (/aggregate/i.test(name)) return "aggregate";
  if (/:index$/.test(name)) return "index";
  return "user";
}

export function countedNamespace<T extends DurableObjectNamespace<any>>(ns: T, log: CallLog, side: CallRecord["side"]): T {
  const names = new Map<string, string>();
  return new Proxy(ns, {
    get(target, prop) {
      if (prop === "idFromName") {
        return (name: string) => {
          const id = target.idFromName(name);
          names.set(id.toString(), name);
          return id;
        };
      }
      if (prop === "get") {
        return (id: DurableObjectId, options?: unknown) =>
          countedStub((target as DurableObjectNamespace).get(id, options as never) as object, names.get(id.toString()) ?? id.toString(), log, side);
      }
      if (prop === "getByName") {
        return (name: string, options?: unknown) =>
          countedStub((target as any).getByName(name, options), name, log, side);
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function countedStub<S extends object>(stub: S, name: string, log: CallLog, side: CallRecord["side"]): S {
  return new Proxy(stub, {
    get(target, prop) {
      if (typeof prop === "symbol" || prop === "id" || prop === "name") return Reflect.get(target, prop);
      const value = (target as any)[prop];
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        log.record({ name, method: prop, at: Date.now(), side });
        return (target as any)[prop](...args);
      };
    },
  });
}

/** A copy of env with every Durable Object namespace binding counted into log. */
export function countedEnv<E extends object>(env: E, log: CallLog, side: CallRecord["side"]): E {
  const out: Record<string, unknown> = { ...(env as Record<string, unknown>) };
  for (const [key, value] of Object.entries(env)) {
    if (value && typeof value === "object" && "idFromName" in value && "get" in value) {
      out[key] = countedNamespace(value as DurableObjectNamespace, log, side);
    }
  }
  return out as E;
}

/**
 * Storage work in billing units, counted from the SQL API's own cursors (exact, not timed):
 * statements, rows read, rows written (what Cloudflare bills SQLite-backed Durable Objects
 * by), and alarms set. Kept per phase and per side ("wallet" for DORM, "bare" for the bare
 * Worker's object), module-wide: under `wrangler dev` every object runs in this isolate.
 */
type SqlCounts = { statements: number; rowsRead: number; rowsWritten: number; alarmsSet: number; alarmsRun: number };
const sqlTotals = new Map<string, SqlCounts>();
/** Cursors whose counters may still grow (a result not read to the end yet), with what was counted. */
const openCursors = new Map<SqlStorageCursor<any>, { key: string; query: string; read: number; written: number }>();
/** Per statement text (whitespace folded, first 90 characters), per phase|side: where the rows go. */
const byQuery = new Map<string, { count: number; rowsRead: number; rowsWritten: number }>();

function bucket(key: string): SqlCounts {
  let counts = sqlTotals.get(key);
  if (!counts) sqlTotals.set(key, (counts = { statements: 0, rowsRead: 0, rowsWritten: 0, alarmsSet: 0, alarmsRun: 0 }));
  return counts;
}

function settle(cursor: SqlStorageCursor<any>) {
  const seen = openCursors.get(cursor);
  if (!seen) return;
  const counts = bucket(seen.key);
  counts.rowsRead += cursor.rowsRead - seen.read;
  counts.rowsWritten += cursor.rowsWritten - seen.written;
  const q = byQuery.get(`${seen.key}|${seen.query}`)!;
  q.rowsRead += cursor.rowsRead - seen.read;
  q.rowsWritten += cursor.rowsWritten - seen.written;
  seen.read = cursor.rowsRead;
  seen.written = cursor.rowsWritten;
}

/** Wraps an object's SQL and alarm API so its work is counted; call before anything uses them. */
export function countStorage(state: DurableObjectState, side: "wallet" | "bare") {
  // Which database this object is: the wallet's aggregate (the mirror's target), its payment
  // index, or a user's own (the bare Worker's objects are per user too).
  const kind = kindOf((state.id as { name?: string }).name ?? "");
  const sql = state.storage.sql;
  const exec = sql.exec.bind(sql);
  (sql as { exec: SqlStorage["exec"] }).exec = ((query: string, ...bindings: unknown[]) => {
    const cursor = exec(query, ...bindings);
    // Local dev only: miniflare records each object's name in its own table when the object
    // starts. Production has no such write, so it is not counted (for either Worker).
    if (query.includes("__miniflare_do_name")) return cursor;
    const key = `${phase}|${side}|${kind}`;
    bucket(key).statements++;
    const text = query.replace(/\s+/g, " ").trim().slice(0, 90);
    const q = byQuery.get(`${key}|${text}`) ?? { count: 0, rowsRead: 0, rowsWritten: 0 };
    q.count++;
    byQuery.set(`${key}|${text}`, q);
    openCursors.set(cursor, { key, query: text, read: 0, written: 0 });
    settle(cursor);
    return cursor;
  }) as SqlStorage["exec"];
  const setAlarm = state.storage.setAlarm.bind(state.storage);
  state.storage.setAlarm = ((...args: Parameters<DurableObjectStorage["setAlarm"]>) => {
    bucket(`${phase}|${side}|${kind}`).alarmsSet++;
    return setAlarm(...args);
  }) as DurableObjectStorage["setAlarm"];
}

/** Counts one run of an object's alarm handler (billed as a Durable Object request). */
export function countAlarmRun(state: DurableObjectState, side: "wallet" | "bare") {
  bucket(`${phase}|${side}|${kindOf((state.id as { name?: string }).name ?? "")}`).alarmsRun++;
}

/** The storage counts so far, every open cursor settled (and forgotten: they are read by now). */
export function storageTotals() {
  for (const cursor of openCursors.keys()) settle(cursor);
  openCursors.clear();
  return Object.fromEntries(sqlTotals);
}

/** The per-statement breakdown (statement count and rows per statement text). */
export function queryTotals() {
  storageTotals();
  return Object.fromEntries(byQuery);
}

export function resetStorageTotals() {
  openCursors.clear();
  sqlTotals.clear();
  byQuery.clear();
}

/**
 * Workers KV operations, per phase and operation ("phase|get", "phase|put", ...): KV bills reads
 * apart from writes, deletes and lists. `countedKv` wraps a binding without changing it.
 */
const kvCounts = new Map<string, number>();
export function countedKv<T extends object>(kv: T): T {
  return new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (["get", "getWithMetadata", "put", "delete", "list"].includes(String(prop))) {
          const key = `${phase}|${String(prop)}`;
          kvCounts.set(key, (kvCounts.get(key) ?? 0) + 1);
        }
        return value.apply(target, args);
      };
    },
  });
}
export function kvTotals() {
  return Object.fromEntries(kvCounts);
}
export function resetKvTotals() {
  kvCounts.clear();
}
