// Agents pay 402s by themselves (MPP, src/stripeflare/agent-payments.ts), driven by mppx's own
// client: an agent with no wallet pays, is served and keeps a token; an agent with a wallet tops
// it up and keeps its Bearer token; the receipt, the ledger and the stand-in agree.

import { Challenge, Credential, Receipt } from "mppx";
import { describe, expect, it } from "vitest";
import { agentApp, mppxAgent, NETWORK_ID, tokenState } from "./agent-helpers";
import { me, request, stripeApi } from "./helpers";

describe("agent payments with mppx's client", () => {
  it("an agent without a wallet pays the 402, is served, and spends on with the token it got", async () => {
    const worker = agentApp();
    const first = await worker(request("/paid"));
    expect(first.status).toBe(402);
    const challenge = Challenge.fromResponse(first);
    expect(challenge).toMatchObject({ method: "stripe", intent: "charge", realm: "app.example", header: "Payment-Authorization" });
    expect(challenge.request).toMatchObject({ amount: "500", currency: "usd", methodDetails: { networkId: NETWORK_ID, paymentMethodTypes: ["card"] } });

    const agent = mppxAgent(worker);
    const paid = await agent.fetch("https://app.example/paid");
    expect(paid.status).toBe(200);
    expect(await paid.text()).toBe("paid content");
    const receipt = Receipt.fromResponse(paid);
    expect(receipt).toMatchObject({ method: "stripe", status: "success" });
    expect(receipt.reference).toMatch(/^pi_/);
    expect(paid.headers.get("X-Balance")).toBe("497");
    expect(agent.granted).toHaveLength(1);
    expect((await tokenState(agent.granted[0]!)).deactivated_reason).toBe("consumed");
    const intent = await stripeApi("GET", `/v1/payment_intents/${receipt.reference}`);
    expect(intent).toMatchObject({ amount: 500, currency: "usd", status: "succeeded", shared_payment_granted_token: agent.granted[0] });

    const token = paid.headers.get("X-Access-Token")!;
    expect(token).toMatch(/^[\w-]{22}\.[\w-]{43}$/);
    const again = await worker(request("/paid", { token, bearer: true }));
    expect(again.status).toBe(200);
    expect(again.headers.get("X-Balance")).toBe("494");
    expect(again.headers.has("WWW-Authenticate")).toBe(false);

    const statement = (await (await worker(request("/me/transactions", { token, bearer: true }))).json()) as { data: { kind: string; amount: number; reference: string }[] };
    expect(statement.data.map((t) => [t.kind, t.amount])).toEqual([["charge", -3], ["charge", -3], ["topup", 500]]);
    expect(statement.data[2]!.reference).toBe(receipt.reference);
  });

  it("an agent with a wallet tops it up in place: its Bearer token stays, the credential rides in Payment-Authorization", async () => {
    const worker = agentApp();
    const agent = mppxAgent(worker);
    const token = (await agent.fetch("https://app.example/paid")).headers.get("X-Access-Token")!;
    // Spend the wallet down to below the price (500 - 3 = 497, then 165 x 3 cents).
    for (let i = 0; i < 165; i++) expect((await worker(request("/paid", { token, bearer: true }))).status).toBe(200);
    expect((await me(worker, { token, bearer: true })).body.balance).toBe(2);

    const seen: Headers[] = [];
    const watching = mppxAgent(async (req) => {
      seen.push(new Headers(req.headers));
      return worker(req);
    });
    const paid = await watching.fetch("https://app.example/paid", { headers: { Authorization: `Bearer ${token}` } });
    expect(paid.status).toBe(200);
    expect(paid.headers.get("X-Balance")).toBe(String(2 + 500 - 3));
    expect(paid.headers.has("X-Access-Token")).toBe(false);
    expect(seen[1]!.get("Authorization")).toBe(`Bearer ${token}`);
    expect(Credential.deserialize(seen[1]!.get("Payment-Authorization")!).payload).toEqual({ spt: watching.granted[0] });
    expect((await me(worker, { token, bearer: true })).body.balance).toBe(499);
  });
});
