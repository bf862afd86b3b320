// Reading a generated project back, for assertions against CONTRACT §2.
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseDotenv } from "dotenv";
import { parse as parseJsonc, type ParseError } from "jsonc-parser";
import { expect } from "vitest";

export function readDevVarsFile(dir: string): Record<string, string> {
  return parseDotenv(readFileSync(join(dir, ".dev.vars"), "utf8"));
}

export function fileMode(file: string): number {
  return statSync(file).mode & 0o777;
}

export function readWranglerConfig(dir: string): { text: string; config: Record<string, any> } {
  const text = readFileSync(join(dir, "wrangler.jsonc"), "utf8");
  const errors: ParseError[] = [];
  const config = parseJsonc(text, errors, { allowTrailingComma: true });
  if (errors.length) throw new Error(`wrangler.jsonc does not parse: ${JSON.stringify(errors)}`);
  return { text, config };
}

export function readJson(file: string): any {
  return JSON.parse(readFileSync(file, "utf8"));
}

export function readState(dir: string): any {
  const file = join(dir, ".stripeflare.json");
  return existsSync(file) ? readJson(file) : undefined;
}

/** Makes the change `add` printed: its own import and export lines, and fetch wrapped. */
export function applyPrintedChange(dir: string, stdout: string): void {
  const importLine = /^\s*(import \{ withStripeflare, DORM \} from "[^"]+";)$/m.exec(stdout)?.[1];
  const exportLine = /^\s*(export \{ DORM \};)$/m.exec(stdout)?.[1];
  expect(importLine, stdout).toBeTruthy();
  expect(exportLine, stdout).toBeTruthy();
  expect(stdout).toMatch(/export default \{ fetch: withStripeflare\(async \(request, env, ctx\) => \{/);
  const file = join(dir, "src", "index.ts");
  let source = readFileSync(file, "utf8");
  const fetchStart = /async fetch\(request, env, ctx\)(: Promise<Response>)? \{/;
  if (fetchStart.test(source)) {
    source = source.replace(fetchStart, "fetch: withStripeflare(async (request, env, ctx)$1 => {");
    const end = source.lastIndexOf("},\n} satisfies");
    source = `${source.slice(0, end)}}),\n} satisfies${source.slice(end + "},\n} satisfies".length)}`;
  } else {
    // A Worker without fetch (the scheduled template) gets one beside its other handlers.
    source = source.replace("export default {", 'export default {\n\tfetch: withStripeflare(async () => new Response("paid area")),');
  }
  writeFileSync(file, `${importLine}\n${exportLine}\n${source}`);
}
