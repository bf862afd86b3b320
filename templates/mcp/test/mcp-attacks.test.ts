// The paid MCP server under attack: concurrency on one wallet, and bad input at every step of
// OAuth and MCP. Spec-conformant errors, nothing charged, no 500.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { me, newVisitor, pay, type Worker } from "./helpers";
import { allow, authorizedClient, MemoryProvider, ORIGIN, REDIRECT, transport } from "./mcp-client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";

const app: Worker = (request) => exports.default.fetch(request);

async function funded(amount: number) {
  const browser = await newVisitor(app);
  await pay(app, { reference: browser.reference, amount });
  return browser;
}

/** A registered client and the authorize URL the SDK built for it (PKCE and all). */
async function pendingAuthorization() {
  const provider = new MemoryProvider();
  await new Client({ name: "t", version: "1" }).connect(transport(app, provider)).catch(() => undefined);
  return { provider, url: provider.authorizationUrl! };
}

const rpc = (token: string, body: string, headers: Record<string, string> = {}) =>
  app(new Request(`${ORIGIN}/mcp`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18", ...headers }, body }));

describe("the paid MCP server refuses what it should", () => {
  it("200 concurrent paid calls on a wallet of 150 cents: 150 served, 50 refused, balance 0, never below", async () => {
    const browser = await funded(150);
    const { client } = await authorizedClient(app, browser, 10_000);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => client.callTool({ name: "sha256", arguments: { text: String(i) } })));
    const served = results.filter((r) => !r.isError).length;
    expect(served).toBe(150);
    expect(results.filter((r) => r.isError).every((r) => /Payment required/.test((r.content as { text: string }[])[0]!.text))).toBe(true);
    expect((await me(app, browser)).body.balance).toBe(0);
  });

  it("OAuth: an unknown client, a redirect URI it did not register, another site's form, a replayed code, a PKCE mismatch", async () => {
    const browser = await funded(100);
    const { provider, url } = await pendingAuthorization();

    const unknown = new URL(url);
    unknown.searchParams.set("client_id", "not-a-client");
    expect((await app(new Request(unknown, { headers: { Cookie: `access_token=${browser.token}` } }))).status).toBe(400);
    const elsewhere = new URL(url);
    elsewhere.searchParams.set("redirect_uri", "https://attacker.example/callback");
    const redirected = await app(new Request(elsewhere, { headers: { Cookie: `access_token=${browser.token}` } }));
    expect(redirected.status).toBe(400);
    expect(await redirected.text()).not.toContain("attacker.example/callback?code");

    // The page names where the browser will return (a client may call itself anything).
    const shown = await (await app(new Request(url, { headers: { Cookie: `access_token=${browser.token}` } }))).text();
    expect(shown).toContain("your browser goes back to <code>http://127.0.0.1:33418</code>");
    // Another site cannot make the person's browser allow a client (CSRF): 403, no code.
    const csrf = await allow(app, browser, url, 50, { "Sec-Fetch-Site": "cross-site" });
    expect(csrf.status).toBe(403);

    const allowed = await allow(app, browser, url, 50);
    const code = new URL(allowed.headers.get("Location")!).searchParams.get("code")!;
    const exchange = (verifier: string) =>
      app(new Request(`${ORIGIN}/oauth/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: (provider.client as { client_id: string }).client_id, code_verifier: verifier }),
      }));
    const wrongVerifier = await exchange("x".repeat(43));
    expect(wrongVerifier.status).toBe(400);
    expect(((await wrongVerifier.json()) as { error: string }).error).toBe("invalid_grant");
    const good = await exchange(provider.verifier);
    expect(good.status).toBe(200);
    const replayed = await exchange(provider.verifier);
    expect(replayed.status).toBe(400);
    expect(((await replayed.json()) as { error: string }).error).toBe("invalid_grant");
  });

  it("MCP: a made-up token, JSON-RPC garbage, an unknown tool, bad arguments: errors, nothing charged, no 500", async () => {
    const browser = await funded(100);
    const { client, provider } = await authorizedClient(app, browser, 50);
    const made = await rpc("made-up:token:value", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }));
    expect(made.status).toBe(401);
    expect(made.headers.get("WWW-Authenticate")).toMatch(/^Bearer .*resource_metadata=/);
    const token = provider.stored!.access_token;
    for (const body of ["{not json", "[]", JSON.stringify({ jsonrpc: "1.0", id: 1 }), JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "sha256", arguments: "nope" } })]) {
      const response = await rpc(token, body);
      expect(response.status, body).toBeLessThan(500);
    }
    const unknown = await client.callTool({ name: "mint-money", arguments: {} }).catch((error: Error) => ({ isError: true, content: [{ type: "text", text: error.message }] }));
    expect(unknown.isError).toBe(true);
    const wrongType = await client.callTool({ name: "sha256", arguments: { text: 42 } }).catch((error: Error) => ({ isError: true, content: [{ type: "text", text: error.message }] }));
    expect(wrongType.isError).toBe(true);
    expect((await me(app, browser)).body.balance).toBe(100);
  });

  it("the client never holds a wallet token: its OAuth token opens nothing of the wallet", async () => {
    const browser = await funded(100);
    const { provider } = await authorizedClient(app, browser, 5);
    for (const token of [provider.stored!.access_token, provider.stored!.refresh_token!]) {
      const wallet = await app(new Request(`${ORIGIN}/me`, { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } }));
      expect(wallet.status).toBe(401);
      const mint = await app(new Request(`${ORIGIN}/me/tokens`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify({ cap: 1000 }) }));
      expect(mint.status).toBe(401);
    }
  });
});
