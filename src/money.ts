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

/**
 * The currencies Stripe can charge in (its "supported currencies" list; three-decimal ones
 * included): a Price in any other currency is refused by Stripe, so the CLI refuses it first.
 */
export const STRIPE_CURRENCIES = new Set(
  (
    "usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn bzd cad cdf chf clp " +
    "cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk " +
    "jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn " +
    "nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd std " +
    "szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw"
  ).split(" "),
);

/**
 * Stripe's minimum charge, in the smallest unit, for the currencies it states one for (others:
 * the equivalent of 0.50 USD at the day's rate, which only Stripe knows).
 */
export const STRIPE_MINIMUM_CHARGE: Record<string, number> = {
  usd: 50, aed: 200, aud: 50, bgn: 100, brl: 50, cad: 50, chf: 50, czk: 1500, dkk: 250, eur: 50, gbp: 30, hkd: 400,
  huf: 17500, inr: 50, jpy: 50, mxn: 1000, myr: 200, nok: 300, nzd: 50, pln: 200, ron: 200, sek: 300, sgd: 50, thb: 1000,
};

/** Stripe's largest single charge: eight digits of the smallest unit (999,999.99 USD); the wallet's limit too. */
export const STRIPE_MAXIMUM_CHARGE = 99_999_999;

export function normalizeCurrency(input: string): string {
  const code = input.trim().toLowerCase();
  if (!/^[a-z]{3}$/.test(code)) {
    throw new Error(`--currency must be a three-letter ISO 4217 code such as usd or eur (got "${input}")`);
  }
  if (!STRIPE_CURRENCIES.has(code)) {
    const near = [...STRIPE_CURRENCIES].filter((known) => nearMiss(code, known));
    throw new Error(`--currency ${code} is not a currency Stripe charges in${near.length ? ` (did you mean ${near.join(" or ")}?)` : ""}; see https://docs.stripe.com/currencies`);
  }
  return code;
}

/** One letter changed, or two neighbours swapped: "eru" -> eur, "usf" -> usd. */
function nearMiss(a: string, b: string): boolean {
  const diff = [0, 1, 2].filter((i) => a[i] !== b[i]);
  if (diff.length === 1) return true;
  return diff.length === 2 && diff[1] === diff[0]! + 1 && a[diff[0]!] === b[diff[1]!] && a[diff[1]!] === b[diff[0]!];
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
  const minimum = STRIPE_MINIMUM_CHARGE[currency.toLowerCase()] ?? 1;
  if (minor < minimum || minor > STRIPE_MAXIMUM_CHARGE) {
    throw new Error(
      `--price ${price}: Stripe charges from ${formatMinorUnits(minimum, currency)}${minimum === 1 ? "" : " (its minimum)"} ` +
        `to ${formatMinorUnits(STRIPE_MAXIMUM_CHARGE, currency)} (its maximum) in ${currency.toUpperCase()}`,
    );
  }
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
