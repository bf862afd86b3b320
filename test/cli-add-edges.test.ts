// `create-stripeflare add` at its edges: projects it must refuse (one line, nothing changed),
// wrangler.json, the project's package manager, --deploy around the three-line change, and the
// pure helpers behind the config edits.
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { describe, expect, it } from "vitest";
import { exportsDorm } from "../src/add.js";
import { updateDevVarsFile } from "../src/dev-vars.js";
import { gitignoreIgnores } from "../src/template.js";
import { walletImports } from "../src/wallet.js";
import { addDormToJsonc, addDormToToml, compatibilityProblem, nextMigrationTag, planDorm } from "../src/wrangler-dorm.js";
import { keyFlags, readDevVarsFile, ROOT, runCli, runInTerminal, tempDir, useStripeStandIn } from "./helpers/index.js";

const stripe = useStripeStandIn();

/** Every file under dir with its content, to prove a refused run changed nothing. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path);
      else out[path] = readFileSync(join(dir, path), "utf8");
    }
  };
  walk("");
  return out;
}

function worker(files: Record<string, string>): string {
  const dir = tempDir("csf-edge-");
  for (const [path, text] of Object.entries({ "src/index.ts": "export default { async fetch() { return new Response('hi'); } };\n", ...files })) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const addNoStripe = (dir: string, extra: string[] = []) => runCli(["add", "--yes", "--no-install", "--no-stripe", ...extra], { cwd: dir });

describe("add refuses, in one line, changing nothing", () => {
  const refusals: [string, Record<string, string>, RegExp][] = [
    ["a folder without a wrangler config", { "package.json": "{}" }, /is not a Worker project: it has no wrangler\.jsonc, wrangler\.json or wrangler\.toml/],
    ["an unparseable wrangler.jsonc", { "wrangler.jsonc": '{ "name": "x", "main": "src/index.ts" "compatibility_date": "2026-10-01" }' }, /wrangler\.jsonc is not valid JSONC \(line 1\)/],
    ["an unparseable wrangler.toml", { "wrangler.toml": 'name = "x"\nmain = src/index.ts\n' }, /wrangler\.toml is not valid TOML/],
    ["a config without main", { "wrangler.toml": 'name = "x"\ncompatibility_date = "2026-10-01"\n' }, /wrangler\.toml has no "main"/],
    [
      "DORM_NAMESPACE bound to another class",
      { "wrangler.jsonc": '{ "name": "x", "main": "src/index.ts", "compatibility_date": "2026-10-01", "durable_objects": { "bindings": [{ "name": "DORM_NAMESPACE", "class_name": "Other" }] } }' },
      /already binds DORM_NAMESPACE to another class \(Other\)/,
    ],
    [
      "a key-value class called DORM in the migrations",
      { "wrangler.toml": 'name = "x"\nmain = "src/index.ts"\ncompatibility_date = "2026-10-01"\n[[migrations]]\ntag = "v1"\nnew_classes = ["DORM"]\n' },
      /migration \(tag "v1"\) that already creates, renames or deletes a class DORM/,
    ],
    [
      "a compatibility date before Durable Object RPC",
      { "wrangler.jsonc": '{ "name": "x", "main": "src/index.ts", "compatibility_date": "2023-05-18" }' },
      /compatibility_date 2023-05-18 in wrangler\.jsonc is older than 2024-04-03.*set it to 2024-04-03 or later .*or add "rpc" to compatibility_flags/,
    ],
    [
      "a TOML config whose migrations are an inline array",
      { "wrangler.toml": 'name = "x"\nmain = "src/index.ts"\ncompatibility_date = "2026-10-01"\nmigrations = [{ tag = "v1", new_sqlite_classes = ["A"] }]\n' },
      /cannot be extended by appending tables.*add a binding \{ name = "DORM_NAMESPACE", class_name = "DORM" \} and a migration \{ tag = "v2", new_sqlite_classes = \["DORM"\] \} yourself/,
    ],
    [
      "a broken package.json",
      { "wrangler.jsonc": '{ "name": "x", "main": "src/index.ts", "compatibility_date": "2026-10-01" }', "package.json": "{ nope" },
      /package\.json in \. does not parse/,
    ],
    [
      "a src/stripeflare folder that is not the wallet",
      { "wrangler.jsonc": '{ "name": "x", "main": "src/index.ts", "compatibility_date": "2026-10-01" }', "src/stripeflare/index.ts": "export const mine = 1;\n" },
      /src\/stripeflare already exists and is not the Stripeflare wallet/,
    ],
  ];
  it.each(refusals)("%s", async (_label, files, message) => {
    const dir = worker(files);
    const before = snapshot(dir);
    const result = await addNoStripe(dir);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr.trim().split("\n")).toEqual([expect.stringMatching(message)]);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(snapshot(dir)).toEqual(before);
  });

  it("flags that only make sense for a new project", async () => {
    const dir = worker({ "wrangler.jsonc": '{ "name": "x", "main": "src/index.ts", "compatibility_date": "2026-10-01" }' });
    for (const flag of ["--template=default", "--force", "--git"]) {
      const result = await addNoStripe(dir, [flag]);
      expect(result.exitCode, flag).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`--${flag.slice(2).split("=")[0]} does not apply to \`create-stripeflare add\``));
    }
    const help = await runCli(["add", "--help"], { cwd: dir });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/create-stripeflare add \[directory\] \[options\]/);
    expect(help.stdout).not.toMatch(/--template|--force/);
  });
});

describe("add in other project shapes", () => {
  it("wrangler.json stays strict JSON; the compatibility date may be old with the rpc flag; a directory argument works", async () => {
    const parent = tempDir("csf-edge-");
    const dir = join(parent, "api");
    mkdirSync(join(dir, "worker"), { recursive: true });
    writeFileSync(join(dir, "worker", "main.js"), "export default { fetch() { return new Response('hi'); } };\n");
    const config = { name: "json-api", main: "worker/main.js", compatibility_date: "2023-01-01", compatibility_flags: ["rpc"] };
    writeFileSync(join(dir, "wrangler.json"), JSON.stringify(config, null, "\t") + "\n");
    const result = await runCli(["add", "api", "--yes", "--no-install", "--no-stripe"], { cwd: parent });
    expect(result.exitCode, result.all).toBe(0);
    const after = JSON.parse(readFileSync(join(dir, "wrangler.json"), "utf8"));
    expect(after).toEqual({
      ...config,
      durable_objects: { bindings: [{ name: "DORM_NAMESPACE", class_name: "DORM" }] },
      migrations: [{ tag: "v1", new_sqlite_classes: ["DORM"] }],
    });
    expect(existsSync(join(dir, "worker", "stripeflare", "index.ts"))).toBe(true);
    expect(result.stdout).toContain('import { withStripeflare, DORM } from "./stripeflare";');
    // No package.json before: one is made for the wallet's dependencies.
    expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))).toMatchObject({ name: "json-api", private: true, dependencies: { dormroom: expect.any(String) } });
  });

  it("installs with the manager the project's lockfile names", async () => {
    const dir = worker({ "wrangler.jsonc": '{ "name": "x", "main": "src/index.ts", "compatibility_date": "2026-10-01" }', "package.json": '{ "name": "x" }\n', "pnpm-lock.yaml": "lockfileVersion: '9.0'\n" });
    const bin = tempDir("csf-pm-");
    const log = join(bin, "calls.log");
    writeFileSync(join(bin, "pnpm"), `#!/bin/sh\necho "pnpm $* in $PWD" >> "${log}"\n`);
    chmodSync(join(bin, "pnpm"), 0o755);
    const result = await runCli(["add", "--yes", "--no-stripe"], { cwd: dir, env: { PATH: `${bin}${delimiter}${process.env.PATH}` } });
    expect(result.exitCode, result.all).toBe(0);
    expect(readFileSync(log, "utf8").trim()).toBe(`pnpm install in ${dir}`);
    expect(result.stdout).toMatch(/installed dependencies with pnpm/);
  });

  it("--deploy waits for the three-line change, then deploys with the five keys only", async () => {
    const dir = join(tempDir("csf-edge-"), "app");
    cpSync(join(ROOT, "test", "fixtures", "existing", "hello-world-jsonc"), dir, { recursive: true });
    const bin = tempDir("csf-bin-");
    copyFileSync(join(ROOT, "test", "fixtures", "fake-wrangler.mjs"), join(bin, "wrangler"));
    chmodSync(join(bin, "wrangler"), 0o755);
    const log = join(bin, "calls.jsonl");
    const env = { STRIPE_API_BASE: stripe().url, PATH: `${bin}${delimiter}${process.env.PATH}`, FAKE_WRANGLER_LOG: log };
    const keys = keyFlags(stripe());

    const early = await runCli(["add", "--yes", "--no-install", "--deploy", ...keys], { cwd: dir, env });
    expect(early.exitCode).not.toBe(0);
    expect(early.stderr.trim()).toMatch(/--deploy: src\/index\.ts does not export DORM yet/);
    expect(existsSync(join(dir, "src", "stripeflare"))).toBe(false);

    const added = await runCli(["add", "--yes", "--no-install", ...keys], { cwd: dir, env });
    expect(added.exitCode, added.all).toBe(0);
    const index = join(dir, "src", "index.ts");
    writeFileSync(index, readFileSync(index, "utf8").replace("export default {", 'import { withStripeflare, DORM } from "./stripeflare";\nexport { DORM };\nexport default {'));
    writeFileSync(join(dir, ".dev.vars"), readFileSync(join(dir, ".dev.vars"), "utf8") + "MINE=1\n");
    const deployed = await runCli(["add", "--yes", "--no-install", "--deploy"], { cwd: dir, env });
    expect(deployed.exitCode, deployed.all).toBe(0);
    const calls = readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line));
    expect(calls.map((c) => c.args.join(" "))).toEqual(["whoami", "deploy", "secret bulk"]);
    const uploaded = JSON.parse(calls[2].stdin);
    expect(Object.keys(uploaded).sort()).toEqual(["DB_SECRET", "STRIPE_PAYMENT_LINK", "STRIPE_PUBLISHABLE_KEY", "STRIPE_SECRET", "STRIPE_WEBHOOK_SIGNING_SECRET"]);
    // No --domain: the webhook now points at the deployed workers.dev URL, its secret in .dev.vars.
    const endpoint = stripe().list<{ id: string; url: string; metadata: Record<string, string> }>("webhook_endpoint").find((e) => e.metadata.stripeflare_project === "hello-jsonc")!;
    expect(endpoint.url).toBe("https://hello-jsonc.test-account.workers.dev/stripe-webhook");
    expect(readDevVarsFile(dir).STRIPE_WEBHOOK_SIGNING_SECRET).toBe(stripe().webhookSecret(endpoint.id));
    expect(deployed.stdout).not.toMatch(/Now change the fetch export/);
  });
});

describe("add in a terminal", () => {
  it("asks price, domain, title and keys like a new project, never whether to deploy", async () => {
    const dir = join(tempDir("csf-edge-"), "app");
    cpSync(join(ROOT, "test", "fixtures", "existing", "durable-object-jsonc"), dir, { recursive: true });
    const result = await runInTerminal(
      ["add", "--no-install"],
      [
        { expect: /Top-up price in USD/, type: "3\r" },
        { expect: /Custom domain/, type: "term.example.com\r" },
        { expect: /Product name/, type: "Term Shop\r" },
        { expect: /Stripe secret key/, type: `${stripe().keys.secret}\r` },
        { expect: /publishable key, pk_test_/, type: `${stripe().keys.publishable}\r` },
      ],
      { cwd: dir, env: { STRIPE_API_BASE: stripe().url } },
    );
    expect(result.exitCode, result.screen).toBe(0);
    expect(result.answered).toBe(5);
    expect(result.screen).not.toMatch(/Deploy to Cloudflare now/);
    const product = stripe().list<{ name: string; metadata: Record<string, string> }>("product").find((p) => p.metadata.stripeflare_project === "hello-do")!;
    expect(product.name).toBe("Term Shop");
    const price = stripe().list<{ unit_amount: number; metadata: Record<string, string> }>("price").find((p) => p.metadata.stripeflare_project === "hello-do")!;
    expect(price.unit_amount).toBe(300);
    expect(readDevVarsFile(dir).STRIPE_WEBHOOK_SIGNING_SECRET).toMatch(/^whsec_/);
  });
});

describe("add's helpers", () => {
  it("migration tags: one past the highest vN, never an existing tag", () => {
    expect(nextMigrationTag([])).toBe("v1");
    expect(nextMigrationTag(["v1"])).toBe("v2");
    expect(nextMigrationTag(["v1", "v3", "init"])).toBe("v4");
    expect(nextMigrationTag(["2024-01-01", "first"])).toBe("v1");
  });

  it("plans only what is missing, and edits JSONC keeping comments and tabs", () => {
    const text = '{\n\t// mine\n\t"name": "x",\n\t"migrations": [{ "tag": "v1", "new_sqlite_classes": ["DORM"] }] // kept\n}\n';
    const config = { name: "x", migrations: [{ tag: "v1", new_sqlite_classes: ["DORM"] }] };
    const plan = planDorm(config, "wrangler.jsonc");
    expect(plan).toEqual({ addBinding: true, migrationTag: undefined });
    const out = addDormToJsonc(text, config, plan);
    expect(out).toContain("// mine");
    expect(out).toContain("// kept");
    expect(out).toMatch(/\n\t"durable_objects": \{\n\t\t"bindings": \[/);
    expect(planDorm({ ...config, durable_objects: { bindings: [{ name: "DORM_NAMESPACE", class_name: "DORM" }] } }, "w")).toEqual({ addBinding: false, migrationTag: undefined });
    // A binding to another Worker's DORM is not ours and does not clash.
    expect(planDorm({ durable_objects: { bindings: [{ name: "REMOTE", class_name: "DORM", script_name: "other" }] } }, "w")).toEqual({ addBinding: true, migrationTag: "v1" });
  });

  it("TOML: appends tables after everything, including [env.*] sections, and proves the result", () => {
    const text = 'name = "x"\n\n[[migrations]]\ntag = "v1"\nnew_classes = ["A"]\n\n[env.staging]\nname = "x-staging" # kept\n';
    const out = addDormToToml(text, { addBinding: true, migrationTag: "v2" });
    expect(out.startsWith(text)).toBe(true);
    expect(out).toMatch(/\[\[durable_objects\.bindings\]\]\nname = "DORM_NAMESPACE"\nclass_name = "DORM"/);
    expect(() => addDormToToml('[durable_objects]\nbindings = [{ name = "A", class_name = "A" }]\n', { addBinding: true })).toThrow(/cannot be extended/);
  });

  it("compatibility date", () => {
    expect(compatibilityProblem({ compatibility_date: "2024-04-03" }, "w")).toBeUndefined();
    expect(compatibilityProblem({ compatibility_date: "2024-04-02" }, "w")).toMatch(/older than 2024-04-03/);
    expect(compatibilityProblem({ compatibility_date: "2022-01-01", compatibility_flags: ["rpc"] }, "w")).toBeUndefined();
  });

  it("gitignore globs, negations and slashes", () => {
    const c3 = ".dev.vars*\n!.dev.vars.example\n.wrangler/\nnode_modules/\n";
    expect(gitignoreIgnores(c3, ".dev.vars")).toBe(true);
    expect(gitignoreIgnores(c3, ".dev.vars.example")).toBe(false);
    expect(gitignoreIgnores(c3, ".wrangler")).toBe(true);
    expect(gitignoreIgnores(c3, ".stripeflare.json")).toBe(false);
    expect(gitignoreIgnores("\\#notacomment\n/.dev.vars\n", ".dev.vars")).toBe(true);
    expect(gitignoreIgnores("src/.dev.vars\n", ".dev.vars")).toBe(false);
    expect(gitignoreIgnores(".dev.vars\n!.dev.vars\n", ".dev.vars")).toBe(false);
  });

  it("reads the wallet's imports from its sources: dormroom at run time, stripe for types only", () => {
    const { runtime, types } = walletImports();
    expect([...runtime]).toContain("dormroom");
    expect(runtime.has("stripe")).toBe(false);
    expect(runtime.has("cloudflare:workers")).toBe(false);
    for (const name of [...runtime, ...types]) expect(name).toMatch(/^(@[a-z0-9-]+\/)?[a-z0-9][a-z0-9._-]*$/);
  });

  it(".dev.vars in place: one line per key replaced, the rest untouched, 0600", () => {
    const dir = tempDir("csf-vars-");
    writeFileSync(join(dir, ".dev.vars"), '# top\nA="x y"\nexport STRIPE_SECRET=old\n\n# end\n', { mode: 0o644 });
    updateDevVarsFile(dir, { STRIPE_SECRET: "sk_test_new", DB_SECRET: "z".repeat(40) });
    const text = readFileSync(join(dir, ".dev.vars"), "utf8");
    expect(text).toMatch(/^# top\nA="x y"\nSTRIPE_SECRET=sk_test_new\n\n# end\n\n# Stripeflare wallet \(create-stripeflare\)\n# random secret.*\nDB_SECRET=z{40}\n$/);
    expect(readDevVarsFile(dir)).toEqual({ A: "x y", STRIPE_SECRET: "sk_test_new", DB_SECRET: "z".repeat(40) });
  });

  it("recognises the changed main module", () => {
    expect(exportsDorm('import { withStripeflare, DORM } from "./stripeflare";\nexport { DORM };')).toBe(true);
    expect(exportsDorm("export { MyDurableObject, DORM as default2, DORM };")).toBe(true);
    expect(exportsDorm('import { DORM } from "./stripeflare";\n')).toBe(false);
  });

  // Issue 9, scenario 18: edits went to the first of duplicate keys (dotenv reads the last), into
  // a multi-line quoted value, and quoting did not round-trip.
  describe(".dev.vars edits as dotenv reads them", () => {
    const edit = (text: string, updates: Record<string, string>) => {
      const dir = tempDir("csf-vars-");
      writeFileSync(join(dir, ".dev.vars"), text);
      updateDevVarsFile(dir, updates);
      return { text: readFileSync(join(dir, ".dev.vars"), "utf8"), vars: readDevVarsFile(dir), dir };
    };

    it("sets the assignment dotenv reads: the last of duplicates", () => {
      const { vars } = edit("STRIPE_SECRET=old1\nSTRIPE_SECRET=old2\nB=1\n", { STRIPE_SECRET: "sk_test_new" });
      expect(vars).toEqual({ STRIPE_SECRET: "sk_test_new", B: "1" });
    });

    it("never writes inside a multi-line quoted value, even one holding KEY= lines", () => {
      const cert = "line1\nSTRIPE_SECRET=inside\nline3";
      const { vars, text } = edit(`CERT='${cert}'\nB=1\n`, { STRIPE_SECRET: "sk_test_new" });
      expect(vars).toEqual({ CERT: cert, B: "1", STRIPE_SECRET: "sk_test_new" });
      expect(text.startsWith(`CERT='${cert}'\nB=1\n`)).toBe(true);
      const replaced = edit(`A="x\ny"\nSTRIPE_SECRET='multi\nline'\nC=3\n`, { STRIPE_SECRET: "one" });
      expect(replaced.vars).toEqual({ A: "x\ny", STRIPE_SECRET: "one", C: "3" });
    });

    it("quotes so that dotenv reads back exactly what was written, however often it is written", () => {
      const values = { SAY: 'say "hi"', WIN: "C:\\new\\table", HASH: "a #b", SPACE: "  padded  ", NL: "two\nlines", TICK: "it's", EMPTY: "" };
      let { dir, vars } = edit("", values);
      expect(vars).toEqual(values);
      for (let i = 0; i < 3; i++) updateDevVarsFile(dir, values);
      expect(readDevVarsFile(dir)).toEqual(values);
      vars = readDevVarsFile(dir);
      expect(vars.SAY).toBe('say "hi"');
    });

    it("refuses a value it cannot write safely, and leaves the file as it was", () => {
      const dir = tempDir("csf-vars-");
      writeFileSync(join(dir, ".dev.vars"), "A=1\n");
      expect(() => updateDevVarsFile(dir, { B: "x'\ny\"`" })).toThrow(/cannot be written to \.dev\.vars so that it reads back unchanged/);
      expect(readFileSync(join(dir, ".dev.vars"), "utf8")).toBe("A=1\n");
    });
  });
});
