// One wallet, two templates: templates/mcp carries the default template's wallet and local
// tools byte for byte (scripts/sync-templates.mjs copies them; each folder must deploy on its own).
import { spawnSync } from "node:child_process";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, tempDir } from "./helpers/index.js";

describe("the templates share one wallet", () => {
  it("templates/mcp has the default template's wallet and local tools, unchanged", () => {
    const check = spawnSync(process.execPath, ["scripts/sync-templates.mjs", "--check"], { cwd: ROOT, encoding: "utf8" });
    expect(check.status, check.stderr).toBe(0);
  });

  it("the check names a file edited in one template only", () => {
    const copy = tempDir("stripeflare-shared-");
    for (const path of ["scripts/sync-templates.mjs", "templates/default/src/stripeflare", "templates/mcp/src/stripeflare"]) cpSync(join(ROOT, path), join(copy, path), { recursive: true });
    writeFileSync(join(copy, "templates/mcp/src/stripeflare/ledger.ts"), "// forked\n");
    const check = spawnSync(process.execPath, ["scripts/sync-templates.mjs", "--check"], { cwd: copy, encoding: "utf8" });
    expect(check.status).toBe(1);
    expect(check.stderr).toMatch(/templates\/mcp\/src\/stripeflare\/ledger\.ts differs from templates\/default\/src\/stripeflare\/ledger\.ts/);
  });
});
