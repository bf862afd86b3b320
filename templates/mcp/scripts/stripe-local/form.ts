// The Stripe wire format the catalog speaks (application/x-www-form-urlencoded with bracketed
// keys, as the stripe SDK encodes it), the parameter rules it checks, and Stripe's errors for
// them. Used by ./catalog.ts (products, prices, payment links, webhook endpoints).
import type Stripe from "stripe";
import { StripeApiError } from "./objects.ts";

// Stripe's error format for the catalog's parameter checks, as the stand-in's one error class.
export function apiError(status: number, type: string, message: string, code?: string, param?: string): StripeApiError {
  return new StripeApiError(status, {
    error: {
      type: type as never,
      ...(code ? { code } : {}),
      message,
      ...(param ? { param } : {}),
      ...(code ? { doc_url: `https://stripe.com/docs/error-codes/${code.replace(/_/g, "-")}` } : {}),
    },
  });
}

export const missingParam = (param: string) => apiError(400, "invalid_request_error", `Missing required param: ${param}.`, "parameter_missing", param);
export const invalidParam = (param: string, message: string) => apiError(400, "invalid_request_error", message, "parameter_invalid_string", param);
export const unknownParam = (param: string) => apiError(400, "invalid_request_error", `Received unknown parameter: ${param}`, "parameter_unknown", param);
export const noSuch = (kind: string, id: string, param = "id") => apiError(404, "invalid_request_error", `No such ${kind}: '${id}'`, "resource_missing", param);

export type FormValue = string | FormValue[] | { [key: string]: FormValue };
export type Form = { [key: string]: FormValue };

export function parseForm(text: string): Form {
  const root: Form = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const segments = rawKey.replace(/\]/g, "").split("[");
    let node: Record<string, FormValue> = root;
    segments.forEach((segment, i) => {
      const key = segment === "" ? String(Object.keys(node).length) : segment; // `a[]=x`
      if (i === segments.length - 1) node[key] = value;
      else {
        if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
        node = node[key] as Record<string, FormValue>;
      }
    });
  }
  return arraysFromIndexedObjects(root) as Form;
}

function arraysFromIndexedObjects(value: FormValue): FormValue {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(arraysFromIndexedObjects);
  const keys = Object.keys(value);
  const converted = Object.fromEntries(keys.map((k) => [k, arraysFromIndexedObjects(value[k])]));
  if (keys.length && keys.every((k) => /^\d+$/.test(k))) {
    return keys.sort((a, b) => Number(a) - Number(b)).map((k) => converted[k]);
  }
  return converted;
}

/** A subset of Stripe's event types, typed against the SDK's own list so none is made up. */
export const WEBHOOK_EVENT_TYPES = new Set<Stripe.WebhookEndpointCreateParams.EnabledEvent>([
  "*",
  "checkout.session.completed",
  "checkout.session.async_payment_succeeded",
  "checkout.session.async_payment_failed",
  "checkout.session.expired",
  "charge.succeeded",
  "charge.refunded",
  "charge.refund.updated",
  "charge.dispute.created",
  "charge.dispute.closed",
  "charge.dispute.updated",
  "payment_intent.succeeded",
  "payment_link.created",
  "payment_link.updated",
]);

// ---- parameter helpers: Stripe's rules for the params the catalog accepts ----

export function allow(params: Form, names: string[]): void {
  for (const key of Object.keys(params)) {
    if (["expand", "limit", "starting_after", "ending_before"].includes(key)) continue;
    if (!names.includes(key)) throw unknownParam(key);
  }
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function requireString(params: Form, name: string, param = name): string {
  const value = params[name];
  if (value === undefined || value === "") throw missingParam(param);
  if (typeof value !== "string") throw invalidParam(param, `Invalid string: ${JSON.stringify(value)}`);
  return value;
}

export function optionalString(value: FormValue | undefined): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

export function bool(value: FormValue | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === "true") return true;
  if (value === "false") return false;
  throw apiError(400, "invalid_request_error", `Invalid boolean: ${String(value)}`, "parameter_invalid_boolean");
}

export function integer(params: Form, name: string, o: { required?: boolean; min?: number; param?: string }): number | undefined {
  const param = o.param ?? name;
  const value = params[name];
  if (value === undefined || value === "") {
    if (o.required) throw missingParam(param);
    return undefined;
  }
  if (typeof value !== "string" || !/^-?\d+$/.test(value)) {
    throw apiError(400, "invalid_request_error", `Invalid integer: ${String(value)}`, "parameter_invalid_integer", param);
  }
  const n = Number(value);
  if (o.min !== undefined && n < o.min) {
    throw apiError(400, "invalid_request_error", `This value must be greater than or equal to ${o.min}.`, "parameter_invalid_integer", param);
  }
  return n;
}

/** Stripe metadata: string values, "" unsets a key, at most 50 keys. */
export function metadata(value: FormValue | undefined, current: Stripe.Metadata = {}): Stripe.Metadata {
  if (value === undefined) return current;
  if (value === "") return {};
  if (typeof value !== "object" || Array.isArray(value)) throw invalidParam("metadata", "Invalid metadata: must be a hash.");
  const next: Stripe.Metadata = { ...current };
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string") throw invalidParam(`metadata[${key}]`, "Metadata values must be strings.");
    if (v === "") delete next[key];
    else next[key] = v;
  }
  if (Object.keys(next).length > 50) throw invalidParam("metadata", "Metadata can have at most 50 keys.");
  return next;
}

export function afterCompletion(value: FormValue | undefined): Stripe.PaymentLink.AfterCompletion {
  if (value === undefined) return { type: "hosted_confirmation", hosted_confirmation: { custom_message: null } };
  if (typeof value !== "object" || Array.isArray(value)) throw invalidParam("after_completion", "Invalid after_completion.");
  const type = requireString(value, "type", "after_completion[type]");
  if (type === "redirect") {
    const redirect = value.redirect;
    if (typeof redirect !== "object" || Array.isArray(redirect)) throw missingParam("after_completion[redirect]");
    const url = requireString(redirect, "url", "after_completion[redirect][url]");
    if (!/^https?:\/\//.test(url)) throw invalidParam("after_completion[redirect][url]", `Not a valid URL: ${url}`);
    return { type: "redirect", redirect: { url } };
  }
  if (type === "hosted_confirmation") return { type, hosted_confirmation: { custom_message: null } };
  throw invalidParam("after_completion[type]", `Invalid after_completion[type]: must be one of hosted_confirmation or redirect`);
}

export function webhookUrl(params: Form, livemode: boolean): string {
  const url = requireString(params, "url");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidParam("url", `Invalid URL: ${url}`);
  }
  if (livemode && parsed.protocol !== "https:") throw invalidParam("url", "Live mode webhook endpoints must use HTTPS.");
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw invalidParam("url", `Invalid URL: ${url}`);
  return url;
}

export function enabledEvents(params: Form, required: boolean): string[] | undefined {
  const events = params.enabled_events;
  if (events === undefined) {
    if (required) throw missingParam("enabled_events");
    return undefined;
  }
  if (!Array.isArray(events) || !events.length) throw invalidParam("enabled_events", "enabled_events must be a non-empty array.");
  return events.map((event, i) => {
    if (typeof event !== "string" || !WEBHOOK_EVENT_TYPES.has(event as Stripe.WebhookEndpointCreateParams.EnabledEvent)) {
      throw invalidParam(`enabled_events[${i}]`, `Invalid enabled_events[${i}]: unknown event type ${String(event)}`);
    }
    return event;
  });
}
