import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SerialisedDetection } from './store';

/** What the emulator answers: a status, headers, and either text or a list of serialised detections. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string | readonly SerialisedDetection[];
}

export const JSON_TYPE = 'application/json; charset=utf-8';

export function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'Content-Type': JSON_TYPE, ...headers }, body: JSON.stringify(value) };
}

/** The error body shape of the Defender APIs: {"error":{"code":"…","message":"…"}}. */
export function apiError(status: number, code: string, message: string, headers: Record<string, string> = {}): Reply {
  return jsonReply(status, { error: { code, message } }, headers);
}

export function detectionsReply(items: readonly SerialisedDetection[]): Reply {
  return { status: 200, headers: { 'Content-Type': JSON_TYPE }, body: items };
}

function byteLength(body: Reply['body']): number {
  if (typeof body === 'string') return Buffer.byteLength(body);
  let total = 2 + Math.max(0, body.length - 1);
  for (const item of body) total += item.bytes;
  return total;
}

function bodyText(body: Reply['body']): string {
  return typeof body === 'string' ? body : `[${body.map((d) => d.json).join(',')}]`;
}

/** Resolves when the response can take more data, or when the client has gone. */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

const BATCH_CHARS = 256 * 1024;

/**
 * Sends a reply with its Content-Length. A list of detections is written in batches that respect
 * back-pressure, so a 100 MB answer neither builds one giant string nor floods the socket buffer.
 */
export async function sendReply(res: ServerResponse, reply: Reply): Promise<void> {
  res.writeHead(reply.status, { ...reply.headers, 'Content-Length': String(byteLength(reply.body)) });
  if (typeof reply.body === 'string') {
    res.end(reply.body);
    return;
  }
  const items = reply.body;
  let batch = '[';
  for (let i = 0; i < items.length; i++) {
    batch += i === 0 ? items[i].json : `,${items[i].json}`;
    if (batch.length >= BATCH_CHARS) {
      const more = res.write(batch);
      batch = '';
      if (!more) await drained(res);
      if (res.destroyed) return;
    }
  }
  res.end(`${batch}]`);
}

/** 204 No Content: no body, so no Content-Length or Content-Type either (RFC 9110 §8.6). */
export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}

/**
 * Sends the first half of a reply's body under its status and headers but without Content-Length, then
 * ends the response normally: the client sees a clean end of a chunked body that is not valid JSON.
 */
export function sendTruncated(res: ServerResponse, reply: Reply): void {
  const full = Buffer.from(bodyText(reply.body));
  res.writeHead(reply.status, reply.headers);
  res.end(full.subarray(0, Math.floor(full.length / 2)));
}

export class BodyTooLargeError extends Error {}

/** Reads a small request body (token form, admin JSON) as text. */
export function readBody(req: IncomingMessage, limitBytes = 1024 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLargeError(`request body exceeds ${limitBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
