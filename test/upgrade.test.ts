// `create-stripeflare upgrade` on projects an earlier release made (rebuilt from the history the
// CLI ships): --check's exit codes and changelog, an unedited copy replaced, edits merged or kept
// beside the new file, an `add` layout, the bad cases (one line, nothing changed), reruns, and an
// interruption. The built CLI as a process, real files, real `git merge-file`.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { applyPrintedChange, BIN, cleanEnv, cleanupTempDirs, NODE_22, readJson, releaseManifest, ROOT, runCli, sha256, tempDir, writeOldProject } from "./helpers/index.js";

const TEMPLATE = join(ROOT, "templates", "default");
const CURRENT = /WALLET_VERSION = "(\d+\.\d+\.\d+)"/.exec(readFileSync(join(TEMPLATE, "src/stripeflare/version.ts"), "utf8"))![1]!;

/** Every file under `dir` (node_modules aside) → sha256: "nothing changed" is this, equal. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of readdirSync(at)) {
      if (entry === "node_modules") continue;
      const path = join(at, entry);
      const stat = lstatSync(path);
      if (stat.isSymbolicLink()) out[relative(dir, path)] = `-> ${readlinkSync(path)}`;
      else if (stat.isDirectory()) walk(path);
      else out[relative(dir, path)] = sha256(readFileSync(path));
    }
  };
  walk(dir);
  return out;
}

function oldProject(name = "old-api"): string {
  const dir = join(tempDir("stripeflare-upgrade-"), name);
  mkdirSync(dir);
  writeOldProject(dir, "1.0.0", name);
  return dir;
}

const upgrade = (dir: string, ...args: string[]) => runCli(["upgrade", ...args], { cwd: dir });

afterAll(() => cleanupTempDirs());

describe("upgrade --check", () => {
  it("exits 1 on a 1.0.0 project and lists what it lacks, security fixes first; 0 once current", async () => {
    const dir = oldProject();
    const check = await upgrade(dir, "--check");
    expect(check.exitCode, check.all).toBe(1);
    expect(check.stdout).toMatch(/installed\s+1\.0\.0 \(no version\.ts: the first release\)/);
    expect(check.stdout).toContain(`current    ${CURRENT}`);
    expect(check.stdout).toMatch(/Behind by 2 versions, with \d+ security fixes/);
    expect(check.stdout).toMatch(/Security fixes:\n\s+- Any other Payment Link/);
    expect(check.stdout).not.toMatch(/\n  1\.0\.0 /); // only what it lacks
    const made = await runCli(["fresh", "--no-stripe", "--no-install", "--no-git", "--yes"], { cwd: dirname(dir) });
    expect(made.exitCode, made.all).toBe(0);
    const fresh = await upgrade(join(dirname(dir), "fresh"), "--check");
    expect(fresh.exitCode, fresh.all).toBe(0);
    expect(fresh.stdout).toMatch(/up to date$/m);
  });

  it("a rerun of create-stripeflare in an old project says the wallet is behind (and leaves it as it is)", async () => {
    const dir = oldProject();
    const wallet = snapshot(join(dir, "src/stripeflare"));
    const rerun = await runCli([".", "--no-stripe", "--no-install", "--no-git", "--yes", "--force"], { cwd: dir });
    expect(rerun.exitCode, rerun.all).toBe(0);
    expect(rerun.all).toMatch(/the wallet in src\/stripeflare\/ is 1\.0\.0; \d+\.\d+\.\d+ is out with \d+ security fixes: npx create-stripeflare@latest upgrade \(keeps your edits\)/);
    expect(snapshot(join(dir, "src/stripeflare"))).toEqual(wallet);
  });

  it("changes nothing", async () => {
    const dir = oldProject();
    const before = snapshot(dir);
    expect((await upgrade(dir, "--check")).exitCode).toBe(1);
    expect(snapshot(dir)).toEqual(before);
  });
});

describe("upgrade of a template-layout project", () => {
  it("replaces an unedited 1.0.0 copy with this version, file for file; a rerun changes nothing", async () => {
    const dir = oldProject();
    const result = await upgrade(dir);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stdout).toMatch(/What \d+\.\d+\.\d+ brings \(\d+ security fixes\)/);
    expect(result.stdout).toMatch(/✔ updated \d+: .*src\/stripeflare\/webhook\.ts/);
    expect(result.stdout).toMatch(/✔ added \d+: .*src\/stripeflare\/version\.ts/);
    // Every wallet and example file is now the template's (unedited example files too).
    for (const path of ["src/stripeflare/index.ts", "src/stripeflare/payment-return.ts", "test/hostile.test.ts", "scripts/dev.mjs", "src/index.ts", "src/page/view.ts", "README.md", "vitest.config.ts", "worker-configuration.d.ts"]) {
      expect(readFileSync(join(dir, path), "utf8"), path).toBe(readFileSync(join(TEMPLATE, path), "utf8"));
    }
    const pkg = readJson(join(dir, "package.json"));
    const template = readJson(join(TEMPLATE, "package.json"));
    expect(pkg.name).toBe("old-api");
    expect(pkg.scripts).toEqual(template.scripts);
    expect(pkg.allowScripts).toEqual(template.allowScripts);
    const wrangler = readFileSync(join(dir, "wrangler.jsonc"), "utf8");
    expect(wrangler).toMatch(/"name": "old-api"/);
    expect(wrangler).toMatch(/"secrets": \{\s*"required": \[\s*"STRIPE_SECRET",/);
    expect(wrangler).toMatch(/"CURRENCY": "usd"/);
    expect(result.stdout).toMatch(/Next steps:\n  npm install\n  npm run pay -- --setup .*\n  npm test\n  npm run deploy/);
    expect(result.stdout).toMatch(/- Point the Payment Link's after-payment redirect at your Worker's URL followed by `\/me\/paid/);

    const before = snapshot(dir);
    const again = await upgrade(dir);
    expect(again.exitCode, again.all).toBe(0);
    expect(again.stdout).toMatch(/up to date: nothing to change/);
    expect(snapshot(dir)).toEqual(before);
    expect((await upgrade(dir, "--check")).exitCode).toBe(0);
  });

  it("merges edits that apply cleanly, keeps the user's copy of one that does not, and keeps edited example files", async () => {
    const dir = oldProject();
    // A clean merge: a line of the user's own at the top of a file the new version changed.
    const middleware = join(dir, "src/stripeflare/middleware.ts");
    writeFileSync(middleware, `// my team's note: reviewed 2026-11-30\n${readFileSync(middleware, "utf8")}`);
    // A conflict: the user rewrote a line the new version also changed.
    const webhook = join(dir, "src/stripeflare/webhook.ts");
    const oldWebhook = readFileSync(webhook, "utf8");
    const newWebhook = readFileSync(join(TEMPLATE, "src/stripeflare/webhook.ts"), "utf8");
    const changedLine = oldWebhook.split("\n").find((line) => line.trim().length > 20 && !newWebhook.includes(line))!;
    writeFileSync(webhook, oldWebhook.replace(changedLine, `${changedLine} // edited by me`));
    // The app is the user's: an edited example file stays as it is.
    const app = join(dir, "src/index.ts");
    writeFileSync(app, readFileSync(app, "utf8").replace('const TITLE = "Stripeflare";', 'const TITLE = "My API";'));
    // An edited script stays too, and is named.
    const pkgFile = join(dir, "package.json");
    const pkg = readJson(pkgFile);
    pkg.scripts.dev = "wrangler dev --port 9000";
    writeFileSync(pkgFile, JSON.stringify(pkg, null, 2) + "\n");
    const edited = { middleware: readFileSync(middleware, "utf8"), webhook: readFileSync(webhook, "utf8"), app: readFileSync(app, "utf8") };

    const result = await upgrade(dir);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stdout).toMatch(/✔ merged 1: src\/stripeflare\/middleware\.ts \(your edits kept/);
    const merged = readFileSync(middleware, "utf8");
    expect(merged.startsWith("// my team's note: reviewed 2026-11-30\n")).toBe(true);
    expect(merged.slice(merged.indexOf("\n") + 1)).toBe(readFileSync(join(TEMPLATE, "src/stripeflare/middleware.ts"), "utf8"));
    // Conflict: the new file in place, the user's kept beside it, named in the output.
    expect(readFileSync(webhook, "utf8")).toBe(newWebhook);
    expect(readFileSync(`${webhook}.yours`, "utf8")).toBe(edited.webhook);
    expect(result.stdout).toMatch(/src\/stripeflare\/webhook\.ts: your edits did not merge cleanly; .* kept as src\/stripeflare\/webhook\.ts\.yours/);
    expect(readFileSync(app, "utf8")).toBe(edited.app);
    expect(result.stdout).toMatch(/kept src\/index\.ts: edited example file/);
    expect(readJson(pkgFile).scripts.dev).toBe("wrangler dev --port 9000");
    expect(result.stdout).toMatch(/package\.json: kept scripts\.dev \(yours: "wrangler dev --port 9000"; the template's: "node scripts\/node-check\.mjs && node scripts\/dev\.mjs"\)/);
    expect(readJson(pkgFile).scripts.test).toBe(readJson(join(TEMPLATE, "package.json")).scripts.test);

    // The project, with the user's edits and the conflicting file's new version, type-checks
    // and bundles (a .yours copy is not TypeScript to the compiler or the bundler).
    const tsc = spawnSync(NODE_22, [join(TEMPLATE, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "."], { cwd: dir, encoding: "utf8" });
    expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).toBe(0);
    const dryRun = wrangler(dir, "deploy", "--dry-run", "--outdir", join(dir, "..", "bundle"));
    expect(dryRun.status, dryRun.output).toBe(0);

    // A rerun loses nothing: the .yours copy stays, no second one is made.
    const again = await upgrade(dir);
    expect(again.exitCode, again.all).toBe(0);
    expect(readFileSync(`${webhook}.yours`, "utf8")).toBe(edited.webhook);
    expect(existsSync(`${webhook}.yours-2`)).toBe(false);
  });
});

describe("upgrade of a wallet added to an existing Worker", () => {
  it("replaces the wallet folder beside the main module, touches nothing else, and the Worker still bundles", async () => {
    // What `add` made with 1.0.0: today's `add` (the same layout and config changes), the three
    // lines it prints, and 1.0.0's wallet files in its folder.
    const dir = join(tempDir("stripeflare-upgrade-add-"), "worker");
    cpSync(join(ROOT, "test/fixtures/existing/hello-world-jsonc"), dir, { recursive: true });
    const added = await runCli(["add", "--yes", "--no-install", "--no-stripe"], { cwd: dir });
    expect(added.exitCode, added.all).toBe(0);
    applyPrintedChange(dir, added.stdout);
    rmSync(join(dir, "src/stripeflare"), { recursive: true });
    const { files } = releaseManifest("1.0.0");
    mkdirSync(join(dir, "src/stripeflare"));
    for (const [path, hash] of Object.entries(files)) {
      if (path.startsWith("src/stripeflare/")) writeFileSync(join(dir, path), readFileSync(join(ROOT, "history/objects", hash)));
    }
    symlinkSync(join(TEMPLATE, "node_modules"), join(dir, "node_modules"), "dir");
    const outside = Object.fromEntries(Object.entries(snapshot(dir)).filter(([path]) => !path.startsWith("src/stripeflare/")));

    expect((await upgrade(dir, "--check")).exitCode).toBe(1);
    const result = await upgrade(dir);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stdout).toMatch(/in src\/stripeflare\/ \(added to a Worker\)/);
    // Only the wallet folder is ours here (the changelog's own items may name any file).
    const actions = result.stdout.split("\n").filter((line) => !/^\s+- /.test(line)).join("\n");
    expect(actions).not.toMatch(/npm test|package\.json|wrangler\.jsonc/);
    for (const file of readdirSync(join(TEMPLATE, "src/stripeflare"))) {
      expect(readFileSync(join(dir, "src/stripeflare", file), "utf8"), file).toBe(readFileSync(join(TEMPLATE, "src/stripeflare", file), "utf8"));
    }
    expect(Object.fromEntries(Object.entries(snapshot(dir)).filter(([path]) => !path.startsWith("src/stripeflare/")))).toEqual(outside);
    expect((await upgrade(dir, "--check")).exitCode).toBe(0);
    const dryRun = wrangler(dir, "deploy", "--dry-run", "--outdir", join(dir, "..", "bundle"));
    expect(dryRun.status, dryRun.output).toBe(0);
    expect(readFileSync(join(dir, "..", "bundle", "index.js"), "utf8")).toContain("/me/sign-out-others"); // the new wallet is in it
  });
});

describe("upgrade refuses, in one line, and changes nothing", () => {
  it("with no wallet, a newer wallet, an unreadable version, a broken package.json, a read-only folder", async () => {
    const empty = tempDir("stripeflare-upgrade-none-");
    const help = await upgrade(empty, "--help");
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/create-stripeflare upgrade \[directory\] --check/);
    const flag = await upgrade(empty, "--price", "5");
    expect(flag.exitCode).toBe(2);
    expect(flag.stderr.trim()).toMatch(/^✖ --price does not apply to `create-stripeflare upgrade` \(it takes \[directory\], --check and --yes\)$/);
    const misplaced = await runCli(["my-api", "--check"], { cwd: empty });
    expect(misplaced.stderr.trim()).toMatch(/--check belongs to `create-stripeflare upgrade --check`/);
    const none = await upgrade(empty);
    expect(none.exitCode).toBe(2);
    expect(none.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^✖ no Stripeflare wallet in \.: looked for src\/stripeflare\/index\.ts/)]);

    const cases: [string, (dir: string) => void, RegExp][] = [
      ["newer", (dir) => writeFileSync(join(dir, "src/stripeflare/version.ts"), 'export const WALLET_VERSION = "9.0.0";\n'), /is wallet 9\.0\.0, newer than the .* this create-stripeflare carries/],
      ["garbled", (dir) => writeFileSync(join(dir, "src/stripeflare/version.ts"), "export const WALLET_VERSION = ;\n"), /version\.ts does not say which wallet version it is/],
      ["unknown", (dir) => writeFileSync(join(dir, "src/stripeflare/version.ts"), 'export const WALLET_VERSION = "1.0.5";\n'), /says wallet 1\.0\.5, a version this create-stripeflare has no record of/],
      ["package.json", (dir) => writeFileSync(join(dir, "package.json"), "{ nope"), /package\.json does not parse/],
      // Permission bits do not stop root (these machines run tests as root): the immutable
      // attribute does, for everyone.
      ["read-only", (dir) => (process.getuid?.() === 0 ? readOnly(join(dir, "src/stripeflare"), true) : chmodSync(join(dir, "src/stripeflare"), 0o555)), /^✖ cannot write to src\/stripeflare: (permission denied|operation not permitted|EPERM.*) \(nothing was changed\)$/],
    ];
    for (const [label, breakIt, message] of cases) {
      const dir = oldProject();
      breakIt(dir);
      const before = snapshot(dir);
      try {
        const result = await upgrade(dir);
        expect(result.exitCode, `${label}: ${result.all}`).toBe(2);
        expect(result.stderr.trim().split("\n"), label).toEqual([expect.stringMatching(message)]);
        expect(snapshot(dir), label).toEqual(before);
      } finally {
        if (label === "read-only" && process.getuid?.() === 0) readOnly(join(dir, "src/stripeflare"), false);
      }
    }
  });

  it("a symbolic link planted at a file it would write (or stage) is refused, and nothing outside is touched", async () => {
    for (const planted of ["src/stripeflare/webhook.ts", "src/stripeflare/webhook.ts.stripeflare-upgrade", "scripts"]) {
      const dir = oldProject();
      const outside = join(dir, "..", "outside.txt");
      writeFileSync(outside, "not yours\n");
      rmSync(join(dir, planted), { recursive: true, force: true });
      const elsewhere = tempDir("stripeflare-elsewhere-");
      symlinkSync(planted === "scripts" ? elsewhere : outside, join(dir, planted));
      const before = snapshot(dir);
      const result = await upgrade(dir);
      expect(result.exitCode, `${planted}: ${result.all}`).toBe(2);
      expect(result.stderr.trim().split("\n"), planted).toEqual([expect.stringMatching(/is a symbolic link: refusing to write through it .*\(nothing was changed\)$/)]);
      expect(readFileSync(outside, "utf8")).toBe("not yours\n");
      expect(readdirSync(elsewhere)).toEqual([]);
      expect(snapshot(dir), planted).toEqual(before);
    }
  });

  it("Ctrl-C with the new files staged leaves the old copy whole and no stray file", async () => {
    const dir = oldProject();
    const before = snapshot(dir);
    const child = spawn(NODE_22, [BIN, "upgrade"], { cwd: dir, env: cleanEnv(dir, { STRIPEFLARE_UPGRADE_PAUSE_MS: "20000" }) as NodeJS.ProcessEnv });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    await new Promise<void>((resolve) => child.stdout.on("data", () => out.includes("staged") && resolve()));
    child.kill("SIGINT");
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code).toBe(130);
    expect(out).toMatch(/Interrupted: nothing was changed\./);
    expect(snapshot(dir)).toEqual(before);
  });
});

function wrangler(dir: string, ...args: string[]) {
  const result = spawnSync(NODE_22, [join(TEMPLATE, "node_modules/wrangler/bin/wrangler.js"), ...args], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" },
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function readOnly(dir: string, on: boolean): void {
  const result = spawnSync("chattr", [on ? "+i" : "-i", dir], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`chattr: ${result.stderr}`);
}

function dirname(path: string): string {
  return join(path, "..");
}
