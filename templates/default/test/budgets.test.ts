// Budget tokens (issue 12, item 3): the wallet's owner mints a token for an agent with a cap
// and an expiry; the agent spends from the same wallet up to the cap (declared prices before
// the handler, X-Price and ctx.charge after), under concurrency too; it sees its own charges;
// it cannot mint, rotate or sign out; revoked, expired or merged-away tokens open nothing.
import { describe, expect, it } from "vitest";
import { accountDb, books, fixture, me, newVisitor, pay, payAndReturn, request, returnFrom, sqlIn, type Worker } from "./helpers";

async function owner(worker: Worker, amount = 100) {
  const visitor = await newVisitor(worker);
  await pay(worker, { reference: visitor.reference, amount });
  return visitor;
}

const json = (body: unknown, extra: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "Content-Type": "application/json", Accept: "application/json", ...extra },
  body: JSON.stringify(body),
});

async function mint(worker: Worker, visitor: { token: string }, body: unknown = { cap: 10, expires_in: 3600, label: "research agent" }) {
  const response = await worker(request("/me/tokens", visitor, json(body)));
  return { response, body: (await response.json()) as Record<string, any> };
}

const agentOf = (token: string) => ({ token, bearer: true });

describe("budget tokens", () => {
  it("an agent spends from the owner's wallet up to its cap, then gets 402 before anything runs", async () => {
    const worker = fixture({ prices: { "/paid": 3 } });
    const visitor = await owner(worker);
    const minted = await mint(worker, visitor);
    expect(minted.response.status).toBe(201);
    expect(minted.body).toMatchObject({ id: expect.stringMatching(/^bt_/), access_token: expect.any(String), cap: 10, spent: 0, label: "research agent" });
    const agent = agentOf(minted.body.access_token);

    expect((await me(worker, agent)).body).toMatchObject({ balance: 100, budget: { id: minted.body.id, cap: 10, spent: 0 } });
    for (let i = 0; i < 3; i++) expect((await worker(request("/paid", agent))).status).toBe(200);
    const over = await worker(request("/paid", agent, { headers: { Accept: "application/json" } }));
    expect(over.status).toBe(402);
    expect(((await over.json()) as { message: string }).message).toMatch(/Over this token's budget: 3 cents asked, 1 of 10 left; nothing was charged/);
    // X-Price and ctx.charge count against the same cap.
    const xPrice = await worker(request("/price?value=2", agent));
    expect([xPrice.status, (await xPrice.text()).includes("priced content")]).toEqual([402, false]);
    expect(await (await worker(request("/ctx-charge?amount=2", agent))).json()).toMatchObject({ charged: false, message: expect.stringMatching(/Over this token's budget/) });
    expect((await worker(request("/price?value=1", agent))).status).toBe(200);
    expect((await me(worker, agent)).body.budget).toMatchObject({ cap: 10, spent: 10 });
    // The owner's own token is not capped; the wallet paid 10 for the agent.
    expect((await worker(request("/paid", visitor))).status).toBe(200);
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 87, ledger: 87 });
  });

  it("the cap holds under 100 concurrent requests", async () => {
    const worker = fixture();
    const visitor = await owner(worker, 500);
    const agent = agentOf((await mint(worker, visitor, { cap: 37, expires_in: 600 })).body.access_token);
    const answers = await Promise.all(Array.from({ length: 100 }, () => worker(request("/price?value=1", agent))));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(37);
    expect(answers.filter((r) => r.status === 402)).toHaveLength(63);
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 463, ledger: 463 });
    expect((await me(worker, agent)).body.budget.spent).toBe(37);
  });

  it("the statement: the agent sees its own charges; the owner sees all, each charge with its token", async () => {
    const worker = fixture({ prices: { "/paid": 2 } });
    const visitor = await owner(worker);
    const { body } = await mint(worker, visitor);
    const agent = agentOf(body.access_token);
    await worker(request("/paid", agent));
    await worker(request("/paid", visitor));
    const statement = async (who: object) => ((await (await worker(request("/me/transactions", who as never, { headers: { Accept: "application/json" } }))).json()) as { data: Record<string, any>[] }).data;
    expect((await statement(agent)).map((row) => [row.kind, row.amount, row.token_id])).toEqual([["charge", -2, body.id]]);
    expect((await statement(visitor)).map((row) => [row.kind, row.amount, row.token_id])).toEqual([["charge", -2, null], ["charge", -2, body.id], ["topup", 100, null]]);
    const list = await (await worker(request("/me/tokens", visitor))).json();
    expect(list).toEqual({ object: "list", data: [expect.objectContaining({ id: body.id, cap: 10, spent: 2, revoked: false, label: "research agent" })] });
    expect(JSON.stringify(list)).not.toContain(body.access_token);
  });

  it("Idempotency-Keys are per token: an agent cannot replay the owner's paid request for free", async () => {
    const worker = fixture({ prices: { "/paid": 3 } });
    const visitor = await owner(worker);
    const agent = agentOf((await mint(worker, visitor, { cap: 1, expires_in: 600 })).body.access_token);
    const key = { headers: { "Idempotency-Key": "owner-order-1" } };
    expect((await worker(request("/paid", visitor, key))).status).toBe(200);
    const replay = await worker(request("/paid", agent, key));
    expect(replay.status).toBe(422); // the key stands for the owner's request, not the agent's
    expect(await replay.text()).not.toContain("paid content");
  });

  it("a server error gives the agent's budget back with the price", async () => {
    const worker = fixture({ prices: { "/fail": 4 } });
    const visitor = await owner(worker);
    const agent = agentOf((await mint(worker, visitor)).body.access_token);
    expect((await worker(request("/fail?status=503", agent))).status).toBe(503);
    expect((await me(worker, agent)).body.budget.spent).toBe(0);
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 100, ledger: 100 });
  });

  it("a budget token cannot mint, list or revoke tokens, rotate, or sign others out", async () => {
    const worker = fixture();
    const visitor = await owner(worker);
    const agent = agentOf((await mint(worker, visitor)).body.access_token);
    expect((await mint(worker, agent)).response.status).toBe(403);
    expect((await worker(request("/me/tokens", agent))).status).toBe(403);
    expect((await worker(request("/rotate-token", agent, { method: "POST" }))).status).toBe(403);
    expect((await worker(request("/me/sign-out-others", agent, { method: "POST" }))).status).toBe(403);
    expect((await me(worker, agent)).response.status).toBe(200); // still a working token
  });

  it("an agent paying into the wallet and following the redirect ties nothing and gets no full token", async () => {
    const worker = fixture();
    const visitor = await owner(worker);
    const agent = agentOf((await mint(worker, visitor)).body.access_token);
    const paid = await pay(worker, { reference: visitor.reference, amount: 50, paymentMethod: "pm_card_mastercard" });
    const back = await returnFrom(worker, agent, paid.sessionId);
    expect(back.response.status).toBe(303);
    expect(back.token).toBeNull();
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 150 });
    // The agent's card opens nothing: a fresh browser paying with it stays itself.
    const stranger = await newVisitor(worker);
    const again = await pay(worker, { reference: stranger.reference, amount: 10, paymentMethod: "pm_card_mastercard" });
    const strangerBack = await returnFrom(worker, stranger, again.sessionId);
    expect(strangerBack.token).toBeNull();
    expect((await me(worker, stranger)).body.balance).toBe(10);
  });

  it("a budget token stops when its wallet is merged into another by login by payment", async () => {
    const worker = fixture();
    const first = await newVisitor(worker);
    await payAndReturn(worker, first, { amount: 40, paymentMethod: "pm_card_visa" }); // visa now opens `first`
    const visitor = await owner(worker);
    const agent = agentOf((await mint(worker, visitor)).body.access_token);
    expect((await me(worker, agent)).response.status).toBe(200);
    const back = await payAndReturn(worker, visitor, { amount: 10, paymentMethod: "pm_card_visa" }); // the owner logs in to `first`
    expect(back.token).not.toBeNull();
    expect((await me(worker, agentOf(agent.token))).response.status).toBe(401);
  });

  it("revoked, expired, and signed-out budget tokens open nothing", async () => {
    const worker = fixture();
    const visitor = await owner(worker);
    const [a, b, c] = [await mint(worker, visitor), await mint(worker, visitor), await mint(worker, visitor)];
    const revoked = await worker(request(`/me/tokens/${a.body.id}`, visitor, { method: "DELETE" }));
    expect(await revoked.json()).toEqual({ id: a.body.id, revoked: true });
    expect((await me(worker, agentOf(a.body.access_token))).response.status).toBe(401);
    expect((await worker(request(`/me/tokens/${a.body.id}x`, visitor, { method: "DELETE" }))).status).toBe(404);

    await sqlIn(accountDb(worker.version, visitor.account), `UPDATE stripeflare_budgets SET expires_at = ? WHERE id = ?`, Date.now() - 1000, b.body.id);
    expect((await me(worker, agentOf(b.body.access_token))).response.status).toBe(401);

    expect((await me(worker, agentOf(c.body.access_token))).response.status).toBe(200);
    expect((await worker(request("/me/sign-out-others", visitor, { method: "POST" }))).status).toBe(200);
    expect((await me(worker, agentOf(c.body.access_token))).response.status).toBe(401);
    const list = (await (await worker(request("/me/tokens", visitor))).json()) as { data: { id: string; revoked: boolean }[] };
    expect(Object.fromEntries(list.data.map((t) => [t.id, t.revoked]))).toEqual({ [a.body.id]: true, [b.body.id]: true, [c.body.id]: true }); // signing out everywhere else revokes every budget token
  });

  it("minting needs a topped-up wallet, this site, JSON, and a sane budget", async () => {
    const worker = fixture();
    const stranger = await newVisitor(worker);
    expect((await mint(worker, stranger)).response.status).toBe(409);
    const visitor = await owner(worker);
    const crossSite = await worker(request("/me/tokens", visitor, json({ cap: 5 }, { "Sec-Fetch-Site": "cross-site" })));
    expect(crossSite.status).toBe(403);
    const form = await worker(request("/me/tokens", visitor, { method: "POST", headers: { "Content-Type": "text/plain" }, body: '{"cap":5}' }));
    expect(form.status).toBe(415);
    for (const [body, param] of [
      [{ cap: 0 }, "cap"],
      [{ cap: -1 }, "cap"],
      [{ cap: 1.5 }, "cap"],
      [{ cap: "10" }, "cap"],
      [{ cap: 5, expires_in: 10 }, "expires_in"],
      [{ cap: 5, expires_in: 10 ** 9 }, "expires_in"],
      [{ cap: 5, label: "x".repeat(101) }, "label"],
      [{ cap: 5, label: "a\nb" }, "label"],
      [[5], "body"],
    ] as const) {
      const { response, body: answer } = await mint(worker, visitor, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(answer.param, JSON.stringify(body)).toBe(param);
    }
    const notJson = await worker(request("/me/tokens", visitor, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{cap" }));
    expect(notJson.status).toBe(400);
    expect(((await (await worker(request("/me/tokens", visitor))).json()) as { data: unknown[] }).data).toEqual([]);
  });
});
