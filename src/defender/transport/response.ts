import { DefenderError } from '../errors';
import { Message, message } from '../messages';
import { parseRetryAfter } from './retry';
import type { HttpResponse } from './http';
import type { Detection } from '../services/detection';

/** A cut-off copy of a secret this long or longer at the end of a text is blanked too. */
const SHORTEST_CUT = 6;

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  // Also as a form or a URL carries it, since a service may quote the request it received.
  const forms = [...new Set(secrets.filter((s) => s).flatMap((s) => [s, encodeURIComponent(s), new URLSearchParams({ s }).toString().slice(2)]))];
  for (const form of forms) out = out.split(form).join('***');
  // A text cut to an excerpt may end inside a secret: its first characters must not get out either.
  for (const form of forms) {
    for (let n = Math.min(form.length - 1, out.length); n >= SHORTEST_CUT; n--) {
      if (out.endsWith(form.slice(0, n))) {
        out = `${out.slice(0, out.length - n)}***`;
        break;
      }
    }
  }
  return out;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/**
 * The service's own words about a failure: the message of a JSON error body (Azure AD's
 * error_description, the API's error.message) or a short excerpt of whatever else it sent.
 */
export function serviceErrorText(response: HttpResponse, secrets: readonly string[] = []): string {
  let text = response.body.subarray(0, 4096).toString('utf8');
  try {
    const body = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
    const error = body.error;
    const nested = error && typeof error === 'object' ? (error as Record<string, unknown>) : undefined;
    const candidates = [body.error_description, nested?.message, body.message, body.Message, typeof error === 'string' ? error : undefined];
    const found = candidates.find((c): c is string => typeof c === 'string' && c.trim() !== '');
    if (found) text = found;
  } catch {
    // not JSON: an excerpt of the raw text is the best we have
  }
  // Redacted before it is shortened: a cut would leave the start of a secret unmatched.
  return oneLine(redact(text, secrets), 300);
}

/** The first bytes of a body as one short line, with `secrets` blanked out before it is shortened. */
export function bodyExcerpt(head: Buffer, secrets: readonly string[] = []): string {
  return oneLine(redact(head.subarray(0, 400).toString('utf8'), secrets), 120);
}

/** A service as its errors name it: "detections API", "Microsoft Graph", and what each status means there. */
export interface ServiceDescription {
  name: Message;
  meanings: Readonly<Record<number, Message>>;
}

/**
 * The error of an answer that is not 200: a stable code (HTTP_401, HTTP_429…), what the status means for
 * this service, how long it asked us to wait, and its own words with `secrets` blanked out.
 */
export function statusError(
  response: HttpResponse,
  service: ServiceDescription,
  secrets: readonly string[] = [],
): DefenderError {
  const status = response.status;
  const meaning = service.meanings[status] ?? message(status >= 500 ? 'meaning.service-error' : 'meaning.refused');
  const text = serviceErrorText(response, secrets);
  const retryable = status === 429 || status >= 500;
  const retryAfterMs = retryable ? parseRetryAfter(response.headers['retry-after']) : undefined;
  const waited = retryAfterMs !== undefined;
  const id = text ? (waited ? 'http.status-wait-said' : 'http.status-said') : waited ? 'http.status-wait' : 'http.status';
  const seconds = waited ? Math.round(retryAfterMs / 1000) : '';
  return new DefenderError(`HTTP_${status}`, message(id, { service: service.name, status, meaning, seconds, text }), {
    statusCode: status,
    retryable,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

/**
 * The BAD_RESPONSE of a detections body that is not a JSON array: its status, content type and size, why
 * it was refused (`failure` completes "a body that …") and an excerpt of its first bytes (`head`).
 */
export function notADetectionsArray(
  response: { status: number; contentType?: string; size: number; head: Buffer },
  failure: Message,
  secrets: readonly string[] = [],
): DefenderError {
  const type = response.contentType || message('http.no-content-type');
  const excerpt = bodyExcerpt(response.head, secrets);
  return new DefenderError('BAD_RESPONSE', message('body.not-detections', { status: response.status, type, size: response.size, failure, excerpt }), {
    statusCode: response.status,
    retryable: false,
  });
}

/**
 * The detections body must be a JSON array; anything else (a truncated body, an HTML page) is named.
 * For a body already in memory; the transport parses detections as they stream in (json-array.ts).
 */
export function parseDetections(response: HttpResponse, secrets: readonly string[] = []): Detection[] {
  let failure = message('failure.not-json');
  try {
    const parsed: unknown = JSON.parse(response.body.toString('utf8'));
    if (Array.isArray(parsed)) return parsed as Detection[];
    failure = message('failure.not-array');
  } catch {
    // fall through to the error below
  }
  throw notADetectionsArray(
    { status: response.status, contentType: response.headers['content-type'], size: response.body.length, head: response.body },
    failure,
    secrets,
  );
}
