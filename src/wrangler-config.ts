// wrangler.jsonc is edited as text with jsonc-parser so the template's comments and layout survive.
// compatibility_date is deliberately left as the template set it: the template pins it to what its
// pinned wrangler/workerd supports, and "today" could be newer than that.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { applyEdits, findNodeAtLocation, modify, parse, parseTree, type ParseError } from "jsonc-parser";
import { writeFileAtomic } from "./dev-vars.js";

const FORMAT = { formattingOptions: { insertSpaces: true, tabSize: 2, eol: "\n" } };

export interface Route {
  pattern: string;
  custom_domain?: boolean;
  zone_name?: string;
}

export function parseJsonc<T>(text: string, file: string): T {
  const errors: ParseError[] = [];
  const value = parse(text, errors, { allowTrailingComma: true });
  if (errors.length) throw new Error(`${file} is not valid JSONC (error at offset ${errors[0].offset})`);
  return value as T;
}

/**
 * Pure: returns the new text with the Worker name set, the page's currency (`vars.CURRENCY`,
 * where the template declares it) and, given a domain, a custom-domain route. The route is
 * inserted as text right after the last value so the template's layout (one-line arrays,
 * comments after the last property) is left exactly as it was.
 */
export function editWranglerConfig(text: string, name: string, domain?: string, currency?: string): string {
  parseJsonc(text, "wrangler.jsonc");
  let out = applyEdits(text, modify(text, ["name"], name, FORMAT));
  const declared = findNodeAtLocation(parseTree(out)!, ["vars", "CURRENCY"]);
  if (currency && declared && declared.value !== currency) out = applyEdits(out, modify(out, ["vars", "CURRENCY"], currency, FORMAT));
  return domain ? addRoute(out, domain) : out;
}

/**
 * Adds `{ pattern: domain, custom_domain: true }` to "routes" unless a route has that pattern.
 * Inserted as text right after the last value so the layout (one-line arrays, comments after
 * the last property) is left exactly as it was.
 */
export function addRoute(out: string, domain: string, file = "wrangler.jsonc"): string {
  const route = `{ "pattern": ${JSON.stringify(domain)}, "custom_domain": true }`;
  const root = parseTree(out);
  if (!root || root.type !== "object") throw new Error(`${file} must hold an object`);
  const routes = findNodeAtLocation(root, ["routes"]);
  if (!routes) {
    const last = root.children?.at(-1);
    const entry = `"routes": [${route}]`;
    if (!last) return applyEdits(out, modify(out, ["routes"], [{ pattern: domain, custom_domain: true }], FORMAT));
    const at = last.offset + last.length;
    return `${out.slice(0, at)},\n  // Custom domain (create-stripeflare --domain): the Worker serves this hostname.\n  ${entry}${out.slice(at)}`;
  }
  if (routes.type !== "array") throw new Error(`"routes" in ${file} must be an array`);
  const patterns = (routes.children ?? []).map((child) => findNodeAtLocation(child, ["pattern"])?.value ?? child.value);
  if (patterns.includes(domain)) return out;
  const lastRoute = routes.children?.at(-1);
  if (!lastRoute) {
    const at = routes.offset + 1; // just inside "["
    return `${out.slice(0, at)}${route}${out.slice(at)}`;
  }
  const at = lastRoute.offset + lastRoute.length;
  return `${out.slice(0, at)}, ${route}${out.slice(at)}`;
}

export function wranglerConfigPath(dir: string): string | undefined {
  for (const file of ["wrangler.jsonc", "wrangler.json"]) if (existsSync(join(dir, file))) return join(dir, file);
  return undefined;
}

export function updateWranglerConfig(dir: string, name: string, domain?: string, currency?: string): void {
  const file = wranglerConfigPath(dir);
  if (!file) {
    throw new Error("the template has no wrangler.jsonc (wrangler.toml is not supported: it cannot be edited safely)");
  }
  const text = readFileSync(file, "utf8");
  const next = editWranglerConfig(text, name, domain, currency);
  if (next !== text) writeConfigFile(file, next);
}

/**
 * Replaces a wrangler config in one step (dev-vars.ts's write-then-rename, keeping the file's
 * mode): a `wrangler dev` that is running watches the file and would otherwise read it
 * half-written ("ValueExpected").
 */
export function writeConfigFile(file: string, text: string): void {
  writeFileAtomic(file, text, statSync(file).mode & 0o777);
}
