// Idempotency-Key (issue 12, item 5): a paid request retried with the same key is charged once,
// whatever the number or the timing of the retries; the key with another request is 422; a
// request that failed (5xx, 402) leaves its retry chargeable; bad keys are 400 before anything.
import { describe, expect, it } from "vitest";
import { books, fixture, ledger, newVisitor, pay, request, type Worker } from "./helpers";

async function fundedVisitor(worker: Worker, amount: number) {
  const visitor = await newVisitor(worker);
  await pay(worker, { reference: visitor.reference, amount });
  return visitor;
}

const keyed = (key: string, init: RequestInit = {}) => ({ ...init, headers: { Accept: "application/json", "Idempotency-Key": key, ...init.headers } });
const charges = async (worker: Worker & { version: string }, account: string) =>
  (await ledger(worker.version, account)).filter((row) => row.kind === "charge").map((row) => row.amount);

describe("Idempotency-Key", () => {
  it("a declared price: the retry is served, says it was replayed, and is not charged again", async () => {
    const worker = fixture({ prices: { "/paid": 3 } });
    const visitor = await fundedVisitor(worker, 10);
    const first = await worker(request("/paid", visitor, keyed("order-1")));
    expect([first.status, await first.text(), first.headers.get("X-Price"), first.headers.get("Idempotent-Replayed")]).toEqual([200, "paid content", "3", null]);
    const retry = await worker(request("/paid", visitor, keyed("order-1")));
    expect([retry.status, await retry.text(), retry.headers.get("X-Price"), retry.headers.get("Idempotent-Replayed")]).toEqual([200, "paid content", null, "true"]);
    expect(retry.headers.get("X-Balance")).toBe("7");
    expect(await charges(worker, visitor.account)).toEqual([-3]);
    // Another key is another request: charged.
    expect((await worker(request("/paid", visitor, keyed("order-2")))).headers.get("X-Price")).toBe("3");
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 4, ledger: 4 });
  });

  it("an X-Price and ctx.charge: once per key, and the handler still gets the body", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 50);
    const post = (key: string, body: string) => worker(request("/echo?value=5", visitor, keyed(key, { method: "POST", body })));
    const first = await post("k-1", "hello");
    expect([await first.text(), first.headers.get("X-Price")]).toEqual(["POST hello", "5"]);
    const again = await post("k-1", "hello");
    expect([await again.text(), again.headers.get("X-Price"), again.headers.get("Idempotent-Replayed")]).toEqual(["POST hello", null, "true"]);
    const ctxCharge = () => worker(request("/ctx-charge?amount=4", visitor, keyed("k-2")));
    expect(await (await ctxCharge()).json()).toMatchObject({ charged: true, balance: 41 });
    expect(await (await ctxCharge()).json()).toMatchObject({ charged: true, replayed: true, balance: 41 });
    expect(await charges(worker, visitor.account)).toEqual([-5, -4]);
  });

  it("the key with another method, URL or body: 422, nothing charged, the handler not run", async () => {
    const worker = fixture({ prices: { "/paid": 3 } });
    const visitor = await fundedVisitor(worker, 50);
    await worker(request("/echo?value=2", visitor, keyed("k", { method: "POST", body: "a" })));
    for (const [path, init] of [
      ["/echo?value=2", { method: "POST", body: "b" }],
      ["/echo?value=3", { method: "POST", body: "a" }],
      ["/echo?value=2", { method: "PUT", body: "a" }],
      ["/paid", {}],
    ] as const) {
      const response = await worker(request(path, visitor, keyed("k", init)));
      expect(response.status, `${init.method ?? "GET"} ${path}`).toBe(422);
      expect(await response.json()).toMatchObject({ param: "Idempotency-Key", error: expect.stringMatching(/used for another request.*nothing was charged/) });
    }
    expect(await charges(worker, visitor.account)).toEqual([-2]);
  });

  it("twenty concurrent attempts with one key are charged once", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 100);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => worker(request("/echo?value=7", visitor, keyed("burst", { method: "POST", body: "x" })))),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(answers.filter((r) => r.headers.get("X-Price") === "7")).toHaveLength(1);
    expect(answers.filter((r) => r.headers.get("Idempotent-Replayed") === "true")).toHaveLength(19);
    expect(await charges(worker, visitor.account)).toEqual([-7]);
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 93, ledger: 93 });
  });

  it("a failed attempt (5xx given back, or 402) leaves its retry chargeable", async () => {
    const worker = fixture({ prices: { "/fail": 2, "/paid": 3 } });
    const visitor = await fundedVisitor(worker, 4);
    const failed = await worker(request("/fail?status=503", visitor, keyed("f")));
    expect(failed.status).toBe(503);
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 4, ledger: 4 });
    // The same key once the app is back (here: the same route answering 503 again would be
    // given back again; a paid route under that key is another request).
    const again = await worker(request("/fail?status=503", visitor, keyed("f")));
    expect([again.status, again.headers.get("Idempotent-Replayed")]).toEqual([503, null]);
    expect((await ledger(worker.version, visitor.account)).map((r) => r.kind)).toEqual(["credit", "charge", "reversed", "charge", "reversed"]);

    // 402 (the balance was short): nothing charged and nothing recorded; the retry after a
    // top-up is charged.
    expect((await worker(request("/paid", visitor, keyed("p1")))).status).toBe(200); // 4 → 1
    expect((await worker(request("/paid", visitor, keyed("p2")))).status).toBe(402);
    await pay(worker, { reference: visitor.reference, amount: 10 });
    const paid = await worker(request("/paid", visitor, keyed("p2")));
    expect([paid.status, paid.headers.get("X-Price"), paid.headers.get("Idempotent-Replayed")]).toEqual([200, "3", null]);
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 8, ledger: 8 });
  });

  it("keys are per wallet: two wallets may use the same key", async () => {
    const worker = fixture({ prices: { "/paid": 1 } });
    const [a, b] = [await fundedVisitor(worker, 5), await fundedVisitor(worker, 5)];
    for (const visitor of [a, b]) expect((await worker(request("/paid", visitor, keyed("same")))).headers.get("X-Price")).toBe("1");
    expect([await charges(worker, a.account), await charges(worker, b.account)]).toEqual([[-1], [-1]]);
  });

  it.each([["with space"], ["x".repeat(256)], ["\t"]])("refuses the key %j with 400 before anything is charged", async (key) => {
    const worker = fixture({ prices: { "/paid": 1 } });
    const visitor = await fundedVisitor(worker, 5);
    const response = await worker(request("/paid", visitor, { headers: { "Idempotency-Key": key } }));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ param: "Idempotency-Key" });
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 5, rows: 1 });
  });

  it("a body over 1 MiB with a key: 413, nothing charged", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 5);
    const response = await worker(request("/echo?value=1", visitor, keyed("big", { method: "POST", body: "x".repeat(1024 * 1024 + 1) })));
    expect(response.status).toBe(413);
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 5, rows: 1 });
  });
});
