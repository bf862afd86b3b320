// A fork that works: a fresh project scaffolded by the built CLI (with --no-stripe, as a user
// without a Stripe account would) installs, passes its own `npm test`, and bundles with
// `npx wrangler deploy --dry-run`. Nothing is mocked: real npm, real wrangler, real workerd.
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupTempDirs, fileMode, NODE_20, NODE_22, projectEnv, readJson, readWranglerConfig, runCli, tempDir } from "./helpers";

const MINUTE = 60_000;

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeout: number) {
  const result = spawnSync(cmd, args, { cwd, env, encoding: "utf8", timeout, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, output: `${result.stdout ?? ""}\n${result.stderr ?? ""}` };
}

describe("a freshly scaffolded project (--no-stripe)", () => {
  let scratch: string;
  let project: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    scratch = tempDir("stripeflare-fork-");
    project = join(scratch, "my-paid-api");
    env = projectEnv(scratch, { CI: "true" });
    const scaffold = await runCli([project, "--no-stripe", "--no-git", "--no-install", "--no-deploy", "--yes"], {
      cwd: scratch,
      env: { HOME: scratch },
    });
    expect(scaffold.exitCode, scaffold.all).toBe(0);
  }, 2 * MINUTE);

  afterAll(() => cleanupTempDirs());

  it("has the contract's files, named for the project", () => {
    const pkg = readJson(join(project, "package.json"));
    expect(pkg.name).toBe("my-paid-api");
    expect(Object.keys(pkg.scripts)).toEqual(expect.arrayContaining(["dev", "deploy", "test", "types", "pay"]));
    expect(readWranglerConfig(project).config.name).toBe("my-paid-api");
    expect(fileMode(join(project, ".dev.vars"))).toBe(0o600);
    const gitignore = readFileSync(join(project, ".gitignore"), "utf8").split(/\r?\n/);
    for (const entry of ["node_modules", ".dev.vars", ".wrangler"]) expect(gitignore).toContain(entry);
    expect(existsSync(join(project, "_gitignore"))).toBe(false);
    const readme = readFileSync(join(project, "README.md"), "utf8");
    for (const step of ["npm run dev", "npm test", "npm run pay", "Stripe setup", "npm run deploy"]) expect(readme).toContain(step);
    expect(readme).toContain("https://deploy.workers.cloudflare.com/?url=");
  });

  it(
    "installs, passes its own npm test and bundles with wrangler deploy --dry-run",
    async () => {
      const install = run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], project, env, 10 * MINUTE);
      expect(install.status, install.output).toBe(0);

      const test = run("npm", ["test"], project, env, 10 * MINUTE);
      expect(test.status, test.output).toBe(0);
      expect(test.output).toMatch(/Tests\s+.*\d+ passed/);
      expect(test.output).not.toMatch(/\d+ failed/);
      // Issue 10: a passing run reads as one: no runtime reports of the faults the tests make on
      // purpose, no source-map warnings about dependencies (this is a first, cold run).
      expect(test.output).not.toMatch(/uncaught exception|Sourcemap for|Connection refused/);

      // The local payment command runs in the fresh install (its imports resolve there).
      const payHelp = run("npm", ["run", "--silent", "pay", "--", "--help"], project, env, MINUTE);
      expect(payHelp.status, payHelp.output).toBe(0);
      expect(payHelp.output).toContain("checkout.session.completed");

      // Issue 10, first run: on a Node wrangler cannot use, every script of the project stops at
      // once with one line naming the version it needs (not a bad-option error or a wrangler crash).
      const node20 = { ...env, PATH: [dirname(NODE_20), ...(env.PATH ?? "").split(delimiter).filter((dir) => dir !== dirname(NODE_22))].join(delimiter) };
      for (const script of ["dev", "test", "deploy", "types", "pay", "stripe-local"]) {
        const old = run("npm", ["run", "--silent", script], project, node20, MINUTE);
        expect(old.status, `${script}: ${old.output}`).not.toBe(0);
        expect(old.output.trim().split("\n"), script).toEqual([expect.stringMatching(/^This project needs Node 22\.12 or newer .*this is Node 20\.\d+\.\d+\. Install Node 22 or newer/)]);
      }

      // Issue 10, item 8: the committed worker-configuration.d.ts is what `wrangler types` makes
      // here, by wrangler's own check, even with the local-only STRIPE_API_BASE that
      // `npm run pay -- --setup` adds to .dev.vars (secrets.required names the typed secrets).
      appendFileSync(join(project, ".dev.vars"), "STRIPE_API_BASE=http://127.0.0.1:12111\n");
      const types = run("npx", ["wrangler", "types", "--check"], project, env, 2 * MINUTE);
      expect(types.status, types.output).toBe(0);
      expect(types.output).toMatch(/up to date/);
      // Another currency (a rerun with --currency writes vars.CURRENCY) leaves the types as they are.
      const rerun = await runCli([project, "--no-stripe", "--no-git", "--no-install", "--no-deploy", "--yes", "--currency", "eur"], { cwd: scratch, env: { HOME: scratch } });
      expect(rerun.exitCode, rerun.all).toBe(0);
      expect(readWranglerConfig(project).config.vars).toEqual({ CURRENCY: "eur", TOP_UP_AMOUNT: "500", STRIPE_NETWORK_ID: "" });
      const eurTypes = run("npx", ["wrangler", "types", "--check"], project, env, 2 * MINUTE);
      expect(eurTypes.status, eurTypes.output).toBe(0);
      const declared = /interface __BaseEnv_Env \{([^}]*)\}/.exec(readFileSync(join(project, "worker-configuration.d.ts"), "utf8"))![1]!;
      expect(declared.match(/^\s*(\w+):/gm)!.map((line) => line.trim().slice(0, -1)).sort()).toEqual(
        ["CURRENCY", "DB_SECRET", "DORM_NAMESPACE", "STRIPE_NETWORK_ID", "STRIPE_PAYMENT_LINK", "STRIPE_PUBLISHABLE_KEY", "STRIPE_SECRET", "STRIPE_WEBHOOK_SIGNING_SECRET", "TOP_UP_AMOUNT"],
      );

      const dryRun = run("npx", ["wrangler", "deploy", "--dry-run", "--outdir", join(scratch, "bundle")], project, env, 5 * MINUTE);
      expect(dryRun.status, dryRun.output).toBe(0);
      expect(dryRun.output).toMatch(/--dry-run: exiting now/);
      expect(dryRun.output).toMatch(/env\.DORM_NAMESPACE \(DORM\)/);
      expect(existsSync(join(scratch, "bundle/index.js"))).toBe(true);
    },
    25 * MINUTE,
  );
});
