// Agent payments under attack (src/stripeflare/agent-payments.ts): malformed, forged, foreign,
// expired and replayed credentials, Stripe refusing or failing midway, and callers who may not
// top up. Each answers a clear status with an RFC 9457 body and a fresh challenge, credits
// nothing it should not, and no Shared Payment Token is spent unless a payment was credited.

import { Challenge, Credential } from "mppx";
import { describe, expect, it } from "vitest";
import { agentApp, grantToken, mppxAgent, tokenState } from "./agent-helpers";
import { books, deliver, fixture, ledger, me, newVisitor, pay, request, stripeApi, stripeEvent, testEnv, type Worker } from "./helpers";

/** A challenge the Worker issued to this caller (none: a new visitor; its cookie token comes back too). */
async function challengeFor(worker: Worker, visitor: { token?: string; bearer?: boolean } = {}, path = "/paid") {
  const response = await worker(request(path, visitor));
  expect(response.status).toBe(402);
  return { challenge: Challenge.fromResponse(response), cookie: /access_token=([^;]+)/.exec(response.headers.get("Set-Cookie") ?? "")?.[1] };
}

/** Sends a credential the way mppx's client would (Payment-Authorization), with an optional Bearer token. */
function pay402(worker: Worker, credential: string, bearer?: string, host = "app.example") {
  const headers: Record<string, string> = { "Payment-Authorization": credential };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  return worker(new Request(`https://${host}/paid`, { headers }));
}

async function credentialFor(challenge: Challenge.Challenge, limits: Partial<{ amount: string; currency: string; paymentMethod: string }> = {}) {
  const spt = await grantToken({ amount: String(challenge.request.amount), currency: String(challenge.request.currency), ...limits });
  return { spt, credential: Credential.serialize({ challenge, payload: { spt } }) };
}

async function expectProblem(response: Response, type: string, detail: RegExp) {
  expect(response.status).toBe(402);
  expect(response.headers.get("Content-Type")).toBe("application/problem+json");
  const body = (await response.json()) as Record<string, any>;
  expect(body).toMatchObject({ type: `https://paymentauth.org/problems/${type}`, status: 402 });
  expect(body.detail).toMatch(detail);
  // A fresh challenge to pay instead, which mppx reads.
  expect(Challenge.fromResponse(response)).toMatchObject({ method: "stripe", intent: "charge" });
  return body;
}

const unspent = async (spt: string) => expect((await tokenState(spt)).deactivated_reason).toBeNull();

async function paidAgent(worker: Worker) {
  const paid = await mppxAgent(worker).fetch("https://app.example/paid");
  expect(paid.status).toBe(200);
  return { token: paid.headers.get("X-Access-Token")!, reference: paid.headers.get("Payment-Receipt")! };
}

describe("agent payments refuse what they should", () => {
  it("a malformed credential: 402 malformed-credential, nothing created", async () => {
    const worker = agentApp();
    for (const value of ["Payment !!!", "Payment e30", "Payment " + btoa(JSON.stringify({ challenge: { id: 1 }, payload: {} })), "Payment " + "A".repeat(9000)]) {
      await expectProblem(await pay402(worker, value), "malformed-credential", /Malformed Payment credential/);
    }
    // The same in Authorization (a client that ignores the challenge's `header`).
    await expectProblem(await worker(new Request("https://app.example/paid", { headers: { Authorization: "Payment not-json" } })), "malformed-credential", /Malformed/);
  });

  it("a forged challenge (amount raised or lowered, another currency, another id): invalid-challenge, the token unspent", async () => {
    const worker = agentApp();
    const { challenge } = await challengeFor(worker);
    for (const forged of [
      { ...challenge, request: { ...challenge.request, amount: "50" } },
      { ...challenge, request: { ...challenge.request, currency: "eur" } },
      { ...challenge, id: challenge.id.slice(1) + "A" },
      { ...challenge, expires: new Date(Date.now() + 86_400_000).toISOString() },
      { ...challenge, method: "tempo" },
    ]) {
      const { spt, credential } = await credentialFor(forged as Challenge.Challenge);
      await expectProblem(await pay402(worker, credential), "invalid-challenge", /not issued by this Worker|method "stripe"/);
      await unspent(spt);
    }
  });

  it("a challenge of another host (realm) or another Worker's secret is refused", async () => {
    const worker = agentApp();
    const { challenge } = await challengeFor(worker);
    const { spt, credential } = await credentialFor(challenge);
    await expectProblem(await pay402(worker, credential, undefined, "other.example"), "invalid-challenge", /for app\.example, not other\.example/);
    const otherSecret = agentApp(true, { DB_SECRET: "another-db-secret-0123456789abcdef012345" });
    await expectProblem(await pay402(otherSecret, credential), "invalid-challenge", /not issued by this Worker/);
    await unspent(spt);
  });

  it("an expired challenge: payment-expired, the token unspent", async () => {
    const worker = agentApp({ expiresIn: 1 });
    const { challenge } = await challengeFor(worker);
    const { spt, credential } = await credentialFor(challenge);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expectProblem(await pay402(worker, credential), "payment-expired", /expired/);
    await unspent(spt);
  });

  it("a replayed credential is credited once; the replay gets 402, concurrent ones too", async () => {
    const worker = agentApp();
    const { challenge } = await challengeFor(worker);
    const { credential } = await credentialFor(challenge);
    const answers = await Promise.all([pay402(worker, credential), pay402(worker, credential), pay402(worker, credential)]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 402, 402]);
    const token = answers.find((r) => r.status === 200)!.headers.get("X-Access-Token")!;
    for (const refused of answers.filter((r) => r.status === 402)) await expectProblem(refused, "invalid-challenge", /used already/);
    await expectProblem(await pay402(worker, credential), "invalid-challenge", /used already/);
    const account = token.split(".")[0]!;
    expect((await ledger(worker.version, account)).filter((row) => row.kind === "credit")).toHaveLength(1);
    expect(await books(worker.version, account)).toMatchObject({ balance: 497, ledger: 497 });
    expect((await me(worker, { token, bearer: true })).body.balance).toBe(497);
  });

  it("a credential is redeemed only by the wallet it was issued to", async () => {
    const worker = agentApp();
    const alice = await paidAgent(worker);
    const bob = await paidAgent(worker);
    for (let i = 0; i < 166; i++) await worker(request("/paid", { token: alice.token, bearer: true }));
    const { challenge } = await challengeFor(worker, { token: alice.token, bearer: true });
    const { spt, credential } = await credentialFor(challenge);
    // Bob intercepts Alice's credential: it names Alice's wallet.
    await expectProblem(await pay402(worker, credential, bob.token), "invalid-challenge", /issued to another wallet/);
    // Without any token (a client that dropped the Bearer): the wallet's token is needed.
    await expectProblem(await pay402(worker, credential), "invalid-challenge", /existing wallet: send its token/);
    await unspent(spt);
    expect((await me(worker, { token: bob.token, bearer: true })).body.balance).toBe(497);
    // Alice herself.
    const paid = await pay402(worker, credential, alice.token);
    expect(paid.status).toBe(200);
    expect(paid.headers.has("X-Access-Token")).toBe(false);
  });

  it("a visitor's challenge with its cookie token: the payment creates that wallet for that token", async () => {
    const worker = agentApp();
    const { challenge, cookie } = await challengeFor(worker);
    const { credential } = await credentialFor(challenge);
    const response = await worker(new Request("https://app.example/paid", { headers: { "Payment-Authorization": credential, Cookie: `access_token=${cookie}` } }));
    expect(response.status).toBe(200);
    expect(response.headers.has("X-Access-Token")).toBe(false);
    expect((await me(worker, { token: cookie! })).body).toMatchObject({ balance: 497, registered: true });
    // Another visitor's cookie with that credential would have been refused: it names this one.
    const other = await newVisitor(worker);
    const again = await challengeFor(worker);
    const second = await credentialFor(again.challenge);
    const refused = await worker(new Request("https://app.example/paid", { headers: { "Payment-Authorization": second.credential, Cookie: `access_token=${other.token}` } }));
    await expectProblem(refused, "invalid-challenge", /another wallet/);
  });

  it("Stripe declines, or the token's limits do not cover the challenge: verification-failed, nothing credited", async () => {
    const worker = agentApp();
    const cases: [Partial<{ amount: string; currency: string; paymentMethod: string }>, RegExp][] = [
      [{ paymentMethod: "pm_card_chargeDeclined" }, /card was declined/],
      [{ amount: "100" }, /exceeds the shared payment token's usage limit/],
      [{ currency: "eur" }, /does not match the shared payment token's usage limit currency/],
    ];
    for (const [limits, message] of cases) {
      const { challenge, cookie } = await challengeFor(worker);
      const { credential } = await credentialFor(challenge, limits);
      const body = await expectProblem(await pay402(worker, credential), "verification-failed", message);
      expect(body.detail).toMatch(/Stripe refused the payment/);
      expect((await me(worker, { token: cookie! })).body).toMatchObject({ balance: 0, registered: false });
    }
    // A token spent on another payment.
    const { challenge } = await challengeFor(worker);
    const { spt, credential } = await credentialFor(challenge);
    await fetch(`${testEnv.STRIPE_API_BASE}/v1/payment_intents`, {
      method: "POST",
      headers: { Authorization: `Bearer ${testEnv.STRIPE_SECRET}`, "Stripe-Version": "2026-07-29.preview", "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ amount: "500", currency: "usd", confirm: "true", shared_payment_granted_token: spt }),
    });
    await expectProblem(await pay402(worker, credential), "verification-failed", /already been used/);
  });

  it("Stripe unreachable or the answer lost: 503 to retry; the retry with the same credential is credited once", async () => {
    const worker = agentApp();
    const down = agentApp(true, { STRIPE_API_BASE: "http://127.0.0.1:9" });
    const { challenge } = await challengeFor(worker);
    const { spt, credential } = await credentialFor(challenge);
    const unreachable = await pay402(down, credential);
    expect(unreachable.status).toBe(503);
    expect(unreachable.headers.get("Retry-After")).toBe("5");
    expect(((await unreachable.json()) as { detail: string }).detail).toMatch(/could not be reached.*retry with the same credential/);
    await unspent(spt);

    // Stripe takes the payment but the answer never arrives: the money is taken, not credited yet.
    await stripeApi("POST", "/local/failures", JSON.stringify({ method: "POST", path: "/v1/payment_intents", kind: "drop-after", bodyIncludes: spt }));
    const lost = await pay402(worker, credential);
    expect(lost.status).toBe(503);
    expect((await tokenState(spt)).deactivated_reason).toBe("consumed");
    // The retry finds the same PaymentIntent (Stripe's idempotent replay) and credits it, once.
    const retried = await pay402(worker, credential);
    expect(retried.status).toBe(200);
    const token = retried.headers.get("X-Access-Token")!;
    expect((await me(worker, { token, bearer: true })).body.balance).toBe(497);
    await expectProblem(await pay402(worker, credential), "invalid-challenge", /used already/);
  });

  it("a budget token gets no challenge and cannot top up; X-Max-Price refusals carry none either", async () => {
    const worker = agentApp();
    const owner = await newVisitor(worker);
    await pay(worker, { reference: owner.reference, amount: 5 });
    const minted = (await (await worker(request("/me/tokens", owner, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ cap: 3 }) }))).json()) as { access_token: string };
    const agent = { token: minted.access_token, bearer: true };
    expect((await worker(request("/paid", agent))).status).toBe(200);
    const over = await worker(request("/paid", agent));
    expect(over.status).toBe(402);
    expect(over.headers.has("WWW-Authenticate")).toBe(false);
    const { challenge } = await challengeFor(worker, owner);
    const { spt, credential } = await credentialFor(challenge);
    await expectProblem(await pay402(worker, credential, minted.access_token).then(async (r) => {
      // No fresh challenge for a budget token: check the body alone.
      expect(r.status).toBe(402);
      expect(r.headers.has("WWW-Authenticate")).toBe(false);
      expect(((await r.json()) as { detail: string }).detail).toMatch(/budget token cannot top up/);
      return worker(request("/paid", {}, { headers: { "Payment-Authorization": "Payment x!" } }));
    }), "malformed-credential", /Malformed/);
    await unspent(spt);
    const capped = await worker(request("/paid", {}, { headers: { "X-Max-Price": "2" } }));
    expect(capped.status).toBe(402);
    expect(capped.headers.has("WWW-Authenticate")).toBe(false);
  });

  it("the app's own 402 carries a challenge; a refund of an agent payment debits the wallet it credited", async () => {
    const worker = agentApp();
    const own = await worker(request("/app-402"));
    expect(own.status).toBe(402);
    expect(Challenge.fromResponse(own).request).toMatchObject({ amount: "500", currency: "usd" });

    const { token } = await paidAgent(worker);
    const account = token.split(".")[0]!;
    const credit = (await ledger(worker.version, account)).find((row) => row.kind === "credit") as { reference: string };
    const intent = await stripeApi("GET", `/v1/payment_intents/${credit.reference}`);
    await stripeApi("POST", "/v1/refunds", { charge: intent.latest_charge, amount: "200" });
    const charge = await stripeApi("GET", `/v1/charges/${intent.latest_charge}`);
    expect((await deliver(worker, stripeEvent("charge.refunded", charge))).status).toBe(200);
    expect((await me(worker, { token, bearer: true })).body.balance).toBe(497 - 200);
  });

  it("off unless configured: no challenge, and a Payment credential is not looked at", async () => {
    for (const worker of [fixture({ prices: { "/paid": 3 } }), agentApp(true, { STRIPE_NETWORK_ID: "" }), agentApp(true, { TOP_UP_AMOUNT: "five" })]) {
      const refused = await worker(request("/paid"));
      expect(refused.status).toBe(402);
      expect(refused.headers.has("WWW-Authenticate")).toBe(false);
      const ignored = await worker(request("/paid", {}, { headers: { "Payment-Authorization": "Payment x!" } }));
      expect(ignored.status).toBe(402);
      expect(ignored.headers.get("Content-Type")).not.toBe("application/problem+json");
    }
  });
});
