import { types } from 'node:util';
import { message, type MessageValue } from './messages';

/*
 * Values a message or a context store carries, recognised whatever JavaScript realm made them. A Node-RED
 * function node runs in its own `vm` context: an object literal, an array, a Date or a `JSON.parse` result
 * made there has that context's prototypes, so `instanceof Date` or a comparison with this realm's
 * `Object.prototype` says "no" to values any user would call plain. These checks look at what a value is,
 * not at which realm's constructor made it.
 */

/**
 * An object made by `{…}`, `JSON.parse` or `Object.create(null)` in any realm: its prototype is null or the
 * root `Object.prototype` of some realm. Arrays, Dates, Buffers, Maps and class instances are not plain.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as object | null;
  // Every realm's Object.prototype is the end of its chain; any other prototype (Date.prototype,
  // Buffer.prototype, a class's) has one more link before it.
  return proto === null || (Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(value) === '[object Object]');
}

/** A Date of any realm (`new Date()` in a function node is not `instanceof Date` here). */
export function isDate(value: unknown): value is Date {
  return types.isDate(value);
}

/** The message of an Error of any realm, else the value as text. */
export function reasonOf(err: unknown): string {
  return types.isNativeError(err) ? err.message : String(err);
}

/** What a value that is not a plain object is, for an error (msg.query, msg.update): JavaScript's type names need no translation. */
export function describeKind(value: unknown): MessageValue {
  if (value === null || typeof value !== 'object') return value === null ? 'null' : typeof value;
  if (Array.isArray(value)) return message('input.an-array');
  if (isDate(value)) return message('input.a-date');
  if (Buffer.isBuffer(value)) return message('input.a-buffer');
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === 'string' && name !== '' ? message('input.an-instance', { name }) : 'object';
}
