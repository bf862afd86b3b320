// Prices are typed by people in major units ("5", "19.99") but Stripe and the wallet count in
// the currency's smallest unit. Parse the decimal string exactly (never through a float) with
// the currency's own exponent.

/** Currencies Stripe treats as having no minor unit: 500 JPY is sent as 500. */
export const ZERO_DECIMAL_CURRENCIES = new Set([
  "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
]);

/** Currencies with three decimals; Stripe wants the last digit of the amount to be 0. */
export const THREE_DECIMAL_CURRENCIES = new Set(["bhd", "jod", "kwd", "omr", "tnd"]);

export function currencyExponent(currency: string): number {
  const code = currency.toLowerCase();
  if (ZERO_DECIMAL_CURRENCIES.has(code)) return 0;
  if (THREE_DECIMAL_CURRENCIES.has(code)) return 3;
  return 2;
}

export function normalizeCurrency(input: string): string {
  const code = input.trim().toLowerCase();
  if (!/^[a-z]{3}$/.test(code)) {
    throw new Error(`--currency must be a three-letter ISO 4217 code such as usd or eur (got "${input}")`);
  }
  return code;
}

/** "19.99" + usd -> 1999; "500" + jpy -> 500. Throws a message fit for the user on bad input. */
export function toMinorUnits(price: string, currency: string): number {
  const text = price.trim();
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) throw new Error(`--price must be a positive amount in major units such as 5 or 19.99 (got "${price}")`);
  const exponent = currencyExponent(currency);
  const whole = match[1];
  const fraction = (match[2] ?? "").replace(/0+$/, "");
  if (fraction.length > exponent) {
    throw new Error(
      exponent === 0
        ? `--price ${price}: ${currency} has no minor unit, use a whole number`
        : `--price ${price}: ${currency} has ${exponent} decimals at most`,
    );
  }
  const minor = Number(whole + fraction.padEnd(exponent, "0"));
  if (!Number.isSafeInteger(minor) || minor <= 0) throw new Error(`--price must be greater than zero (got "${price}")`);
  if (exponent === 3 && minor % 10 !== 0) {
    throw new Error(`--price ${price}: Stripe needs ${currency} amounts rounded to two decimals`);
  }
  return minor;
}

/** 1999 usd -> "19.99 USD", for summaries. */
export function formatMinorUnits(amount: number, currency: string): string {
  const exponent = currencyExponent(currency);
  const text = exponent === 0 ? String(amount) : (amount / 10 ** exponent).toFixed(exponent);
  return `${text} ${currency.toUpperCase()}`;
}
