// The example app with agent payments on (STRIPE_NETWORK_ID set): discovery says how an agent
// pays, the app's own 402 for POST /charge carries the challenge, and mppx's client pays it.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Challenge, Receipt } from "mppx";
import { describe, expect, it } from "vitest";
import worker from "../index";
import { mppxAgent, NETWORK_ID } from "../../test/agent-helpers";
import { request } from "../../test/helpers";

/** src/index.ts with agent payments configured (the committed wrangler.jsonc leaves them off). */
async function withAgents(req: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(req, { ...env, STRIPE_NETWORK_ID: NETWORK_ID, TOP_UP_AMOUNT: "500" } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

describe("the example app, agents paying by themselves", () => {
  it("GET / tells an agent how to pay a 402 itself; POST /charge's 402 carries the challenge in JSON and Markdown", async () => {
    const home = (await (await withAgents(request("/", {}, { headers: { Accept: "application/json" } }))).json()) as Record<string, any>;
    expect(home.agents.mpp).toMatchObject({ pay: expect.stringMatching(/Payment-Authorization/), result: expect.stringMatching(/X-Access-Token/) });
    const markdown = await (await withAgents(request("/", {}, { headers: { Accept: "text/markdown" } }))).text();
    expect(markdown).toMatch(/Paying by itself \(MPP/);

    const refused = await withAgents(request("/charge", {}, { method: "POST", headers: { Accept: "application/json" } }));
    expect(refused.status).toBe(402);
    expect(Challenge.fromResponse(refused).request).toMatchObject({ amount: "500", currency: "usd", methodDetails: { networkId: NETWORK_ID } });
    expect(((await refused.json()) as Record<string, any>).agent_payment.pay).toMatch(/Shared Payment Token/);
    const md = await withAgents(request("/charge", {}, { method: "POST", headers: { Accept: "text/markdown" } }));
    expect(md.status).toBe(402);
    expect(await md.text()).toMatch(/- Agents: Pay the challenge/);
    // Off (the committed config's empty STRIPE_NETWORK_ID): no challenge, no MPP facts.
    const off = await worker.fetch(request("/charge", {}, { method: "POST", headers: { Accept: "application/json" } }), { ...env, STRIPE_NETWORK_ID: "" } as Env, createExecutionContext());
    expect(off.headers.has("WWW-Authenticate")).toBe(false);
    expect(((await off.json()) as Record<string, any>).agent_payment).toBeUndefined();
  });

  it("mppx's client pays POST /charge: served, charged one cent, a receipt and a wallet token", async () => {
    const agent = mppxAgent(withAgents);
    const paid = await agent.fetch("https://app.example/charge", { method: "POST", headers: { Accept: "application/json" } });
    expect(paid.status).toBe(200);
    expect(await paid.json()).toMatchObject({ charged: 1, balance: 499, currency: "usd" });
    expect(Receipt.fromResponse(paid).reference).toMatch(/^pi_/);
    const token = paid.headers.get("X-Access-Token")!;
    const again = await withAgents(request("/charge", { token, bearer: true }, { method: "POST", headers: { Accept: "application/json" } }));
    expect(await again.json()).toMatchObject({ charged: 1, balance: 498 });
  });
});
