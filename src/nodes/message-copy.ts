import { isPlainObject } from '../defender/realm';

/**
 * How a node that sends many messages from one input copies what the input carries besides its payload, so a
 * downstream change to one message cannot reach the others. Flat properties are copied by a spread. Nested
 * ones that are plain data (objects, arrays, strings, numbers…, as a msg.query is) are copied here, which
 * costs a fifth of Node-RED's cloneMessage; anything else (a Buffer, an http request's req/res) is left to
 * cloneMessage, which knows how to treat it.
 */
export function messageCopier(base: Record<string, unknown>, cloneMessage: (msg: Record<string, unknown>) => Record<string, unknown>): () => Record<string, unknown> {
  const nested = Object.values(base).some((v) => v !== null && typeof v === 'object');
  if (!nested) return () => ({ ...base });
  if (!isPlainData(base)) return () => cloneMessage(base);
  return () => copyPlain(base) as Record<string, unknown>;
}

function isPlainData(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== 'object') return typeof value !== 'function' && typeof value !== 'symbol' && typeof value !== 'bigint';
  // Deeper than any query or correlation object: let cloneMessage judge it.
  if (depth > 16) return false;
  if (Array.isArray(value)) return value.every((v) => isPlainData(v, depth + 1));
  return isPlainObject(value) && Object.values(value).every((v) => isPlainData(v, depth + 1));
}

function copyPlain(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  // Array.from, not map: a hole becomes undefined, as cloneMessage makes it.
  if (Array.isArray(value)) return Array.from(value, (v) => copyPlain(v));
  const from = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const keys = Object.keys(from);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const copy = copyPlain(from[key]);
    // A "__proto__" key (JSON.parse makes one) must stay a key: assigning it would set the copy's prototype.
    // Only it is defined, not assigned: defineProperty for every key costs six times as much.
    if (key === '__proto__') Object.defineProperty(out, key, { value: copy, enumerable: true, writable: true, configurable: true });
    else out[key] = copy;
  }
  return out;
}
