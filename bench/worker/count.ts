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
