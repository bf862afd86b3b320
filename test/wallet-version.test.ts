// One source of truth for the wallet's version: version.ts, which index.ts exports and the top
// entry of CHANGELOG.md names; the release history the CLI ships is older and complete.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { changelogBetween, compareVersions, currentRelease, pastReleases } from "../src/wallet-history.js";
import { ROOT } from "./helpers/index.js";

const WALLET = join(ROOT, "templates/default/src/stripeflare");
const version = /export const WALLET_VERSION = "(\d+\.\d+\.\d+)";/.exec(readFileSync(join(WALLET, "version.ts"), "utf8"))![1]!;
const changelog = readFileSync(join(WALLET, "CHANGELOG.md"), "utf8");

describe("the wallet's version", () => {
  it("is declared once, exported, and is the changelog's newest entry", () => {
    expect(readFileSync(join(WALLET, "index.ts"), "utf8")).toContain('export { WALLET_VERSION } from "./version";');
    const headings = [...changelog.matchAll(/^## (\d+\.\d+\.\d+) \((\d{4}-\d{2}-\d{2})\)$/gm)].map((m) => m[1]!);
    expect(headings[0]).toBe(version);
    expect([...headings].sort((a, b) => compareVersions(b, a))).toEqual(headings); // newest first
    expect(currentRelease().version).toBe(version);
  });

  it("every released version before it is recorded, with the contents upgrades merge against", () => {
    const releases = pastReleases();
    expect(releases.map((r) => r.version)).toContain("1.0.0");
    for (const release of releases) {
      expect(compareVersions(release.version, version), release.version).toBeLessThan(0);
      expect(changelog).toContain(`## ${release.version} (`);
      for (const [path, hash] of Object.entries(release.files)) {
        if (path === "worker-configuration.d.ts" || path === "package-lock.json") continue;
        expect(existsSync(join(ROOT, "history/objects", hash)), `${release.version} ${path}`).toBe(true);
      }
    }
    // Nothing in the object store that no release names (a stale snapshot).
    const named = new Set(releases.flatMap((r) => Object.values(r.files)));
    expect(readdirSync(join(ROOT, "history/objects")).filter((hash) => !named.has(hash))).toEqual([]);
  });

  it("the current wallet is not a release already recorded (a change to it needs a new version)", () => {
    const current = currentRelease();
    const wallet = (files: Record<string, string>) => JSON.stringify(Object.entries(files).filter(([p]) => p.startsWith("src/stripeflare/")).sort());
    for (const release of pastReleases()) expect(wallet(release.files), release.version).not.toBe(wallet(current.files));
  });

  it("changelog entries between two versions, with their sections", () => {
    const text = "# x\n\n## 1.2.0 (2027-01-02)\n\n### Security\n- a\n- b\n\n### Changed\n- c\n\n## 1.1.0 (2026-12-04)\n\n### Security\n- d\n\n## 1.0.0 (2026-11-27)\n\nFirst release.\n";
    expect(changelogBetween(text, "1.0.0", "1.2.0").map((e) => e.version)).toEqual(["1.2.0", "1.1.0"]);
    expect(changelogBetween(text, "1.1.0", "1.2.0")[0]!.sections).toEqual([
      { title: "Security", items: ["a", "b"] },
      { title: "Changed", items: ["c"] },
    ]);
    expect(changelogBetween(text, "1.2.0", "1.2.0")).toEqual([]);
    const security = changelogBetween(changelog, "1.0.0", version).flatMap((e) => e.sections.filter((s) => s.title === "Security").flatMap((s) => s.items));
    expect(security.length).toBeGreaterThanOrEqual(8);
  });
});
