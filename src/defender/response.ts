import { DefenderError } from './errors';
import type { HttpResponse } from './http';
import type { Detection } from './detection';

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('***');
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
  const raw = response.body.subarray(0, 4096).toString('utf8');
  let text = raw;
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
  return redact(oneLine(text, 300), secrets);
}

/** The detections body must be a JSON array; anything else (a truncated body, an HTML page) is named. */
export function parseDetections(response: HttpResponse, secrets: readonly string[] = []): Detection[] {
  let parsed: unknown;
  let failure = 'is not JSON';
  try {
    parsed = JSON.parse(response.body.toString('utf8'));
    if (Array.isArray(parsed)) return parsed as Detection[];
    failure = `is JSON but not an array`;
  } catch {
    // fall through to the error below
  }
  const excerpt = redact(oneLine(response.body.subarray(0, 400).toString('utf8'), 120), secrets);
  throw new DefenderError(
    'BAD_RESPONSE',
    `the detections API answered HTTP ${response.status} (${response.headers['content-type'] || 'no content type'}, ${response.body.length} bytes) with a body that ${failure}; expected a JSON array of detections. It began: "${excerpt}"`,
    { statusCode: response.status, retryable: false },
  );
}
