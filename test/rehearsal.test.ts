// The whole Stripe setup rehearsed offline, as the template README's "Rehearse the whole setup
// offline" section tells a newcomer: the project's own stand-in (`npm run stripe-local`), the
// CLI setting up product, price, link and webhook there, `wrangler dev`, a payment on the link
// the CLI made (`npm run pay`), the balance, a refund. Nothing reaches Stripe or Cloudflare.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, symlinkSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, cleanupTempDirs, freePort, NODE_22, readDevVarsFile, readState, runCli, tempDir } from "./helpers/index.js";

const template = join(import.meta.dirname, "..", "templates", "default");
const MINUTE = 60_000;

function waitForLine(child: ChildProcess, pattern: RegExp, log: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}:\n${log()}`)), 2 * MINUTE);
    const check = () => pattern.test(log()) && (clearTimeout(timer), resolve());
    child.stdout?.on("data", check);
    child.stderr?.on("data", check);
    child.once("exit", (code) => reject(new Error(`exited (${code}) before ${pattern}:\n${log()}`)));
  });
}

describe("rehearsing the Stripe setup offline", () => {
  let scratch: string;
  let project: string;
  let env: NodeJS.ProcessEnv;
  const children: ChildProcess[] = [];
  let base: string;
  let stripeBase: string;
  let log = "";

  const npm = (...args: string[]) => {
    const result = spawnSync("npm", ["run", "--silent", ...args], { cwd: project, env, encoding: "utf8", timeout: MINUTE });
    return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
  };
  const start = (args: string[]) => {
    const child = spawn("npm", ["run", "--silent", ...args], { cwd: project, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d) => (log += d));
    child.stderr!.on("data", (d) => (log += d));
    children.push(child);
    return child;
  };

  beforeAll(async () => {
    expect(existsSync(join(template, "node_modules/wrangler")), "templates/default has its dependencies (npm ci)").toBe(true);
    scratch = tempDir("stripeflare-rehearsal-");
    project = join(scratch, "rehearsed-api");
    env = cleanEnv(scratch, { PATH: [dirname(NODE_22), process.env.PATH].join(delimiter), WRANGLER_SEND_METRICS: "false" }) as NodeJS.ProcessEnv;

    // 1. The stand-in, started as the README says (from the template: the project does not exist yet).
    const stripePort = await freePort();
    stripeBase = `http://127.0.0.1:${stripePort}`;
    const standIn = spawn(NODE_22, ["--experimental-strip-types", "--disable-warning=ExperimentalWarning", "scripts/stripe-local.ts", "--port", String(stripePort)], {
      cwd: template,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    standIn.stdout!.on("data", (d) => (log += d));
    children.push(standIn);
    await waitForLine(standIn, /listening on/, () => log);

    // 2. The CLI against it, with made-up test keys: product, price, payment link and webhook.
    const made = await runCli(["rehearsed-api", "--yes", "--no-install", "--no-git", "--domain", "rehearsed.example.com"], {
      cwd: scratch,
      env: { HOME: scratch, STRIPE_API_BASE: stripeBase, STRIPE_SECRET: "sk_test_rehearsal_0123456789", STRIPE_PUBLISHABLE_KEY: "pk_test_rehearsal_0123456789" },
    });
    expect(made.exitCode, made.all).toBe(0);
    symlinkSync(join(template, "node_modules"), join(project, "node_modules"), "dir");
    // 3. The Worker reads payments from the stand-in too.
    appendFileSync(join(project, ".dev.vars"), `STRIPE_API_BASE=${stripeBase}\n`);

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    start(["dev", "--", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(await freePort()), "--persist-to", join(scratch, "state"), "--show-interactive-dev-session=false"]);
    await waitForLine(children.at(-1)!, /Ready on/, () => log);
    expect(log).not.toMatch(/types might be out of date|Missing required secrets/);
  }, 4 * MINUTE);

  afterAll(() => {
    for (const child of children) {
      try {
        if (child.pid && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
      } catch {}
    }
    cleanupTempDirs();
  });

  it(
    "the CLI's objects live at the stand-in; a local payment on its link credits, a refund debits",
    async () => {
      const state = readState(project).stripe.test;
      const vars = readDevVarsFile(project);
      expect(vars.STRIPE_PAYMENT_LINK).toBe(state.paymentLinkUrl);
      expect(vars.STRIPE_WEBHOOK_SIGNING_SECRET).toMatch(/^whsec_/);

      const first = await fetch(`${base}/me`);
      const cookie = first.headers.get("Set-Cookie")!.split(";")[0]!;
      const { client_reference_id: id } = (await first.json()) as { client_reference_id: string };

      const paid = npm("pay", "--", id, "--url", base, "--card", "visa", "--amount", "500");
      expect(paid.status, paid.output + log).toBe(0);
      expect(paid.output).toMatch(/^Paid \$5\.00 for /m);
      const intent = /\((cs_\w+), (pi_\w+)\)/.exec(paid.output)![2]!;
      const me = async () => (await (await fetch(`${base}/me`, { headers: { Cookie: cookie } })).json()) as { balance: number };
      expect((await me()).balance).toBe(500);

      const refunded = npm("pay", "--", "--refund", intent, "--amount", "200", "--url", base);
      expect(refunded.status, refunded.output + log).toBe(0);
      expect(refunded.output).toMatch(/^Refunded \$2\.00 of ch_\w+/m);
      expect((await me()).balance).toBe(300);
    },
    3 * MINUTE,
  );
});
