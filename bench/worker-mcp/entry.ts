// bench/parts/mcp.mjs: the MCP template's Worker (OAuth, wallet, paid tools) and, beside it in
// the same wrangler dev, a bare MCP server on the same SDK with the same tool, free and
// unauthenticated: the floor a paid tool call is compared with.
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import app, { DORM } from "../../templates/mcp/src/index";

export { DORM };

const bare = createMcpHandler(() => {
  const server = new McpServer({ name: "bare", version: "1.0.0" });
  server.registerTool("sha256", { description: "SHA-256 (hex) of a text.", inputSchema: z.object({ text: z.string().max(100_000) }) }, async ({ text }) => {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
    return { content: [{ type: "text", text: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("") }] };
  });
  return server;
});

export default {
  fetch(request: Request, env: never, ctx: ExecutionContext): Promise<Response> {
    if (new URL(request.url).pathname === "/bare/mcp") return bare.fetch(request);
    return app.fetch(request, env, ctx);
  },
};
