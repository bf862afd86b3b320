// An existing Worker's wrangler config gets what the wallet needs: the DORM_NAMESPACE binding to
// class DORM and a migration that creates DORM with SQLite storage. JSONC/JSON is edited with
// jsonc-parser (comments and layout survive). TOML is appended to as text: `[[table]]` headers
// are absolute paths, so new array-of-tables entries at the end of the file extend the arrays
// wherever they were started, and nothing the user wrote is rewritten. smol-toml (the parser
// wrangler itself uses) then proves the result parses and differs from the original by exactly
// our entries; a file it cannot extend that way (inline arrays) is refused with the lines to add.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { applyEdits, modify, parse as parseJsonText, type ParseError } from "jsonc-parser";
import { parse as parseToml } from "smol-toml";
import { addRoute } from "./wrangler-config.js";

export const DORM_BINDING = { name: "DORM_NAMESPACE", class_name: "DORM" } as const;

/** Durable Object RPC (the wallet calls DORM's methods) needs this date or the `rpc` flag. */
export const MIN_COMPATIBILITY_DATE = "2024-04-03";

/** wrangler's own order of precedence. */
const CONFIG_FILES = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"] as const;

export interface WorkerConfig {
  file: string;
  /** Base name, e.g. wrangler.toml, for messages. */
  fileName: string;
  format: "jsonc" | "toml";
  text: string;
  config: Record<string, any>;
}

export function findWorkerConfig(dir: string): string | undefined {
  return CONFIG_FILES.map((name) => join(dir, name)).find((file) => existsSync(file));
}

export function parseWorkerConfig(text: string, fileName: string): Record<string, any> {
  let config: unknown;
  if (fileName.endsWith(".toml")) {
    try {
      config = parseToml(text);
    } catch (error) {
      throw new Error(`${fileName} is not valid TOML: ${(error as Error).message.split("\n")[0]}`);
    }
  } else {
    const errors: ParseError[] = [];
    config = parseJsonText(text, errors, { allowTrailingComma: true });
    if (errors.length) {
      const line = text.slice(0, errors[0].offset).split("\n").length;
      throw new Error(`${fileName} is not valid JSONC (line ${line})`);
    }
  }
  if (!config || typeof config !== "object" || Array.isArray(config)) throw new Error(`${fileName} must hold an object`);
  return config as Record<string, any>;
}

export function readWorkerConfig(dir: string): WorkerConfig | undefined {
  const file = findWorkerConfig(dir);
  if (!file) return undefined;
  const fileName = file.slice(dir.length + 1);
  const text = readFileSync(file, "utf8");
  return { file, fileName, format: fileName.endsWith(".toml") ? "toml" : "jsonc", text, config: parseWorkerConfig(text, fileName) };
}

/** What is missing, decided from the parsed config; an error when DORM is already used otherwise. */
export interface DormPlan {
  addBinding: boolean;
  /** The tag of the migration to add; undefined when DORM already has a SQLite migration. */
  migrationTag?: string;
}

const list = (value: unknown): any[] => (Array.isArray(value) ? value : []);

export function planDorm(config: Record<string, any>, fileName: string): DormPlan {
  const bindings = list(config.durable_objects?.bindings);
  const ours = bindings.find((b) => b?.name === DORM_BINDING.name);
  if (ours && (ours.class_name !== DORM_BINDING.class_name || ours.script_name)) {
    throw new Error(`${fileName} already binds ${DORM_BINDING.name} to another class (${ours.script_name ? `${ours.script_name}:` : ""}${ours.class_name}); rename that binding first`);
  }
  const other = bindings.find((b) => b?.class_name === DORM_BINDING.class_name && b?.name !== DORM_BINDING.name && !b?.script_name);
  if (other) throw new Error(`${fileName} already has a Durable Object class DORM (binding ${other.name}); the wallet needs that class name for itself`);

  const migrations = list(config.migrations);
  const mentions = (m: any) => [
    ...list(m?.new_classes),
    ...list(m?.deleted_classes),
    ...list(m?.renamed_classes).flatMap((r: any) => [r?.from, r?.to]),
    ...list(m?.transferred_classes).flatMap((t: any) => [t?.from, t?.to]),
  ];
  const sqlite = migrations.find((m) => list(m?.new_sqlite_classes).includes(DORM_BINDING.class_name));
  const clash = migrations.find((m) => mentions(m).includes(DORM_BINDING.class_name));
  if (clash) throw new Error(`${fileName} has a migration (tag "${clash.tag}") that already creates, renames or deletes a class DORM; the wallet's DORM must be a new SQLite class`);
  return { addBinding: !ours, migrationTag: sqlite ? undefined : nextMigrationTag(migrations.map((m) => String(m?.tag ?? ""))) };
}

/** v1, v2, …: one past the highest vN in use, and never a tag that exists. */
export function nextMigrationTag(tags: string[]): string {
  let n = Math.max(0, ...tags.map((tag) => Number(/^v(\d+)$/.exec(tag)?.[1] ?? 0))) + 1;
  while (tags.includes(`v${n}`)) n++;
  return `v${n}`;
}

/** Why the compatibility date is too old for the wallet, or undefined. */
export function compatibilityProblem(config: Record<string, any>, fileName: string): string | undefined {
  const date = config.compatibility_date;
  if (typeof date !== "string") return undefined; // wrangler itself asks for one; not ours to pick
  if (date >= MIN_COMPATIBILITY_DATE || list(config.compatibility_flags).includes("rpc")) return undefined;
  return (
    `compatibility_date ${date} in ${fileName} is older than ${MIN_COMPATIBILITY_DATE}, which the wallet needs (Durable Object RPC): ` +
    `set it to ${MIN_COMPATIBILITY_DATE} or later (see https://developers.cloudflare.com/workers/configuration/compatibility-flags/ for what changes) ` +
    `or add "rpc" to compatibility_flags, then run again`
  );
}

function detectIndent(text: string): { insertSpaces: boolean; tabSize: number } {
  const indented = /^([ \t]+)\S/m.exec(text)?.[1];
  if (indented?.startsWith("\t")) return { insertSpaces: false, tabSize: 1 };
  return { insertSpaces: true, tabSize: indented ? Math.min(indented.length, 8) : 2 };
}

export function addDormToJsonc(text: string, config: Record<string, any>, plan: DormPlan): string {
  const options = { formattingOptions: { ...detectIndent(text), eol: text.includes("\r\n") ? "\r\n" : "\n" } };
  let out = text;
  const edit = (path: (string | number)[], value: unknown) => {
    out = applyEdits(out, modify(out, path, value, { ...options, isArrayInsertion: path.at(-1) === -1 }));
  };
  if (plan.addBinding) {
    if (Array.isArray(config.durable_objects?.bindings)) edit(["durable_objects", "bindings", -1], DORM_BINDING);
    else if (config.durable_objects && typeof config.durable_objects === "object") edit(["durable_objects", "bindings"], [DORM_BINDING]);
    else edit(["durable_objects"], { bindings: [DORM_BINDING] });
  }
  if (plan.migrationTag) {
    const migration = { tag: plan.migrationTag, new_sqlite_classes: [DORM_BINDING.class_name] };
    if (Array.isArray(config.migrations)) edit(["migrations", -1], migration);
    else edit(["migrations"], [migration]);
  }
  return out;
}

/** The TOML lines for the plan (also what the user is told to add by hand when we cannot). */
export function dormTomlLines(plan: DormPlan): string {
  const parts: string[] = [];
  if (plan.addBinding) {
    parts.push(
      "# Stripeflare wallet (create-stripeflare add): every account's SQLite database is a DORM",
      "# Durable Object. Export DORM from the main module: export { DORM } from \"./stripeflare\";",
      "[[durable_objects.bindings]]",
      `name = "${DORM_BINDING.name}"`,
      `class_name = "${DORM_BINDING.class_name}"`,
    );
  }
  if (plan.migrationTag) {
    if (parts.length) parts.push("");
    parts.push(
      "# SQLite storage for the wallet's DORM class. Never remove or rename a migration once deployed.",
      "[[migrations]]",
      `tag = "${plan.migrationTag}"`,
      `new_sqlite_classes = ["${DORM_BINDING.class_name}"]`,
    );
  }
  return parts.join("\n");
}

function appendToml(text: string, block: string): string {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const body = text.replace(/\s*$/, "");
  return `${body}${body ? eol + eol : ""}${block.split("\n").join(eol)}${eol}`;
}

export function addDormToToml(text: string, plan: DormPlan, fileName = "wrangler.toml"): string {
  const block = dormTomlLines(plan);
  if (!block) return text;
  const out = appendToml(text, block);
  // The result must parse, and be the original plus exactly our entries.
  const expected = parseToml(text) as Record<string, any>;
  if (plan.addBinding) {
    expected.durable_objects ??= {};
    expected.durable_objects.bindings = [...list(expected.durable_objects.bindings), { ...DORM_BINDING }];
  }
  if (plan.migrationTag) expected.migrations = [...list(expected.migrations), { tag: plan.migrationTag, new_sqlite_classes: [DORM_BINDING.class_name] }];
  let actual: unknown;
  try {
    actual = parseToml(out);
  } catch {
    actual = undefined;
  }
  // smol-toml makes null-prototype objects: compare plain copies.
  const plain = (value: unknown) => JSON.parse(JSON.stringify(value));
  if (!actual || !isDeepStrictEqual(plain(actual), plain(expected))) {
    throw new Error(
      `${fileName} declares durable_objects or migrations in a form that cannot be extended by appending tables (inline arrays?): ` +
        `add ${[plan.addBinding && `a binding { name = "DORM_NAMESPACE", class_name = "DORM" }`, plan.migrationTag && `a migration { tag = "${plan.migrationTag}", new_sqlite_classes = ["DORM"] }`].filter(Boolean).join(" and ")} yourself, then run again`,
    );
  }
  return out;
}

/** Adds a custom-domain route unless one with that pattern exists; undefined: add it by hand. */
export function addDomainRoute(worker: WorkerConfig, text: string, domain: string): string | undefined {
  const routes = list(worker.config.routes);
  const patterns = [...routes.map((r) => (typeof r === "string" ? r : r?.pattern)), worker.config.route];
  if (patterns.includes(domain)) return text;
  if (worker.format === "jsonc") return worker.config.route === undefined ? addRoute(text, domain, worker.fileName) : undefined;
  if (worker.config.route !== undefined) return undefined;
  const out = appendToml(text, ["# Custom domain (create-stripeflare --domain): the Worker serves this hostname.", "[[routes]]", `pattern = "${domain}"`, "custom_domain = true"].join("\n"));
  const parsed = (() => {
    try {
      return parseToml(out) as Record<string, any>;
    } catch {
      return undefined;
    }
  })();
  return parsed && list(parsed.routes).some((r) => r?.pattern === domain) ? out : undefined;
}
