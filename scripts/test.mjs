#!/usr/bin/env node
// Runs every test in the repository: each Worker template's suite (in workerd: the default
// template, the MCP server) and the CLI's suite (which also scaffolds projects and drives a browser). It is `npm test`, so
// `node` here is the Node 22 that the root devDependency `node@22` puts first on PATH:
// wrangler and vitest 5 need Node >= 22.12, while the CLI itself is also tested on the
// machine's own Node 20 by the suite.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const template = join(root, "templates/default");
const mcpTemplate = join(root, "templates/mcp");
const results = join(root, "test-results");

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  fail(
    `Node ${process.versions.node} is too old for wrangler and vitest 5 (need 22.12+). ` +
      "Run `npm install && npm test` at the repository root: the devDependency node@22 then runs the tests.",
  );
}

ensureChromium();
run("npm", ["run", "build"], root);
for (const dir of [template, mcpTemplate]) if (templateNeedsInstall(dir)) run("npm", ["ci", "--no-audit", "--no-fund"], dir);

mkdirSync(results, { recursive: true });
const suites = [
  { name: "template (workerd)", cwd: template, report: join(results, "template.json") },
  { name: "MCP template (workerd)", cwd: mcpTemplate, report: join(results, "template-mcp.json") },
  { name: "cli", cwd: root, report: join(results, "cli.json") },
];
for (const suite of suites) {
  console.log(`\n=== ${suite.name} tests ===`);
  rmSync(suite.report, { force: true }); // a crashed run must not be counted from an old report
  const reporters = ["--reporter=default", "--reporter=json", `--outputFile.json=${suite.report}`];
  // The template runs through its own `npm test` runner, which leaves out the noise its fault
  // tests make on purpose (templates/default/scripts/test.mjs).
  suite.status = suite.cwd !== root ? spawn("node", ["scripts/test.mjs", ...reporters], suite.cwd) : spawn("npx", ["vitest", "run", ...reporters], suite.cwd);
}

const total = { passed: 0, failed: 0, skipped: 0 };
for (const suite of suites) {
  const counts = readCounts(suite.report) ?? { passed: 0, failed: 0, skipped: 0 };
  // A suite that exits non-zero without a failed test (it crashed, or found no test files)
  // still counts as a failure: never report a broken suite as green.
  if (suite.status !== 0 && counts.failed === 0) counts.failed = 1;
  for (const key of Object.keys(total)) total[key] += counts[key];
}
const { passed, failed, skipped } = total;
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);

function readCounts(file) {
  if (!existsSync(file)) return undefined;
  const report = JSON.parse(readFileSync(file, "utf8"));
  return { passed: report.numPassedTests, failed: report.numFailedTests, skipped: report.numPendingTests + report.numTodoTests };
}

function templateNeedsInstall(dir) {
  const installed = join(dir, "node_modules/.package-lock.json");
  if (!existsSync(installed)) return true;
  return statSync(join(dir, "package-lock.json")).mtimeMs > statSync(installed).mtimeMs;
}

// The browser test drives Debian's Chromium. On a fresh Debian machine where we are root
// we install it; anywhere else we say what to install rather than fail mid-suite.
function ensureChromium() {
  if (existsSync("/usr/bin/chromium")) return;
  const canApt = process.getuid?.() === 0 && existsSync("/usr/bin/apt-get");
  if (!canApt) fail("The browser test needs Chromium at /usr/bin/chromium (Debian: apt-get install chromium).");
  console.log("Installing Chromium for the browser test (apt-get install chromium)...");
  run("apt-get", ["update", "-qq"], root);
  run("apt-get", ["install", "-y", "-qq", "chromium"], root);
}

function spawn(cmd, args, cwd) {
  return spawnSync(cmd, args, { cwd, stdio: "inherit" }).status;
}

function run(cmd, args, cwd) {
  const status = spawn(cmd, args, cwd);
  if (status !== 0) fail(`\`${cmd} ${args.join(" ")}\` failed in ${cwd} (exit ${status}).`);
}

function fail(message) {
  console.error(`test: ${message}`);
  process.exit(1);
}
