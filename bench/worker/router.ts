// The bench's own front door: it counts Durable Object round trips for whatever it serves
// (the bare Worker under /bare/, the wallet for everything else) and exposes the counters
// to the runner under /__bench/. Both sides go through this same wrapper, so its small
// cost lands on both sides of every ratio.
import { bareFetch } from "./bare";
import { benchFlags, CallLog, countedEnv, kindOf, kvTotals, queryTotals, resetKvTotals, resetStorageTotals, resetTotals, setPhase, storageTotals, summarize, totalsObject } from "./count";

type Fetch = (request: Request, env: any, ctx: ExecutionContext) => Response | Promise<Response>;

export function benchRouter(wallet?: Fetch): Fetch {
  return async (request, env, ctx) => {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/__bench/")) return control(url, request);

    const log = new CallLog();
    const counted = countedEnv(env, log, "worker");
    let response: Response;
    if (url.pathname.startsWith("/bare/")) response = await bareFetch(request, counted);
    else if (wallet) response = await wallet(request, counted, ctx);
    else response = new Response("this bench worker has no wallet\n", { status: 404 });

    // Calls made so far are the ones the response waited for; later ones (waitUntil) are
    // only in the module-wide counters.
    const headers = new Headers(response.headers);
    headers.set("X-Bench-DO-Calls", String(log.calls.length));
    headers.set("X-Bench-DO-Detail", log.calls.map((c) => `${kindOf(c.name)}.${c.method}`).join(","));
    headers.set("X-Bench-DO-Kinds", JSON.stringify(summarize(log.calls)));
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}

export function control(url: URL, request: Request) {
  switch (url.pathname) {
    case "/__bench/ping":
      return new Response("pong\n");
    case "/__bench/counts":
      return Response.json({ ...totalsObject(), storage: storageTotals(), kv: kvTotals(), queries: url.searchParams.has("queries") ? queryTotals() : undefined });
    case "/__bench/reset":
      if (request.method !== "POST") break;
      resetTotals();
      resetStorageTotals();
      resetKvTotals();
      setPhase(url.searchParams.get("phase") ?? "idle");
      return Response.json(totalsObject());
    case "/__bench/mirror":
      if (request.method !== "POST") break;
      benchFlags.mirrorPaused = url.searchParams.get("paused") === "1";
      return Response.json(benchFlags);
    case "/__bench/phase":
      if (request.method !== "POST") break;
      setPhase(url.searchParams.get("name") ?? "idle");
      return Response.json(totalsObject());
  }
  return new Response("unknown bench control\n", { status: 404 });
}
