// The MCP server: its tools, built afresh for each request (the SDK's stateless serving), for
// the OAuth grant that made the request. Add your own with `paidTool` (priced) or the SDK's
// `server.registerTool` (free).

import { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { me } from "./wallet-client";
import { BALANCE_META, paidTool, type ToolContext } from "./paid-tool";

export const SERVER_INFO = { name: "stripeflare-mcp", version: "1.0.0" };

/** The example paid tool's price, in cents. */
export const SHA256_PRICE = 1;

export function mcpServer(tool: ToolContext): McpServer {
  const server = new McpServer(SERVER_INFO);

  server.registerTool(
    "balance",
    { title: "Wallet balance", description: "Your Stripeflare wallet: balance, and what this client may still spend. Free." },
    async () => {
      const wallet = await me(tool);
      const text = wallet
        ? `Balance: ${wallet.balance} cents (${wallet.currency}). This client's budget: ${wallet.budget ? `${wallet.budget.cap - wallet.budget.spent} of ${wallet.budget.cap} cents left` : "none"}. Top up at ${tool.walletUrl}`
        : `This client's access was revoked or has expired. Authorize it again at ${tool.walletUrl}`;
      return { content: [{ type: "text", text }], _meta: { [BALANCE_META]: wallet?.balance ?? null } };
    },
  );

  paidTool(
    server,
    tool,
    "sha256",
    {
      title: "SHA-256",
      description: "The SHA-256 digest (hex) of a UTF-8 text of up to 100,000 characters.",
      inputSchema: z.object({ text: z.string().max(100_000) }),
      price: SHA256_PRICE,
    },
    async ({ text }) => {
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
      const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
      return { content: [{ type: "text", text: hex }], structuredContent: { sha256: hex } };
    },
  );

  return server;
}
