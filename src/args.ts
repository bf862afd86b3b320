// Command-line flags: one table drives parsing, validation of unknown flags and the help text,
// so the three can never disagree. The public surface is CONTRACT.md §1.
import mri from "mri";

export type PackageManager = "npm" | "pnpm" | "yarn" | "bun";
export const PACKAGE_MANAGERS: readonly PackageManager[] = ["npm", "pnpm", "yarn", "bun"];

export type Command = "create" | "add" | "upgrade";

export interface Flags {
  /**
   * `add` (first positional): put the wallet into an existing Worker; `upgrade`: bring a
   * project's copy of the wallet up to this version; otherwise a new project.
   */
  command: Command;
  /** upgrade --check: report only, exit 1 when the copy is behind. */
  check: boolean;
  directory?: string;
  /** --template; undefined = not given: an interactive new project asks, otherwise `default`. */
  template?: string;
  title?: string;
  domain?: string;
  /** undefined = not given: prompt (interactive) or the default. */
  price?: string;
  currency?: string;
  /** --agent-payments <profile>: STRIPE_NETWORK_ID, agents pay 402s by themselves (MPP). */
  agentPayments?: string;
  stripeSecret?: string;
  stripePublishableKey?: string;
  stripe: boolean;
  install: boolean;
  git: boolean;
  /** undefined = ask (interactive) or no (--yes / no TTY). */
  deploy?: boolean;
  pm?: PackageManager;
  yes: boolean;
  force: boolean;
  /** Allow a live-mode key when nothing can be asked (CONTRACT §1). */
  live: boolean;
  help: boolean;
  version: boolean;
}

interface OptionSpec {
  name: string;
  alias?: string;
  kind: "string" | "boolean";
  value?: string;
  help: string;
  /** Shown as `--x` / `--no-x` in the help. */
  negatable?: boolean;
}

export const OPTIONS: readonly OptionSpec[] = [
  { name: "template", alias: "t", kind: "string", value: "<name|source>", help: "bundled template: default (a paid HTTP API with a page) or mcp (a paid MCP server); or a giget source such as gh:owner/repo/path#ref" },
  { name: "title", kind: "string", value: "<text>", help: "product name on the Stripe checkout page (default: the project name)" },
  { name: "domain", kind: "string", value: "<host>", help: "hostname the Worker serves, e.g. api.example.com (webhook: https://<host>/stripe-webhook)" },
  { name: "price", kind: "string", value: "<amount>", help: "top-up price in major units, e.g. 5 or 19.99 (default 5)" },
  { name: "currency", kind: "string", value: "<code>", help: "ISO 4217 currency code (default usd)" },
  { name: "agent-payments", kind: "string", value: "<profile>", help: "let AI agents pay 402s by themselves (MPP, Stripe Shared Payment Tokens, a Stripe preview): the Stripe profile id their tokens are granted to" },
  { name: "stripe-secret", kind: "string", value: "<key>", help: "sk_test_…, sk_live_…, rk_test_… or rk_live_… (or env STRIPE_SECRET)" },
  { name: "stripe-publishable-key", kind: "string", value: "<key>", help: "pk_test_… or pk_live_… (or env STRIPE_PUBLISHABLE_KEY)" },
  { name: "stripe", kind: "boolean", negatable: true, help: "--no-stripe: scaffold only, leave the Stripe values in .dev.vars empty" },
  { name: "install", kind: "boolean", negatable: true, help: "install dependencies (default: yes)" },
  { name: "git", kind: "boolean", negatable: true, help: "git init and a first commit (default: yes, when git is configured)" },
  { name: "deploy", kind: "boolean", negatable: true, help: "upload secrets and run wrangler deploy (default: ask; with --yes: no)" },
  { name: "pm", kind: "string", value: "<npm|pnpm|yarn|bun>", help: "package manager (default: the one that launched this command)" },
  { name: "yes", alias: "y", kind: "boolean", help: "never prompt; take defaults (also when stdin is not a TTY)" },
  { name: "check", kind: "boolean", help: "upgrade --check: print the wallet's version and the fixes it lacks; exit 1 when behind" },
  { name: "force", kind: "boolean", help: "allow a non-empty target folder (template files overwrite same-named files)" },
  { name: "live", kind: "boolean", help: "allow a live-mode key (sk_live_…, rk_live_…) when nothing can be asked" },
  { name: "help", alias: "h", kind: "boolean", help: "show this help" },
  { name: "version", alias: "v", kind: "boolean", help: "show the version" },
];

export class UsageError extends Error {}

/** A Stripe profile id (STRIPE_NETWORK_ID): it lands in wrangler.jsonc and in every 402's challenge. */
export const NETWORK_ID = /^[A-Za-z0-9_]{1,100}$/;

/**
 * `npm create stripeflare@latest my-app --no-stripe --price 5` (without `--`) hands our options
 * to npm, which keeps them as its own config (npm_config_stripe="", npm_config_price="true") and
 * passes their values on as folder names. Our options that npm has no meaning for give it away.
 * Returns the one line to print, or undefined.
 */
export function swallowedByNpm(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.npm_command !== "exec") return undefined;
  const npmOwn = new Set(["yes", "force", "git", "help", "version"]);
  const taken = OPTIONS.filter((o) => !npmOwn.has(o.name) && env[`npm_config_${o.name.replace(/-/g, "_")}`] !== undefined).map((o) => `--${o.name}`);
  if (!taken.length) return undefined;
  return `npm kept ${taken.join(", ")} for itself: put \`--\` before the options, e.g. npm create stripeflare@latest my-app -- --no-stripe --yes`;
}

/** Flags of a new project that mean nothing for `add`: refused rather than silently ignored. */
const NOT_FOR_ADD = ["template", "force", "git", "check", "agent-payments"] as const;
/** The only flags `upgrade` takes. */
const FOR_UPGRADE = ["check", "yes", "help", "version"];

export function parseArgs(argv: string[]): Flags {
  // `--price -5` would read as the flag -5: say what is wrong with the price instead.
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i] === "--price" ? argv[i + 1] : argv[i]!.startsWith("--price=") ? argv[i]!.slice(8) : undefined;
    if (value !== undefined && /^-\d/.test(value)) throw new UsageError(`--price must be a positive amount such as 5 or 19.99 (got "${value}")`);
  }
  const strings = OPTIONS.filter((o) => o.kind === "string").map((o) => o.name);
  const booleans = OPTIONS.filter((o) => o.kind === "boolean").map((o) => o.name);
  const alias = Object.fromEntries(OPTIONS.filter((o) => o.alias).map((o) => [o.alias!, o.name]));
  const raw = mri(argv, { string: strings, boolean: booleans, alias });

  const known = new Set<string>(["_", ...OPTIONS.map((o) => o.name), ...Object.keys(alias)]);
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) throw new UsageError(`unknown option ${key.length === 1 ? "-" : "--"}${key} (see --help)`);
  }
  const positionals = raw._.map(String);
  // `add` is a command word, not a folder name: a new project in a folder called "add" is `./add`.
  const command: Command = positionals[0] === "add" ? "add" : positionals[0] === "upgrade" ? "upgrade" : "create";
  if (command !== "create") positionals.shift();
  if (positionals.length > 1) {
    throw new UsageError(`expected one directory, got ${positionals.length}: ${positionals.join(" ")}`);
  }
  if (command === "add") {
    for (const name of NOT_FOR_ADD) {
      // --no-git says what add does anyway (it never commits in someone's repository).
      if (raw[name] !== undefined && !(name === "git" && raw[name] === false)) throw new UsageError(`--${name} does not apply to \`create-stripeflare add\` (it changes an existing project in place)`);
    }
  }
  if (command === "upgrade") {
    // (mri turns `alias`'s values into arrays: ask OPTIONS for a short flag's name.)
    const nameOf = (key: string) => OPTIONS.find((o) => o.alias === key)?.name ?? key;
    const other = Object.keys(raw).find((key) => key !== "_" && !FOR_UPGRADE.includes(nameOf(key)));
    if (other) throw new UsageError(`--${nameOf(other)} does not apply to \`create-stripeflare upgrade\` (it takes [directory], --check and --yes)`);
  } else if (raw.check !== undefined) {
    throw new UsageError("--check belongs to `create-stripeflare upgrade --check`");
  }
  for (const name of strings) {
    // mri turns a trailing `--price` into "" and `--price --yes` into true; both are mistakes.
    const value = raw[name];
    if (value === "" || value === true || Array.isArray(value)) {
      if (Array.isArray(value)) throw new UsageError(`--${name} was given more than once`);
      throw new UsageError(`--${name} needs a value`);
    }
  }
  const str = (name: string): string | undefined => (raw[name] === undefined ? undefined : String(raw[name]));
  const bool = (name: string): boolean | undefined => (raw[name] === undefined ? undefined : Boolean(raw[name]));

  const agentPayments = str("agent-payments")?.trim();
  if (agentPayments !== undefined && !NETWORK_ID.test(agentPayments)) {
    throw new UsageError(`--agent-payments needs the Stripe profile id agents' tokens are granted to, such as profile_…: letters, digits and _ (got "${agentPayments.slice(0, 60)}")`);
  }
  const pm = str("pm");
  if (pm !== undefined && !PACKAGE_MANAGERS.includes(pm as PackageManager)) {
    throw new UsageError(`--pm must be one of ${PACKAGE_MANAGERS.join(", ")} (got "${pm}")`);
  }
  return {
    command,
    check: bool("check") ?? false,
    directory: positionals[0],
    template: str("template"),
    title: str("title"),
    domain: str("domain"),
    price: str("price"),
    currency: str("currency"),
    agentPayments,
    stripeSecret: str("stripe-secret"),
    stripePublishableKey: str("stripe-publishable-key"),
    stripe: bool("stripe") ?? true,
    install: bool("install") ?? true,
    git: bool("git") ?? true,
    deploy: bool("deploy"),
    pm: pm as PackageManager | undefined,
    yes: bool("yes") ?? false,
    force: bool("force") ?? false,
    live: bool("live") ?? false,
    help: bool("help") ?? false,
    version: bool("version") ?? false,
  };
}

export function helpText(version: string, command: Command = "create"): string {
  if (command === "upgrade") {
    return [
      `create-stripeflare ${version} upgrade: bring a project's copy of the Stripeflare wallet up to ${"this version"}`,
      "",
      "Usage:",
      "  create-stripeflare upgrade [directory]           (directory: default the current folder)",
      "  create-stripeflare upgrade [directory] --check   report only: exit 0 when current, 1 when behind",
      "",
      "It finds the wallet (src/stripeflare/, or beside the Worker's main module after `add`),",
      "prints the changelog entries it lacks (security fixes first), replaces the files you did",
      "not edit, merges your edits where they apply cleanly, and keeps your copy of any file it",
      "could not merge beside the new one (<file>.yours). Nothing is written when anything is in",
      "the way; a rerun is safe, and Ctrl-C leaves the old copy whole.",
      "",
      "Example (in CI, to learn when a fix is out):",
      "  npx create-stripeflare@latest upgrade --check",
      "",
    ].join("\n");
  }
  const rows = OPTIONS.filter((o) => o.name !== "check" && (command === "create" || !(NOT_FOR_ADD as readonly string[]).includes(o.name))).map((o) => {
    const names = o.negatable
      ? `    --${o.name} / --no-${o.name}`
      : `${o.alias ? `-${o.alias}, ` : "    "}--${o.name}${o.value ? ` ${o.value}` : ""}`;
    return [names, o.help] as const;
  });
  const width = Math.max(...rows.map(([names]) => names.length)) + 2;
  const options = ["Options:", ...rows.map(([names, help]) => `  ${names.padEnd(width)}${help}`)];
  const keys = [
    "Keys are looked up in this order: flag, environment (STRIPE_SECRET, STRIPE_PUBLISHABLE_KEY),",
    "the project's .dev.vars, ~/.stripeflare.dev.vars, then a prompt. Prefer the environment or the",
    "prompt to --stripe-secret: a flag is visible to other users of this machine in the process list.",
    "STRIPE_API_BASE sends every Stripe API call elsewhere (tests, local stand-ins).",
  ];
  if (command === "add") {
    return [
      `create-stripeflare ${version} add: put the Stripeflare wallet into an existing Worker project`,
      "",
      "Usage:",
      "  create-stripeflare add [directory] [options]     (directory: default the current folder)",
      "",
      "  In a Worker project (wrangler.jsonc, wrangler.json or wrangler.toml) it copies the wallet",
      "  module next to the Worker's main file (src/stripeflare/), adds its dependencies, the",
      "  DORM_NAMESPACE Durable Object binding and a new_sqlite_classes migration, the five secrets",
      "  in .dev.vars and .dev.vars.example, then creates the Stripe product, price, payment link and",
      "  webhook like a new project. It prints the three lines to change in your fetch export.",
      "  Running it again is safe: what is already there is left alone.",
      "",
      ...options,
      "",
      ...keys,
      "",
      "Example:",
      "  npx create-stripeflare add --domain api.example.com --price 5 --stripe-secret sk_test_… --yes",
      "",
    ].join("\n");
  }
  return [
    `create-stripeflare ${version}: a Cloudflare Worker with a Stripe-funded wallet per visitor`,
    "",
    "Usage:",
    "  create-stripeflare [directory] [options]",
    "  npm create stripeflare@latest [directory] -- [options]",
    "  create-stripeflare add [directory] [options]     wallet into an existing Worker (add --help)",
    "  create-stripeflare upgrade [directory] [--check] the project's wallet up to this version",
    "",
    "  directory is the target folder (\".\" = the current one); its name becomes the",
    "  package and Worker name.",
    "",
    ...options,
    "",
    ...keys,
    "",
    "Run it again in a project it created to finish an interrupted run or to add --domain,",
    "--price or --deploy: what exists in Stripe is reused, not duplicated.",
    "",
    "Example:",
    "  npx create-stripeflare my-api --domain api.example.com --price 5 --stripe-secret sk_test_… --yes",
    "",
  ].join("\n");
}
