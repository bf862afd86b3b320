// A fork that works: a fresh project scaffolded by the built CLI (with --no-stripe, as a user
// without a Stripe account would) installs, passes its own `npm test`, and bundles with
// `npx wrangler deploy --dry-run`. Nothing is mocked: real npm, real wrangler, real workerd.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const cli = join(root, "bin/create-stripeflare.js");
const MINUTE = 60_000;

/** Node 22 (root devDependency `node@22`) first on PATH: wrangler and vitest 5 need it. */
function testEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: [join(root, "node_modules/.bin"), process.env.PATH].join(delimiter),
    // A scratch HOME: the CLI must not find ~/.stripeflare.dev.vars, wrangler no login.
    HOME: home,
    npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME ?? home, ".npm"),
    WRANGLER_SEND_METRICS: "false",
    CI: "true",
  };
  for (const key of ["STRIPE_SECRET", "STRIPE_PUBLISHABLE_KEY", "STRIPE_API_BASE", "CLOUDFLARE_API_TOKEN"]) delete env[key];
  // Variables npm sets for the root's own `npm test` would leak into the project's scripts.
  for (const key of Object.keys(env)) if (key.startsWith("npm_package_") || key === "npm_lifecycle_event") delete env[key];
  return env;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeout: number) {
  const result = spawnSync(cmd, args, { cwd, env, encoding: "utf8", timeout, maxBuffer: 64 * 1024 * 1024 });
  const output = `${result.stdout ?? ""}\n${result.stderr ?? ""}`;
  return { status: result.status, output };
}

describe("a freshly scaffolded project (--no-stripe)", () => {
  let scratch: string;
  let project: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    if (!existsSync(join(root, "dist/index.js"))) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
    scratch = mkdtempSync(join(tmpdir(), "stripeflare-fork-"));
    project = join(scratch, "my-paid-api");
    env = testEnv(scratch);
    const scaffold = run(
      process.execPath,
      [cli, project, "--no-stripe", "--no-git", "--no-install", "--no-deploy", "--yes"],
      scratch,
      env,
      MINUTE,
    );
    expect(scaffold.status, scaffold.output).toBe(0);
  }, 2 * MINUTE);

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("has the contract's files, named for the project", () => {
    const pkg = JSON.parse(readFileSync(join(project, "package.json"), "utf8"));
    expect(pkg.name).toBe("my-paid-api");
    expect(Object.keys(pkg.scripts)).toEqual(expect.arrayContaining(["dev", "deploy", "test", "types", "pay"]));
    expect(readFileSync(join(project, "wrangler.jsonc"), "utf8")).toMatch(/"name":\s*"my-paid-api"/);
    expect(statSync(join(project, ".dev.vars")).mode & 0o777).toBe(0o600);
    const gitignore = readFileSync(join(project, ".gitignore"), "utf8").split(/\r?\n/);
    for (const entry of ["node_modules", ".dev.vars", ".wrangler"]) expect(gitignore).toContain(entry);
    expect(existsSync(join(project, "_gitignore"))).toBe(false);
    const readme = readFileSync(join(project, "README.md"), "utf8");
    for (const step of ["npm run dev", "npm test", "npm run pay", "Stripe setup", "npm run deploy"]) expect(readme).toContain(step);
    expect(readme).toContain("https://deploy.workers.cloudflare.com/?url=");
  });

  it(
    "installs, passes its own npm test and bundles with wrangler deploy --dry-run",
    () => {
      const install = run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], project, env, 10 * MINUTE);
      expect(install.status, install.output).toBe(0);

      const test = run("npm", ["test"], project, env, 10 * MINUTE);
      expect(test.status, test.output).toBe(0);
      expect(test.output).toMatch(/Tests\s+.*\d+ passed/);
      expect(test.output).not.toMatch(/\d+ failed/);

      const dryRun = run("npx", ["wrangler", "deploy", "--dry-run", "--outdir", join(scratch, "bundle")], project, env, 5 * MINUTE);
      expect(dryRun.status, dryRun.output).toBe(0);
      expect(dryRun.output).toMatch(/--dry-run: exiting now/);
      expect(dryRun.output).toMatch(/env\.DORM_NAMESPACE \(DORM\)/);
      expect(existsSync(join(scratch, "bundle/index.js"))).toBe(true);
    },
    25 * MINUTE,
  );
});
