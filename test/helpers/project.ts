// Reading a generated project back, for assertions against CONTRACT §2.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse as parseDotenv } from "dotenv";
import { parse as parseJsonc, type ParseError } from "jsonc-parser";

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
