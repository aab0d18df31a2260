/** Stable codes a Catch node can switch on (msg.error.code). */
export type ErrorCode =
  | 'INVALID_QUERY'
  | 'INVALID_CONFIG'
  | 'TOKEN_FAILED'
  | 'HTTP_401'
  | 'HTTP_403'
  | 'HTTP_429'
  | 'HTTP_500'
  | `HTTP_${number}`
  | 'TIMEOUT'
  | 'NETWORK'
  | 'BAD_RESPONSE'
  | 'TOO_LARGE'
  | 'REDIRECT'
  /** The node closed while the pull was under way. */
  | 'CANCELLED'
  /** A fault of this software or of the context store, not of the service. */
  | 'INTERNAL';

/**
 * The one error type of the product. It never carries a `cause`: an HTTP library's error holds the request
 * with its Authorization header, and Node-RED would copy a cause into the Catch node's message.
 * `code` and `statusCode` are own properties because Node-RED copies
 * `code`, `stack` and `cause` of an error into the Catch node's msg.error and nothing else.
 */
export class DefenderError extends Error {
  readonly code: ErrorCode;
  readonly statusCode?: number;
  /** Whether trying the same request again may succeed (429, 5xx, network faults, timeouts). */
  readonly retryable: boolean;
  /** Seconds the service asked us to wait (Retry-After), when it said. */
  readonly retryAfterMs?: number;

  constructor(
    code: ErrorCode,
    message: string,
    options: { statusCode?: number; retryable?: boolean; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'DefenderError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    if (options.statusCode !== undefined) this.statusCode = options.statusCode;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }

  /** Node-RED shows `toString()` as msg.error.message: the message alone reads best there. */
  override toString(): string {
    return this.message;
  }
}

export function invalidQuery(message: string): DefenderError {
  return new DefenderError('INVALID_QUERY', message);
}

export function invalidConfig(message: string): DefenderError {
  return new DefenderError('INVALID_CONFIG', message);
}
