// The interactive questions. Each asker validates with the same rules as the flags, so a prompt
// never accepts what the non-interactive path would refuse.
import prompts, { type PromptObject } from "prompts";
import { NETWORK_ID } from "./args.js";
import { publishableKeyMode, secretKeyMode, type StripeMode } from "./keys.js";
import { toMinorUnits } from "./money.js";
import { normalizeDomain, projectNameProblem } from "./project-name.js";
import { basename, resolve } from "node:path";

export class CancelledError extends Error {
  constructor() {
    super("cancelled");
  }
}

async function ask<T>(question: Omit<PromptObject, "name">): Promise<T> {
  const answers = await prompts({ ...question, name: "value" } as PromptObject, {
    onCancel: () => {
      throw new CancelledError();
    },
  });
  return answers.value as T;
}

const check = (validate: (value: string) => void) => (value: string) => {
  try {
    validate(value);
    return true;
  } catch (error) {
    return promptMessage((error as Error).message);
  }
};

/** The flags' rules say "--price must …"; under a question, the answer is what is wrong. */
export function promptMessage(message: string): string {
  return message.replace(/^--([a-z-]+)\b/, (_flag, name: string) => `The ${name.replace(/-/g, " ")}`);
}

export function askDirectory(message = "Project folder"): Promise<string> {
  return ask<string>({
    type: "text",
    message,
    initial: "my-stripeflare-app",
    validate: (value: string) => projectNameProblem(basename(resolve(value.trim() || "."))) ?? true,
    format: (value: string) => value.trim(),
  });
}

export function askUseName(name: string, suggestion: string): Promise<boolean> {
  return ask<boolean>({
    type: "confirm",
    message: `"${name}" cannot be a Worker name (lowercase letters, digits and dashes). Use "${suggestion}" instead?`,
    initial: true,
  });
}

export function askOverwrite(dir: string): Promise<boolean> {
  return ask<boolean>({ type: "confirm", message: `${dir} is not empty. Copy the template into it anyway (same-named files are overwritten)?`, initial: false });
}

export function askTitle(initial: string): Promise<string> {
  return ask<string>({ type: "text", message: "Product name on the Stripe checkout page", initial, format: (v: string) => v.trim() || initial });
}

export function askPrice(currency: string): Promise<string> {
  return ask<string>({
    type: "text",
    message: `Top-up price in ${currency.toUpperCase()}`,
    initial: "5",
    validate: check((value) => toMinorUnits(value, currency)),
    format: (v: string) => v.trim(),
  });
}

/** The bundled template, create-vite style: one line each. */
export async function askTemplate(): Promise<string> {
  return ask<string>({
    type: "select",
    message: "Template",
    choices: [
      { title: "default", description: "a paid HTTP API: a page, JSON and Markdown, POST /charge at one cent", value: "default" },
      { title: "mcp", description: "a paid MCP server: tools charged per call, clients authorized by paying", value: "mcp" },
    ],
    initial: 0,
  });
}

/** --agent-payments: the Stripe profile id, or empty for none. */
export async function askAgentPayments(): Promise<string | undefined> {
  const value = await ask<string>({
    type: "text",
    message: "Let AI agents pay by themselves (MPP, Stripe Shared Payment Tokens, a preview)? Your Stripe profile id (empty: not now)",
    initial: "",
    validate: (value: string) => !value.trim() || NETWORK_ID.test(value.trim()) || "A Stripe profile id such as profile_…: letters, digits and _",
    format: (v: string) => v.trim(),
  });
  return value || undefined;
}

export function askDomain(): Promise<string | undefined> {
  return ask<string>({
    type: "text",
    message: "Custom domain for the Worker (empty: none yet, the webhook is created once it has a URL)",
    initial: "",
    validate: check((value) => value.trim() && normalizeDomain(value)),
    format: (v: string) => v.trim(),
  }).then((value) => (value ? normalizeDomain(value) : undefined));
}

export function askStripeSecret(): Promise<string | undefined> {
  return ask<string>({
    type: "password",
    message: "Stripe secret key, sk_test_… (empty: skip Stripe for now)",
    validate: check((value) => value.trim() && secretKeyMode(value.trim())),
    format: (v: string) => v.trim(),
  }).then((value) => value || undefined);
}

export function askPublishableKey(mode: StripeMode): Promise<string> {
  return ask<string>({
    type: "text",
    message: `Stripe publishable key, pk_${mode}_…`,
    validate: check((value) => {
      if (publishableKeyMode(value.trim()) !== mode) throw new Error(`use the ${mode}-mode key (pk_${mode}_…) to match the secret key`);
    }),
    format: (v: string) => v.trim(),
  });
}

export function askInstallScripts(source: string): Promise<boolean> {
  return ask<boolean>({
    type: "confirm",
    message: `Run the install scripts of ${source}? They run its code on this machine (default: install without them)`,
    initial: false,
  });
}

export function askConfirmLive(): Promise<boolean> {
  return ask<boolean>({
    type: "confirm",
    message: "This is a LIVE Stripe key: real products, real payments. Continue?",
    initial: false,
  });
}

export function askDeploy(): Promise<boolean> {
  return ask<boolean>({ type: "confirm", message: "Deploy to Cloudflare now (wrangler deploy)?", initial: false });
}
