// The closing summary: what exists now (ids shown, secrets masked) and what to do next.
import { relative } from "node:path";
import type { PackageManager } from "./args.js";
import { maskSecret, type StripeMode } from "./keys.js";
import { formatMinorUnits } from "./money.js";
import { runScriptCommand } from "./package-manager.js";
import type { StripeRecord } from "./state.js";
import { bold, cyan, dim } from "./ui.js";

export interface SummaryInput {
  root: string;
  name: string;
  pm: PackageManager;
  installed: boolean;
  stripe?: { mode: StripeMode; record: StripeRecord; unitAmount: number; currency: string; secret: string; webhookSecret?: string };
  deployedUrl?: string;
  domain?: string;
  /** The generated package.json's script names. */
  scripts: string[];
  /**
   * .dev.vars lacks what a local payment needs (STRIPE_SECRET or STRIPE_WEBHOOK_SIGNING_SECRET),
   * which `pay -- --setup` fills in; it must run before `dev`, since wrangler reads .dev.vars
   * only when it starts.
   */
  localSetup?: boolean;
  /** The running Node is too old for the project's toolchain: the first step is a newer one. */
  nodeTooOld?: string;
}

/** What exists now: the Stripe objects (secrets masked), where the secrets are, the live URL. */
function statusRows(s: SummaryInput): string[] {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(16)}${value}`);
  const { stripe } = s;
  if (!stripe) row("Stripe", "skipped: fill in .dev.vars or run again with --stripe-secret");
  else {
    const r = stripe.record;
    row("Stripe mode", stripe.mode);
    row("Secret key", maskSecret(stripe.secret));
    row("Product", r.productId ?? "-");
    row("Price", `${r.priceId ?? "-"} (${formatMinorUnits(stripe.unitAmount, stripe.currency)})`);
    row("Payment Link", `${r.paymentLinkId ?? "-"} ${r.paymentLinkUrl ?? ""}`.trim());
    row("Webhook", r.webhookEndpointId ? `${r.webhookEndpointId} ${r.webhookUrl}` : "not yet (no public URL: pass --domain or --deploy)");
    if (stripe.webhookSecret) row("Signing secret", `${maskSecret(stripe.webhookSecret)} (in .dev.vars)`);
  }
  row("Secrets", ".dev.vars (mode 0600, git-ignored)");
  if (s.deployedUrl) row("Live at", s.deployedUrl);
  return lines;
}

/** "Next steps:" up to the project's own commands: into its folder, then install if skipped. */
function firstSteps(s: SummaryInput): string[] {
  const cd = relative(process.cwd(), s.root);
  const lines = ["", bold("Next steps:")];
  if (s.nodeTooOld) lines.push(`  ${cyan(`# first: Node ${s.nodeTooOld} or newer (this is ${process.versions.node}): https://nodejs.org or nvm install 22`)}`);
  if (cd) lines.push(`  cd ${cd.includes(" ") ? JSON.stringify(cd) : cd}`);
  if (!s.installed) lines.push(`  ${s.pm} install`);
  return lines;
}

/** Commands with their comments, the comments lined up in one column. */
function commandLines(rows: [command: string, comment?: string][]): string[] {
  const width = Math.max(...rows.map(([command]) => command.length));
  return rows.map(([command, comment]) => (comment ? `  ${command.padEnd(width)}   ${dim(`# ${comment}`)}` : `  ${command}`));
}

export function summaryText(s: SummaryInput): string {
  const lines = ["", bold(`${s.name} is ready.`), ...statusRows(s), ...firstSteps(s)];
  const rows: [string, string?][] = [];
  // The template README's local loop, in its order.
  if (s.localSetup && s.scripts.includes("pay")) rows.push([`${runScriptCommand(s.pm, "pay")} -- --setup`, "once: local-only values in .dev.vars (see README.md)"]);
  rows.push([runScriptCommand(s.pm, "dev"), "http://localhost:8787"]);
  if (s.scripts.includes("pay")) rows.push([`${runScriptCommand(s.pm, "pay")} -- <client_reference_id>`, "a local test payment; the page shows this line filled in"]);
  // The MCP template: a client to authorize and call the tools with.
  if (s.scripts.includes("client")) rows.push([runScriptCommand(s.pm, "client"), "an MCP client: open the authorize URL it prints, allow, then it calls the tools"]);
  rows.push([s.pm === "npm" ? "npm test" : runScriptCommand(s.pm, "test")]);
  if (!s.deployedUrl) {
    // Not `wrangler secret bulk .dev.vars`: .dev.vars may hold local-only keys (STRIPE_API_BASE).
    rows.push([
      "npx create-stripeflare . --deploy",
      s.stripe ? "uploads the five secrets, deploys, points the webhook at it" : "once you have Stripe keys: set STRIPE_SECRET and STRIPE_PUBLISHABLE_KEY first (it refuses the local stand-in's)",
    ]);
  }
  lines.push(...commandLines(rows));
  if (s.scripts.includes("client")) {
    lines.push(
      `  ${dim("MCP endpoint: http://localhost:8787/mcp (or your URL + /mcp). MCP Inspector: npx @modelcontextprotocol/inspector;")}`,
      `  ${dim(`Claude Code: claude mcp add --transport http ${s.name} http://localhost:8787/mcp`)}`,
    );
  }
  if (!s.scripts.includes("pay")) {
    lines.push(
      `  ${dim("Test payment: open http://localhost:8787/me, follow paymentLink, pay with card 4242 4242 4242 4242;")}`,
      `  ${dim("deliver the webhook locally with")} stripe listen --forward-to localhost:8787/stripe-webhook`,
    );
  }
  return lines.join("\n") + "\n";
}

export interface AddSummaryInput extends SummaryInput {
  /** The Worker's main module, relative to the project, e.g. src/index.ts. */
  mainFile: string;
  /** How the main module imports the wallet, e.g. ./stripeflare. */
  importPath: string;
  /** Whether the main module already exports DORM (the change is made). */
  changed: boolean;
  /** Where the wallet's README is, relative to the project. */
  walletReadme: string;
}

/** After `add`: what exists, then the three-line change to the fetch export, then next steps. */
export function addSummaryText(s: AddSummaryInput): string {
  const lines = ["", bold(`Stripeflare is in ${s.name}.`), ...statusRows(s)];
  if (!s.changed) {
    lines.push(
      "",
      bold(`Now change the fetch export in ${s.mainFile} (three lines):`),
      "",
      `  ${cyan(`import { withStripeflare, DORM } from ${JSON.stringify(s.importPath)};`)}`,
      `  ${cyan("export { DORM };")}`,
      `  ${cyan("export default { fetch: withStripeflare(async (request, env, ctx) => { /* your fetch */ }) };")}`,
      "",
      `  ${dim("Keep your other handlers (scheduled, queue, …) beside fetch. In the handler, ctx.user is the visitor")}`,
      `  ${dim(`and ctx.charge(cents) or an X-Price: <cents> response header charges them; see ${s.walletReadme}.`)}`,
    );
  }
  lines.push(...firstSteps(s));
  lines.push(`  npx wrangler types   ${dim("# Env gets DORM_NAMESPACE and the five secrets")}`);
  lines.push(`  ${s.scripts.includes("dev") ? runScriptCommand(s.pm, "dev") : "npx wrangler dev"}   ${dim("# then open http://localhost:8787/me")}`);
  if (!s.deployedUrl) lines.push(`  ${cyan("npx create-stripeflare add --deploy")}   ${dim("# after the change: uploads the five secrets, deploys, points the webhook at it")}`);
  return lines.join("\n") + "\n";
}
