// The paid MCP server end to end in workerd: the SDK client authorizes by the wallet's page,
// lists tools, calls the free and the paid one; charges, refusals and revocation.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { me, newVisitor, pay, type Worker } from "./helpers";
import { authorizedClient, MemoryProvider, ORIGIN, transport } from "./mcp-client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";

const app: Worker = (request) => exports.default.fetch(request);

async function funded(amount = 500) {
  const browser = await newVisitor(app);
  await pay(app, { reference: browser.reference, amount });
  return browser;
}

const text = (result: object) => ((result as { content: { type: string; text: string }[] }).content[0]!).text;

describe("a paid MCP server, authorized by paying", () => {
  it("the SDK client authorizes, lists the tools, calls the free one and the paid one (charged once)", async () => {
    const browser = await funded(500);
    const { client } = await authorizedClient(app, browser, 3);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["balance", "sha256"]);
    expect(tools.find((t) => t.name === "sha256")!.description).toMatch(/Costs 1 cent/);

    const balance = await client.callTool({ name: "balance", arguments: {} });
    expect(text(balance)).toMatch(/Balance: 500 cents .* 3 of 3 cents left/);

    const hashed = await client.callTool({ name: "sha256", arguments: { text: "abc" } });
    expect(hashed.isError).toBeFalsy();
    expect(text(hashed)).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hashed._meta).toMatchObject({ "stripeflare/balance": 499, "stripeflare/charged": 1 });
    expect((await me(app, browser)).body.balance).toBe(499);
  });

  it("over its budget the paid tool answers a tool error and charges nothing; a tool error costs nothing", async () => {
    const browser = await funded(500);
    const { client } = await authorizedClient(app, browser, 2);
    for (let i = 0; i < 2; i++) expect((await client.callTool({ name: "sha256", arguments: { text: `x${i}` } })).isError).toBeFalsy();
    const over = await client.callTool({ name: "sha256", arguments: { text: "y" } });
    expect(over.isError).toBe(true);
    expect(text(over)).toMatch(/Payment required: sha256 costs 1 cent; .*budget.* \(balance 498 cents\)\. Nothing was charged\. Top up at https:\/\/buy\.stripe\.com\/test_stripeflare\?client_reference_id=[\w-]+, or raise this client's budget, on https:\/\/app\.example\//);
    // The link tops up this very wallet: its client_reference_id is the wallet's.
    const link = new URL((over._meta as Record<string, string>)["stripeflare/paymentLink"]!);
    expect(link.searchParams.get("client_reference_id")).toBe((await me(app, browser)).body.client_reference_id);
    expect((await me(app, browser)).body.balance).toBe(498);
    // Bad arguments (over the schema's limit) are refused before the tool runs: nothing charged.
    const tooLong = await client.callTool({ name: "sha256", arguments: { text: "z".repeat(100_001) } }).catch((error: Error) => ({ isError: true, content: [{ type: "text", text: error.message }] }));
    expect(tooLong.isError).toBe(true);
    expect((await me(app, browser)).body.balance).toBe(498);
  });

  it("allowing the same client again replaces its grant and its budget: the old budget token is revoked", async () => {
    const browser = await funded(500);
    const provider = new MemoryProvider();
    await authorizedClient(app, browser, 5, provider);
    provider.stored = undefined; // the client connects afresh and is allowed again, with another budget
    const { client } = await authorizedClient(app, browser, 7, provider);
    const tokens = (await (await app(new Request(`${ORIGIN}/me/tokens`, { headers: { Cookie: `access_token=${browser.token}`, Accept: "application/json" } }))).json()) as { data: { cap: number; revoked?: boolean; status?: string }[] };
    const live = tokens.data.filter((t) => !t.revoked && t.status !== "revoked");
    expect(live.map((t) => t.cap)).toEqual([7]);
    expect(text(await client.callTool({ name: "balance", arguments: {} }))).toMatch(/7 of 7 cents left/);
  });

  it("an empty wallet cannot allow a client; revoking a client on the wallet's page stops it (401 to the resource metadata)", async () => {
    const empty = await newVisitor(app);
    const provider = new MemoryProvider();
    await new Client({ name: "t", version: "1" }).connect(transport(app, provider)).catch(() => undefined);
    const refused = await app(new Request(provider.authorizationUrl!, { method: "POST", redirect: "manual", headers: { Cookie: `access_token=${empty.token}`, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded" }, body: "budget=10&days=1" }));
    expect(refused.status).toBe(402);

    const browser = await funded(500);
    const { client, provider: granted } = await authorizedClient(app, browser, 50);
    const listTools = () =>
      app(new Request(`${ORIGIN}/mcp`, { method: "POST", headers: { Authorization: `Bearer ${granted.stored!.access_token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) }));
    expect((await listTools()).status).toBe(200);
    expect((await client.callTool({ name: "sha256", arguments: { text: "before" } })).isError).toBeFalsy();
    const home = (await (await app(new Request(`${ORIGIN}/`, { headers: { Cookie: `access_token=${browser.token}`, Accept: "application/json" } }))).json()) as { clients: { grant: string }[] };
    expect(home.clients).toHaveLength(1);
    const revoked = await app(new Request(`${ORIGIN}/grants/revoke`, { method: "POST", redirect: "manual", headers: { Cookie: `access_token=${browser.token}`, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded" }, body: `grant=${home.clients[0]!.grant}` }));
    expect(revoked.status).toBe(303);
    const after = await listTools();
    expect(after.status).toBe(401);
    expect(after.headers.get("WWW-Authenticate")).toMatch(/resource_metadata="https:\/\/app\.example\/\.well-known\/oauth-protected-resource\/mcp"/);
    // Its budget token is revoked too: nothing it held spends again.
    expect((await me(app, browser)).body.balance).toBe(499);
  });
});
