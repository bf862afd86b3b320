// A project made by the 1.0.0 release, used, then upgraded, as its owner would: accounts with
// balances, ledgers, tokens, a refund and the payment index are written by the OLD wallet under
// `wrangler dev` (real workerd, real SQLite Durable Objects, persisted to disk); the project is
// upgraded; the NEW wallet then serves the same storage. Every cent and every account must
// still be there, charges and payments work, balance = ledger sum, and the aggregate converges.
// Then the upgraded project installs, type-checks, passes its own tests and bundles.
import { type ChildProcess, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, cleanupTempDirs, freePort, NODE_22, projectEnv, startInBackground, stopProcess, tempDir, writeOldProject } from "./helpers/index.js";

const MINUTE = 60_000;

describe("a 1.0.0 project with real accounts, upgraded", () => {
  let scratch: string;
  let project: string;
  let env: NodeJS.ProcessEnv;
  let base = "";
  let log = "";
  let worker: ChildProcess | undefined;
  let standIn: ChildProcess | undefined;
  let stripePort = 0;

  const sh = (command: string, timeout = 5 * MINUTE) => {
    const result = spawnSync("sh", ["-c", command], { cwd: project, env, encoding: "utf8", timeout, maxBuffer: 64 * 1024 * 1024 });
    return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
  };
  /** The project's own scripts, as they are at this point (old, then upgraded). */
  const start = async () => {
    standIn = await startInBackground(`npm run stripe-local -- --port ${stripePort}`, project, env, /listening on/, (d) => (log += d));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const flags = `--ip 127.0.0.1 --port ${port} --inspector-port ${await freePort()} --persist-to ${join(scratch, "state")} --show-interactive-dev-session=false`;
    worker = await startInBackground(`npm run dev -- ${flags}`, project, env, /Ready on/, (d) => (log += d));
  };
  const stop = async () => {
    await stopProcess(worker);
    await stopProcess(standIn);
  };
  const json = async (path: string, cookie?: string, init: RequestInit = {}) => {
    const response = await fetch(`${base}${path}`, { ...init, headers: { Accept: "application/json", ...(cookie ? { Cookie: cookie } : {}), ...init.headers } });
    return { status: response.status, body: (await response.json()) as Record<string, any>, setCookie: response.headers.get("Set-Cookie") };
  };
  const visitor = async () => {
    const first = await json("/");
    return { cookie: first.setCookie!.split(";")[0]!, id: first.body.client_reference_id as string };
  };
  const admin = () => ({ Authorization: `Basic ${btoa(`admin:${/^DB_SECRET=(.*)$/m.exec(readFileSync(join(project, ".dev.vars"), "utf8"))![1]}`)}`, "Content-Type": "application/json" });
  const sql = async (db: string, statement: string) => {
    const response = await fetch(`${base}/db/${db}`, { method: "POST", headers: admin(), body: JSON.stringify({ type: "query", id: "q", statement }) });
    const body = (await response.json()) as { result?: { rows: Record<string, any>[] }; error?: string };
    if (!body.result) throw new Error(`${db}: ${statement}: ${JSON.stringify(body)}`);
    return body.result.rows;
  };
  const pay = (id: string, ...args: string[]) => {
    const paid = sh(`npm run --silent pay -- ${id} --url ${base} ${args.join(" ")}`);
    expect(paid.status, paid.output + log).toBe(0);
    return /\b(pi_\w+)\b/.exec(paid.output)?.[1];
  };

  beforeAll(() => {
    scratch = tempDir("stripeflare-upgrade-project-");
    project = join(scratch, "old-api");
    mkdirSync(project);
    writeOldProject(project, "1.0.0", "old-api", { linkNodeModules: false });
    env = projectEnv(scratch, { npm_config_prefer_offline: "true", CI: "true" });
  });

  afterAll(async () => {
    await stop();
    cleanupTempDirs();
  }, MINUTE);

  const before: Record<string, { cookie: string; id: string; account: string; balance: number; rows: unknown[] }> = {};

  it(
    "1.0.0: installs; three visitors pay, spend and get a refund on the old wallet",
    async () => {
      const install = sh("npm install --no-audit --no-fund");
      expect(install.status, install.output).toBe(0);
      expect(sh("npm run --silent pay -- --setup").status).toBe(0);
      stripePort = await freePort();
      const devVars = readFileSync(join(project, ".dev.vars"), "utf8");
      writeFileSync(join(project, ".dev.vars"), devVars.replace(/^STRIPE_API_BASE=.*$/m, `STRIPE_API_BASE=http://127.0.0.1:${stripePort}`));
      await start();

      const ada = await visitor();
      const intent = pay(ada.id, "--card", "visa", "--amount", "500");
      for (let i = 0; i < 3; i++) expect((await json("/charge", ada.cookie, { method: "POST" })).status).toBe(200);
      const refund = sh(`npm run --silent pay -- --refund ${intent} --amount 100 --url ${base}`);
      expect(refund.status, refund.output + log).toBe(0);
      const bob = await visitor();
      pay(bob.id, "--card", "amex", "--amount", "700");
      expect((await json("/charge", bob.cookie, { method: "POST" })).status).toBe(200);
      const cy = await visitor(); // never paid

      for (const [name, v, balance] of [["ada", ada, 397], ["bob", bob, 699], ["cy", cy, 0]] as const) {
        const me = await json("/me", v.cookie);
        expect(me.body.balance ?? 0, name).toBe(balance);
        const statement = await json("/me/transactions", v.cookie);
        // The account id is the cookie token's first half (identity.ts: <account>.<secret>).
        const account = v.cookie.slice(v.cookie.indexOf("=") + 1).split(".")[0]!;
        before[name] = { ...v, account, balance, rows: statement.status === 200 ? statement.body.data : [] };
      }
      expect((before.ada!.rows as { kind: string }[]).map((r) => r.kind)).toEqual(["refund", "charge", "charge", "charge", "topup"]);
      await stop();
    },
    10 * MINUTE,
  );

  it(
    "upgrade: then the new wallet on the same storage keeps every cent and account, and works",
    async () => {
      await stop();
      const upgraded = spawnSync(NODE_22, [BIN, "upgrade"], { cwd: project, env, encoding: "utf8" });
      expect(upgraded.status, upgraded.stdout + upgraded.stderr).toBe(0);
      // The steps it prints, in order: install, the local setup of the new version (its own
      // Payment Link check needs a local STRIPE_PAYMENT_LINK), then run.
      expect(sh("npm install --no-audit --no-fund").status).toBe(0);
      expect(sh("npm run --silent pay -- --setup").status).toBe(0);
      log = ""; // the old wallet's run said its types were stale (STRIPE_API_BASE in .dev.vars); the new one must not
      await start();
      expect(log).not.toMatch(/types might be out of date/);

      for (const name of ["ada", "bob", "cy"]) {
        const was = before[name]!;
        const me = await json("/me", was.cookie);
        expect(me.status, name).toBe(200);
        expect([me.body.balance ?? 0, me.body.registered], name).toEqual([was.balance, was.balance > 0]);
        if (was.rows.length) {
          const statement = await json("/me/transactions", was.cookie);
          expect(statement.body.data.map((r: { id: number; amount: number; balance_after: number }) => [r.id, r.amount, r.balance_after]), name).toEqual(
            (was.rows as { id: number; amount: number; balance_after: number }[]).map((r) => [r.id, r.amount, r.balance_after]),
          );
        }
      }
      // The new wallet charges and credits the old accounts (ada's payment also on her old id).
      const ada = before.ada!;
      expect((await json("/charge", ada.cookie, { method: "POST" })).body).toMatchObject({ charged: 1, balance: 396 });
      pay(ada.id, "--amount", "500");
      expect((await json("/me", ada.cookie)).body.balance).toBe(896);
      // A visitor who had never paid pays now, on the client_reference_id the old wallet showed
      // (a payment link opened before the upgrade): it credits the same account.
      pay(before.cy!.id, "--amount", "300");
      expect((await json("/me", before.cy!.cookie)).body).toMatchObject({ balance: 300, registered: true });

      // Balance = ledger sum in every account; the aggregate converges to them.
      const accounts = [before.ada!.account, before.bob!.account, before.cy!.account];
      const expected: Record<string, number> = {};
      for (const account of accounts) {
        const [user] = await sql(account, "SELECT balance FROM users");
        const [ledger] = await sql(account, "SELECT coalesce(sum(amount), 0) AS total FROM stripeflare_transactions");
        expect(ledger!.total, account).toBe(user!.balance);
        expected[account] = user!.balance;
      }
      expect(expected).toEqual({ [before.ada!.account]: 896, [before.bob!.account]: 699, [before.cy!.account]: 300 });
      let mirrored: Record<string, number> = {};
      for (let i = 0; i < 60; i++) {
        mirrored = Object.fromEntries((await sql("aggregate", "SELECT access_token, balance FROM users")).map((r) => [r.access_token, r.balance]));
        if (accounts.every((a) => mirrored[a] === expected[a])) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(Object.fromEntries(accounts.map((a) => [a, mirrored[a]]))).toEqual(expected);

      // Card ties the old wallet made from webhooks alone (ada's visa) are forgotten: paying
      // with that card and coming back through the redirect logs nobody in to ada's wallet.
      const paidAndBack = async (who: { cookie: string; id: string }, card: string) => {
        const paid = sh(`npm run --silent pay -- ${who.id} --url ${base} --card ${card} --amount 200`);
        expect(paid.status, paid.output + log).toBe(0);
        const back = /open (\S+\/me\/paid\?session_id=cs_\w+)/.exec(paid.output)![1]!;
        const response = await fetch(back, { redirect: "manual", headers: { Cookie: who.cookie } });
        expect(response.status).toBe(303);
        const next = response.headers.get("Set-Cookie");
        return next ? next.split(";")[0]! : who.cookie;
      };
      expect((await sql("index", "SELECT count(*) AS n FROM fingerprints"))[0]!.n).toBe(0);
      const dee = await visitor();
      expect(await paidAndBack(dee, "visa")).toBe(dee.cookie);
      expect((await json("/me", dee.cookie)).body.balance).toBe(200);
      expect((await json("/me", ada.cookie)).body.balance).toBe(896);
      // Login by payment itself works on the old accounts: a card ada's browser brings back is
      // tied to her wallet, and it opens that wallet from another browser.
      expect(await paidAndBack(ada, "mastercard")).toBe(ada.cookie);
      const eve = await visitor();
      const eveNow = await paidAndBack(eve, "mastercard");
      expect(eveNow).not.toBe(eve.cookie);
      expect((await json("/me", eveNow)).body.balance).toBe(896 + 200 + 200);
      await stop();
    },
    10 * MINUTE,
  );

  it(
    "the upgraded project type-checks, passes its own tests and bundles",
    () => {
      const tsc = sh("npx tsc --noEmit -p .");
      expect(tsc.status, tsc.output).toBe(0);
      const test = sh("npm test", 10 * MINUTE);
      expect(test.status, test.output).toBe(0);
      expect(test.output).toMatch(/Tests\s+.*\d+ passed/);
      const dryRun = sh(`npx wrangler deploy --dry-run --outdir ${join(scratch, "bundle")}`);
      expect(dryRun.status, dryRun.output).toBe(0);
      expect(dryRun.output).toMatch(/--dry-run: exiting now/);
    },
    15 * MINUTE,
  );
});
