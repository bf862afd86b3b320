// `npm run client -- [url]`: an MCP client for this server, built on the MCP TypeScript SDK's
// own client and OAuth helpers (what MCP Inspector and agent apps use). It registers itself,
// prints the authorize URL to open in your browser (top up there if the wallet is empty, set a
// budget, allow), takes the code on a local callback, then lists the tools and calls the free
// `balance` and the paid `sha256`. Tokens are kept in memory only: each run authorizes anew.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { text: { type: "string", default: "hello" }, help: { type: "boolean", short: "h" } } });
if (values.help) {
  console.log("Usage: npm run client -- [url of the server, default http://localhost:8787] [--text <text to hash>]");
  process.exit(0);
}
const server = new URL("/mcp", positionals[0] ?? "http://localhost:8787");

// The OAuth redirect lands here, on loopback (allowed for native apps by OAuth 2.1).
let receive: (code: string) => void;
const code = new Promise<string>((resolve) => (receive = resolve));
const callback = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const got = url.searchParams.get("code");
  res.writeHead(got ? 200 : 400, { "Content-Type": "text/plain; charset=utf-8" });
  res.end(got ? "Allowed. You can close this tab and go back to the terminal.\n" : `Not allowed: ${url.searchParams.get("error") ?? "no code"}\n`);
  if (got) receive(got);
});
await new Promise<void>((resolve) => callback.listen(0, "127.0.0.1", resolve));
const redirectUrl = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;

let client: OAuthClientInformationMixed | undefined;
let tokens: OAuthTokens | undefined;
let verifier = "";
const provider: OAuthClientProvider = {
  redirectUrl,
  clientMetadata: { client_name: "npm run client", redirect_uris: [redirectUrl], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none" },
  clientInformation: () => client,
  saveClientInformation: (info) => void (client = info),
  tokens: () => tokens,
  saveTokens: (saved) => void (tokens = saved),
  redirectToAuthorization: (url) => console.log(`Open this in your browser, top up if needed, set a budget and allow:\n\n  ${url}\n`),
  saveCodeVerifier: (v) => void (verifier = v),
  codeVerifier: () => verifier,
};

const connect = async () => {
  const mcp = new Client({ name: "npm run client", version: "1.0.0" });
  await mcp.connect(new StreamableHTTPClientTransport(server, { authProvider: provider }));
  return mcp;
};
let mcp: Client;
try {
  mcp = await connect();
} catch (error) {
  if (!/unauthorized/i.test(String(error))) throw error;
  console.log("Waiting for you to allow the client...");
  await new StreamableHTTPClientTransport(server, { authProvider: provider }).finishAuth(await code);
  mcp = await connect();
}
callback.close();

const { tools } = await mcp.listTools();
console.log(`Tools: ${tools.map((t) => t.name).join(", ")}`);
const show = (result: Awaited<ReturnType<Client["callTool"]>>) => (result.content as { type: string; text?: string }[]).map((c) => c.text ?? c.type).join(" ");
console.log(`balance → ${show(await mcp.callTool({ name: "balance", arguments: {} }))}`);
const hashed = await mcp.callTool({ name: "sha256", arguments: { text: values.text } });
console.log(`sha256(${JSON.stringify(values.text)}) → ${show(hashed)}${hashed.isError ? "" : ` (balance now ${(hashed._meta as Record<string, unknown>)?.["stripeflare/balance"]} cents)`}`);
await mcp.close();
