/**
 * One error class, a closed set of codes and one code→status table. Every error a client can see is an AppError;
 * anything else becomes a generic 500 whose detail stays in the log.
 */
export const errorStatus = {
  bad_request: 400,
  validation_error: 400,
  invalid_json: 400,
  unauthorized: 401,
  invalid_api_key: 401,
  invalid_token: 401,
  subscription_required: 402,
  plan_limit_reached: 402,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  /** The resource existed but is no longer usable (an invitation used, revoked or expired); `details.reason` says which. */
  gone: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  quota_exceeded: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export interface FieldIssue {
  field: string;
  message: string;
  /** For posting rules: the network the rule is about and the rule's name. */
  platform?: string;
  rule?: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: FieldIssue[] | Record<string, unknown>;
  readonly headers?: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: FieldIssue[] | Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.details = options.details;
    this.headers = options.headers;
  }

  get status(): number {
    return errorStatus[this.code];
  }
}

export const notFound = (what: string) => new AppError("not_found", `${what} not found`);
