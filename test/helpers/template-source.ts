// Facts the bundled template's wallet declares, read from its source. The Worker's modules import
// cloudflare:* and dormroom, so Node cannot load them; the declarations are plain enough to read.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./cli.js";

export const WALLET_SOURCE = join(ROOT, "templates", "default", "src", "stripeflare");

/**
 * The event types the Worker's webhook handles: `WEBHOOK_EVENTS` in webhook.ts, with every
 * `...NAME` spread resolved against the `const NAME = [...]` / `new Set([...])` declarations of
 * the wallet's modules. Throws when the source takes another shape, so a drift cannot pass unseen.
 */
export function workerWebhookEvents(dir = WALLET_SOURCE): string[] {
  const declared = new Map<string, string>();
  const declaration = /(?:export\s+)?const\s+(\w+)(?:\s*:[^=\n]+)?\s*=\s*(?:new\s+Set(?:<[^>\n]*>)?\(\s*)?\[([^\]]*)\]/g;
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.endsWith(".d.ts"))) {
    for (const [, name, body] of readFileSync(join(dir, file), "utf8").matchAll(declaration)) declared.set(name, body);
  }
  const resolve = (name: string, seen: string[]): string[] => {
    const body = declared.get(name);
    if (body === undefined) throw new Error(`${name} is not declared as a literal list in ${dir} (via ${seen.join(" <- ") || "the start"})`);
    const items = body.replace(/\/\/[^\n]*/g, "").split(",").map((item) => item.trim()).filter(Boolean);
    return items.flatMap((item) => {
      const literal = /^(["'])([^"']+)\1$/.exec(item);
      if (literal) return [literal[2]];
      const spread = /^\.\.\.(\w+)$/.exec(item);
      if (spread && !seen.includes(spread[1])) return resolve(spread[1], [...seen, name]);
      throw new Error(`cannot read "${item}" in ${name}: the wallet's event list changed shape; update this reader`);
    });
  };
  return resolve("WEBHOOK_EVENTS", []);
}
