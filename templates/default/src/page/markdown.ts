// The page for agents: the same facts as the HTML page, as Markdown an LLM reads well.

import {
  AGENT_FACTS,
  formatMoney,
  MPP_FACTS,
  hasPaymentLink,
  localPayCommand,
  LOGIN_BY_PAYMENT,
  paymentRequiredSentence,
  STATEMENT_ABOUT,
  STATEMENT_PATH,
  type PageOptions,
  type WalletView,
} from "./view";

/** Escapes characters that would turn user-supplied text (a name, an email) into markup. */
export function escapeMarkdown(value: string): string {
  return value.replace(/[\\`*_{}[\]()<>#+!|~]/g, "\\$&").replace(/\r?\n/g, " ");
}

function payLine(view: WalletView): string {
  return hasPaymentLink(view)
    ? `- Top up: <${view.paymentLink}>`
    : "- Top up: no payment link yet (set `STRIPE_PAYMENT_LINK`).";
}

export function homeMarkdown(view: WalletView, options: PageOptions): string {
  const { paidRoute, origin } = options;
  const lines = [`# ${escapeMarkdown(options.title)}`, ""];
  if (options.notice) lines.push(`> ${escapeMarkdown(options.notice)}`, "");
  lines.push(
    `- Balance: **${formatMoney(view.balance, view.currency)}**`,
    payLine(view),
    `- Account: ${
      view.registered
        ? `signed in by payment${view.name ? ` as ${escapeMarkdown(view.name)}` : ""}${
            view.email ? ` (${escapeMarkdown(view.email)})` : ""
          }`
        : "new visitor (created by the first payment)"
    }`,
    `- client_reference_id: \`${view.clientReferenceId}\``,
    `- Statement: <${origin}${STATEMENT_PATH}> (${STATEMENT_ABOUT})`,
    "",
    "## Paid routes",
    "",
    "| method | path | price | what |",
    "| --- | --- | --- | --- |",
    `| ${paidRoute.method} | \`${paidRoute.path}\` | ${formatMoney(paidRoute.price, view.currency)} | ${escapeMarkdown(paidRoute.description)} |`,
    "",
    "A paid route answers `402 Payment Required` with the payment link (also in the `X-PaymentLink` header), the price and your balance. Every response carries your balance in `X-Balance`.",
    "",
    "## Login by payment",
    "",
    LOGIN_BY_PAYMENT,
    "",
    "## Use it from a program",
    "",
    "Send `Accept: application/json` for JSON or `Accept: text/markdown` for this Markdown. Keep the `access_token` cookie from the first response, or send it as `Authorization: Bearer $TOKEN`.",
    "",
    "```sh",
    `curl -X ${paidRoute.method} -H 'Accept: text/markdown' -H "Authorization: Bearer $TOKEN" ${origin}${paidRoute.path}`,
    "```",
    "",
    `- ${AGENT_FACTS.max_price}`,
    `- ${AGENT_FACTS.idempotency}`,
    `- Budget tokens: ${AGENT_FACTS.budget_tokens.about} Mint: \`${AGENT_FACTS.budget_tokens.mint}\` with JSON \`{ "cap": <cents>, "expires_in": <seconds>, "label": "…" }\`.`,
  );
  if (options.agentPayments) lines.push(`- Paying by itself (${MPP_FACTS.protocol}): ${MPP_FACTS.pay} ${MPP_FACTS.result}`);
  if (options.local) {
    lines.push("", "## Local test payment", "", "```sh", localPayCommand(view), "```");
  }
  return lines.join("\n") + "\n";
}

export function paymentRequiredMarkdown(view: WalletView, price: number, options: PageOptions): string {
  const lines = [
    "# Payment required",
    "",
    paymentRequiredSentence(view, price),
    "",
    `- Price: **${formatMoney(price, view.currency)}**`,
    `- Balance: **${formatMoney(view.balance, view.currency)}**`,
    payLine(view),
  ];
  if (options.agentPayments) lines.push(`- Agents: ${MPP_FACTS.pay} ${MPP_FACTS.result}`);
  if (options.local) lines.push(`- Local test payment: \`${localPayCommand(view)}\``);
  return lines.join("\n") + "\n";
}
