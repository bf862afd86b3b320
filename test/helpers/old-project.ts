// A project as an earlier create-stripeflare made it, rebuilt from the release history the CLI
// ships (history/default/<version>.json and history/objects/): the upgrade tests' starting point.
// worker-configuration.d.ts keeps only its hash in the history; `wrangler types` makes it again,
// byte for byte (checked against the hash), as it did for that release.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { NODE_22, ROOT } from "./cli.js";

const TEMPLATE = join(ROOT, "templates", "default");

export function releaseManifest(version: string): { version: string; files: Record<string, string> } {
  return JSON.parse(readFileSync(join(ROOT, "history", "default", `${version}.json`), "utf8"));
}

export const sha256 = (content: Buffer | string) => createHash("sha256").update(content).digest("hex");

/**
 * Writes the files of release `version` into `dir`, named `name` as the CLI named it then, with
 * the template's node_modules linked in (the dependencies did not change between releases)
 * unless `linkNodeModules` is false (the project then installs its own).
 */
export function writeOldProject(dir: string, version: string, name = "old-api", options: { linkNodeModules?: boolean } = {}): void {
  const { files } = releaseManifest(version);
  for (const [path, hash] of Object.entries(files)) {
    if (path === "worker-configuration.d.ts" || path === "package-lock.json") continue;
    let content = readFileSync(join(ROOT, "history", "objects", hash));
    // The CLI set the name in both files when it made the project.
    if (path === "package.json") content = Buffer.from(content.toString("utf8").replace('"name": "stripeflare-app"', `"name": "${name}"`));
    if (path === "wrangler.jsonc") content = Buffer.from(content.toString("utf8").replace('"name": "stripeflare-app"', `"name": "${name}"`));
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  writeFileSync(join(dir, "package-lock.json"), readFileSync(join(TEMPLATE, "package-lock.json")));
  if (options.linkNodeModules !== false) symlinkSync(join(TEMPLATE, "node_modules"), join(dir, "node_modules"), "dir");
  const types = spawnSync(NODE_22, [join(TEMPLATE, "node_modules/wrangler/bin/wrangler.js"), "types"], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
  });
  const made = sha256(readFileSync(join(dir, "worker-configuration.d.ts")));
  if (types.status !== 0 || made !== files["worker-configuration.d.ts"]) {
    throw new Error(`wrangler types did not remake ${version}'s worker-configuration.d.ts (${types.status}):\n${types.stdout}${types.stderr}`);
  }
  writeFileSync(join(dir, ".stripeflare.json"), JSON.stringify({ project: name, createdBy: `create-stripeflare@0.1.0`, scaffolded: true, stripe: {}, currency: "usd", price: "5" }, null, 2) + "\n");
  writeFileSync(
    join(dir, ".dev.vars"),
    "STRIPE_SECRET=\nSTRIPE_PUBLISHABLE_KEY=\nSTRIPE_WEBHOOK_SIGNING_SECRET=\nSTRIPE_PAYMENT_LINK=\nDB_SECRET=0123456789abcdef0123456789abcdef0123456789\n",
    { mode: 0o600 },
  );
}
