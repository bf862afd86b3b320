// bench/parts/mcp.mjs: the MCP template's Worker (OAuth, wallet, paid tools) and, beside it in
// the same wrangler dev, a bare MCP server on the same SDK with the same tool, free and
// unauthenticated, and the same bare server behind a hand-written charge (the floor of a paid
// tool call). The cost part counts what each
// call bills (Durable Object calls, SQLite rows, KV operations) with the counters of
// bench/worker/count.ts, under /__bench/*.
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import app, { DORM as TemplateDORM } from "../../templates/mcp/src/index";
import { BareWallet, bareFetch, tokenHash } from "../worker/bare";
import { CallLog, countAlarmRun, countedEnv, countedKv, countStorage } from "../worker/count";
import { control } from "../worker/router";

export { BareWallet };

const objectLog = new CallLog();
const workerLog = new CallLog();

/** The template's object, its SQL, alarms and calls to other objects counted. */
export class DORM extends TemplateDORM {
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

const bare = createMcpHandler(() => {
  const server = new McpServer({ name: "bare", version: "1.0.0" });
  server.registerTool("sha256", { description: "SHA-256 (hex) of a text.", inputSchema: z.object({ text: z.string().max(100_000) }) }, async ({ text }) => {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
    return { content: [{ type: "text", text: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("") }] };
  });
  return server;
});

/**
 * The floor of a *paid* tool call: the bare MCP server behind a hand-written charge, as in
 * bench/worker/bare.ts: the Bearer token's HMAC names a SQLite object per user, and a 200 is
 * charged 1 cent there (one Durable Object call, balance and ledger row in one transaction).
 */
async function barePaid(request: Request, env: any): Promise<Response> {
  const token = request.headers.get("authorization")?.match(/^Bearer ([A-Za-z0-9_.-]{16,200})$/)?.[1];
  if (!token) return new Response("missing bearer token\n", { status: 401 });
  const hash = await tokenHash(token, env.DB_SECRET);
  const response = await bare.fetch(request);
  if (response.status !== 200) return response;
  const row = await env.BARE.get(env.BARE.idFromName(`bare:${hash}`)).charge(hash, 1);
  return row ? response : new Response("payment required\n", { status: 402 });
}

export default {
  fetch(request: Request, env: any, ctx: ExecutionContext): Promise<Response> | Response {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/__bench/")) return control(url, request);
    if (url.pathname === "/bare/mcp") return bare.fetch(request);
    const counted = countedEnv(env, workerLog, "worker");
    if (url.pathname === "/bare-paid/mcp") return barePaid(request, counted);
    if (url.pathname === "/bare/seed") return bareFetch(request, counted);
    return app.fetch(request, { ...counted, OAUTH_KV: countedKv(env.OAUTH_KV) }, ctx);
  },
};
