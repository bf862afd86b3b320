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

/** The plain vars the CLI sets (wrangler.jsonc `vars`): the wallet's money and agent payments. */
export interface WorkerVars {
  /** The page's and agent payments' currency. Set where the template declares it. */
  CURRENCY?: string;
  /** Cents one top-up credits (the Payment Link's price). Set where the template declares it. */
  TOP_UP_AMOUNT?: string;
  /** --agent-payments: set (added if need be) when given. */
  STRIPE_NETWORK_ID?: string;
}

/**
 * Pure: returns the new text with the Worker name set, the vars (`vars.CURRENCY` and
 * `vars.TOP_UP_AMOUNT` where the template declares them, `vars.STRIPE_NETWORK_ID` whenever
 * given) and, given a domain, a custom-domain route. The route is inserted as text right after
 * the last value so the template's layout (one-line arrays, comments after the last property)
 * is left exactly as it was.
 */
export function editWranglerConfig(text: string, name: string, domain?: string, vars: WorkerVars | string = {}): string {
  parseJsonc(text, "wrangler.jsonc");
  if (typeof vars === "string") vars = { CURRENCY: vars };
  let out = applyEdits(text, modify(text, ["name"], name, FORMAT));
  for (const [key, value] of Object.entries(vars)) {
    if (value === undefined) continue;
    const declared = findNodeAtLocation(parseTree(out)!, ["vars", key]);
    if ((declared || key === "STRIPE_NETWORK_ID") && declared?.value !== value) out = applyEdits(out, modify(out, ["vars", key], value, FORMAT));
  }
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

export function updateWranglerConfig(dir: string, name: string, domain?: string, vars: WorkerVars = {}): void {
  const file = wranglerConfigPath(dir);
  if (!file) {
    throw new Error("the template has no wrangler.jsonc (wrangler.toml is not supported: it cannot be edited safely)");
  }
  const text = readFileSync(file, "utf8");
  const next = editWranglerConfig(text, name, domain, vars);
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
