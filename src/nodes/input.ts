import { invalidQuery } from '../defender/errors';
import { message } from '../defender/messages';
import { DetectionQuery, mergeQuery, parseQuery, type QueryDialect, SIEM_QUERY } from '../defender/pulling/query';
import { describeKind, isPlainObject } from '../defender/realm';
import { MAX_TIMEOUT_S } from './settings';

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

/** msg.requestTimeout, in milliseconds as the core http request node reads it, else the node's timeout. */
export function readRequestTimeout(msg: Record<string, unknown>, defaultTimeoutMs: number): number {
  const raw = msg.requestTimeout;
  if (raw === undefined || raw === null || raw === '') return defaultTimeoutMs;
  const timeoutMs = Number(raw);
  // At most the node's own bound: beyond 24.8 days Node.js would fire the timer at once.
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_S * 1000) {
    throw invalidQuery(message('input.bad-timeout', { value: JSON.stringify(raw) }));
  }
  return timeoutMs;
}

/**
 * msg.query wins; else a plain-object msg.payload is the query (plain in any realm: a function node's object
 * literal counts); any other payload (an inject node's timestamp) means "no query". Its keys are those of
 * the node's `dialect` (default the SIEM API's).
 */
export function readPullRequest(msg: Record<string, unknown>, defaults: DetectionQuery, defaultTimeoutMs: number, dialect: QueryDialect = SIEM_QUERY): PullRequest {
  let fromMessage: DetectionQuery = {};
  if (msg.query !== undefined) {
    if (!isPlainObject(msg.query)) {
      throw invalidQuery(message('input.query-not-object', { got: describeKind(msg.query) }));
    }
    fromMessage = parseQuery(msg.query, dialect);
  } else if (isPlainObject(msg.payload)) {
    fromMessage = parseQuery(msg.payload, dialect);
  }

  const timeoutMs = readRequestTimeout(msg, defaultTimeoutMs);
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
