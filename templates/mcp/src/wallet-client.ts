// The wallet as seen from the MCP handler: GET /me with the grant's budget token, answered by
// the same Worker's wallet (no network hop: `walletFetch` is the wallet's own fetch).

import type { ToolContext } from "./paid-tool";

export interface WalletView {
  balance: number;
  currency: string | null;
  budget?: { cap: number; spent: number; expires_at?: string };
}

let walletFetch: ((request: Request, env: any, ctx: ExecutionContext) => Promise<Response>) | null = null;

/** src/index.ts hands over the wallet's fetch once. */
export function useWallet(fetch: NonNullable<typeof walletFetch>): void {
  walletFetch = fetch;
}

/** The grant's wallet (null once its budget token was revoked or expired). */
export async function me(tool: ToolContext): Promise<WalletView | null> {
  if (!walletFetch) throw new Error("useWallet() was not called");
  const response = await walletFetch(
    new Request(new URL("/me", tool.walletUrl), { headers: { Authorization: `Bearer ${tool.props.token}`, Accept: "application/json" } }),
    tool.env,
    tool.ctx,
  );
  if (!response.ok) return null;
  const body = (await response.json()) as WalletView & { currency?: string | null };
  return { balance: body.balance, currency: body.currency ?? (tool.env as { CURRENCY?: string }).CURRENCY ?? null, budget: body.budget };
}
