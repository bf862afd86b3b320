// Stripe's error format: HTTP status + {"error": {type, code?, message, param?}}.
export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: "invalid_request_error" | "api_error" | "idempotency_error" | "rate_limit_error" | "authentication_error",
    message: string,
    readonly code?: string,
    readonly param?: string,
  ) {
    super(message);
  }

  body() {
    return {
      error: {
        type: this.type,
        ...(this.code ? { code: this.code } : {}),
        message: this.message,
        ...(this.param ? { param: this.param } : {}),
        ...(this.code ? { doc_url: `https://stripe.com/docs/error-codes/${this.code.replace(/_/g, "-")}` } : {}),
      },
    };
  }
}

export const missingParam = (param: string) =>
  new StripeApiError(400, "invalid_request_error", `Missing required param: ${param}.`, "parameter_missing", param);

export const invalidParam = (param: string, message: string) =>
  new StripeApiError(400, "invalid_request_error", message, "parameter_invalid_string", param);

export const unknownParam = (param: string) =>
  new StripeApiError(400, "invalid_request_error", `Received unknown parameter: ${param}`, "parameter_unknown", param);

export const noSuch = (kind: string, id: string, param = "id") =>
  new StripeApiError(404, "invalid_request_error", `No such ${kind}: '${id}'`, "resource_missing", param);
