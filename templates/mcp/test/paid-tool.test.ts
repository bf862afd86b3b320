// paidTool on its own: a tool that fails (an error result, or a throw) charges nothing; a
// successful one charges its price once; the charge is refused with the result withheld.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { paidTool } from "../src/paid-tool";
import type { StripeflareEnv } from "../src/stripeflare";
import { me, newVisitor, pay, type Worker } from "./helpers";

const app: Worker = (request) => exports.default.fetch(request);

async function budgetToken(cap: number) {
  const browser = await newVisitor(app);
  await pay(app, { reference: browser.reference, amount: 100 });
  const minted = await app(new Request("https://app.example/me/tokens", { method: "POST", headers: { Cookie: `access_token=${browser.token}`, "Content-Type": "application/json" }, body: JSON.stringify({ cap }) }));
  return { browser, token: ((await minted.json()) as { access_token: string }).access_token };
}

/** An MCP server with three priced tools, served to the SDK client over the real handler. */
async function clientFor(token: string) {
  const ctx = createExecutionContext();
  const tool = { env: env as unknown as StripeflareEnv, ctx, props: { token, tokenId: "bt_test" }, walletUrl: "https://app.example/" };
  const handler = createMcpHandler(() => {
    const server = new McpServer({ name: "t", version: "1" });
    const input = z.object({ n: z.number() });
    paidTool(server, tool, "ok", { description: "Works.", inputSchema: input, price: 3 }, ({ n }) => ({ content: [{ type: "text", text: String(n * 2) }] }));
    paidTool(server, tool, "refuses", { description: "Answers an error.", inputSchema: input, price: 3 }, () => ({ isError: true, content: [{ type: "text", text: "no" }] }));
    paidTool(server, tool, "throws", { description: "Throws.", inputSchema: input, price: 3 }, () => {
      throw new Error("broken backend");
    });
    return server;
  });
  const client = new Client({ name: "t", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL("https://app.example/mcp"), { fetch: ((input: RequestInfo | URL, init?: RequestInit) => handler.fetch(new Request(input, init))) as typeof fetch }));
  return { client, done: () => waitOnExecutionContext(ctx) };
}

describe("paidTool", () => {
  it("charges a successful call once, and nothing for a tool error or a throw", async () => {
    const { browser, token } = await budgetToken(100);
    const { client, done } = await clientFor(token);
    const ok = await client.callTool({ name: "ok", arguments: { n: 21 } });
    expect(ok).toMatchObject({ content: [{ type: "text", text: "42" }], _meta: { "stripeflare/balance": 97, "stripeflare/charged": 3 } });
    const refused = await client.callTool({ name: "refuses", arguments: { n: 1 } });
    expect(refused).toMatchObject({ isError: true, content: [{ text: "no" }] });
    const thrown = await client.callTool({ name: "throws", arguments: { n: 1 } });
    expect(thrown).toMatchObject({ isError: true, content: [{ text: "throws failed: broken backend. Nothing was charged." }] });
    await done();
    expect((await me(app, browser)).body.balance).toBe(97);
  });

  it("withholds the result when the budget cannot pay", async () => {
    const { browser, token } = await budgetToken(4);
    const { client } = await clientFor(token);
    expect((await client.callTool({ name: "ok", arguments: { n: 1 } })).isError).toBeFalsy();
    const over = await client.callTool({ name: "ok", arguments: { n: 1 } });
    expect(over.isError).toBe(true);
    expect(JSON.stringify(over.content)).not.toContain('"2"');
    expect((over.content as { text: string }[])[0]!.text).toMatch(/^Payment required: ok costs 3 cents; Over this token's budget/);
    expect((await me(app, browser)).body.balance).toBe(97);
  });
});
