// The published package, not the repository: npm pack, unpack, scaffold from the tarball.
// npm never ships files named .gitignore, so this is where a missing _gitignore would show.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { cleanEnv, cleanupTempDirs, NODE_22, readDevVarsFile, ROOT, startStripeStandIn, tempDir } from "./helpers/index.js";

afterAll(() => cleanupTempDirs());

describe("npm package", () => {
  it("ships bin, dist and the template (with _gitignore, without local state) and scaffolds from the tarball", async () => {
    const out = tempDir();
    const npmEnv = { ...process.env, npm_config_update_notifier: "false" };
    // --ignore-scripts: no prepack rebuild here, other test files are running dist/ right now
    // (globalSetup built it).
    const packArgs = ["pack", "--json", "--ignore-scripts", "--pack-destination", out];
    const [packed] = JSON.parse(execFileSync("npm", packArgs, { cwd: ROOT, encoding: "utf8", env: npmEnv }));
    const files: string[] = packed.files.map((f: { path: string }) => f.path);
    expect(files).toContain("bin/create-stripeflare.js");
    expect(files).toContain("dist/index.js");
    expect(files).toContain("templates/default/_gitignore");
    expect(files).toContain("templates/default/wrangler.jsonc");
    for (const file of files) expect(file).not.toMatch(/(^|\/)(node_modules|\.wrangler|\.dev\.vars|test-results|\.stripeflare\.json)(\/|$)/);
    expect(files.some((f) => f.startsWith("src/") || f.startsWith("test/"))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    // Everything is bundled: installing the CLI installs nothing else.
    expect(manifest.dependencies ?? {}).toEqual({});

    execFileSync("tar", ["-xzf", join(out, packed.filename), "-C", out]);
    const pkg = join(out, "package");
    // No node_modules next to the unpacked package: it must run on its own, as npx would run it.
    const cwd = tempDir();
    const stripe = await startStripeStandIn();
    try {
      // Async: the stand-in answers from this process, so it must not be blocked.
      const args = ["from-tarball", "--yes", "--no-install", "--no-git", "--domain", "t.example.com",
        "--stripe-secret", stripe.keys.secret, "--stripe-publishable-key", stripe.keys.publishable];
      const result = await execa(NODE_22, [join(pkg, "bin", "create-stripeflare.js"), ...args], {
        cwd,
        env: cleanEnv(cwd, { STRIPE_API_BASE: stripe.url }),
        extendEnv: false,
        reject: false,
        all: true,
      });
      expect(result.exitCode, result.all).toBe(0);
      expect(stripe.list("webhook_endpoint")).toHaveLength(1);
    } finally {
      await stripe.close();
    }
    const project = join(cwd, "from-tarball");
    const gitignore = readFileSync(join(project, ".gitignore"), "utf8");
    for (const entry of ["node_modules", ".dev.vars", ".wrangler"]) expect(gitignore).toMatch(new RegExp(`^${entry.replace(".", "\\.")}$`, "m"));
    expect(gitignore).toBe(readFileSync(join(ROOT, "templates/default/_gitignore"), "utf8"));
    expect(existsSync(join(project, "_gitignore"))).toBe(false);
    expect(readDevVarsFile(project).DB_SECRET.length).toBeGreaterThanOrEqual(32);
  });
});

describe("the CLI's own TypeScript", () => {
  // `npm run typecheck` covers src/ and test/; the fixture projects under test/fixtures are other
  // people's Workers with their own types (workers-types, cloudflare:test) and stay out of it.
  it("typechecks cleanly with npm run typecheck", async () => {
    const result = await execa(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", "."], { cwd: ROOT, reject: false, all: true });
    expect(result.all, result.all).toBe("");
    expect(result.exitCode).toBe(0);
  });

  // Issue 10, first run: the README's first command, run from the clone, made my-api inside
  // the clone (in its git status, without a repository of its own).
  it("the README's first screen: the scaffold lands outside the clone; the test command is what CI runs", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const block = /```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    const commands = block.split("\n").filter((line) => line && !line.startsWith("#"));
    expect(commands).toHaveLength(2);
    const scaffold = /^npm install && node bin\/create-stripeflare\.js (\S+) --no-stripe --yes$/.exec(commands[0]!);
    expect(scaffold, commands[0]).not.toBeNull();
    expect(relative(ROOT, resolve(ROOT, scaffold![1]!)).startsWith("..")).toBe(true);
    expect(commands[1]).toBe("npm install && npm test");
    expect(readFileSync(join(ROOT, ".ci", "run"), "utf8")).toMatch(/^npm install && npm test$/m);
  });
});
