// An MCP client nobody here wrote: the MCP TypeScript SDK's own client, Streamable HTTP
// transport and OAuth helpers (discovery, dynamic registration, PKCE, token exchange), with
// the test playing the person in the browser on the authorize page.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { expect } from "vitest";
import type { Worker } from "./helpers";

export const ORIGIN = "https://app.example";
export const REDIRECT = "http://127.0.0.1:33418/callback";

/** Holds what the SDK asks a real client app to keep: registration, tokens, PKCE verifier. */
export class MemoryProvider implements OAuthClientProvider {
  client?: OAuthClientInformationMixed;
  stored?: OAuthTokens;
  verifier = "";
  authorizationUrl?: URL;
  constructor(readonly name = "Test MCP client") {}
  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: this.name, redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none" };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.stored;
  }
  saveTokens(tokens: OAuthTokens) {
    this.stored = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

export const fetchVia = (worker: Worker) => ((input: RequestInfo | URL, init?: RequestInit) => worker(new Request(input, init))) as typeof fetch;

export function transport(worker: Worker, provider: MemoryProvider) {
  return new StreamableHTTPClientTransport(new URL("/mcp", ORIGIN), { authProvider: provider, fetch: fetchVia(worker) });
}

/**
 * The whole authorization: the SDK discovers, registers and sends the person to /authorize;
 * the person (cookie `browser`) allows with a budget; the SDK exchanges the code. Returns a
 * connected client.
 */
export async function authorizedClient(worker: Worker, browser: { token: string }, budget = 100, provider = new MemoryProvider()) {
  const first = new Client({ name: "test", version: "1.0.0" });
  await first.connect(transport(worker, provider)).then(
    () => {
      throw new Error("connected without authorization");
    },
    (error: Error) => {
      if (!/Unauthorized/i.test(error.name + error.message)) throw error;
    },
  );
  const url = provider.authorizationUrl!;
  const allowed = await allow(worker, browser, url, budget);
  expect(allowed.status).toBe(302);
  const code = new URL(allowed.headers.get("Location")!).searchParams.get("code")!;
  const finishing = transport(worker, provider);
  await finishing.finishAuth(code);
  const client = new Client({ name: "test", version: "1.0.0" });
  await client.connect(transport(worker, provider));
  return { client, provider };
}

/** The person on the authorize page, allowing with `budget` cents for 30 days. */
export function allow(worker: Worker, browser: { token: string }, url: URL, budget: number, headers: Record<string, string> = {}) {
  return worker(
    new Request(url, {
      method: "POST",
      redirect: "manual",
      headers: { Cookie: `access_token=${browser.token}`, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams({ budget: String(budget), days: "30" }),
    }),
  );
}
