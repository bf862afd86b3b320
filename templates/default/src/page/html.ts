// The page for people: one small server-rendered document; no client-side script is needed
// (the one inline handler only copies the local payment command).
// Every value that comes from a user or from Stripe goes through escapeHtml.

import {
  formatMoney,
  hasPaymentLink,
  localPayCommand,
  LOGIN_BY_PAYMENT,
  STATEMENT_ABOUT,
  STATEMENT_PATH,
  type PageOptions,
  type WalletView,
} from "./view";

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

const STYLE = `
  :root { color-scheme: light dark; --accent: #635bff; }
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; }
  h1 { font-size: 1.6rem; margin-bottom: .25rem; }
  .balance { font-size: 2.5rem; font-weight: 700; margin: .25rem 0 1rem; }
  .actions { display: flex; gap: .75rem; flex-wrap: wrap; align-items: center; }
  .button, button { font: inherit; padding: .6rem 1.1rem; border-radius: .5rem; border: 1px solid var(--accent);
    background: var(--accent); color: #fff; text-decoration: none; cursor: pointer; }
  .secondary { background: transparent; color: var(--accent); }
  .notice { padding: .5rem .75rem; border-left: 4px solid var(--accent); background: #635bff14; }
  code, pre { font: 14px ui-monospace, monospace; }
  pre { padding: .75rem; overflow-x: auto; background: #8881; border-radius: .5rem; }
  pre.command { white-space: pre-wrap; overflow-wrap: anywhere; }
  section { margin-top: 2rem; }
  small { opacity: .75; }
`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

function payButton(view: WalletView): string {
  if (hasPaymentLink(view)) {
    return `<a id="pay" class="button" href="${escapeHtml(view.paymentLink)}">Top up with Stripe</a>`;
  }
  return `<span id="pay-missing"><small>No payment link yet: set <code>STRIPE_PAYMENT_LINK</code> (the CLI does this for you).</small></span>`;
}

function balanceBlock(view: WalletView): string {
  return `<p>Your balance</p>
<p class="balance"><span id="balance" data-cents="${view.balance}">${escapeHtml(formatMoney(view.balance, view.currency))}</span></p>`;
}

function localPaySection(view: WalletView, options: PageOptions): string {
  if (!options.local) return "";
  return `<section id="local">
<h2>Local test payment</h2>
<p>You are on <code>npm run dev</code>. Credit this visitor without a Stripe account:</p>
<pre class="command"><code id="local-pay">${escapeHtml(localPayCommand(view))}</code></pre>
<p><button type="button" id="copy-pay" onclick="navigator.clipboard.writeText(document.getElementById('local-pay').textContent.trim()).then(() => { this.textContent = 'Copied'; })">Copy the command</button></p>
<p><small>It sends a signed <code>checkout.session.completed</code> to this local Worker only; then reload this page, or open the <code>/me/paid</code> link it prints, as Stripe's redirect would (login by payment).</small></p>
</section>`;
}

function agentSection(options: PageOptions): string {
  const { origin, paidRoute } = options;
  const url = `${origin}${paidRoute.path}`;
  return `<section id="agents">
<h2>For programs and agents</h2>
<p>The same page comes as JSON (<code>Accept: application/json</code>) and Markdown (<code>Accept: text/markdown</code>).
Keep the <code>access_token</code> cookie from the first response, or send it as <code>Authorization: Bearer</code>.</p>
<pre><code>curl -H 'Accept: application/json' ${escapeHtml(origin)}/
curl -X ${paidRoute.method} -H 'Accept: text/markdown' -H &quot;Authorization: Bearer $TOKEN&quot; ${escapeHtml(url)}</code></pre>
<p>A paid route answers <code>402 Payment Required</code> with the payment link (also in <code>X-PaymentLink</code>), the price and your balance.
<code>X-Max-Price: &lt;cents&gt;</code> caps what one request may cost, <code>Idempotency-Key</code> makes a retry safe, and
<code>POST /me/tokens</code> (JSON <code>{ "cap": &lt;cents&gt;, "expires_in": &lt;seconds&gt; }</code>) gives an agent a token with a budget of its own.</p>
</section>`;
}

export function homeHtml(view: WalletView, options: PageOptions): string {
  const { paidRoute } = options;
  const who = view.registered
    ? `<p id="account">Signed in by payment${view.name ? ` as <strong>${escapeHtml(view.name)}</strong>` : ""}${
        view.email ? ` (${escapeHtml(view.email)})` : ""
      }.</p>`
    : `<p id="account"><small>New visitor: your account is created by your first payment.</small></p>`;
  return layout(
    options.title,
    `<h1>${escapeHtml(options.title)}</h1>
${options.notice ? `<p id="notice" class="notice" role="status">${escapeHtml(options.notice)}</p>` : ""}
${balanceBlock(view)}
<div class="actions">
${payButton(view)}
<form method="post" action="${escapeHtml(paidRoute.path)}">
<button id="spend" class="secondary" type="submit">Spend ${escapeHtml(formatMoney(paidRoute.price, view.currency))}</button>
</form>
</div>
<p><small>${escapeHtml(paidRoute.description)} (${escapeHtml(paidRoute.method)} <code>${escapeHtml(paidRoute.path)}</code>, ${escapeHtml(formatMoney(paidRoute.price, view.currency))} a request).</small></p>
${who}
<p><a id="statement" href="${STATEMENT_PATH}">Your statement</a> <small>${escapeHtml(STATEMENT_ABOUT)} (JSON; Markdown for <code>Accept: text/markdown</code>)</small></p>
<section id="login">
<h2>Login by payment</h2>
<p>${escapeHtml(LOGIN_BY_PAYMENT)}</p>
</section>
${localPaySection(view, options)}
${agentSection(options)}`,
  );
}

export function paymentRequiredHtml(view: WalletView, price: number, options: PageOptions): string {
  return layout(
    `Payment required · ${options.title}`,
    `<h1>Payment required</h1>
<p id="price">This costs <strong>${escapeHtml(formatMoney(price, view.currency))}</strong>. Your balance is <strong id="balance" data-cents="${view.balance}">${escapeHtml(formatMoney(view.balance, view.currency))}</strong>.</p>
<div class="actions">
${payButton(view)}
<a class="button secondary" href="/">Back</a>
</div>
${localPaySection(view, options)}`,
  );
}
