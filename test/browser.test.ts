// The whole local loop in a real browser: a project scaffolded by the built CLI with
// --no-stripe, served by `wrangler dev`, driven by headless Chromium. A visitor sees a zero
// balance, is told how to pay when spending, pays with `npm run pay` (a signed
// checkout.session.completed; the Worker's Stripe reads go to scripts/stripe-local.ts, kept
// running as `npm run stripe-local`), comes back through the Payment Link's redirect, spends
// one cent. A second browser paying with the same card and coming back through its redirect
// logs in to the first wallet. Screenshots: test-results/screenshots/ (see README.md).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, cleanupTempDirs, freePort, NODE_22, runCli, tempDir } from "./helpers";

const root = join(import.meta.dirname, "..");
const template = join(root, "templates/default");
const screenshots = join(root, "test-results/screenshots");
const CHROMIUM = "/usr/bin/chromium";
const MINUTE = 60_000;

async function waitForWorker(url: string, worker: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 2 * MINUTE;
  while (Date.now() < deadline) {
    if (worker.exitCode !== null) throw new Error(`wrangler dev exited (${worker.exitCode}):\n${log()}`);
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not answer at ${url}:\n${log()}`);
}

/** The payment return URL `npm run pay` prints (what Stripe's redirect opens in the paying browser). */
function returnUrl(output: string): string {
  const url = /open (http\S+\/me\/paid\?session_id=cs_\w+)/.exec(output)?.[1];
  expect(url, output).toBeTruthy();
  return url!;
}

async function balanceOf(page: Page): Promise<number> {
  return Number(await page.locator("#balance").getAttribute("data-cents"));
}

describe("the page in headless Chromium against wrangler dev", () => {
  let scratch: string;
  let project: string;
  let env: NodeJS.ProcessEnv;
  let worker: ChildProcess | undefined;
  let standIn: ChildProcess | undefined;
  let workerLog = "";
  let browser: Browser | undefined;
  let base: string;

  /** `npm run pay -- …` in the project, as a developer would type it. */
  function pay(...args: string[]) {
    const result = spawnSync("npm", ["run", "--silent", "pay", "--", ...args], { cwd: project, env, encoding: "utf8", timeout: MINUTE });
    return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
  }

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), "Chromium is installed (apt-get install chromium)").toBe(true);
    expect(existsSync(join(template, "node_modules/wrangler")), "templates/default has its dependencies (npm ci)").toBe(true);
    mkdirSync(screenshots, { recursive: true });

    scratch = tempDir("stripeflare-browser-");
    project = join(scratch, "browser-app");
    // Node 22 first on PATH (wrangler needs it), a scratch HOME, no Stripe keys.
    env = cleanEnv(scratch, { PATH: [dirname(NODE_22), process.env.PATH].join(delimiter), WRANGLER_SEND_METRICS: "false" }) as NodeJS.ProcessEnv;

    const scaffold = await runCli([project, "--no-stripe", "--no-git", "--no-install", "--no-deploy", "--yes"], {
      cwd: scratch,
      env: { HOME: scratch },
    });
    expect(scaffold.exitCode, scaffold.all).toBe(0);
    // Same package-lock.json as the template: reuse its installed dependencies.
    symlinkSync(join(template, "node_modules"), join(project, "node_modules"), "dir");

    // The stand-in gets a free port (the README's default, 12111, may be taken on this machine).
    const stripePort = await freePort();
    writeFileSync(join(project, ".dev.vars"), readFileSync(join(project, ".dev.vars"), "utf8") + `STRIPE_API_BASE=http://127.0.0.1:${stripePort}\n`);
    const before = readFileSync(join(project, ".dev.vars"), "utf8");
    const setup = pay("--setup");
    expect(setup.status, setup.output).toBe(0);
    const devVars = readFileSync(join(project, ".dev.vars"), "utf8");
    // Local-only values where they were empty; everything else (DB_SECRET, comments, our
    // STRIPE_API_BASE) kept, and the file stays private.
    expect(devVars).toMatch(/^STRIPE_WEBHOOK_SIGNING_SECRET=whsec_\S{20,}$/m);
    expect(devVars).toMatch(/^STRIPE_SECRET=sk_test_stripeflare_local_stand_in$/m);
    expect(devVars).toContain(`STRIPE_API_BASE=http://127.0.0.1:${stripePort}\n`);
    expect(devVars).toContain(/^DB_SECRET=.*$/m.exec(before)![0]);
    expect(statSync(join(project, ".dev.vars")).mode & 0o777).toBe(0o600);
    const again = pay("--setup");
    expect(again.output).toContain("ready for local payments");
    expect(readFileSync(join(project, ".dev.vars"), "utf8")).toBe(devVars);

    // The stand-in keeps running, as `npm run stripe-local` would: the Worker reads each
    // session from it again when the paying browser comes back through the redirect.
    standIn = spawn("node", ["scripts/stripe-local.ts", "--port", String(stripePort)], { cwd: project, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    await new Promise<void>((resolve, reject) => {
      standIn!.stdout!.on("data", (d) => String(d).includes("listening") && resolve());
      standIn!.once("exit", (code) => reject(new Error(`stripe-local exited (${code})`)));
    });

    const port = await freePort();
    const inspectorPort = await freePort();
    base = `http://localhost:${port}`;
    // `npm run dev`, as the README says: it passes the local-only STRIPE_API_BASE that
    // `wrangler dev` alone no longer loads (wrangler.jsonc's secrets.required).
    worker = spawn(
      "npm",
      ["run", "dev", "--", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort), "--persist-to", join(scratch, "state"), "--show-interactive-dev-session=false"],
      { cwd: project, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    worker.stdout!.on("data", (d) => (workerLog += d));
    worker.stderr!.on("data", (d) => (workerLog += d));
    await waitForWorker(`http://127.0.0.1:${port}/`, worker, () => workerLog);
    // Issue 10, item 8: a fresh project's `npm run dev` has no stale-types or missing-secret line.
    expect(workerLog).not.toMatch(/types might be out of date|Missing required secrets/);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
  }, 4 * MINUTE);

  afterAll(async () => {
    await browser?.close();
    if (standIn?.pid && standIn.exitCode === null) process.kill(-standIn.pid, "SIGTERM");
    if (worker?.pid && worker.exitCode === null) {
      try {
        process.kill(-worker.pid, "SIGTERM"); // wrangler and its workerd child
      } catch {}
      await new Promise((r) => setTimeout(r, 500));
    }
    cleanupTempDirs();
  });

  it(
    "shows a zero balance, tells how to pay, credits a local payment and spends one cent",
    async () => {
      const page = await browser!.newPage();
      const first = await page.goto(base + "/");
      expect(first?.status()).toBe(200);
      expect(first?.headers()["cache-control"]).toBe("private, no-store");
      expect(await balanceOf(page)).toBe(0);
      expect(await page.locator("#login").textContent()).toContain("Login by payment");
      await page.screenshot({ path: join(screenshots, "1-new-visitor.png"), fullPage: true });

      // Spending with an empty wallet: 402, and the page says how to pay.
      const [refused] = await Promise.all([page.waitForNavigation(), page.locator("#spend").click()]);
      expect(refused?.status()).toBe(402);
      expect((await page.locator("h1").textContent())?.trim()).toBe("Payment required");
      expect(await balanceOf(page)).toBe(0);
      await page.screenshot({ path: join(screenshots, "2-payment-required.png"), fullPage: true });

      // The local payment command, as the page shows it on localhost: whole on screen, and copyable.
      await page.goto(base + "/");
      await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
      await page.locator("#copy-pay").click();
      await expect.poll(() => page.locator("#copy-pay").textContent()).toBe("Copied");
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe((await page.locator("#local-pay").textContent())!.trim());
      const box = await page.locator("#local-pay").boundingBox();
      expect(box!.width).toBeLessThanOrEqual(page.viewportSize()!.width);
      const command = (await page.locator("#local-pay").textContent())!.trim();
      const id = /^npm run pay -- ([A-Za-z0-9_-]{1,200})$/.exec(command)?.[1];
      expect(id, command).toBeTruthy();
      const paid = pay(id!, "--url", base, "--card", "visa", "--amount", "500");
      expect(paid.status, paid.output + workerLog).toBe(0);
      expect(paid.output).toMatch(/^Paid \$5\.00 for /m); // money as people read it, not "500 usd"

      // Stripe's redirect brings the browser that paid back (303 to /): the card is now its.
      await page.goto(returnUrl(paid.output));
      expect(new URL(page.url()).pathname).toBe("/");
      expect(await balanceOf(page)).toBe(500);
      expect(await page.locator("#account").textContent()).toContain("Signed in by payment");
      await page.screenshot({ path: join(screenshots, "3-after-payment.png"), fullPage: true });

      await Promise.all([page.waitForURL(/\/\?spent=1$/), page.locator("#spend").click()]);
      expect(await balanceOf(page)).toBe(499);
      expect((await page.locator("#notice").textContent())?.trim()).toBe("Spent $0.01.");
      // Issue 10: what people read is money in the link's currency; data-cents keeps the count.
      expect((await page.locator("#balance").textContent())?.trim()).toBe("$4.99");
      await page.screenshot({ path: join(screenshots, "4-after-spending.png"), fullPage: true });

      // Login by payment: a second browser (another device) pays with the same card and
      // finds the first wallet, credited.
      const other = await browser!.newContext();
      const device = await other.newPage();
      await device.goto(base + "/");
      expect(await balanceOf(device)).toBe(0);
      const otherId = /-- (\S+)$/.exec((await device.locator("#local-pay").textContent())!.trim())![1]!;
      expect(otherId).not.toBe(id);
      const again = pay(otherId, "--url", base, "--card", "visa", "--amount", "300");
      expect(again.status, again.output + workerLog).toBe(0);
      // Paid, but not back yet: the device has its own 300 and is nobody else.
      await device.reload();
      expect(await balanceOf(device)).toBe(300);
      await device.goto(returnUrl(again.output));
      expect(await balanceOf(device), workerLog).toBe(799);
      await device.screenshot({ path: join(screenshots, "5-login-by-payment.png"), fullPage: true });
      await page.reload();
      expect(await balanceOf(page)).toBe(799);
      await other.close();
    },
    4 * MINUTE,
  );

  it("refuses to send a local payment anywhere but loopback", () => {
    const refused = pay("abc", "--url", "https://my-api.example.workers.dev");
    expect(refused.status).not.toBe(0);
    expect(refused.output).toMatch(/refusing to send a test payment/);
  });

  it("rejects an event signed with any other secret: 400 and no credit", async () => {
    const page = await browser!.newPage();
    await page.goto(base + "/");
    const id = /-- (\S+)$/.exec((await page.locator("#local-pay").textContent())!.trim())![1]!;
    const devVarsPath = join(project, ".dev.vars");
    const original = readFileSync(devVarsPath, "utf8");
    try {
      // pay.ts signs with whatever .dev.vars says; the running Worker still has the old secret.
      writeFileSync(devVarsPath, original.replace(/^STRIPE_WEBHOOK_SIGNING_SECRET=.*$/m, "STRIPE_WEBHOOK_SIGNING_SECRET=whsec_not_the_workers_secret"));
      const forged = pay(id, "--url", base);
      expect(forged.status).not.toBe(0);
      expect(forged.output).toMatch(/\b400\b/);
    } finally {
      writeFileSync(devVarsPath, original);
    }
    await page.reload();
    expect(await balanceOf(page)).toBe(0);
    await page.close();
  });
});
