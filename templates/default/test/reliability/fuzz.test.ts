// Property-based fuzz (fast-check) over the two parsers that face the internet: the webhook
// (signature header + body) and identity (Cookie + Authorization). Properties: never a 500,
// and nothing written to any database (payment index, aggregate, the accounts involved, and
// every account a fuzzed token names).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import Stripe from "stripe";
import { encodeReference } from "../../src/stripeflare/identity";
import { books, checkoutEvent, deliver, fixture, ledger, newVisitor, request, runMirror, testEnv, type Worker } from "../helpers";
import { database, dump, fundedVisitor, snapshot } from "./support";

// Runs are bounded so the suite stays fast; FUZZ_RUNS=5000 npx vitest run test/reliability/fuzz.test.ts
// searches harder, and FUZZ_SEED=<seed> replays the seed fast-check printed for a failure.
const RUNS = Number(testEnv.FUZZ_RUNS) || 200;
if (testEnv.FUZZ_SEED) fc.configureGlobal({ seed: Number(testEnv.FUZZ_SEED) });
/** Stripe's largest charge, in the smallest currency unit (eight digits): what the wallet credits at most. */
const STRIPE_MAX = 99_999_999;
const signer = new Stripe(testEnv.STRIPE_SECRET!);
const sign = (payload: string, secret = testEnv.STRIPE_WEBHOOK_SIGNING_SECRET!) =>
  signer.webhooks.generateTestHeaderStringAsync({ payload, secret });

/** Printable ASCII: what a Headers object takes without complaint (it refuses CR, LF and NUL; workerd warns on non-ASCII). */
const headerText = (maxLength = 300) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

/** Small edits of a valid string: flip, drop, insert, duplicate, pad; the result is still header-safe. */
const mutationOf = (value: string) =>
  fc
    .tuple(fc.nat({ max: Math.max(0, value.length - 1) }), fc.constantFrom("flip", "drop", "insert", "cut", "pad", "double", "case"), fc.constantFrom("A", "_", "-", ".", " ", "=", ";", "'", "%"))
    .map(([at, how, char]) => {
      switch (how) {
        case "flip": return value.slice(0, at) + (value[at] === "A" ? "B" : "A") + value.slice(at + 1);
        case "drop": return value.slice(0, at) + value.slice(at + 1);
        case "insert": return value.slice(0, at) + char + value.slice(at);
        case "cut": return value.slice(0, at);
        case "pad": return ` ${value}${char}`;
        case "double": return `${value}${value}`;
        default: return value.slice(0, at) + value.slice(at).toLowerCase();
      }
    });

async function world() {
  const worker = fixture() as Worker & { version: string };
  const owner = await fundedVisitor(worker, 1_000, "pm_card_visa");
  const visitor = await newVisitor(worker);
  await runMirror(worker.version, owner.account);
  const before = await snapshot(worker.version, [owner.account, visitor.account]);
  const unchanged = async () => expect(await snapshot(worker.version, [owner.account, visitor.account])).toEqual(before);
  return { worker, owner, visitor, unchanged };
}

describe("fuzz: webhook parsing", () => {
  it(`arbitrary or damaged Stripe-Signature headers and bodies (${RUNS} runs): never 500, never a write`, async () => {
    const { worker, visitor, unchanged } = await world();
    const event = JSON.stringify(await checkoutEvent({ reference: visitor.reference, amount: 4_200 }));
    const goodHeader = await sign(event);
    // Headers that cannot be a signature of anything, paired with any body (the real event too)...
    const forged = fc.oneof(fc.constant(null), headerText(), fc.string().map((s) => `t=${Math.floor(Date.now() / 1000)},v1=${s}`));
    // ...and real or near-real signatures, paired with any body but the one they sign.
    const otherBody = fc.oneof(mutationOf(event), fc.json(), headerText(2_000), fc.constant("")).filter((b) => b !== event);
    const nearReal = fc.oneof(fc.constant(goodHeader), mutationOf(goodHeader));
    const delivery = fc.oneof(
      fc.tuple(fc.oneof(fc.constant(event), otherBody), forged),
      fc.tuple(otherBody, nearReal),
    );
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(delivery, async ([payload, signature]) => {
        const response = await deliver(worker, payload, { header: signature });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expect(response.status).toBe(400);
      }),
      { numRuns: RUNS },
    );
    await unchanged();
    console.log(`[reliability] fuzz webhook (unsigned/damaged): ${RUNS} runs, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  });

  it(`validly signed events of arbitrary shape, not for this Worker (${RUNS} runs): never 500, never a write`, async () => {
    const { worker, owner, unchanged } = await world();
    const foreign = await encodeReference("another-apps-db-secret-0123456789abcdef", { account: owner.account });
    const anything = fc.anything({ maxDepth: 2, withNullPrototype: false });
    const session = fc.record(
      {
        id: fc.oneof(fc.string(), anything),
        object: fc.constant("checkout.session"),
        payment_status: fc.oneof(fc.constantFrom("paid", "unpaid", "no_payment_required"), anything),
        amount_total: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(500, 0, -1, 2 ** 60), anything),
        currency: fc.oneof(fc.constant("usd"), anything),
        client_reference_id: fc.oneof(fc.constant(foreign), headerText(250), fc.constant(owner.account), anything),
        payment_intent: fc.oneof(fc.string(), anything),
        customer_details: anything,
        charge: fc.oneof(fc.string(), anything),
        amount: fc.oneof(fc.integer(), anything),
        refunds: anything,
        status: fc.oneof(fc.constantFrom("won", "lost", "succeeded"), anything),
      },
      { requiredKeys: [] },
    );
    const type = fc.oneof(
      fc.constantFrom("checkout.session.completed", "checkout.session.async_payment_succeeded", "charge.refunded", "charge.refund.updated", "charge.dispute.created", "charge.dispute.closed"),
      fc.string(),
      anything,
    );
    const eventShape = fc.oneof(
      { weight: 4, arbitrary: fc.record({ id: fc.string(), type, data: fc.oneof({ weight: 4, arbitrary: fc.record({ object: session }) }, anything) }) },
      { weight: 1, arbitrary: fc.jsonValue() },
    );
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(eventShape, async (shape) => {
        const payload = JSON.stringify(shape) ?? "null";
        const response = await deliver(worker, payload, { header: await sign(payload) });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expect([200, 400, 503], payload.slice(0, 300)).toContain(response.status);
      }),
      { numRuns: RUNS },
    );
    await unchanged();
    console.log(`[reliability] fuzz webhook (signed, foreign): ${RUNS} runs, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  });

  it(`validly signed events for this visitor with arbitrary field types (${RUNS} runs): never 500, ledger always = balance`, async () => {
    const worker = fixture() as Worker & { version: string };
    const visitor = await newVisitor(worker);
    const anything = fc.anything({ maxDepth: 2, withNullPrototype: false });
    const text = fc.oneof(fc.string({ maxLength: 40 }), anything);
    // Amounts Stripe can produce (whole, 0 to 99,999,999 of the smallest unit, its largest
    // charge) and ones it cannot: the edges on both sides, numbers past 2^53, and anything.
    const amountTotal = fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 1, max: STRIPE_MAX }) },
      fc.constantFrom(0, 1, STRIPE_MAX, STRIPE_MAX + 1, -1, 2 ** 31, 2 ** 53 - 1, 2 ** 53, 2 ** 60, 1e15, 0.5, NaN),
      fc.double(),
      anything,
    );
    const shape = fc.record({
      amount_total: amountTotal,
      payment_status: fc.oneof(fc.constant("paid"), anything),
      currency: fc.oneof(fc.constant("usd"), anything),
      customer_details: fc.oneof(fc.record({ email: text, name: text }, { requiredKeys: [] }), anything),
      payment_intent: fc.oneof(fc.constant(null), fc.string({ maxLength: 30 }), anything),
    });
    const statuses = new Map<number, number>();
    // No database before the first credit: balance 0, empty ledger.
    const booksNow = async () => (await books(worker.version, visitor.account)) ?? { balance: 0, ledger: 0 };
    await fc.assert(
      // Each run checks its own delivery against the balance before it, so a failure (and
      // fast-check's shrinking of it) points at the one event that was credited wrongly.
      fc.asyncProperty(shape, async (fields) => {
        const before = Number((await booksNow()).balance ?? 0);
        // Stripe's item total (what the wallet credits) equals the total here: no tax, shipping or discount.
        const event = await checkoutEvent({ reference: visitor.reference, session: { ...fields, amount_subtotal: fields.amount_total } });
        const payload = JSON.stringify(event);
        const response = await deliver(worker, payload, { header: await sign(payload) });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expect([200, 503], payload.slice(0, 400)).toContain(response.status);
        const amount = fields.amount_total;
        const valid =
          fields.payment_status === "paid" && fields.currency === "usd" && Number.isSafeInteger(amount) && (amount as number) > 0 && (amount as number) <= STRIPE_MAX;
        const body = await response.text();
        if (!valid) expect(body, payload.slice(0, 400)).toMatch(/^Ignored/); // 200, never a retry
        const credited = valid && response.status === 200;
        if (credited) expect(JSON.parse(body), payload.slice(0, 400)).toMatchObject({ credited: true });
        const { balance, ledger: sum } = await booksNow();
        expect(sum).toBe(balance ?? 0);
        expect(Number(balance ?? 0) - before, payload.slice(0, 400)).toBe(credited ? amount : 0);
      }),
      { numRuns: RUNS },
    );
    const credits = (await ledger(worker.version, visitor.account)).length;
    console.log(`[reliability] fuzz webhook (signed, ours): ${RUNS} runs, ${credits} credits, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  });
});

describe("fuzz: identity parsing", () => {
  it(`arbitrary Cookie and Authorization headers on /me, /me/transactions, a paid route and /rotate-token (${RUNS} runs): never 500, never a write`, async () => {
    const { worker, owner, unchanged } = await world();
    // Anything but the owner's own token, as each header reads it: a Bearer credential is
    // trimmed; a cookie value ends at the first ";" and is trimmed (RFC 6265 §5.2), so
    // `access_token= <token>;` in a cookie is the owner's token, while `Bearer  <token>;` is not.
    const token = fc.oneof(mutationOf(owner.token), headerText(120), fc.constant(`${owner.account}.${"A".repeat(43)}`));
    const cookieToken = token.filter((t) => t.split(";")[0]!.trim() !== owner.token);
    const bearerToken = token.filter((t) => t.trim() !== owner.token);
    const cookie = fc.oneof(
      fc.constant(undefined),
      headerText(),
      cookieToken.map((t) => `access_token=${t}`),
      fc.tuple(headerText(20), cookieToken).map(([junk, t]) => `${junk}; access_token=${t}; access_token=${owner.token.slice(1)}`),
    );
    const authorization = fc.oneof(
      fc.constant(undefined),
      headerText(),
      bearerToken.map((t) => `Bearer ${t}`),
      bearerToken.map((t) => `bearer    ${t}`),
      headerText(40).map((t) => `Basic ${t}`),
    );
    const route = fc.constantFrom(["GET", "/me"], ["GET", "/me/transactions"], ["GET", "/price?value=1"], ["POST", "/rotate-token"], ["GET", "/whoami"]);
    // Nothing of the owner's may show through another identity: their checkout session ids.
    const ownerSecrets = (await ledger(worker.version, owner.account)).map((r) => String(r.reference)).filter((r) => r.startsWith("cs_"));
    expect(ownerSecrets).toHaveLength(1);
    const touched = new Set<string>();
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(cookie, authorization, route, async (cookieHeader, authHeader, [method, path]) => {
        const headers: Record<string, string> = {};
        if (cookieHeader !== undefined) headers.Cookie = cookieHeader;
        if (authHeader !== undefined) headers.Authorization = authHeader;
        for (const value of [cookieHeader, authHeader]) {
          for (const match of (value ?? "").matchAll(/([A-Za-z0-9_-]{21}[AQgw])\.[A-Za-z0-9_-]{43}/g)) touched.add(match[1]!);
        }
        const response = await worker(request(path!, {}, { method, headers }));
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expect([200, 401, 402, 405], `${method} ${path} cookie=${cookieHeader} auth=${authHeader}`).toContain(response.status);
        expect(response.headers.get("X-Balance") ?? "0").toBe("0");
        const text = await response.text();
        for (const secret of [...ownerSecrets, owner.token.split(".")[1]!]) expect(text).not.toContain(secret);
      }),
      { numRuns: RUNS },
    );
    await unchanged();
    // Any account a well-formed fuzzed token named (other than the owner's) still has no database.
    touched.delete(owner.account);
    for (const account of touched) expect(Object.keys(await dump(database(worker.version, `account:${account}`)))).toEqual([]);
    console.log(`[reliability] fuzz identity: ${RUNS} runs, ${touched.size} other accounts named, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  });
});
