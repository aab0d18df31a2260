import { DefenderError, invalidConfig } from '../errors';
import { message } from '../messages';

/**
 * How the replicas of one set of flows agree on who polls (SPEC section 13): `none` (each Node-RED polls on
 * its own, as before coordination existed) or `redis`.
 */
export type CoordinationMode = 'none' | 'redis';

/** The config node's coordination properties, as the flow saves them. */
export interface CoordinationProperties {
  coordination?: string;
  redisUrl?: string;
  redisKeyPrefix?: string;
  /** Seconds. */
  leaseTtl?: number | string;
}

/** Where the replicas meet: a Redis server, the keys' prefix, and how long a lease lasts unrenewed. */
export interface RedisSettings {
  /** The server's URL without its user name and password, so that it may be shown. */
  url: string;
  username?: string;
  /** Kept out of `url`: nothing that prints the settings prints it. */
  password?: string;
  keyPrefix: string;
  leaseTtlMs: number;
}

export const DEFAULT_LEASE_TTL_S = 30;
/** Below a couple of seconds, a slow round trip or a garbage collection would cost the leader its lease. */
const MIN_LEASE_TTL_S = 2;
const MAX_LEASE_TTL_S = 3600;
/** Printable characters other than spaces and braces (braces are Redis Cluster's hash tags, used in the keys). */
const PREFIX = /^[\x21-\x7a\x7c\x7e]{1,100}$/;

/**
 * The config node's coordination, validated: undefined for `none`; the Redis settings for `redis`. The
 * password comes from the credentials when given there, else from the URL; it never reaches a message.
 */
export function coordinationSettings(props: CoordinationProperties, credentials: { redisPassword?: string }): RedisSettings | undefined {
  const mode = props.coordination ?? 'none';
  if (mode === '' || mode === 'none') return undefined;
  if (mode !== 'redis') throw invalidConfig(message('coordination.bad-mode', { value: String(mode) }));
  const raw = String(props.redisUrl ?? '').trim();
  if (raw === '') throw invalidConfig(message('coordination.url-missing'));
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The text may hold a password: it is not repeated.
    throw invalidConfig(message('coordination.url-invalid'));
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw invalidConfig(message('coordination.url-scheme', { scheme: url.protocol }));
  if (url.hostname === '') throw invalidConfig(message('coordination.url-invalid'));
  if (url.search !== '' || url.hash !== '' || !/^\/?(\d{1,2})?$/.test(url.pathname)) throw invalidConfig(message('coordination.url-path'));
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = credentials.redisPassword ? credentials.redisPassword : url.password ? decodeURIComponent(url.password) : undefined;
  url.username = '';
  url.password = '';
  const keyPrefix = String(props.redisKeyPrefix ?? '');
  if (keyPrefix === '') throw invalidConfig(message('coordination.prefix-missing'));
  if (!PREFIX.test(keyPrefix)) throw invalidConfig(message('coordination.prefix-invalid', { value: keyPrefix }));
  const ttlText = String(props.leaseTtl ?? '').trim();
  const ttl = ttlText === '' ? DEFAULT_LEASE_TTL_S : Number(ttlText);
  if (!Number.isFinite(ttl) || ttl < MIN_LEASE_TTL_S || ttl > MAX_LEASE_TTL_S) {
    throw invalidConfig(message('coordination.bad-ttl', { value: ttlText, min: MIN_LEASE_TTL_S, max: MAX_LEASE_TTL_S }));
  }
  return { url: url.toString(), ...(username ? { username } : {}), ...(password ? { password } : {}), keyPrefix, leaseTtlMs: Math.round(ttl * 1000) };
}

/** `text` with every occurrence of the password (as given, and as a URL writes it) replaced. */
export function redact(text: string, password: string | undefined): string {
  if (!password) return text;
  let out = text;
  for (const form of new Set([password, encodeURIComponent(password)])) out = out.split(form).join('***');
  return out;
}

/** A coordination error: the Redis server could not be reached or did not answer in time. */
export function unavailable(reason: string, settings: RedisSettings): DefenderError {
  return new DefenderError('COORDINATION_UNAVAILABLE', message('coordination.unavailable', { url: settings.url, reason: redact(reason, settings.password) }));
}
