import { Message, render, Translate } from './messages';

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
  /** A detection was not confirmed delivered after the last delivery allowed: it is passed over. */
  | 'DELIVERY_FAILED'
  /** Coordination (SPEC section 13): another replica holds the lease now; this one's commit was refused. */
  | 'LEASE_LOST'
  /** Coordination: the Redis server cannot be reached, so no replica pulls. */
  | 'COORDINATION_UNAVAILABLE'
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
  /** The message as an id and values, so it can be said in another language (see messages.ts). */
  readonly text?: Message;
  readonly statusCode?: number;
  /** Whether trying the same request again may succeed (429, 5xx, network faults, timeouts). */
  readonly retryable: boolean;
  /** Seconds the service asked us to wait (Retry-After), when it said. */
  readonly retryAfterMs?: number;

  constructor(
    code: ErrorCode,
    message: Message | string,
    options: { statusCode?: number; retryable?: boolean; retryAfterMs?: number } = {},
  ) {
    super(typeof message === 'string' ? message : render(message));
    this.name = 'DefenderError';
    this.code = code;
    if (typeof message !== 'string') this.text = message;
    this.retryable = options.retryable ?? false;
    if (options.statusCode !== undefined) this.statusCode = options.statusCode;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }

  /** Node-RED shows `toString()` as msg.error.message: the message alone reads best there. */
  override toString(): string {
    return this.message;
  }

  /** The same error with its message said through `translate` where it knows the text. */
  translated(translate: Translate): DefenderError {
    if (!this.text) return this;
    const options = { statusCode: this.statusCode, retryable: this.retryable, retryAfterMs: this.retryAfterMs };
    const out = new DefenderError(this.code, render(this.text, translate), options);
    // The stack of where the error arose, not of this translation (a bug report needs the former).
    const frames = this.stack?.indexOf('\n    at ') ?? -1;
    if (frames >= 0) out.stack = `${out.name}: ${out.message}${this.stack?.slice(frames)}`;
    return out;
  }

  /** The same text and status under another code (a query error met in the node's settings). */
  withCode(code: ErrorCode): DefenderError {
    return new DefenderError(code, this.text ?? this.message, { statusCode: this.statusCode, retryable: this.retryable, retryAfterMs: this.retryAfterMs });
  }
}

export function invalidQuery(message: Message): DefenderError {
  return new DefenderError('INVALID_QUERY', message);
}

export function invalidConfig(message: Message): DefenderError {
  return new DefenderError('INVALID_CONFIG', message);
}
