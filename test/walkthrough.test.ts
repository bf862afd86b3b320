// The newcomer's walkthrough, in one file, commands taken from the READMEs themselves so the
// text and the product cannot drift apart:
//   1. the root README's first screen: command 1 makes a project (--no-stripe) beside the clone;
//   2. the generated project's README, "Run it locally": install, `pay -- --setup`, `dev`;
//   3. "A payment, locally": the command the page shows, a spend, a refund;
//   4. "Rehearse the whole setup offline": the CLI makes the four Stripe objects at the project's
//      own stand-in, then a payment on that link and a partial refund;
//   5. nothing in all that output reads as an error to a newcomer.
// The only changes to the READMEs' commands: the project goes to a scratch folder instead of
// ../my-api, `npx create-stripeflare` is this checkout's bin, and ports are free ones (the
// README's own advice when 12111 or 8787 is taken). Real npm, wrangler, workerd; no Stripe.
import { type ChildProcess, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, cleanupTempDirs, freePort, projectEnv, readDevVarsFile, readState, ROOT, startInBackground, stopProcess, tempDir } from "./helpers/index.js";

const MINUTE = 60_000;

/** The shell commands of the first ```sh block after `heading` (comments dropped, `\` lines joined). */
function shBlock(markdown: string, heading?: string): string[] {
  const from = heading ? markdown.indexOf(`\n${heading}\n`) : 0;
  if (from < 0) throw new Error(`no heading "${heading}"`);
  const block = /```sh\n([\s\S]*?)```/.exec(markdown.slice(from))![1]!;
  return block
    .replace(/\\\n\s*/g, "")
    .split("\n")
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .filter((line) => line && !line.startsWith("#"));
}

describe("the newcomer's walkthrough, as the READMEs tell it", () => {
  let scratch: string;
  let project: string;
  let env: NodeJS.ProcessEnv;
  let base: string;
  let stripePort: number;
  let transcript = ""; // everything a newcomer would have seen, for step 5
  const background: ChildProcess[] = [];
  let worker: ChildProcess | undefined;
  let workerLog = "";

  /** A README command in a shell, as typed; its output joins the transcript. */
  const sh = (command: string, cwd = project, timeout = 5 * MINUTE) => {
    const result = spawnSync("sh", ["-c", command], { cwd, env, encoding: "utf8", timeout, maxBuffer: 64 * 1024 * 1024 });
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
    transcript += `$ ${command}\n${output}`;
    return { status: result.status, output };
  };

  /** A long-running README command (stand-in, dev server), until `ready` shows in its output. */
  const startBackground = async (command: string, ready: RegExp, onLog: (chunk: string) => void) => {
    const child = await startInBackground(command, project, env, ready, onLog);
    background.push(child);
    return child;
  };
  const stop = stopProcess;

  const startDev = async () => {
    await stop(worker);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const flags = `--ip 127.0.0.1 --port ${port} --inspector-port ${await freePort()} --persist-to ${join(scratch, "state")} --show-interactive-dev-session=false`;
    worker = await startBackground(`npm run dev -- ${flags}`, /Ready on/, (chunk) => (workerLog += chunk));
  };

  const getJson = async (path: string, cookie: string, init: RequestInit = {}) =>
    (await (await fetch(`${base}${path}`, { ...init, headers: { Accept: "application/json", Cookie: cookie, ...init.headers } })).json()) as Record<string, any>;

  beforeAll(() => {
    scratch = tempDir("stripeflare-walkthrough-");
    project = join(scratch, "my-api");
    env = projectEnv(scratch, { npm_config_prefer_offline: "true", npm_config_audit: "false", npm_config_fund: "false" });
  });

  afterAll(async () => {
    await stop(worker);
    for (const child of background) await stop(child);
    cleanupTempDirs();
  }, MINUTE);

  it(
    "1. the root README's command 1 makes the project beside the clone, installed and committed",
    () => {
      const [scaffold, testAll] = shBlock(readFileSync(join(ROOT, "README.md"), "utf8"));
      expect(scaffold).toBe("npm install && node bin/create-stripeflare.js ../my-api --no-stripe --yes");
      expect(testAll).toBe("npm install && npm test");
      // `npm install` in the clone is what CI did before this run (command 2 starts with it too).
      const made = sh(scaffold.replace(/^npm install && /, "").replace("../my-api", project), ROOT);
      expect(made.status, made.output).toBe(0);
      expect(existsSync(join(project, "node_modules", "wrangler"))).toBe(true);
      expect(spawnSync("git", ["log", "--oneline"], { cwd: project, encoding: "utf8" }).stdout).toMatch(/\w+ /);
      expect(made.output).toMatch(/npm run dev/);
    },
    10 * MINUTE,
  );

  it(
    "2. the project's README, Run it locally: install, pay --setup, dev",
    async () => {
      const readme = readFileSync(join(project, "README.md"), "utf8");
      const loop = shBlock(readme, "## Run it locally");
      expect(loop).toEqual(["npm install", "npm run pay -- --setup", "npm run dev"]);
      for (const command of loop.slice(0, 2)) {
        const result = sh(command);
        expect(result.status, `${command}\n${result.output}`).toBe(0);
      }
      // Refunds need the stand-in kept running (README: `npm run stripe-local`, and a free port
      // in STRIPE_API_BASE when 12111 is taken; here it always gets a free one).
      stripePort = await freePort();
      const devVars = readFileSync(join(project, ".dev.vars"), "utf8");
      expect(devVars).toContain("STRIPE_API_BASE=http://127.0.0.1:12111\n");
      writeFileSync(join(project, ".dev.vars"), devVars.replace("127.0.0.1:12111", `127.0.0.1:${stripePort}`));
      await startBackground(`npm run stripe-local -- --port ${stripePort}`, /listening on/, (chunk) => (transcript += chunk));
      await startDev();
      expect(workerLog).not.toMatch(/types might be out of date|Missing required secrets/);
    },
    5 * MINUTE,
  );

  it(
    "3. a payment, locally: the command the page shows credits $5.00; a spend; a refund",
    async () => {
      const first = await fetch(`${base}/`, { headers: { Accept: "application/json" } });
      const cookie = first.headers.get("Set-Cookie")!.split(";")[0]!;
      const home = (await first.json()) as { balance: number; currency: string; local_payment: string };
      expect([home.balance, home.currency]).toEqual([0, "usd"]);
      expect(home.local_payment).toMatch(/^npm run pay -- \S{20,}$/);

      const paid = sh(`${home.local_payment} --url ${base}`);
      expect(paid.status, paid.output + workerLog).toBe(0);
      expect(paid.output).toMatch(/^Paid \$5\.00 for /m);
      const intent = /\((cs_\w+), (pi_\w+)\)/.exec(paid.output)![2]!;
      expect((await getJson("/", cookie)).balance).toBe(500);

      // The README's curl: POST /charge with the cookie.
      const spent = await getJson("/charge", cookie, { method: "POST" });
      expect(spent).toMatchObject({ charged: 1, balance: 499, currency: "usd" });

      const refunded = sh(`npm run pay -- --refund ${intent} --amount 100 --url ${base}`);
      expect(refunded.status, refunded.output + workerLog).toBe(0);
      expect(refunded.output).toMatch(/^Refunded \$1\.00 of ch_\w+/m);
      expect((await getJson("/", cookie)).balance).toBe(399);
      const statement = await getJson("/me/transactions", cookie);
      expect(statement.data.map((row: { kind: string }) => row.kind)).toEqual(["refund", "charge", "topup"]);
    },
    5 * MINUTE,
  );

  it(
    "3b. agents that pay by themselves: npm run agent, then mppx's own command line, against npm run dev",
    async () => {
      const readme = readFileSync(join(project, "README.md"), "utf8");
      const local = shBlock(readme, "### Agents that pay by themselves (MPP)");
      expect(local).toEqual(["npm run pay -- --setup", "npm run stripe-local", "npm run dev", "npm run agent"]);
      // --setup in step 2 named a local profile, and npm run dev passed it to the Worker.
      expect(readDevVarsFile(project).STRIPE_NETWORK_ID).toBe("profile_local_stand_in");
      const agent = sh(`npm run agent -- ${base}`);
      expect(agent.status, agent.output + workerLog).toBe(0);
      expect(agent.output).toMatch(/paid the challenge: 500 usd \(smallest unit\) with spt_\w+/);
      expect(agent.output).toMatch(/served 200; Payment-Receipt pi_\w+; balance 499; token in X-Access-Token/);
      expect(agent.output).toMatch(/^ {2}200; balance 498$/m);
      expect(agent.output).toMatch(/sub-agent call 3: 402\n.*spent 2 of its 2 cents/);

      // A client nobody here wrote: mppx's CLI pays the 402 and shows the receipt.
      const [stock] = shBlock(readme, "or with `mppx`'s own command line as the agent:");
      const command = stock!.replaceAll("127.0.0.1:12111", `127.0.0.1:${stripePort}`).replace("http://localhost:8787", base);
      const paid = sh(command);
      expect(paid.status, paid.output + workerLog).toBe(0);
      expect(paid.output).toMatch(/^HTTP\/1\.1 402 Payment Required$/m);
      expect(paid.output).toMatch(/^www-authenticate: Payment id="[\w-]+", realm="127\.0\.0\.1:\d+", method="stripe", intent="charge"/m);
      expect(paid.output).toMatch(/^HTTP\/1\.1 200 OK$/m);
      expect(paid.output).toMatch(/^payment-receipt: [\w-]+$/m);
      expect(paid.output).toMatch(/^x-access-token: [\w-]{22}\.[\w-]{43}$/m);
      expect(paid.output).toMatch(/"charged": 1,\s+"balance": 499/);
    },
    5 * MINUTE,
  );

  it(
    "4. rehearse the whole setup offline: the CLI's four objects at the stand-in, then pay and refund on its link",
    async () => {
      const readme = readFileSync(join(project, "README.md"), "utf8");
      const steps = shBlock(readme, "### Rehearse the whole setup offline");
      expect(steps[0]).toBe("npm run stripe-local"); // running since step 2, on its free port
      const stand = `http://127.0.0.1:${stripePort}`;
      const setup = steps[1]!.replaceAll("http://127.0.0.1:12111", stand).replace("npx create-stripeflare", `node ${BIN}`);
      expect(setup).toMatch(/^STRIPE_API_BASE=\S+ STRIPE_SECRET=sk_test_rehearsal STRIPE_PUBLISHABLE_KEY=pk_test_rehearsal node \S+ \. --domain my-api\.example\.com --yes$/);
      // The dev server is stopped first, as the README's terminal 2 is restarted afterwards: the
      // CLI rewrites wrangler.jsonc, and a wrangler killed mid-rebuild reports a failed build.
      await stop(worker);
      worker = undefined;
      const made = sh(setup);
      expect(made.status, made.output).toBe(0);
      const state = readState(project).stripe.test;
      expect(state).toMatchObject({ productId: expect.stringMatching(/^prod_/), priceId: expect.stringMatching(/^price_/), webhookEndpointId: expect.stringMatching(/^we_/) });
      const vars = readDevVarsFile(project);
      expect(vars.STRIPE_PAYMENT_LINK).toBe(state.paymentLinkUrl);
      expect(vars.STRIPE_API_BASE).toBe(stand); // kept, so the README's `echo … >> .dev.vars` is not needed again
      expect(steps[2]).toMatch(/^echo STRIPE_API_BASE=\S+ >> \.dev\.vars$/);
      expect(steps[3]).toBe("npm run dev");
      await startDev(); // .dev.vars changed: a new `npm run dev`, as the README's terminal 2

      const first = await fetch(`${base}/`, { headers: { Accept: "application/json" } });
      const cookie = first.headers.get("Set-Cookie")!.split(";")[0]!;
      const { client_reference_id: id, paymentLink } = (await first.json()) as { client_reference_id: string; paymentLink: string };
      expect(paymentLink.startsWith(state.paymentLinkUrl)).toBe(true);
      const paid = sh(`${steps[4]!.replace("<client_reference_id>", id)} --url ${base}`);
      expect(paid.status, paid.output + workerLog).toBe(0);
      const intent = /\((cs_\w+), (pi_\w+)\)/.exec(paid.output)![2]!;
      expect((await getJson("/", cookie)).balance).toBe(500);
      const refunded = sh(`${steps[5]!.replace("<pi_…>", intent)} --url ${base}`);
      expect(refunded.status, refunded.output + workerLog).toBe(0);
      expect(refunded.output).toMatch(/^Refunded \$2\.00 of ch_\w+/m);
      expect((await getJson("/", cookie)).balance).toBe(300);
    },
    5 * MINUTE,
  );

  it("5. nothing in the whole walkthrough reads as an error", () => {
    // wrangler dev asks workers.cloudflare.com for a Request.cf object; this machine is offline,
    // so it says so (and falls back). That is the network here, not the product.
    const offline = /Unable to fetch the `Request\.cf` object|getaddrinfo ENOTFOUND workers\.cloudflare\.com|^\s+at .*(GetAddrInfoReqWrap|async_hooks)/;
    const alarming = /\b(error|ERR!|warn(ing)?|fail(ed|ure)?|uncaught|exception|deprecated)\b|✘|▲/i;
    // Command lines are not output: ours ("$ …") and npm's echo of a script ("> …").
    const lines = `${transcript}\n${workerLog}`.split("\n").filter((line) => !/^[$>] /.test(line) && !offline.test(line));
    expect(lines.filter((line) => alarming.test(line))).toEqual([]);
  });
});
