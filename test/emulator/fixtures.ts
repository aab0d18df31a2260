/**
 * Shared fixtures of the emulator tests: a clock the test moves by hand, and small clients for the token
 * and detections endpoints that speak plain HTTP through the global fetch.
 */
import { after, before, beforeEach } from 'node:test';
import { Emulator, type EmulatorOptions } from '../../src/emulator';

export const CLIENT_ID = '35e0f735-5fe4-4693-9e68-3de80f1d3745';
export const SECRET = 'IKXc6PxB2eoFNJ/IT+l2JZZD9d9032VXz6Ul3D2WyUQ=';
export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const RESOURCE = 'https://graph.windows.net';

/** 2024-01-15T12:00:00.000Z: a fixed "now" so windows and expiry are exact. */
export const T0 = Date.UTC(2024, 0, 15, 12, 0, 0, 0);

export class ManualClock {
  constructor(public ms = T0) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const emulator = new Emulator({ clientId: CLIENT_ID, clientSecret: SECRET, ...options });
  await emulator.listen();
  return emulator;
}

/**
 * The hooks of a describe block: one emulator on the hand-moved clock for the block, back to T0 and
 * emptied before each test (before that block's own beforeEach hooks run).
 */
export function withClockedEmulator(clock: ManualClock, options: EmulatorOptions, ready: (emulator: Emulator) => void): void {
  let emulator: Emulator | undefined;
  before(async () => {
    emulator = await startEmulator({ now: clock.now, ...options });
    ready(emulator);
  });
  after(() => emulator?.close());
  beforeEach(() => {
    clock.ms = T0;
    emulator?.reset();
  });
}

export function tokenForm(overrides: Record<string, string | undefined> = {}): string {
  const fields: Record<string, string | undefined> = {
    resource: RESOURCE,
    client_id: CLIENT_ID,
    client_secret: SECRET,
    grant_type: 'client_credentials',
    ...overrides,
  };
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) form.set(k, v);
  return form.toString();
}

export async function requestToken(baseUrl: string, overrides: Record<string, string | undefined> = {}): Promise<Response> {
  return fetch(`${baseUrl}/${TENANT}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: tokenForm(overrides),
  });
}

const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

/** POST the v2.0 token endpoint with Graph's scope; `form` overrides or (undefined) removes fields. */
export async function graphToken(baseUrl: string, form: Record<string, string | undefined> = {}): Promise<Response> {
  const fields: Record<string, string | undefined> = { scope: GRAPH_SCOPE, client_id: CLIENT_ID, client_secret: SECRET, grant_type: 'client_credentials', ...form };
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) body.set(k, v);
  return fetch(`${baseUrl}/${TENANT}/oauth2/v2.0/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: body.toString() });
}

/** A v2.0 access token for Graph. */
export async function graphAccessToken(baseUrl: string): Promise<string> {
  const res = await graphToken(baseUrl);
  if (res.status !== 200) throw new Error(`Graph token request failed: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

export async function accessToken(baseUrl: string): Promise<string> {
  const res = await requestToken(baseUrl);
  if (res.status !== 200) throw new Error(`token request failed: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { access_token: string };
  return body.access_token;
}

export type Query = string | Array<[string, string]> | Record<string, string>;

export function queryString(query: Query): string {
  if (typeof query === 'string') return query;
  const params = new URLSearchParams(Array.isArray(query) ? query : Object.entries(query));
  const text = params.toString();
  return text ? `?${text}` : '';
}

export interface AlertsAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body when it is JSON, else undefined. */
  json: unknown;
}

export async function getAlerts(baseUrl: string, token: string | undefined, query: Query = '', init: RequestInit = {}): Promise<AlertsAnswer> {
  const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  const res = await fetch(`${baseUrl}/api/alerts${queryString(query)}`, { headers, ...init });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export type Row = Record<string, unknown>;

/** The detections of a 200 answer; fails the test on anything else. */
export function rows(answer: AlertsAnswer): Row[] {
  if (answer.status !== 200 || !Array.isArray(answer.json)) {
    throw new Error(`expected 200 with a JSON array, got HTTP ${answer.status}: ${answer.text.slice(0, 300)}`);
  }
  return answer.json as Row[];
}

export function fullIds(answer: AlertsAnswer): string[] {
  return rows(answer).map((d) => String(d.FullId));
}

/** The error message of a Defender-style error body {"error":{"code","message"}}. */
export function errorOf(answer: AlertsAnswer): { code: string; message: string } {
  const body = answer.json as { error?: { code?: unknown; message?: unknown } } | undefined;
  return { code: String(body?.error?.code), message: String(body?.error?.message) };
}

export async function adminCall(baseUrl: string, method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${baseUrl}/emulator/${route}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}
