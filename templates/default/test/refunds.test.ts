// charge.refunded / charge.refund.updated: the refunded money leaves the account the payment
// credited, each refund once, whatever the number, order or concurrency of deliveries.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DORM } from "../src/stripeflare";
import {
  accountDb,
  books,
  database,
  deliver,
  disputeOfCheckout,
  fixture,
  ledger,
  me,
  newVisitor,
  pay,
  refundCheckout,
  request,
  returnFrom,
  runMirror,
  sqlIn,
  stripeApi,
  stripeEvent,
  userRow,
  type Worker,
} from "./helpers";

async function paidVisitor(worker: Worker, amount: number, paymentMethod = "pm_card_visa") {
  const visitor = await newVisitor(worker);
  const payment = await pay(worker, { reference: visitor.reference, amount, paymentMethod });
  expect(payment.response.status).toBe(200);
  return { ...visitor, payment };
}

describe("charge.refunded", () => {
  it("full refund after spending: the balance goes negative, paid routes answer 402, the ledger names the refund", async () => {
    const worker = fixture();
    const visitor = await paidVisitor(worker, 500);
    expect((await worker(request("/price?value=120", visitor))).status).toBe(200);

    const { refund, event } = await refundCheckout(visitor.payment.event);
    const response = await deliver(worker, event);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ received: true, duplicate: false });

    expect(await books(worker.version, visitor.account)).toEqual({ balance: -120, ledger: -120, rows: 3 });
    expect((await ledger(worker.version, visitor.account))[2]).toMatchObject({
      kind: "refund",
      amount: -500,
      balance_after: -120,
      currency: "usd",
      reference: refund.id,
    });
    expect(refund.id).toMatch(/^re_/);
    expect((await me(worker, visitor)).body.balance).toBe(-120);
    const paid = await worker(request("/price?value=1", visitor));
    expect(paid.status).toBe(402);
    expect(paid.headers.get("X-Balance")).toBe("-120");
  });

  it("two partial refunds debit 300 and 200, each once, even when the later event comes first", async () => {
    const worker = fixture();
    const visitor = await paidVisitor(worker, 1000);
    const first = await refundCheckout(visitor.payment.event, 300);
    const second = await refundCheckout(visitor.payment.event, 200);
    expect(second.charge.amount_refunded).toBe(500);

    // The second event (amount_refunded 500) arrives before the first.
    expect((await deliver(worker, second.event)).status).toBe(200);
    expect((await deliver(worker, first.event)).status).toBe(200);
    expect((await deliver(worker, second.event)).status).toBe(200);

    expect(await books(worker.version, visitor.account)).toEqual({ balance: 500, ledger: 500, rows: 3 });
    const refunds = (await ledger(worker.version, visitor.account)).filter((row) => row.kind === "refund");
    expect(refunds.map((row) => [row.reference, row.amount]).sort()).toEqual(
      [
        [first.refund.id, -300],
        [second.refund.id, -200],
      ].sort(),
    );
  });

  it("the same refund delivered 20 times at once and again later applies once", async () => {
    const worker = fixture();
    const visitor = await paidVisitor(worker, 800);
    const { event } = await refundCheckout(visitor.payment.event, 250);

    const responses = await Promise.all(Array.from({ length: 20 }, () => deliver(worker, event)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ applied: string[] }>));
    expect(bodies.filter((b) => b.applied.length > 0)).toHaveLength(1);
    expect((await deliver(worker, { ...event, id: "evt_redelivered_days_later" })).status).toBe(200);

    expect(await books(worker.version, visitor.account)).toEqual({ balance: 550, ledger: 550, rows: 2 });
  });

  it("a refund of a top-up merged by login by payment debits the account the money went to", async () => {
    const worker = fixture();
    const owner = await paidVisitor(worker, 500, "pm_card_visa");
    await returnFrom(worker, owner, owner.payment.sessionId); // the card now opens the owner's account
    // Same card on a new device, which comes back through the redirect: its 300 moves to the owner.
    const laptop = await newVisitor(worker);
    const laptopPayment = await pay(worker, { reference: laptop.reference, amount: 300, paymentMethod: "pm_card_visa" });
    await returnFrom(worker, laptop, laptopPayment.sessionId);
    expect(await books(worker.version, owner.account)).toMatchObject({ balance: 800 });

    const { refund, event } = await refundCheckout(laptopPayment.event);
    expect((await deliver(worker, event)).status).toBe(200);

    expect(await books(worker.version, owner.account)).toEqual({ balance: 500, ledger: 500, rows: 3 });
    expect((await ledger(worker.version, owner.account))[2]).toMatchObject({ kind: "refund", amount: -300, reference: refund.id });
    // The laptop's own database was emptied into the account and only points at it now.
    expect(await userRow(worker.version, laptop.account)).toMatchObject({ balance: 0, verified_user_access_token: owner.account });
    expect(await books(worker.version, laptop.account)).toEqual({ balance: 0, ledger: 0, rows: 2 });
    expect((await me(worker, laptop)).body.balance).toBe(500);
  });

  it("a payment credited before the index recorded charge ids is found through its checkout session", async () => {
    const worker = fixture();
    const earlier = await paidVisitor(worker, 400, "pm_card_mastercard");
    const visitor = await paidVisitor(worker, 600, "pm_card_discover");
    // What an index written by the previous version looks like: claims, no payments rows.
    const index = database(worker.version, "index");
    await sqlIn(index, "DELETE FROM payments");
    expect(await sqlIn(index, "SELECT * FROM payments")).toEqual([]);

    const { event } = await refundCheckout(visitor.payment.event, 100);
    expect((await deliver(worker, event)).status).toBe(200);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 500, ledger: 500, rows: 2 });
    expect(await books(worker.version, earlier.account)).toEqual({ balance: 400, ledger: 400, rows: 1 });
    // Found once through Stripe, then recorded: the charge and the PaymentIntent map to it again.
    const ids = (await sqlIn(index, "SELECT stripe_id, account FROM payments")).map((row) => [row.stripe_id.slice(0, 3), row.account]);
    expect(ids.sort()).toEqual([
      ["ch_", visitor.account],
      ["pi_", visitor.account],
    ]);
  });

  it("ignores a refund of a charge this Worker never credited (2xx, nothing written)", async () => {
    const worker = fixture();
    const visitor = await paidVisitor(worker, 500);
    // A payment made outside this Worker (another app on the same Stripe account), refunded.
    const intent = await stripeApi("POST", "/v1/payment_intents", { amount: "900", currency: "usd", payment_method: "pm_card_amex", confirm: "true" });
    await stripeApi("POST", "/v1/refunds", { payment_intent: intent.id });
    const charge = await stripeApi("GET", `/v1/charges/${intent.latest_charge}`);
    const foreign = await deliver(worker, stripeEvent("charge.refunded", charge));
    expect(foreign.status).toBe(200);
    expect(await foreign.text()).toMatch(/^Ignored: charge ch_\w+ is not a payment this Worker credited/);
    // A charge Stripe does not know at all.
    const unknown = await deliver(worker, stripeEvent("charge.refunded", { ...charge, id: "ch_unknown", payment_intent: "pi_unknown" }));
    expect(unknown.status).toBe(200);
    expect(await unknown.text()).toContain("not a payment this Worker credited");

    expect(await books(worker.version, visitor.account)).toEqual({ balance: 500, ledger: 500, rows: 1 });
    expect(await sqlIn(database(worker.version, "index"), "SELECT count(*) AS n FROM payments WHERE account <> ?", visitor.account)).toEqual([{ n: 0 }]);
  });

  it("gives a refund back once when it fails later (charge.refund.updated)", async () => {
    const worker = fixture();
    const visitor = await paidVisitor(worker, 500, "pm_card_refundFail");
    const { refund, event } = await refundCheckout(visitor.payment.event, 200);
    await deliver(worker, event);
    expect((await books(worker.version, visitor.account)).balance).toBe(300);

    const failed = await stripeApi("POST", `/local/refunds/${refund.id}/fail`);
    const update = stripeEvent("charge.refund.updated", failed);
    await Promise.all([deliver(worker, update), deliver(worker, update)]);
    await deliver(worker, event); // the old charge.refunded again, its refund still "succeeded" in the event: no new debit
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 500, ledger: 500, rows: 3 });
    expect((await ledger(worker.version, visitor.account))[2]).toMatchObject({ kind: "refund_reversed", amount: 200, reference: refund.id });
  });

  // Issue 9, scenario 10: Stripe retries deliveries for days, so a refund's old "succeeded"
  // snapshot can arrive after it failed. Before the fix it debited the visitor for good.
  it("a stale 'succeeded' snapshot delivered after the refund failed debits nothing, in any order", async () => {
    const worker = fixture();
    const visitor = await paidVisitor(worker, 500, "pm_card_refundFail");
    const { refund, event: refunded } = await refundCheckout(visitor.payment.event, 200);
    const staleUpdate = stripeEvent("charge.refund.updated", refund); // status "succeeded", as it was then
    const failed = await stripeApi("POST", `/local/refunds/${refund.id}/fail`);

    // The failure arrives first, then both old snapshots, twice each.
    await deliver(worker, stripeEvent("charge.refund.updated", failed));
    for (const stale of [refunded, staleUpdate, refunded, staleUpdate]) expect((await deliver(worker, stale)).status).toBe(200);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 500, ledger: 500, rows: 2 });
    expect((await ledger(worker.version, visitor.account))[1]).toMatchObject({ kind: "refund_failed", amount: 0, reference: refund.id });

    // Even if Stripe itself were read before the failure (a snapshot only), a failed refund stays final.
    await deliver(worker, stripeEvent("charge.refund.updated", failed));
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 500, ledger: 500, rows: 2 });
  });

  it("answers 503 and writes nothing when Stripe cannot list the refunds; the retry applies them", async () => {
    const worker = fixture();
    const down = fixture({ version: worker.version }, { STRIPE_API_BASE: "http://127.0.0.1:9" });
    const visitor = await paidVisitor(worker, 500);
    const { event } = await refundCheckout(visitor.payment.event);
    const response = await deliver(down, event);
    expect(response.status).toBe(503);
    expect(await response.text()).toMatch(/could not read the refunds of ch_\w+ from Stripe/);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 500, ledger: 500, rows: 1 });
    expect((await deliver(worker, event)).status).toBe(200);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 0, ledger: 0, rows: 2 });
  });

  it("the aggregate mirror carries the refunded balance", async () => {
    const worker = fixture();
    const visitor = await paidVisitor(worker, 500);
    await runMirror(worker.version, visitor.account);
    const { event } = await refundCheckout(visitor.payment.event, 450);
    await deliver(worker, event);
    expect(await runMirror(worker.version, visitor.account)).toBe(true);
    const [mirrored] = await sqlIn(database(worker.version, "aggregate"), "SELECT balance FROM users WHERE access_token = ?", visitor.account);
    expect(mirrored).toEqual({ balance: 50 });
  });
});

describe("ledger written before refunds existed", () => {
  it("is upgraded in place (rows and ids kept), then takes refunds and dispute holds and releases", async () => {
    const worker = fixture();
    const visitor = await paidVisitor(worker, 700);
    // A second top-up with Stripe's dispute test card: a dispute opens on it.
    const second = await pay(worker, { reference: visitor.reference, amount: 300, paymentMethod: "pm_card_createDispute" });
    await worker(request("/price?value=5", visitor));
    const before = await ledger(worker.version, visitor.account);

    // Rewrite the table as the previous version created it (reference TEXT UNIQUE), and make
    // the object forget it checked its schema, as after a deploy.
    await runInDurableObject(accountDb(worker.version, visitor.account), (instance: DORM, state) => {
      const sql = state.storage.sql;
      sql.exec(`ALTER TABLE stripeflare_transactions RENAME TO old_ledger`);
      sql.exec(`DROP INDEX IF EXISTS stripeflare_transactions_stripe`);
      sql.exec(`DROP INDEX IF EXISTS stripeflare_transactions_kind`);
      sql.exec(`CREATE TABLE stripeflare_transactions (
        id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, amount INTEGER NOT NULL,
        balance_after INTEGER NOT NULL, currency TEXT, reference TEXT UNIQUE, description TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))`);
      const columns = "id, kind, amount, balance_after, currency, reference, description, created_at";
      sql.exec(`INSERT INTO stripeflare_transactions (${columns}) SELECT ${columns} FROM old_ledger`);
      sql.exec(`DROP TABLE old_ledger`);
      (instance as unknown as { schemaKey: string | undefined }).schemaKey = undefined;
    });

    const { refund, event } = await refundCheckout(visitor.payment.event, 100);
    expect((await deliver(worker, event)).status).toBe(200);
    const dispute = await disputeOfCheckout(second.event);
    await deliver(worker, stripeEvent("charge.dispute.created", dispute));
    const won = await stripeApi("POST", `/v1/disputes/${dispute.id}`, { "evidence[uncategorized_text]": "winning_evidence" });
    await deliver(worker, stripeEvent("charge.dispute.closed", won));

    const after = await ledger(worker.version, visitor.account);
    expect(after.slice(0, 3)).toEqual(before);
    expect(after.slice(3)).toMatchObject([
      { id: 4, kind: "refund", amount: -100, reference: refund.id },
      { id: 5, kind: "dispute", amount: -300, reference: dispute.id },
      { id: 6, kind: "dispute_won", amount: 300, reference: dispute.id },
    ]);
    const [table] = await sqlIn(accountDb(worker.version, visitor.account), `SELECT sql FROM sqlite_schema WHERE name = 'stripeflare_transactions'`);
    expect(table!.sql).not.toMatch(/UNIQUE/);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 895, ledger: 895, rows: 6 });
  });
});
