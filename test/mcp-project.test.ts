// `create-stripeflare my-tools --template mcp`, as a newcomer follows its README: scaffold
// (--no-stripe), install, its own npm test, a bundle, then `npm run dev` and the MCP client it
// ships (the MCP SDK's client and OAuth helpers), with this test as the person in the browser:
// a local payment, the authorize page, Allow. Real npm, wrangler, workerd; no Stripe.
import { type ChildProcess, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupTempDirs, freePort, projectEnv, readJson, readState, readWranglerConfig, runCli, startInBackground, stopProcess, tempDir } from "./helpers/index.js";

const MINUTE = 60_000;

describe("a project made with --template mcp", () => {
  let scratch: string;
  let project: string;
  let env: NodeJS.ProcessEnv;
  const background: ChildProcess[] = [];
  let log = "";

  const sh = (command: string, timeout = 5 * MINUTE) => {
    const result = spawnSync("sh", ["-c", command], { cwd: project, env, encoding: "utf8", timeout, maxBuffer: 64 * 1024 * 1024 });
    return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
  };

  beforeAll(async () => {
    scratch = tempDir("stripeflare-mcp-");
    project = join(scratch, "my-tools");
    env = projectEnv(scratch, { CI: "true", npm_config_prefer_offline: "true", npm_config_audit: "false", npm_config_fund: "false" });
    const made = await runCli([project, "--template", "mcp", "--no-stripe", "--no-git", "--no-install", "--no-deploy", "--yes"], { cwd: scratch, env: { HOME: scratch } });
    expect(made.exitCode, made.all).toBe(0);
    expect(made.stdout).toMatch(/npm run client/);
  }, 2 * MINUTE);

  afterAll(async () => {
    for (const child of background) await stopProcess(child);
    cleanupTempDirs();
  }, MINUTE);

  it("has the MCP server's files, named for the project, and the shared wallet", () => {
    expect(readJson(join(project, "package.json")).name).toBe("my-tools");
    expect(readWranglerConfig(project).config).toMatchObject({ name: "my-tools", kv_namespaces: [{ binding: "OAUTH_KV" }] });
    expect(readState(project).template).toBe("mcp");
    for (const file of ["src/index.ts", "src/tools.ts", "src/paid-tool.ts", "src/authorize.ts", "src/stripeflare/middleware.ts", "scripts/client.ts", "README.md"]) expect(existsSync(join(project, file)), file).toBe(true);
  });

  it("upgrade --check knows it: current, and only the wallet folder is the wallet's", async () => {
    const check = await runCli(["upgrade", project, "--check"], { cwd: scratch, env: { HOME: scratch } });
    expect(check.exitCode, check.all).toBe(0);
    expect(check.stdout).toMatch(/Stripeflare wallet in src\/stripeflare\/ \(a create-stripeflare mcp project: the wallet folder only\)/);
  });

  it(
    "installs, passes its own npm test and bundles",
    () => {
      const install = sh("npm install", 10 * MINUTE);
      expect(install.status, install.output).toBe(0);
      const test = sh("npm test", 10 * MINUTE);
      expect(test.status, test.output).toBe(0);
      expect(test.output).toMatch(/Tests\s+.*\d+ passed/);
      expect(test.output).not.toMatch(/\d+ failed/);
      const types = sh("npx wrangler types --check");
      expect(types.status, types.output).toBe(0);
      const dryRun = sh(`npx wrangler deploy --dry-run --outdir ${join(scratch, "bundle")}`);
      expect(dryRun.status, dryRun.output).toBe(0);
      expect(dryRun.output).toMatch(/env\.OAUTH_KV/);
    },
    15 * MINUTE,
  );

  it(
    "the README's local loop: pay --setup, dev, a local payment, npm run client authorized on the page, a paid call",
    async () => {
      expect(sh("npm run pay -- --setup").status).toBe(0);
      const stripePort = await freePort();
      const vars = readFileSync(join(project, ".dev.vars"), "utf8");
      writeFileSync(join(project, ".dev.vars"), vars.replace("127.0.0.1:12111", `127.0.0.1:${stripePort}`));
      background.push(await startInBackground(`npm run stripe-local -- --port ${stripePort}`, project, env, /listening on/));
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      background.push(
        await startInBackground(`npm run dev -- --ip 127.0.0.1 --port ${port} --inspector-port ${await freePort()} --persist-to ${join(scratch, "state")} --show-interactive-dev-session=false`, project, env, /Ready on/, (chunk) => (log += chunk)),
      );

      // The person: a wallet in "the browser" (a cookie), topped up with the command the page shows.
      const home = await fetch(`${base}/`, { headers: { Accept: "application/json" } });
      const cookie = home.headers.get("Set-Cookie")!.split(";")[0]!;
      const { client_reference_id: reference } = (await home.json()) as { client_reference_id: string };
      const page = await (await fetch(`${base}/`, { headers: { Cookie: cookie } })).text();
      expect(page).toContain(`npm run pay -- ${reference}`);
      const paid = sh(`npm run pay -- ${reference} --url ${base}`);
      expect(paid.status, paid.output + log).toBe(0);

      // The client: it prints the authorize URL and waits for the callback.
      let out = "";
      const client = await startInBackground(`npm run client -- ${base} --text abc`, project, env, /\/authorize\?\S+/, (chunk) => (out += chunk));
      background.push(client);
      const url = /(http:\/\/127\.0\.0\.1:\d+\/authorize\?\S+)/.exec(out)![1]!;
      const form = await fetch(url, { headers: { Cookie: cookie } });
      expect(await form.text()).toMatch(/Allow npm run client to use paid tools\?[\s\S]*Balance: <strong>\$5\.00/);
      const allowed = await fetch(url, { method: "POST", redirect: "manual", headers: { Cookie: cookie, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded" }, body: "budget=10&days=1" });
      expect(allowed.status, log).toBe(302);
      expect((await fetch(allowed.headers.get("Location")!)).status).toBe(200);
      await new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const poll = setInterval(() => {
          if (/sha256\("abc"\) → /.test(out)) return clearInterval(poll), resolve();
          if (Date.now() - started > 60_000) return clearInterval(poll), reject(new Error(out + log));
        }, 100);
      });
      expect(out).toMatch(/Tools: balance, sha256/);
      expect(out).toMatch(/balance → Balance: 500 cents \(usd\)\. This client's budget: 10 of 10 cents left/);
      expect(out).toMatch(/sha256\("abc"\) → ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad \(balance now 499 cents\)/);
    },
    5 * MINUTE,
  );
});
