// paidTool: an MCP tool with a price next to its schema, paid from the caller's Stripeflare
// wallet. The caller is the MCP client's OAuth grant, whose props hold a budget token of the
// wallet that authorized it (src/authorize.ts): it spends at most the budget the person chose.
//
// A call runs the tool first and charges its price only when the tool succeeded (a tool error
// costs nothing): one Durable Object round trip, the charge in one SQLite transaction (the
// wallet's `chargeUser`). When the wallet or the budget cannot pay, the result is withheld and
// the call answers an MCP tool error that says the price, what is left and where to top up.
// Every result carries the remaining balance in `_meta["stripeflare/balance"]`.

import type { CallToolResult, McpServer, StandardSchemaWithJSON } from "@modelcontextprotocol/server";
import { chargeUser, paymentLinkFor, type StripeflareEnv } from "./stripeflare";

/** What the OAuth grant gives the MCP handler (`ctx.props`). */
export interface GrantProps {
  /** A budget token of the wallet that authorized the client (never shown to it). */
  token: string;
  /** Its id (`bt_…`), listed and revoked on the wallet's page. */
  tokenId: string;
}

export interface ToolContext {
  env: StripeflareEnv;
  ctx: ExecutionContext;
  props: GrantProps;
  /** Where the person tops up and manages grants: this server's own page. */
  walletUrl: string;
}

export const BALANCE_META = "stripeflare/balance";

/** Registers `name` at `price` cents a successful call. */
export function paidTool<Args extends StandardSchemaWithJSON>(
  server: McpServer,
  tool: ToolContext,
  name: string,
  config: { title?: string; description: string; inputSchema: Args; price: number },
  run: (args: StandardSchemaWithJSON.InferOutput<Args>) => CallToolResult | Promise<CallToolResult>,
): void {
  const { price, ...rest } = config;
  server.registerTool(name, { ...rest, description: `${config.description} Costs ${price} cent${price === 1 ? "" : "s"} a successful call, paid from your Stripeflare wallet.`, _meta: { "stripeflare/price": price } }, (async (args: StandardSchemaWithJSON.InferOutput<Args>) => {
    let result: CallToolResult;
    try {
      result = await run(args);
    } catch (error) {
      // Not charged: the tool failed. The message is the tool's, not a stack trace.
      return { isError: true, content: [{ type: "text", text: `${name} failed: ${error instanceof Error ? error.message : String(error)}. Nothing was charged.` }] };
    }
    if (result.isError) return result;
    const charge = await chargeUser(tool.env, tool.ctx, tool.props.token, undefined, undefined, price, false, `MCP tool ${name}`);
    if (!charge.charged && charge.balance === undefined) {
      // The grant's budget token opens nothing any more: it expired, or was revoked on the page.
      return { isError: true, content: [{ type: "text", text: `This client's budget has expired or was revoked; nothing was charged. Connect it again to allow it anew on ${tool.walletUrl}` }], _meta: { "stripeflare/wallet": tool.walletUrl } };
    }
    if (!charge.charged) {
      // Anyone may pay this link: it tops up the wallet that allowed this client.
      const link = (await paymentLinkFor(tool.env, tool.props.token)) || null;
      const balance = charge.balance === undefined ? "" : ` (balance ${charge.balance} cents)`;
      return {
        isError: true,
        content: [{ type: "text", text: `Payment required: ${name} costs ${price} cent${price === 1 ? "" : "s"}; ${charge.message}${balance}. Nothing was charged. Top up${link ? ` at ${link}` : ""}, or raise this client's budget, on ${tool.walletUrl}` }],
        _meta: { [BALANCE_META]: charge.balance ?? null, "stripeflare/price": price, "stripeflare/paymentLink": link, "stripeflare/wallet": tool.walletUrl },
      };
    }
    return { ...result, _meta: { ...result._meta, [BALANCE_META]: charge.balance ?? null, "stripeflare/charged": price } };
  }) as never);
}
