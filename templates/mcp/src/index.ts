// A remote MCP server whose tools cost cents per call, paid from a Stripeflare wallet.
//
//   /mcp                       the MCP endpoint (Streamable HTTP), behind OAuth 2.1
//   /authorize                 authorization by paying: the wallet's page (src/authorize.ts)
//   /oauth/token, /oauth/register, /.well-known/…   the OAuth provider
//   /, /me, /me/transactions, /stripe-webhook, /db/* …  the wallet (src/stripeflare)
//
// The OAuth provider (@cloudflare/workers-oauth-provider) guards /mcp and hands each request
// the grant's props: a budget token of the wallet that allowed the client. Tools are in
// src/tools.ts; `paidTool` (src/paid-tool.ts) charges a successful call.

import { OAuthProvider } from "@cloudflare/workers-oauth-provider";
import { createMcpHandler } from "@modelcontextprotocol/server";
import { authorize, revokeGrant, walletHome, type AppEnv } from "./authorize";
import { DORM, withStripeflare } from "./stripeflare";
import type { GrantProps } from "./paid-tool";
import { mcpServer } from "./tools";
import { useWallet } from "./wallet-client";

export { DORM };

const wallet: (request: Request, env: AppEnv, ctx: ExecutionContext) => Promise<Response> = withStripeflare<AppEnv>(async (request, env, ctx): Promise<Response> => {
  const { pathname } = new URL(request.url);
  if (pathname === "/authorize") return authorize(request, env, ctx, wallet);
  if (pathname === "/grants/revoke") return revokeGrant(request, env, ctx, wallet);
  if (pathname === "/") return walletHome(request, env, ctx);
  return new Response("Not found\n", { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } });
});
useWallet(wallet);

const mcp = {
  fetch(request: Request, env: AppEnv, ctx: ExecutionContext): Promise<Response> {
    const props = ctx.props as GrantProps;
    const walletUrl = `${new URL(request.url).origin}/`;
    return createMcpHandler(() => mcpServer({ env, ctx, props, walletUrl })).fetch(request);
  },
};

// The protected resource is this server's own /mcp URL, so the provider is made per origin
// (a workers.dev URL and a custom domain each get theirs).
const providers = new Map<string, OAuthProvider<AppEnv>>();
function providerFor(origin: string): OAuthProvider<AppEnv> {
  let provider = providers.get(origin);
  if (!provider) {
    provider = new OAuthProvider<AppEnv>({
      apiRoute: "/mcp",
      apiHandler: mcp,
      defaultHandler: { fetch: wallet as ExportedHandlerFetchHandler<AppEnv> },
      authorizeEndpoint: "/authorize",
      tokenEndpoint: "/oauth/token",
      clientRegistrationEndpoint: "/oauth/register",
      resourceMetadata: { resource: `${origin}/mcp`, resource_name: "Stripeflare MCP server" },
    });
    if (providers.size > 16) providers.clear();
    providers.set(origin, provider);
  }
  return provider;
}

export default {
  fetch(request: Request, env: AppEnv, ctx: ExecutionContext): Promise<Response> {
    return providerFor(new URL(request.url).origin).fetch(request, env, ctx);
  },
} satisfies ExportedHandler<AppEnv>;
