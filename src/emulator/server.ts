import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Detection, DetectionField } from '../defender/services/detection';
import { type Fault, type FaultTarget, type ResolvedFault, FaultPlan, faultFromJson, faultToJson } from './faults';
import { DetectionGenerator, identityFields, orderFields } from './generator';
import {
  BodyTooLargeError, type Reply, apiError, detectionsReply, jsonReply, readBody, sendNoContent, sendReply, sendTruncated,
} from './http';
import {
  type GraphOverrides, type ListRequest, type Listed, encodeCursor, graphAlertOf, includesUnknownEnumMembers, matchesClauses, meetsConditions, navigationProperties, pageOf, parseAlertsV2Query, parseListQuery,
  withEvolvableEnums, withOverrides,
} from './graph';
import { ALERT_ENTITY, type AlertComment, type AlertTriage, applyPatch, type Checked, checkPatch, checkNewComment, graphError, INCIDENT_ENTITY, type Patch, triaged, UNTOUCHED } from './graph-write';
import { MIN_INSTANT } from './timestamps';
import { ClientAssertions } from './assertions';
import { aadError, checkTokenRequest, checkTokenRequestV2 } from './login';
import { APP_SERVICE_PATH, checkIdentityRequest, IMDS_PATH, type IdentityShape, type ManagedIdentityOptions, updatingReply } from './managed-identity';
import { DEFAULT_WINDOW_MS, QueryError, parseAlertsQuery } from './query';
import { SeededRandom } from './random';
import { type Incident, IncidentBook, PORTAL_INCIDENT_EDIT, type IncidentEdit, incidentJson, INCIDENTS_FILTER, INCIDENTS_MAX_TOP, incidentValue } from './incidents';
import { DetectionStore, type StoredView } from './store';
import { formatTicks, instantToTicks, parseDateTime } from './timestamps';
import { scopeResource, TokenIssuer } from './tokens';

export type { Fault, FaultKind, FaultTarget } from './faults';
export type { ManagedIdentityOptions } from './managed-identity';

export interface EmulatorOptions {
  /** Default 'emulator-client-id'. */
  clientId?: string;
  /** Default 'emulator-client-secret'. */
  clientSecret?: string;
  /** Default 3599, as Azure AD's usual expires_in. */
  tokenLifetimeSeconds?: number;
  /** Seed of the generator behind every generated detection (default 1). */
  seed?: number;
  /** Detections generated at construction, LastProcessedTimeUtc spread over the last 2 hours (default 0). */
  initialDetections?: number;
  /** The emulator's clock in epoch ms (default Date.now): "now" of queries, token expiry, visibility. */
  now?: () => number;
  /**
   * Graph documents $count, $filter, $skip and $top for alerts_v2, not $orderby. 'supported' (default)
   * serves `$orderby=lastUpdateDateTime desc|asc`; 'refused' answers 400, as an OData service that does not
   * allow the option does, so clients can be tested against both.
   */
  graphOrderBy?: 'supported' | 'refused';
  /** The largest page GET alerts_v2 answers, whatever $top asks (default 1000); the rest via @odata.nextLink. */
  graphMaxPageSize?: number;
  /**
   * false: GET alerts_v2 answers without @odata.nextLink, as elastic/integrations#20234 met it on tenants:
   * `$top` clamped at 1000 (graphMaxPageSize does not apply) and a `$skip` above 500 refused with 400, so
   * only paging by the lastUpdateDateTime bound reaches every alert. Default true.
   */
  graphNextLink?: boolean;
  /**
   * How POST …/comments answers once the comment is stored: 'collection' (default), the alert's comments
   * as Graph documents; 'created', 201 with the one comment; 'empty', 204 without a body. Clients must not
   * take the other two for a failure: the comment is there, and sending it again would add it twice.
   */
  graphCommentAnswer?: 'collection' | 'created' | 'empty';
  /**
   * The incidents list answers HTTP 500 to a request with both `$filter` and `$expand=alerts` when an incident
   * of the page has more alerts than this, as Graph does on large tenants (elastic/integrations#18144); the
   * list without $expand and one incident with its alerts still answer. Default: never (Infinity); 0: always.
   */
  graphExpandFailsAbove?: number;
  /**
   * The Microsoft Graph application permissions the emulated app registration has been granted (with admin
   * consent): they become the roles of each Graph token issued from then on. Default SecurityAlert.Read.All,
   * SecurityAlert.ReadWrite.All, SecurityIncident.Read.All and SecurityIncident.ReadWrite.All; without a
   * ReadWrite permission, writes answer 403.
   */
  graphPermissions?: readonly string[];
  /** PEM certificates uploaded to the app registration: client assertions signed with their keys are accepted. */
  certificates?: readonly string[];
  /** Federated tokens the app registration trusts (workload identity federation), accepted as client assertions. */
  federatedTokens?: readonly string[];
  /** The managed identity endpoints (IMDS at /metadata/identity/oauth2/token, App Service at /msi/token). */
  managedIdentity?: ManagedIdentityOptions;
}

/** Reading alerts_v2 needs either; changing an alert or adding a comment needs ReadWrite. */
const READ_ALERTS = ['SecurityAlert.Read.All', 'SecurityAlert.ReadWrite.All'] as const;
const WRITE_ALERTS = ['SecurityAlert.ReadWrite.All'] as const;
/** Reading incidents needs either; changing one or adding a comment needs ReadWrite. */
const READ_INCIDENTS = ['SecurityIncident.Read.All', 'SecurityIncident.ReadWrite.All'] as const;
const WRITE_INCIDENTS = ['SecurityIncident.ReadWrite.All'] as const;
const DEFAULT_GRAPH_PERMISSIONS: readonly string[] = [...READ_ALERTS, ...READ_INCIDENTS];

export interface RecordedRequest {
  /**
   * The Microsoft Graph dialect: graph-token (v2.0 token), graph-alerts (GET /v1.0/security/alerts_v2),
   * graph-alert (one alert: GET or PATCH …/alerts_v2/{id}) and graph-comments (POST …/alerts_v2/{id}/comments);
   * graph-incidents (GET /v1.0/security/incidents), graph-incident (GET or PATCH …/incidents/{id}) and
   * graph-incident-comments (POST …/incidents/{id}/comments).
   * managed-identity: the IMDS or App Service token endpoint.
   */
  endpoint:
    | 'token' | 'alerts' | 'graph-token' | 'graph-alerts' | 'graph-alert' | 'graph-comments' | 'graph-incidents' | 'graph-incident' | 'graph-incident-comments'
    | 'managed-identity' | 'redirected' | 'other';
  method: string;
  path: string;
  query: Array<[string, string]>;
  /** 0 until answered, and for a connection reset without an answer. */
  status: number;
  /**
   * Token endpoint: the client credentials (secret or assertion) were right; managed identity: the identity
   * request was. Alerts and redirected: the bearer token was valid.
   */
  authorized: boolean;
  hadAuthorizationHeader: boolean;
  /** graph-alert and graph-comments: the JSON body as sent (never a token endpoint's form, which holds the secret). */
  body?: string;
  /** The Prefer header as sent, when there was one (Graph: `include-unknown-enum-members`). */
  prefer?: string;
}

export interface StreamOptions {
  /** Interval between ticks (default 20 000 ms). */
  everyMs?: number;
  /** New detections per tick (default 1). */
  perTick?: number;
  /** Some arrivals carry a LastProcessedTimeUtc up to this far in the past: late arrivals (default 0). */
  lateMs?: number;
  /** Share of ticks that update an existing detection instead of adding (0–1, default 0). */
  updateRatio?: number;
}

export interface AddDetectionsOptions {
  /** Newest LastProcessedTimeUtc, epoch ms (default now). */
  lastProcessedAt?: number;
  /** LastProcessedTimeUtc values are spread over [lastProcessedAt - spreadMs, lastProcessedAt] (default 0). */
  spreadMs?: number;
  /** When they become visible to GET /api/alerts, epoch ms on the emulator clock (default now). */
  visibleAt?: number;
  /** Put them all on devices of this group. */
  machineGroup?: string;
}

const TOKEN_PATH = /^\/([^/]+)\/oauth2\/token\/?$/i;
const ALERTS_PATH = /^\/api\/alerts\/?$/i;
const TOKEN_V2_PATH = /^\/([^/]+)\/oauth2\/v2\.0\/token\/?$/i;
const GRAPH_ALERTS_PATH = /^\/v1\.0\/security\/alerts_v2\/?$/i;
const GRAPH_ALERT_PATH = /^\/v1\.0\/security\/alerts_v2\/([^/]+)\/?$/i;
const GRAPH_COMMENTS_PATH = /^\/v1\.0\/security\/alerts_v2\/([^/]+)\/comments\/?$/i;
const GRAPH_INCIDENTS_PATH = /^\/v1\.0\/security\/incidents\/?$/i;
const GRAPH_INCIDENT_PATH = /^\/v1\.0\/security\/incidents\/([^/]+)\/?$/i;
const GRAPH_INCIDENT_COMMENTS_PATH = /^\/v1\.0\/security\/incidents\/([^/]+)\/comments\/?$/i;
const FAR_FUTURE = '9999-12-31T23:59:59.9999999Z';
const REDIRECTED_PREFIX = '/redirected/';
/** The content type of Graph's JSON answers. */
const GRAPH_JSON = 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8';
/** The Microsoft Graph service roots of the clouds: a token for one of them is a Graph token. */
const GRAPH_ROOTS = ['https://graph.microsoft.com', 'https://graph.microsoft.us', 'https://dod-graph.microsoft.us'];
const ADMIN_PREFIX = '/emulator/';
const LATE_ARRIVAL_SHARE = 0.3;
/** Without @odata.nextLink, Graph clamps $top at 1000 and refuses a $skip above 500 (elastic/integrations#20234). */
const GRAPH_TOP_LIMIT = 1000;
const GRAPH_SKIP_LIMIT = 500;
const MAX_GENERATED_PER_CALL = 1_000_000;

const SIGN_IN_PAGE = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in to continue</title></head>
<body><h1>Sign in</h1><p>Your network requires you to sign in before you can reach this site.</p>
<form method="post" action="/login"><input name="user" placeholder="User name"><input name="password" type="password"><button>Sign in</button></form>
</body></html>`;

function isLoopback(address: string | undefined): boolean {
  return address === '::1' || address?.startsWith('127.') === true || address?.startsWith('::ffff:127.') === true;
}

function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

/** OData's answer to a Prefer header it honoured. */
function preferenceApplied(includeUnknown: boolean): Record<string, string> {
  return includeUnknown ? { 'Preference-Applied': 'include-unknown-enum-members' } : {};
}

function nonNegativeInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The routes of one Graph entity: an alert or an incident, or its comments. */
type GraphEntityEndpoint = 'graph-alert' | 'graph-comments' | 'graph-incident' | 'graph-incident-comments';

/** What a request asks to write to an entity, checked, and who asks. */
interface EntityWrite {
  patch?: Patch;
  comment?: string;
  /** The app's client id, as Graph records who commented. */
  by: string;
  tenant: string;
}

/** `$expand` of an incident request: `alerts`, or nothing; Graph refuses a navigation property it does not have. */
function expandOf(asked: readonly string[], now: number): Checked<boolean> {
  const unknown = asked.find((p) => p !== 'alerts');
  if (unknown !== undefined) {
    return { ok: false, reply: graphError(400, 'BadRequest', `Could not find a property named '${unknown}' on type 'microsoft.graph.security.incident'. $expand takes alerts.`, now) };
  }
  return { ok: true, value: asked.length > 0 };
}

/**
 * A local stand-in for the Microsoft Defender for Endpoint SIEM API and its Azure AD token endpoint: a
 * real HTTP server with the documented query semantics, bearer-token checks and scriptable faults.
 */
export class Emulator {
  private readonly clientId: string;
  private readonly clientSecret: string;
  private readonly now: () => number;
  private readonly random: SeededRandom;
  private readonly generator: DetectionGenerator;
  private readonly store = new DetectionStore();
  private readonly tokens: TokenIssuer;
  private readonly faults = new FaultPlan();
  private readonly assertions = new ClientAssertions();
  private readonly identity: Required<ManagedIdentityOptions>;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private server: Server | undefined;
  private baseUrl: string | undefined;
  private streamTimer: NodeJS.Timeout | undefined;
  private counters = { tokenRequests: 0, alertRequests: 0 };
  private readonly graphOrderBy: 'supported' | 'refused';
  private readonly graphMaxPageSize: number;
  private readonly graphNextLink: boolean;
  private readonly graphCommentAnswer: 'collection' | 'created' | 'empty';
  private readonly graphExpandFailsAbove: number;
  /** The incidents Defender made of the alerts, and what was done to them. */
  private readonly incidents = new IncidentBook();
  /**
   * The alerts_v2 JSON of a stored detection, per tenant and Prefer header: derived once, like the SIEM
   * endpoint's serialised form.
   */
  private readonly graphJson = new WeakMap<Detection, Map<string, string>>();
  private log: RecordedRequest[] = [];
  private readonly defaultGraphPermissions: readonly string[];
  private graphPermissions: readonly string[];
  /** What has been done to each alert, by alert id: what Graph's PATCH and comments changed. */
  private readonly triage = new Map<string, AlertTriage>();
  /** What Graph shows of an alert beyond its SIEM detection, by alert id (addDetection's `graph`). */
  private readonly graphOverrides = new Map<string, GraphOverrides>();

  constructor(options: EmulatorOptions = {}) {
    this.clientId = options.clientId ?? 'emulator-client-id';
    this.clientSecret = options.clientSecret ?? 'emulator-client-secret';
    const lifetime = options.tokenLifetimeSeconds ?? 3599;
    if (!(Number.isInteger(lifetime) && lifetime > 0)) {
      throw new RangeError(`tokenLifetimeSeconds must be a positive integer, got ${lifetime}`);
    }
    this.now = options.now ?? Date.now;
    this.graphOrderBy = options.graphOrderBy ?? 'supported';
    if (this.graphOrderBy !== 'supported' && this.graphOrderBy !== 'refused') {
      throw new RangeError(`graphOrderBy must be "supported" or "refused", got ${JSON.stringify(options.graphOrderBy)}`);
    }
    this.graphMaxPageSize = options.graphMaxPageSize ?? 1000;
    if (!(Number.isInteger(this.graphMaxPageSize) && this.graphMaxPageSize > 0)) {
      throw new RangeError(`graphMaxPageSize must be a positive integer, got ${options.graphMaxPageSize}`);
    }
    this.graphNextLink = options.graphNextLink ?? true;
    this.graphCommentAnswer = options.graphCommentAnswer ?? 'collection';
    if (!['collection', 'created', 'empty'].includes(this.graphCommentAnswer)) {
      throw new RangeError(`graphCommentAnswer must be "collection", "created" or "empty", got ${JSON.stringify(options.graphCommentAnswer)}`);
    }
    this.graphExpandFailsAbove = options.graphExpandFailsAbove ?? Infinity;
    if (!(this.graphExpandFailsAbove >= 0)) throw new RangeError(`graphExpandFailsAbove must be a number of alerts (0 or more), got ${JSON.stringify(options.graphExpandFailsAbove)}`);
    this.defaultGraphPermissions = [...(options.graphPermissions ?? DEFAULT_GRAPH_PERMISSIONS)];
    this.graphPermissions = this.defaultGraphPermissions;
    this.assertions.setCertificates(options.certificates ?? []);
    this.assertions.setFederatedTokens(options.federatedTokens ?? []);
    this.identity = {
      identityHeader: options.managedIdentity?.identityHeader ?? 'emulator-identity-header',
      userAssignedClientIds: options.managedIdentity?.userAssignedClientIds ?? [],
      systemAssignedClientId: options.managedIdentity?.systemAssignedClientId ?? 'emulator-managed-identity',
      tenantId: options.managedIdentity?.tenantId ?? '00000000-0000-4000-8000-000000000000',
    };
    this.random = new SeededRandom(options.seed ?? 1);
    this.generator = new DetectionGenerator(this.random);
    this.tokens = new TokenIssuer(() => this.clock(), lifetime);
    const initial = nonNegativeInteger(options.initialDetections ?? 0, 'initialDetections');
    if (initial > 0) this.addDetections(initial, { spreadMs: DEFAULT_WINDOW_MS - 1 });
  }

  /** Base URL after listen, like 'http://127.0.0.1:41234'. */
  get url(): string {
    if (this.baseUrl === undefined) throw new Error('the emulator is not listening: call listen() first');
    return this.baseUrl;
  }

  /** Every stored detection, visible or not yet, newest first. The objects are frozen. */
  get detections(): Detection[] {
    return this.store.all();
  }

  /** Requests to the token endpoints (v1 and v2.0) and to the detections endpoints (SIEM API and Graph). */
  get stats(): { tokenRequests: number; alertRequests: number } {
    return { ...this.counters };
  }

  /** Requests to the token, alerts and redirected endpoints and unknown paths (not the admin ones), oldest first. */
  get requests(): RecordedRequest[] {
    return [...this.log];
  }

  /** Every access token issued since construction or the last reset, oldest first (for leak checks). */
  get issuedTokens(): string[] {
    return this.tokens.all();
  }

  /** Every client_assertion received since construction or the last reset, oldest first (for leak checks). */
  get clientAssertions(): string[] {
    return this.assertions.received;
  }

  /** The certificates uploaded to the app registration (PEM); they replace those given before. */
  setCertificates(pems: readonly string[]): void {
    this.assertions.setCertificates(pems);
  }

  /** The federated tokens the app registration trusts now; they replace those given before (a token rotated). */
  setFederatedTokens(tokens: readonly string[]): void {
    this.assertions.setFederatedTokens(tokens);
  }

  /**
   * Starts serving. With `tls` (a key and certificate, e.g. signed by a test CA) it serves HTTPS, as the
   * real service does, for tests of proxies and custom certificate authorities.
   */
  async listen(port = 0, host = '127.0.0.1', tls?: { key: string | Buffer; cert: string | Buffer }): Promise<string> {
    if (this.server) throw new Error(`the emulator is already listening on ${this.baseUrl}`);
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, err));
    };
    const server: Server = tls ? (createHttpsServer(tls, handler) as unknown as Server) : createServer(handler);
    // Clients often parse a big answer in the same process as the emulator (tests); with Node's 5 s
    // default an idle connection can be closed just as the client reuses it, and the call fails with
    // ECONNRESET. close() destroys these sockets anyway, so a long keep-alive costs nothing.
    server.keepAliveTimeout = 60_000;
    server.headersTimeout = 65_000;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
    this.baseUrl = `${tls ? 'https' : 'http'}://${shownHost}:${address.port}`;
    return this.baseUrl;
  }

  /** Stops the server and the stream and drops open keep-alive connections, so a test run ends promptly. */
  async close(): Promise<void> {
    this.stopStream();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const server = this.server;
    this.server = undefined;
    this.baseUrl = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  /**
   * Stores one detection: generated, with the given fields laid over it. LastProcessedTimeUtc may be a
   * string (kept as given) or epoch ms (random sub-millisecond digits are added); when AlertId or
   * IocUniqueId is given, FullId and the links follow unless they are given too. A FullId that is already
   * stored is replaced, as the API shows only the newest version of a detection. `graph` sets what Graph shows
   * of the alert beyond the SIEM fields (a detection source or remediation status the SIEM API cannot say,
   * only `categories`); it stays with the alert id across updates.
   */
  addDetection(fields: Partial<Record<DetectionField, unknown>> = {}, options: { visibleAt?: number; graph?: GraphOverrides } = {}): Detection {
    const given = fields.LastProcessedTimeUtc;
    let lastProcessed: string;
    let lastProcessedKey: string;
    if (given === undefined) {
      lastProcessedKey = lastProcessed = this.generator.lastProcessed(this.clock());
    } else if (typeof given === 'number') {
      lastProcessedKey = lastProcessed = this.generator.lastProcessed(given);
    } else {
      const key = typeof given === 'string' ? parseDateTime(given) : undefined;
      if (key === undefined) {
        throw new RangeError(`LastProcessedTimeUtc must be an ISO 8601 date-time or epoch ms, got ${JSON.stringify(given)}`);
      }
      lastProcessed = given as string;
      lastProcessedKey = key;
    }
    const group = typeof fields.MachineGroup === 'string' ? fields.MachineGroup : undefined;
    const detection: Detection = { ...this.generator.generate(lastProcessedKey, group) };
    for (const [field, value] of Object.entries(fields)) {
      if (value !== undefined) detection[field] = value;
    }
    detection.LastProcessedTimeUtc = lastProcessed;
    if (fields.AlertId !== undefined || fields.IocUniqueId !== undefined) {
      const derived = identityFields(String(detection.AlertId), String(detection.IocUniqueId));
      for (const [field, value] of Object.entries(derived) as Array<[DetectionField, string]>) {
        if (fields[field] === undefined) detection[field] = value;
      }
    }
    if (options.graph) this.graphOverrides.set(String(detection.AlertId), { ...options.graph });
    return this.store.put(orderFields(detection), options.visibleAt ?? this.clock(), lastProcessedKey);
  }

  /** Stores `count` generated detections; returns them in generation order. */
  addDetections(count: number, options: AddDetectionsOptions = {}): Detection[] {
    nonNegativeInteger(count, 'count');
    if (count > MAX_GENERATED_PER_CALL) throw new RangeError(`count must be at most ${MAX_GENERATED_PER_CALL}, got ${count}`);
    const newest = options.lastProcessedAt ?? this.clock();
    const spread = nonNegativeInteger(options.spreadMs ?? 0, 'spreadMs');
    const visibleAt = options.visibleAt ?? this.clock();
    const added: Detection[] = [];
    for (let i = 0; i < count; i++) {
      const at = newest - (spread > 0 ? this.random.int(0, spread) : 0);
      const lastProcessed = this.generator.lastProcessed(at);
      added.push(this.store.put(this.generator.generate(lastProcessed, options.machineGroup), visibleAt, lastProcessed));
    }
    return added;
  }

  /**
   * A new version of a stored detection: same FullId and AlertId, the fields `changes` gives, a later
   * LastProcessedTimeUtc (default now, and then always later than the old one), visible at once. It replaces
   * the stored one.
   */
  updateDetection(fullId: string, lastProcessedAt?: number, changes: Partial<Detection> = {}): Detection {
    const existing = this.store.get(fullId);
    if (!existing) throw new RangeError(`no stored detection has FullId ${JSON.stringify(fullId)}`);
    const lastProcessed = this.nextVersionTime(existing, lastProcessedAt);
    return this.store.put({ ...existing, ...changes, LastProcessedTimeUtc: lastProcessed }, this.clock(), lastProcessed);
  }

  /** The LastProcessedTimeUtc of a detection's next version: the given time, else now and always later than the last. */
  private nextVersionTime(existing: Detection, lastProcessedAt?: number): string {
    const lastProcessed = this.generator.lastProcessed(lastProcessedAt ?? this.clock());
    const previous = parseDateTime(String(existing.LastProcessedTimeUtc));
    if (lastProcessedAt === undefined && previous !== undefined && lastProcessed <= previous) {
      return formatTicks(instantToTicks(previous) + 1n);
    }
    return lastProcessed;
  }

  injectFault(fault: Fault): void {
    this.faults.add(fault);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /**
   * Grants the emulated app these Microsoft Graph application permissions (replacing the others). As in
   * Azure AD, a token keeps the roles it was issued with: revoke the tokens for the change to show at once.
   */
  setGraphPermissions(permissions: readonly string[]): void {
    if (!Array.isArray(permissions) || permissions.some((p) => typeof p !== 'string' || p.trim() === '')) {
      throw new RangeError(`graph permissions must be an array of permission names, got ${JSON.stringify(permissions)}`);
    }
    this.graphPermissions = [...permissions];
  }

  /** The Graph application permissions granted now. */
  get grantedGraphPermissions(): string[] {
    return [...this.graphPermissions];
  }

  /**
   * An alert as Graph shows it to `tenant` now, triage included, to a client that sends
   * `Prefer: include-unknown-enum-members`; undefined for an unknown or not yet visible id.
   */
  graphAlert(alertId: string, tenant: string): Record<string, unknown> | undefined {
    const detection = this.store.alert(alertId, this.clock());
    return detection && this.shownAlert(detection, tenant, true);
  }

  /**
   * A stored detection as Graph shows it to `tenant`, with what Graph adds to it and the triage written to it,
   * its evolvable enums as a client with (`includeUnknown`) or without the Prefer header sees them.
   */
  private shownAlert(detection: Detection, tenant: string, includeUnknown: boolean): Record<string, unknown> {
    const id = String(detection.AlertId);
    const alert = withOverrides(graphAlertOf(detection, tenant), this.graphOverrides.get(id));
    const incidentId = this.incidentIdOf(detection);
    const inIncident = { ...alert, incidentId, incidentWebUrl: `https://security.microsoft.com/incidents/${incidentId}?tid=${tenant}` };
    return withEvolvableEnums(triaged(inIncident, this.triage.get(id)), includeUnknown);
  }

  private incidentIdOf(detection: Detection): string {
    return this.incidents.incidentOf(detection, this.graphOverrides.get(String(detection.AlertId))?.incidentId);
  }

  /** Every token issued so far is refused with 401 from now on; new ones are fine. */
  revokeTokens(): void {
    this.tokens.revokeAll();
  }

  /** Adds detections on a timer (unref'd, so it never keeps a process alive); restarts if running. */
  startStream(options: StreamOptions = {}): void {
    this.stopStream();
    const everyMs = options.everyMs ?? 20_000;
    if (!(everyMs > 0)) throw new RangeError(`everyMs must be positive, got ${everyMs}`);
    const perTick = nonNegativeInteger(options.perTick ?? 1, 'perTick');
    const lateMs = nonNegativeInteger(options.lateMs ?? 0, 'lateMs');
    const updateRatio = options.updateRatio ?? 0;
    if (!(updateRatio >= 0 && updateRatio <= 1)) throw new RangeError(`updateRatio must be between 0 and 1, got ${updateRatio}`);
    this.streamTimer = setInterval(() => this.streamTick(perTick, lateMs, updateRatio), everyMs);
    this.streamTimer.unref();
  }

  stopStream(): void {
    if (this.streamTimer) clearInterval(this.streamTimer);
    this.streamTimer = undefined;
  }

  /**
   * Clears detections and what was done to them, faults, tokens, assertions seen, stats and recorded
   * requests, and grants the Graph permissions of the construction again. A running stream keeps running;
   * certificates, federated tokens and identities stay, as an app registration's do.
   */
  reset(): void {
    this.store.clear();
    this.triage.clear();
    this.incidents.clear();
    this.graphOverrides.clear();
    this.graphPermissions = this.defaultGraphPermissions;
    this.faults.clear();
    this.tokens.clear();
    this.assertions.reset();
    this.counters = { tokenRequests: 0, alertRequests: 0 };
    this.log = [];
  }

  private clock(): number {
    return Math.floor(this.now());
  }

  private streamTick(perTick: number, lateMs: number, updateRatio: number): void {
    if (this.store.size > 0 && this.random.chance(updateRatio)) {
      const all = this.store.all();
      this.updateDetection(String(all[this.random.int(0, all.length - 1)].FullId));
      return;
    }
    for (let i = 0; i < perTick; i++) {
      const late = lateMs > 0 && this.random.chance(LATE_ARRIVAL_SHARE) ? this.random.int(1, lateMs) : 0;
      this.addDetections(1, { lastProcessedAt: this.clock() - late });
    }
  }

  // ---- HTTP -------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Concatenated rather than resolved: "//api/alerts" must stay a path, not become a host.
    const url = new URL(`http://emulator.invalid${req.url ?? '/'}`);
    const path = url.pathname;
    const tokenMatch = TOKEN_PATH.exec(path);
    if (tokenMatch) return this.handleToken(req, res, url, tokenMatch[1], 'v1');
    if (ALERTS_PATH.test(path)) return this.handleAlerts(req, res, url);
    const tokenV2Match = TOKEN_V2_PATH.exec(path);
    if (tokenV2Match) return this.handleToken(req, res, url, tokenV2Match[1], 'v2');
    if (GRAPH_ALERTS_PATH.test(path)) return this.handleGraphAlerts(req, res, url);
    const commentsMatch = GRAPH_COMMENTS_PATH.exec(path);
    if (commentsMatch) return this.handleGraphAlert(req, res, url, commentsMatch[1], 'graph-comments');
    const alertMatch = GRAPH_ALERT_PATH.exec(path);
    if (alertMatch) return this.handleGraphAlert(req, res, url, alertMatch[1], 'graph-alert');
    if (GRAPH_INCIDENTS_PATH.test(path)) return this.handleGraphIncidents(req, res, url);
    const incidentCommentsMatch = GRAPH_INCIDENT_COMMENTS_PATH.exec(path);
    if (incidentCommentsMatch) return this.handleGraphAlert(req, res, url, incidentCommentsMatch[1], 'graph-incident-comments');
    const incidentMatch = GRAPH_INCIDENT_PATH.exec(path);
    if (incidentMatch) return this.handleGraphAlert(req, res, url, incidentMatch[1], 'graph-incident');
    if (IMDS_PATH.test(path)) return this.handleManagedIdentity(req, res, url, 'imds');
    if (APP_SERVICE_PATH.test(path)) return this.handleManagedIdentity(req, res, url, 'app-service');
    if (path.startsWith(REDIRECTED_PREFIX)) return this.handleRedirected(req, res, url);
    if (path.startsWith(ADMIN_PREFIX)) return this.handleAdmin(req, res, path.slice(ADMIN_PREFIX.length).replace(/\/$/, ''));
    const record = this.record('other', req, url);
    return this.send(res, apiError(404, 'NotFound', `No resource at ${req.method ?? 'GET'} ${path}. The detections API is GET /api/alerts; tokens come from POST /{tenantId}/oauth2/token.`), record);
  }

  private record(endpoint: RecordedRequest['endpoint'], req: IncomingMessage, url: URL, authorized = false): RecordedRequest {
    const entry: RecordedRequest = {
      endpoint,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: [...url.searchParams],
      status: 0,
      authorized,
      hadAuthorizationHeader: req.headers.authorization !== undefined,
      ...(req.headers.prefer !== undefined ? { prefer: String(req.headers.prefer) } : {}),
    };
    this.log.push(entry);
    return entry;
  }

  private async send(res: ServerResponse, reply: Reply, record?: RecordedRequest, headers: Record<string, string> = {}): Promise<void> {
    if (record) record.status = reply.status;
    await sendReply(res, { ...reply, headers: { ...reply.headers, ...headers } });
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    void sendReply(res, apiError(500, 'InternalServerError', `The emulator failed: ${message}`));
  }

  /**
   * POST /{tenant}/oauth2/token (Azure AD v1: a resource, as the SIEM API's clients ask) and
   * POST /{tenant}/oauth2/v2.0/token (v2: a scope, as Graph clients ask).
   */
  private async handleToken(req: IncomingMessage, res: ServerResponse, url: URL, rawTenant: string, version: 'v1' | 'v2'): Promise<void> {
    this.counters.tokenRequests += 1;
    const record = this.record(version === 'v2' ? 'graph-token' : 'token', req, url);
    let tenant: string;
    try {
      tenant = decodeURIComponent(rawTenant);
    } catch {
      tenant = rawTenant;
    }
    let body = '';
    try {
      body = await readBody(req);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return this.send(res, aadError(413, 'invalid_request', 90020, err.message, this.clock()), record);
      throw err;
    }
    const isForm = (req.headers['content-type'] ?? '').toLowerCase().includes('application/x-www-form-urlencoded');
    const form = new URLSearchParams(isForm ? body : '');
    // The audience of a client assertion is the exact token URL the request went to.
    const audience = `${this.url.slice(0, this.url.indexOf('://'))}://${req.headers.host ?? ''}${url.pathname}`;
    const credentials = {
      clientId: this.clientId,
      clientSecret: this.clientSecret,
      checkAssertion: (assertionForm: URLSearchParams, clientId: string) => this.assertions.check(assertionForm, clientId, audience, this.clock()),
    };
    let verdict: { ok: true; issue: () => Reply } | { ok: false; reply: Reply } | undefined;
    if (req.method === 'POST') {
      const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
      if (version === 'v2') {
        const c = checkTokenRequestV2(form, req.headers.authorization, tenant, credentials, this.clock());
        // A scope of Graph's gets the app's Graph permissions; another resource's (the SIEM API's) its own.
        const roles = c.ok && this.isGraphAudience(scopeResource(c.scope)) ? this.graphPermissions : undefined;
        verdict = c.ok ? { ok: true, issue: () => jsonReply(200, this.tokens.issueV2(tenant, c.clientId, c.scope, roles), noStore) } : c;
      } else {
        const c = checkTokenRequest(form, req.headers.authorization, tenant, credentials, this.clock());
        verdict = c.ok ? { ok: true, issue: () => jsonReply(200, this.tokens.issue(tenant, c.clientId, c.resource), noStore) } : c;
      }
    }
    record.authorized = verdict?.ok === true;
    // Issued when the answer goes out (after a delay fault, say), so expiry counts from then.
    const answer = (): Reply => {
      if (!verdict) {
        return aadError(405, 'invalid_request', 900561, `The endpoint only accepts POST requests. Received a ${req.method ?? 'GET'} request.`, this.clock());
      }
      return verdict.ok ? verdict.issue() : verdict.reply;
    };
    const fault = this.faults.take('token');
    if (fault) return this.applyFault(fault, 'token', req, res, url, record, answer, body);
    return this.send(res, answer(), record);
  }

  /** GET of a managed identity endpoint: the instance metadata service's shape or App Service's. */
  private async handleManagedIdentity(req: IncomingMessage, res: ServerResponse, url: URL, shape: IdentityShape): Promise<void> {
    this.counters.tokenRequests += 1;
    const record = this.record('managed-identity', req, url);
    req.resume();
    const check = checkIdentityRequest(shape, req.method ?? 'GET', url.searchParams, req.headers, this.identity);
    record.authorized = check.ok;
    const answer = (): Reply =>
      check.ok
        // An identity granted Graph's app roles gets them on its Graph tokens, as the app registration does.
        ? jsonReply(200, this.tokens.issueManagedIdentity(this.identity.tenantId, check.clientId, check.resource, shape, this.isGraphAudience(check.resource) ? this.graphPermissions : undefined), { 'Cache-Control': 'no-store' })
        : check.reply;
    const fault = this.faults.take('token');
    // What a gateway that quotes the request would quote: the request line and the identity's header.
    const quoted = `${req.method ?? 'GET'} ${req.url ?? ''} Metadata: ${String(req.headers.metadata ?? '')} X-IDENTITY-HEADER: ${String(req.headers['x-identity-header'] ?? '')}`;
    if (fault) return this.applyFault(fault, 'token', req, res, url, record, answer, quoted);
    return this.send(res, answer(), record);
  }

  private async handleAlerts(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.counters.alertRequests += 1;
    const record = this.record('alerts', req, url, this.tokens.check(bearerToken(req.headers.authorization)) === 'valid');
    // The request may carry a body nobody reads; drain it so the connection can be reused.
    req.resume();
    const answer = (): Reply => this.alertsReply(req, url);
    const fault = this.faults.take('alerts');
    if (fault) return this.applyFault(fault, 'alerts', req, res, url, record, answer);
    return this.send(res, answer(), record);
  }

  private alertsReply(req: IncomingMessage, url: URL): Reply {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return apiError(405, 'MethodNotAllowed', `The detections API accepts GET only, got ${req.method ?? ''}.`, { Allow: 'GET, HEAD' });
    }
    const refusal = this.checkBearer(req.headers.authorization);
    if (refusal) return refusal;
    try {
      return detectionsReply(this.store.query(parseAlertsQuery(url.searchParams, this.clock())));
    } catch (err) {
      if (err instanceof QueryError) return apiError(400, 'BadRequest', err.message);
      throw err;
    }
  }

  /** The 401 a request gets for a missing, malformed, unknown, expired or revoked bearer token. */
  private checkBearer(authorization: string | undefined): Reply | undefined {
    let reason: string;
    if (authorization === undefined) {
      reason = 'the request has no Authorization header; send "Authorization: Bearer <access token>"';
    } else {
      const token = bearerToken(authorization);
      const state = token === undefined ? 'malformed' : this.tokens.check(token);
      if (state === 'valid') {
        // The SIEM API takes a token for its resource, from either endpoint, and not Graph's.
        if (!this.isGraphToken(token)) return undefined;
        reason = 'the access token is for Microsoft Graph, not this API: request one for the resource https://graph.windows.net';
      } else {
        reason = {
          malformed: 'the Authorization header is not of the form "Bearer <access token>"',
          unknown: 'the access token was not issued by this service',
          expired: 'the access token has expired; request a new one',
          revoked: 'the access token has been revoked; request a new one',
        }[state];
      }
    }
    return apiError(401, 'Unauthorized', `Authorization has been denied for this request: ${reason}.`, {
      'WWW-Authenticate': 'Bearer error="invalid_token"',
    });
  }

  // ---- Microsoft Graph --------------------------------------------------------------------------------

  /** GET /v1.0/security/alerts_v2: the stored detections as alerts_v2 alerts, with OData paging. */
  private async handleGraphAlerts(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.counters.alertRequests += 1;
    const presented = bearerToken(req.headers.authorization);
    const record = this.record('graph-alerts', req, url, this.tokens.check(presented) === 'valid' && this.isGraphToken(presented));
    req.resume();
    const answer = (): Reply => this.graphAlertsReply(req, url);
    // The fault switches of the detections API apply to Graph's alerts too.
    const fault = this.faults.take('alerts');
    if (fault) return this.applyFault(fault, 'alerts', req, res, url, record, answer);
    return this.send(res, answer(), record);
  }

  private graphAlertsReply(req: IncomingMessage, url: URL): Reply {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return graphError(405, 'Request_BadRequest', `alerts_v2 accepts GET only, got ${req.method ?? ''}.`, this.clock(), { Allow: 'GET, HEAD' });
    }
    const token = bearerToken(req.headers.authorization);
    const refusal = this.checkGraphBearer(req.headers.authorization, token) ?? this.checkGraphRoles(token, READ_ALERTS);
    if (refusal) return refusal;
    let request: ListRequest;
    try {
      request = parseAlertsV2Query(url.searchParams, this.graphOrderBy);
    } catch (err) {
      if (err instanceof QueryError) return graphError(400, 'BadRequest', err.message, this.clock());
      throw err;
    }
    const refused = this.refusedSkip(request);
    if (refused) return refused;
    const tenant = this.tokens.describe(token)?.tenant ?? '';
    const includeUnknown = includesUnknownEnumMembers(req.headers.prefer);
    const matching: StoredView[] = this.store
      .window(request.since, request.until, this.clock())
      .filter((v) => matchesClauses(v, request.clauses, this.triage.get(String(v.detection.AlertId))));
    const { page, more } = pageOf(matching, request, this.graphNextLink ? this.graphMaxPageSize : GRAPH_TOP_LIMIT);
    return this.graphList('alerts_v2', request, matching.length, page, more, (v) => this.graphAlertJson(v.detection, tenant, includeUnknown), includeUnknown);
  }

  /** Without @odata.nextLink, Graph refuses a $skip above 500 (elastic/integrations#20234). */
  private refusedSkip(request: ListRequest): Reply | undefined {
    if (this.graphNextLink || request.skip <= GRAPH_SKIP_LIMIT) return undefined;
    return graphError(400, 'BadRequest', `The value of $skip, ${request.skip}, exceeds the maximum of ${GRAPH_SKIP_LIMIT}. Narrow the $filter instead.`, this.clock());
  }

  /**
   * A page of a collection under /v1.0/security/ as Graph answers it: its context, the count when asked, a
   * nextLink when more follow (unless this emulator answers without them), the entities as JSON.
   */
  private graphList<T extends Listed>(collection: string, request: ListRequest, count: number, page: readonly T[], more: boolean, json: (entry: T) => string, includeUnknown: boolean): Reply {
    const base = this.url;
    const parts = [`"@odata.context":${JSON.stringify(`${base}/v1.0/$metadata#security/${collection}`)}`];
    if (request.count) parts.push(`"@odata.count":${count}`);
    if (this.graphNextLink && more) {
      const next = new URLSearchParams(request.carried);
      next.set('$skiptoken', encodeCursor(page[page.length - 1]));
      // Spaces as %20 and a literal "$", as Graph writes its links.
      parts.push(`"@odata.nextLink":${JSON.stringify(`${base}/v1.0/security/${collection}?${next.toString().replace(/\+/g, '%20').replace(/(^|&)%24/g, '$1$$')}`)}`);
    }
    parts.push(`"value":[${page.map(json).join(',')}]`);
    return { status: 200, headers: { 'Content-Type': GRAPH_JSON, ...preferenceApplied(includeUnknown) }, body: `{${parts.join(',')}}` };
  }

  private graphAlertJson(detection: Detection, tenant: string, includeUnknown: boolean): string {
    let byClient = this.graphJson.get(detection);
    if (!byClient) {
      byClient = new Map();
      this.graphJson.set(detection, byClient);
    }
    // A merge moves an alert to another incident without changing the alert's detection.
    const client = `${includeUnknown ? '+' : '-'}${tenant}|${this.incidentIdOf(detection)}`;
    let json = byClient.get(client);
    if (json === undefined) {
      json = JSON.stringify(this.shownAlert(detection, tenant, includeUnknown));
      byClient.set(client, json);
    }
    return json;
  }

  /**
   * One alert or incident: GET it, PATCH what may be changed (status, classification, determination, owner;
   * an incident's tags too), or POST a comment to …/comments. A write that changes something moves its
   * lastUpdateDateTime, as an analyst's does in Defender, so a pull sees it again.
   */
  private async handleGraphAlert(req: IncomingMessage, res: ServerResponse, url: URL, rawId: string, endpoint: GraphEntityEndpoint): Promise<void> {
    this.counters.alertRequests += 1;
    const presented = bearerToken(req.headers.authorization);
    const record = this.record(endpoint, req, url, this.tokens.check(presented) === 'valid' && this.isGraphToken(presented));
    let body = '';
    try {
      body = await readBody(req);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return this.send(res, graphError(413, 'RequestEntityTooLarge', err.message, this.clock()), record);
      throw err;
    }
    if (body !== '') record.body = body;
    const answer = (): Reply => this.graphEntityReply(req, url, rawId, endpoint, body);
    // The fault switches of the detections API apply to Graph's alert and incident endpoints, reads and writes alike.
    const fault = this.faults.take('alerts');
    if (fault) return this.applyFault(fault, 'alerts', req, res, url, record, answer);
    return this.send(res, answer(), record);
  }

  /** What every request to one entity is checked for, in Graph's order: method, token, permission, body. */
  private graphEntityReply(req: IncomingMessage, url: URL, rawId: string, endpoint: GraphEntityEndpoint, body: string): Reply {
    const now = this.clock();
    const method = req.method ?? 'GET';
    const incident = endpoint === 'graph-incident' || endpoint === 'graph-incident-comments';
    const commenting = endpoint === 'graph-comments' || endpoint === 'graph-incident-comments';
    const entity = incident ? INCIDENT_ENTITY : ALERT_ENTITY;
    const allowed = commenting ? ['POST'] : ['GET', 'HEAD', 'PATCH'];
    if (!allowed.includes(method)) {
      return graphError(405, 'Request_BadRequest', `The ${commenting ? 'comments' : entity.noun} resource accepts ${allowed.join(', ')}, got ${method}.`, now, { Allow: allowed.join(', ') });
    }
    const token = bearerToken(req.headers.authorization);
    const reading = method === 'GET' || method === 'HEAD';
    const needed = incident ? (reading ? READ_INCIDENTS : WRITE_INCIDENTS) : reading ? READ_ALERTS : WRITE_ALERTS;
    const refusal = this.checkGraphBearer(req.headers.authorization, token) ?? this.checkGraphRoles(token, needed);
    if (refusal) return refusal;
    let id: string;
    try {
      id = decodeURIComponent(rawId);
    } catch {
      id = rawId;
    }
    // The body is read and checked before the entity is looked up.
    const contentType = req.headers['content-type'];
    const patch = method === 'PATCH' ? checkPatch(contentType, body, now, entity) : undefined;
    if (patch && !patch.ok) return patch.reply;
    const comment = commenting ? checkNewComment(contentType, body, now) : undefined;
    if (comment && !comment.ok) return comment.reply;
    const caller = this.tokens.describe(token);
    const write: EntityWrite = { patch: patch?.value, comment: comment?.value, by: caller?.clientId ?? '', tenant: caller?.tenant ?? '' };
    return incident ? this.graphIncidentReply(req, url, id, write, now) : this.graphAlertReply(req, id, write, now);
  }

  private graphAlertReply(req: IncomingMessage, id: string, write: EntityWrite, now: number): Reply {
    const detection = this.store.alert(id, now);
    if (!detection) return graphError(404, 'NotFound', `No alert with the id '${id}' was found in this tenant.`, now);
    let triage = this.triage.get(id);
    if (write.patch || write.comment !== undefined) {
      const next: AlertTriage = { ...(triage ?? UNTOUCHED), comments: [...(triage ?? UNTOUCHED).comments] };
      const at = this.nextVersionTime(detection);
      let changed = write.patch ? applyPatch(next, write.patch, at) : false;
      if (write.comment !== undefined) {
        next.comments.push({ comment: write.comment, createdByDisplayName: write.by, createdDateTime: at });
        changed = true;
      }
      if (changed) {
        triage = next;
        this.triage.set(id, next);
        this.store.put({ ...detection, LastProcessedTimeUtc: at }, now, at);
      }
    }
    if (write.comment !== undefined) return this.commentsReply(`alerts_v2('${id}')`, triage?.comments ?? []);
    const includeUnknown = includesUnknownEnumMembers(req.headers.prefer);
    const alert = this.shownAlert(this.store.alert(id, now) ?? detection, write.tenant, includeUnknown);
    return jsonReply(200, { '@odata.context': `${this.url}/v1.0/$metadata#security/alerts_v2/$entity`, ...alert }, { 'Content-Type': GRAPH_JSON, ...preferenceApplied(includeUnknown) });
  }

  /** GET one incident (with its alerts on `$expand=alerts`), PATCH it, or POST a comment to it. */
  private graphIncidentReply(req: IncomingMessage, url: URL, id: string, write: EntityWrite, now: number): Reply {
    const expand = expandOf(url.searchParams.getAll('$expand').flatMap(navigationProperties), now);
    if (!expand.ok) return expand.reply;
    const found = this.incidentList(now).find((i) => i.id === id);
    if (!found) return graphError(404, 'NotFound', `No incident with the id '${id}' was found in this tenant.`, now);
    if (write.patch || write.comment !== undefined) {
      this.incidents.edit(found, { ...write.patch, ...(write.comment !== undefined ? { comment: write.comment } : {}) }, write.by, now);
    }
    const incident = this.incidentList(now).find((i) => i.id === id) ?? found;
    if (write.comment !== undefined) return this.commentsReply(`incidents('${id}')`, incident.triage.comments);
    const includeUnknown = includesUnknownEnumMembers(req.headers.prefer);
    const shown = this.shownIncident(incident, write.tenant, includeUnknown, expand.value);
    return jsonReply(200, { '@odata.context': `${this.url}/v1.0/$metadata#security/incidents/$entity`, ...shown }, { 'Content-Type': GRAPH_JSON, ...preferenceApplied(includeUnknown) });
  }

  /** A comment's answer: the entity's comments as Graph documents, or what `graphCommentAnswer` makes it. */
  private commentsReply(entity: string, comments: readonly AlertComment[]): Reply {
    const context = `${this.url}/v1.0/$metadata#security/${entity}/comments`;
    if (this.graphCommentAnswer === 'empty') return { status: 204, headers: {}, body: '' };
    if (this.graphCommentAnswer === 'created') {
      return jsonReply(201, { '@odata.context': `${context}/$entity`, '@odata.type': '#microsoft.graph.security.alertComment', ...comments.at(-1) }, { 'Content-Type': GRAPH_JSON });
    }
    return jsonReply(200, { '@odata.context': context, value: comments }, { 'Content-Type': GRAPH_JSON });
  }

  // ---- incidents --------------------------------------------------------------------------------------

  /** GET /v1.0/security/incidents: the incidents of the stored alerts, with OData paging and `$expand=alerts`. */
  private async handleGraphIncidents(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.counters.alertRequests += 1;
    const presented = bearerToken(req.headers.authorization);
    const record = this.record('graph-incidents', req, url, this.tokens.check(presented) === 'valid' && this.isGraphToken(presented));
    req.resume();
    const answer = (): Reply => this.graphIncidentsReply(req, url);
    const fault = this.faults.take('alerts');
    if (fault) return this.applyFault(fault, 'alerts', req, res, url, record, answer);
    return this.send(res, answer(), record);
  }

  private graphIncidentsReply(req: IncomingMessage, url: URL): Reply {
    const now = this.clock();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return graphError(405, 'Request_BadRequest', `incidents accepts GET only, got ${req.method ?? ''}.`, now, { Allow: 'GET, HEAD' });
    }
    const token = bearerToken(req.headers.authorization);
    const refusal = this.checkGraphBearer(req.headers.authorization, token) ?? this.checkGraphRoles(token, READ_INCIDENTS);
    if (refusal) return refusal;
    let request: ListRequest;
    try {
      request = parseListQuery(url.searchParams, this.graphOrderBy, INCIDENTS_FILTER);
    } catch (err) {
      if (err instanceof QueryError) return graphError(400, 'BadRequest', err.message, now);
      throw err;
    }
    const expand = expandOf(request.expand, now);
    if (!expand.ok) return expand.reply;
    const refused = this.refusedSkip(request);
    if (refused) return refused;
    const matching = this.incidentList(now).filter((i) => meetsConditions(request.clauses, (property) => incidentValue(i, property)));
    // Graph answers 50 incidents a page at most, with a nextLink or without one: a client that asked for more
    // and read a short page as the last would stop there.
    const { page, more } = pageOf(matching, request, INCIDENTS_MAX_TOP);
    const filtered = url.searchParams.has('$filter');
    if (expand.value && filtered && page.some((i) => i.alerts.length > this.graphExpandFailsAbove)) {
      return graphError(500, 'InternalServerError', 'An error has occurred while processing the request.', now);
    }
    const tenant = this.tokens.describe(token)?.tenant ?? '';
    const includeUnknown = includesUnknownEnumMembers(req.headers.prefer);
    return this.graphList('incidents', request, matching.length, page, more, (i) => JSON.stringify(this.shownIncident(i, tenant, includeUnknown, expand.value)), includeUnknown);
  }

  /** The incidents now, newest first. */
  private incidentList(now: number): Incident[] {
    return this.incidents.list(this.store.window(MIN_INSTANT, FAR_FUTURE, now), (alertId) => this.graphOverrides.get(alertId)?.incidentId);
  }

  private shownIncident(incident: Incident, tenant: string, includeUnknown: boolean, withAlerts: boolean): Record<string, unknown> {
    return incidentJson(incident, tenant, includeUnknown, withAlerts ? incident.alerts.map((v) => this.shownAlert(v.detection, tenant, includeUnknown)) : undefined);
  }

  /**
   * The incidents as Graph shows them to `tenant` now, newest first, each with its alerts, to a client that
   * sends `Prefer: include-unknown-enum-members`.
   */
  graphIncidents(tenant: string): Array<Record<string, unknown>> {
    return this.incidentList(this.clock()).map((i) => this.shownIncident(i, tenant, true, true));
  }

  /**
   * An analyst edits an incident in the portal: status (any of Defender's, awaitingAction too), classification,
   * determination, assignedTo, customTags, a comment. Its lastUpdateDateTime moves, so a pull sees it again.
   */
  editIncident(id: string, edit: IncidentEdit, by = 'analyst@contoso.com'): void {
    const incident = this.requireIncident(id);
    const { comment, ...patch } = edit;
    const checked = checkPatch('application/json', JSON.stringify(patch), this.clock(), PORTAL_INCIDENT_EDIT);
    if (!checked.ok) throw new RangeError(`the edit is not one Defender takes: ${checked.reply.body}`);
    if (comment !== undefined && (typeof comment !== 'string' || comment.trim() === '')) throw new RangeError('comment must be a non-empty string');
    this.incidents.edit(incident, { ...checked.value, ...(comment !== undefined ? { comment } : {}) }, by, this.clock());
  }

  /** Defender merges the incident `from` into `into`: its alerts move there, and it becomes `redirected` to it. */
  mergeIncidents(from: string, into: string): void {
    const source = this.requireIncident(from);
    const target = this.requireIncident(into);
    if (source.id === target.id) throw new RangeError('an incident cannot be merged into itself');
    if (source.triage.status === 'redirected') throw new RangeError(`incident ${from} was merged into ${String(source.triage.redirectIncidentId)} already`);
    this.incidents.merge(source, target, this.clock());
  }

  private requireIncident(id: string): Incident {
    const incident = this.incidentList(this.clock()).find((i) => i.id === id);
    if (!incident) throw new RangeError(`no incident has the id ${JSON.stringify(id)}`);
    return incident;
  }

  /** Graph's 403 for a token whose roles hold none of the permissions an endpoint needs. */
  private checkGraphRoles(token: string | undefined, needed: readonly string[]): Reply | undefined {
    const roles = this.tokens.describe(token)?.roles ?? [];
    if (needed.some((role) => roles.includes(role))) return undefined;
    return graphError(403, 'Forbidden', `Missing role permissions on the request. API requires one of '${needed.join(', ')}'. Roles on the request '${roles.join(', ')}'.`, this.clock());
  }

  /** Graph's 401s: no token, a token it did not issue or that expired, or a token for another API (a v1 one). */
  private checkGraphBearer(authorization: string | undefined, token: string | undefined): Reply | undefined {
    let message: string;
    if (authorization === undefined || token === undefined) {
      message = 'Access token is empty.';
    } else {
      const state = this.tokens.check(token);
      if (state === 'valid') {
        if (this.isGraphToken(token)) return undefined;
        message = 'Access token validation failure. Invalid audience: this token is for another resource; request one from the v2.0 endpoint with scope https://graph.microsoft.com/.default.';
      } else {
        message = {
          unknown: 'Access token validation failure. Invalid signature.',
          expired: 'Lifetime validation failed, the token is expired.',
          revoked: 'Access token has been revoked.',
        }[state];
      }
    }
    return graphError(401, 'InvalidAuthenticationToken', message, this.clock(), {
      'WWW-Authenticate': 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="invalid_token"',
    });
  }

  /**
   * A token Graph takes: one whose audience is a Graph root, from the v2.0 endpoint (its scope named Graph) or
   * v1-style, as a managed identity's token for the resource https://graph.microsoft.com is. A v2.0 token for
   * the SIEM API's resource (assertion sign-in asks v2.0 for it) is not one.
   */
  private isGraphToken(token: string | undefined): boolean {
    const described = this.tokens.describe(token);
    return described !== undefined && this.isGraphAudience(described.audience);
  }

  /** Graph's root in some cloud, or this emulator's own (it serves Graph at its root). */
  private isGraphAudience(audience: string): boolean {
    const root = audience.replace(/\/+$/, '');
    return root === this.url || GRAPH_ROOTS.includes(root);
  }

  private async handleRedirected(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const authorized = this.tokens.check(bearerToken(req.headers.authorization)) === 'valid';
    const record = this.record('redirected', req, url, authorized);
    req.resume();
    return this.send(res, jsonReply(200, []), record);
  }

  private async applyFault(
    fault: ResolvedFault,
    target: FaultTarget,
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    record: RecordedRequest,
    answer: () => Reply,
    requestBody = '',
  ): Promise<void> {
    const now = this.clock();
    const token = target === 'token';
    // Graph answers every error in its OData shape, with innerError; the SIEM API in its own.
    const graph = !token && record.endpoint.startsWith('graph-');
    const serviceError = (status: number, code: string, text: string, headers: Record<string, string> = {}): Reply =>
      graph ? graphError(status, code, text, now, headers) : apiError(status, code, text, headers);
    switch (fault.kind) {
      case 'http204': {
        // Served (a PATCH changes the alert), then a success answered without its body, as Graph answers a
        // write when it is brief; a refusal is answered in full.
        const reply = answer();
        if (reply.status < 200 || reply.status >= 300) return this.send(res, reply, record);
        record.status = 204;
        sendNoContent(res);
        return;
      }
      case 'http401': {
        if (token) {
          return this.send(res, aadError(401, 'invalid_client', 7000222, `The provided client secret keys for app '${this.clientId}' are expired. Create new keys for your app, or consider using certificate credentials.`, now), record);
        }
        // A real 401 means the token is no good any more: the client must fetch a new one, not retry it.
        const presented = bearerToken(req.headers.authorization);
        if (presented !== undefined) this.tokens.revoke(presented);
        return this.send(res, serviceError(401, 'Unauthorized', 'Authorization has been denied for this request: the access token has been revoked; request a new one.', {
          'WWW-Authenticate': 'Bearer error="invalid_token"',
        }), record);
      }
      case 'http403':
        return this.send(res, token
          ? aadError(403, 'access_denied', 50020, 'The tenant is not authorized: the tenant does not exist or has been deleted.', now)
          : graph
            ? serviceError(403, 'Forbidden', `Missing role permissions on the request. API requires one of '${(record.endpoint.startsWith('graph-incident') ? READ_INCIDENTS : READ_ALERTS).join(', ')}'. Roles on the request ''.`)
            : serviceError(403, 'Forbidden', 'The tenant is not authorized to use this API: the domain is not managed by the tenant administrator, or the tenant state is deleted.'), record);
      case 'http404':
      case 'http410': {
        const status = fault.kind === 'http404' ? 404 : 410;
        // The managed identity endpoint while it starts or is updated; anywhere else, a plain Not Found or Gone.
        return this.send(res, record.endpoint === 'managed-identity'
          ? updatingReply(record.path, status)
          : serviceError(status, status === 404 ? 'NotFound' : 'Gone', status === 404 ? 'The resource is not available.' : 'The resource is no longer available.'), record);
      }
      case 'http429':
        return this.send(res, token
          ? aadError(429, 'temporarily_unavailable', 50196, 'Too many requests: the server is throttling this client. Retry after the delay in the Retry-After header.', now)
          : serviceError(429, 'TooManyRequests', `Rate limit is exceeded. Try again after ${fault.retryAfter}.`), record, { 'Retry-After': fault.retryAfter });
      case 'http500':
        return this.send(res, token
          ? aadError(500, 'server_error', 90033, 'A transient error has occurred. Please try again.', now)
          : serviceError(500, 'InternalServerError', 'An internal server error occurred while processing the request.'), record);
      case 'http503':
        return this.send(res, token
          ? aadError(503, 'temporarily_unavailable', 90033, 'The service is temporarily unavailable. Please try again.', now)
          : serviceError(503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please try again later.'), record, { 'Retry-After': fault.retryAfter });
      case 'delay': {
        const stillThere = await this.wait(fault.delayMs, res);
        if (!stillThere) return;
        return this.send(res, answer(), record);
      }
      case 'truncated': {
        const reply = answer();
        record.status = reply.status;
        // Only a successful answer is cut short; an error answers in full.
        if (reply.status === 200) sendTruncated(res, reply);
        else await sendReply(res, reply);
        return;
      }
      case 'html':
        return this.send(res, { status: 200, headers: { 'Content-Type': 'text/html; charset=utf-8' }, body: SIGN_IN_PAGE }, record);
      case 'redirect':
        return this.send(res, {
          status: 302,
          headers: { Location: `${this.url}/redirected${url.pathname}${url.search}`, 'Content-Type': 'text/html; charset=utf-8' },
          body: '<html><body>Object moved.</body></html>',
        }, record);
      case 'reset':
        record.status = 0;
        req.socket.destroy();
        return;
      case 'echo': {
        // A careless gateway that quotes the whole request back: the form with the secret, or the bearer
        // token. Clients must not pass such text on.
        const quoted = token ? requestBody : `Authorization: ${req.headers.authorization ?? ''}`;
        const throttled = fault.status === 429 || fault.status >= 500;
        return this.send(res, {
          status: fault.status,
          headers: { 'Content-Type': 'text/plain; charset=utf-8', ...(throttled ? { 'Retry-After': fault.retryAfter } : {}) },
          body: `Request refused (HTTP ${fault.status}). You sent: ${quoted}`,
        }, record);
      }
      default: {
        const unknown: never = fault.kind;
        throw new Error(`unhandled fault kind ${String(unknown)}`);
      }
    }
  }

  /** Waits, unless the client goes first. Resolves whether the client is still there. */
  private wait(ms: number, res: ServerResponse): Promise<boolean> {
    return new Promise((resolve) => {
      const onClose = (): void => {
        clearTimeout(timer);
        this.timers.delete(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        res.off('close', onClose);
        resolve(!res.destroyed);
      }, ms);
      this.timers.add(timer);
      res.once('close', onClose);
    });
  }

  // ---- admin ------------------------------------------------------------------------------------------

  private async handleAdmin(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    if (!isLoopback(req.socket.remoteAddress)) {
      return this.send(res, apiError(403, 'Forbidden', 'The emulator admin endpoints answer loopback clients only.'));
    }
    const method = req.method ?? 'GET';
    let body: unknown;
    try {
      const text = await readBody(req);
      body = text.trim() === '' ? {} : JSON.parse(text);
    } catch (err) {
      return this.send(res, apiError(400, 'BadRequest', `The body must be JSON: ${err instanceof Error ? err.message : String(err)}`));
    }
    try {
      const reply = this.adminReply(method, route, body);
      return this.send(res, reply);
    } catch (err) {
      if (err instanceof RangeError || err instanceof TypeError) return this.send(res, apiError(400, 'BadRequest', err.message));
      throw err;
    }
  }

  private adminReply(method: string, route: string, body: unknown): Reply {
    const notAllowed = (allow: string): Reply => apiError(405, 'MethodNotAllowed', `${method} /emulator/${route} is not supported; use ${allow}.`, { Allow: allow });
    // An analyst's work in the portal, for flows built without a tenant: edit an incident, merge two.
    const incident = /^incidents\/([^/]+)(\/merge)?$/.exec(route);
    if (incident) {
      if (method !== 'POST') return notAllowed('POST');
      const fields = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
      const id = decodeURIComponent(incident[1]);
      if (incident[2]) this.mergeIncidents(id, String(fields.into ?? ''));
      else {
        const { by, ...edit } = fields;
        this.editIncident(id, edit as IncidentEdit, typeof by === 'string' ? by : undefined);
      }
      return jsonReply(200, this.graphIncidents('').find((i) => i.id === id));
    }
    switch (route) {
      case 'faults':
        if (method === 'POST') {
          const fault = faultFromJson(body);
          this.faults.add(fault);
          return jsonReply(201, { fault: faultToJson(fault), pending: this.faults.pending().map(faultToJson) });
        }
        if (method === 'DELETE') {
          this.faults.clear();
          return jsonReply(200, { pending: [] });
        }
        if (method === 'GET') return jsonReply(200, { pending: this.faults.pending().map(faultToJson) });
        return notAllowed('GET, POST, DELETE');
      case 'detections': {
        if (method !== 'POST') return notAllowed('POST');
        const raw = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
        const count = raw.count ?? 1;
        if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 100_000) {
          throw new RangeError(`count must be an integer from 1 to 100000, got ${JSON.stringify(count)}`);
        }
        const options: AddDetectionsOptions = {};
        if (raw.lastProcessedAt !== undefined) options.lastProcessedAt = this.admitTime(raw.lastProcessedAt, 'lastProcessedAt');
        if (raw.visibleAt !== undefined) options.visibleAt = this.admitTime(raw.visibleAt, 'visibleAt');
        if (raw.spreadMs !== undefined) options.spreadMs = nonNegativeInteger(raw.spreadMs, 'spreadMs');
        if (raw.machineGroup !== undefined) {
          if (typeof raw.machineGroup !== 'string') throw new RangeError(`machineGroup must be a string, got ${JSON.stringify(raw.machineGroup)}`);
          options.machineGroup = raw.machineGroup;
        }
        return jsonReply(201, this.addDetections(count, options));
      }
      case 'stats':
        if (method !== 'GET') return notAllowed('GET');
        return jsonReply(200, {
          ...this.counters,
          detections: this.store.size,
          tokensIssued: this.tokens.issued,
          pendingFaults: this.faults.pending().map(faultToJson),
          streaming: this.streamTimer !== undefined,
        });
      case 'certificates': {
        // The certificates uploaded to the app registration, so `npm run emulator` users can try certificate sign-in.
        if (method !== 'POST') return notAllowed('POST');
        const pems = (body as { certificates?: unknown }).certificates;
        if (!Array.isArray(pems) || !pems.every((p): p is string => typeof p === 'string')) {
          throw new RangeError('the body must be {"certificates": ["-----BEGIN CERTIFICATE-----…"]}');
        }
        try {
          this.setCertificates(pems);
        } catch {
          throw new RangeError('each certificate must be a PEM X.509 certificate (-----BEGIN CERTIFICATE-----)');
        }
        return jsonReply(200, { certificates: pems.length });
      }
      case 'federated-tokens': {
        if (method !== 'POST') return notAllowed('POST');
        const tokens = (body as { tokens?: unknown }).tokens;
        if (!Array.isArray(tokens) || !tokens.every((t): t is string => typeof t === 'string' && t !== '')) {
          throw new RangeError('the body must be {"tokens": ["<the federated token the workload presents>"]}');
        }
        this.setFederatedTokens(tokens);
        return jsonReply(200, { tokens: tokens.length });
      }
      case 'reset':
        if (method !== 'POST') return notAllowed('POST');
        this.reset();
        return jsonReply(200, { reset: true });
      case 'revoke-tokens':
        if (method !== 'POST') return notAllowed('POST');
        this.revokeTokens();
        return jsonReply(200, { revoked: true });
      case 'permissions':
        if (method === 'PUT') {
          const graph = (typeof body === 'object' && body !== null ? body : {}) as { graph?: unknown };
          this.setGraphPermissions(graph.graph as string[]);
          return jsonReply(200, { graph: this.grantedGraphPermissions });
        }
        if (method === 'GET') return jsonReply(200, { graph: this.grantedGraphPermissions });
        return notAllowed('GET, PUT');
      case 'incidents':
        if (method !== 'GET') return notAllowed('GET');
        return jsonReply(200, { value: this.graphIncidents('') });
      default:
        return apiError(404, 'NotFound', `No admin endpoint /emulator/${route}. Try POST|GET|DELETE /emulator/faults, POST /emulator/detections, GET /emulator/stats, POST /emulator/reset, POST /emulator/revoke-tokens, GET|PUT /emulator/permissions, POST /emulator/certificates, POST /emulator/federated-tokens, GET /emulator/incidents, POST /emulator/incidents/{id} (an analyst's edit), POST /emulator/incidents/{id}/merge {"into": id}.`);
    }
  }

  /** Epoch ms, or an ISO 8601 date-time, from an admin body. */
  private admitTime(value: unknown, name: string): number {
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    if (typeof value === 'string') {
      const instant = parseDateTime(value);
      if (instant !== undefined) return Date.parse(`${instant.slice(0, 23)}Z`);
    }
    throw new RangeError(`${name} must be epoch milliseconds or an ISO 8601 date-time, got ${JSON.stringify(value)}`);
  }
}
