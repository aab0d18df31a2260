import { invalidQuery } from '../defender/errors';
import { message } from '../defender/messages';
import { DetectionQuery, mergeQuery, parseQuery } from '../defender/query';

/** What one input message asks for, validated in one place before anything is sent. */
export interface PullRequest {
  query: DetectionQuery;
  /** Whether the message itself gave query parameters (a bare reset pulls nothing). */
  hasMessageQuery: boolean;
  /** The parameters the message itself gave: they need no default from context. */
  messageQuery: DetectionQuery;
  timeoutMs: number;
  reset: boolean;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * msg.query wins; else a plain-object msg.payload is the query; any other payload (an inject node's
 * timestamp) means "no query". msg.requestTimeout is in milliseconds, as the core http request node reads it.
 */
export function readPullRequest(msg: Record<string, unknown>, defaults: DetectionQuery, defaultTimeoutMs: number): PullRequest {
  let fromMessage: DetectionQuery = {};
  if (msg.query !== undefined) {
    if (!isPlainObject(msg.query)) {
      // JavaScript's own type names (string, number…) are the same in every language; "an array" is not.
      const got = Array.isArray(msg.query) ? message('input.an-array') : msg.query === null ? 'null' : typeof msg.query;
      throw invalidQuery(message('input.query-not-object', { got }));
    }
    fromMessage = parseQuery(msg.query);
  } else if (isPlainObject(msg.payload)) {
    fromMessage = parseQuery(msg.payload);
  }

  let timeoutMs = defaultTimeoutMs;
  const raw = msg.requestTimeout;
  if (raw !== undefined && raw !== null && raw !== '') {
    timeoutMs = Number(raw);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw invalidQuery(message('input.bad-timeout', { value: JSON.stringify(raw) }));
    }
  }
  if (msg.reset !== undefined && typeof msg.reset !== 'boolean') {
    throw invalidQuery(message('input.bad-reset', { value: JSON.stringify(msg.reset) }));
  }
  return {
    query: mergeQuery(defaults, fromMessage),
    hasMessageQuery: Object.keys(fromMessage).length > 0,
    messageQuery: fromMessage,
    timeoutMs,
    reset: msg.reset === true,
  };
}
