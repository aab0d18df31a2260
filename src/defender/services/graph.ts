import { Duration } from 'luxon';
import { keyToMillis, timeKey } from '../pulling/checkpoint';
import { type Detection, type DetectionAccessor, SIEM_ACCESSOR } from './detection';
import { DefenderError } from '../errors';
import { type GraphAlert, type DeviceFilter, GRAPH_NATIVE_ACCESSOR, graphAlertKey, matchesDeviceFilter, toSiemDetection } from './graph-mapping';
import type { RateLimiter } from './graph-rate';
import { type AuthorizedClient, authorizedGet, type ClientOptions } from '../transport/authorized-request';
import type { HttpResponse, HttpTransport } from '../transport/http';
import { graphFacts, withFacts } from '../pulling/lifecycle';
import { message } from '../messages';
import { collectionUrl, type Connection } from './regions';
import { bodyExcerpt, type ServiceDescription, statusError } from '../transport/response';
import type { DetectionsSource, PageOptions, SiemClientOptions } from './siem';
import type { BudgetMeter, SliceBudget } from '../pulling/slice-budget';
import type { TokenProvider } from '../sign-in/token';

/** `siem`: each alert mapped to the SIEM API's detection fields. `native`: the alerts_v2 object as Graph sent it. */
export const GRAPH_SHAPES = ['siem', 'native'] as const;
export type GraphShape = (typeof GRAPH_SHAPES)[number];

export interface GraphClientOptions extends SiemClientOptions {
  /** Default `siem`. */
  shape?: GraphShape;
  /** `$top` of each page (default and at most 1000, Graph's limit); with `limit`, the smaller of the two. */
  pageSize?: number;
  /** Clock for `ago` and the default window (tests). */
  now?: () => number;
}

/** What the Graph clients of one config node share: the rate limit, and what Graph was found to refuse. */
export interface GraphSession {
  limiter: RateLimiter;
  /**
   * What Graph refused or ignored, by collection and query option ("alerts_v2 $orderby", "incidents
   * $expand"), and until when (epoch ms) it is not asked again: `$orderby` for as long as the config node
   * lives (without it, `limit` is applied here, after reading the window), an optional option for a while.
   */
  refused?: Map<string, number>;
}

/** An entity of Graph's security API as a list sends it (an alert, an incident): read defensively. */
export type GraphEntity = Detection & { id?: string; lastUpdateDateTime?: string };

/**
 * A collection of Graph's security API whose entities change and are listed by lastUpdateDateTime: what a
 * client needs to know to page through it by that bound, whatever the entities are.
 */
export interface GraphCollection {
  /** Its path under /v1.0/security/ (alerts_v2, incidents). */
  readonly name: string;
  /** The most entities Graph answers a page, whatever `$top` asks. */
  readonly maxTop: number;
  /** The `$filter` clauses a query's parameters ask besides its time bounds. */
  clauses(params: URLSearchParams): string[];
  /**
   * A query option asked with every list request while Graph takes it, and left out for `restMs` once Graph
   * fails a request with it (`failsWith`), then asked again (incidents' `$expand=alerts`).
   */
  readonly optional?: { name: string; value: string; failsWith(err: unknown): boolean; restMs: number };
  /** The message of a 200 whose body is not a page of this collection. */
  readonly badBody: 'body.not-alerts' | 'incident.body-not-incidents';
  /** Graph as its errors name it for this collection: a 403 names the permission reading it needs. */
  readonly service: ServiceDescription;
}

/** Whether Graph was found to refuse `option` of `collection`, and not long enough ago to ask again. */
export function refuses(session: GraphSession, collection: GraphCollection, option: string, nowMs = Date.now()): boolean {
  return (session.refused?.get(`${collection.name} ${option}`) ?? -Infinity) > nowMs;
}

function rememberRefusal(session: GraphSession, collection: GraphCollection, option: string, untilMs = Infinity): void {
  (session.refused ??= new Map()).set(`${collection.name} ${option}`, untilMs);
}

const SERVICE_SOURCE = 'microsoftDefenderForEndpoint';
/** Graph answers at most 1000 alerts a request, whatever `$top` asks (elastic/integrations#20234). */
export const GRAPH_MAX_TOP = 1000;
/** Graph refuses a `$skip` above 500: offsets cannot page far, so pages go by the lastUpdateDateTime bound. */
export const GRAPH_MAX_SKIP = 500;
/** The SIEM API answers the last two hours when no time is given; the Graph query does the same. */
const DEFAULT_WINDOW_MS = 2 * 60 * 60 * 1000;

/** A query (the parameters pull.ts sends, in the SIEM API's words) as Graph asks it. */
export interface GraphQuery {
  /** The `$filter` text. */
  filter: string;
  /** Its bounds on lastUpdateDateTime as written there, both inclusive; no `until` is now. */
  since: string;
  until?: string;
  /** The most recent N of the window, as the SIEM API's `limit`. */
  limit?: number;
  /** machinegroups and tags, applied to the device evidence here because Graph's $filter cannot reach it. */
  device: DeviceFilter;
}

/**
 * Translates the SIEM API's parameters for a collection (default alerts_v2): the time range becomes bounds on
 * lastUpdateDateTime (both inclusive, as sinceTimeUtc/untilTimeUtc are), `ago` and the default two hours are
 * counted from `nowMs`, and the collection adds its own clauses.
 */
export function graphQuery(params: URLSearchParams, nowMs: number, collection: GraphCollection = ALERTS_V2): GraphQuery {
  const ago = params.get('ago');
  const since = params.get('sinceTimeUtc')
    ?? new Date(nowMs - (ago ? Duration.fromISO(ago).toMillis() : DEFAULT_WINDOW_MS)).toISOString();
  const until = params.get('untilTimeUtc');
  const clauses = [...collection.clauses(params), `lastUpdateDateTime ge ${since}`];
  if (until) clauses.push(`lastUpdateDateTime le ${until}`);
  const limit = params.get('limit');
  const tags = [params.get('DeviceCreatedMachineTags'), params.get('CloudCreatedMachineTags')].filter((t): t is string => !!t);
  const groups = params.getAll('machinegroups');
  return {
    filter: clauses.join(' and '),
    since,
    ...(until ? { until } : {}),
    ...(limit ? { limit: Number(limit) } : {}),
    device: { ...(groups.length > 0 ? { machinegroups: groups } : {}), ...(tags.length > 0 ? { tags } : {}) },
  };
}

/**
 * The query string of a request of a query. `$` stays literal; values are %-encoded (no "+"). `options` are
 * more query options, as `name=value` already encoded.
 */
export function graphRequestQuery(query: GraphQuery, top: number, order?: 'asc' | 'desc', skip = 0, options: readonly string[] = []): string {
  const parts = [`$filter=${encodeURIComponent(query.filter)}`];
  if (order) parts.push(`$orderby=${encodeURIComponent(`lastUpdateDateTime ${order}`)}`);
  parts.push(`$top=${top}`);
  if (skip > 0) parts.push(`$skip=${skip}`);
  parts.push(...options);
  return parts.join('&');
}

export const GRAPH_API: ServiceDescription = {
  name: message('service.graph'),
  meanings: {
    400: message('meaning.graph-400'),
    401: message('meaning.graph-401'),
    403: message('meaning.graph-403'),
    429: message('meaning.graph-429'),
    500: message('meaning.service-error'),
  },
};

/** alerts_v2, as the SIEM API's replacement: only Defender for Endpoint's alerts, as the SIEM API gave only those. */
export const ALERTS_V2: GraphCollection = {
  name: 'alerts_v2',
  maxTop: 1000,
  clauses: () => [`serviceSource eq '${SERVICE_SOURCE}'`],
  badBody: 'body.not-alerts',
  service: GRAPH_API,
};

/**
 * Sent with every Graph request. Graph's enums evolve: members added after `unknownFutureValue` (21 of
 * detectionSource's, such as microsoftThreatIntelligence; evidence remediationStatus `active`, `unremediated`…)
 * reach only a client that asks for them, and any other gets `unknownFutureValue` where Graph knows better.
 */
export const GRAPH_HEADERS: Readonly<Record<string, string>> = Object.freeze({ Prefer: 'include-unknown-enum-members' });

/** How every Graph request of a config node goes: its turn in the shared rate limit, then with Graph's headers. */
export function graphRequestClient(tokens: TokenProvider, session: GraphSession, options: ClientOptions, service: ServiceDescription = GRAPH_API): AuthorizedClient {
  return { tokens, service, options, headers: GRAPH_HEADERS, beforeEach: () => session.limiter.take(options.signal) };
}

/** The error of a Graph answer that is not 200, with the same codes as the SIEM API's (HTTP_401, HTTP_429…). */
export function graphStatusError(response: HttpResponse, secrets: readonly string[] = []): DefenderError {
  return statusError(response, GRAPH_API, secrets);
}

interface GraphPage {
  items: GraphEntity[];
  nextLink?: string;
  /** Size of the body it came in. */
  bytes: number;
}

/**
 * A 200 page must be `{"value": [...], "@odata.nextLink"?: "..."}`. A nextLink to another origin is refused:
 * following it would send the access token there.
 */
export function parseGraphPage(response: HttpResponse, origin: string, secrets: readonly string[] = [], expected: GraphCollection['badBody'] = 'body.not-alerts'): GraphPage {
  const bad = (failure: 'failure.not-json' | 'failure.no-value'): DefenderError =>
    new DefenderError(
      'BAD_RESPONSE',
      message(expected, {
        status: response.status,
        type: response.headers['content-type'] || message('http.no-content-type'),
        size: response.body.length,
        failure: message(failure),
        excerpt: bodyExcerpt(response.body, secrets),
      }),
      { statusCode: response.status },
    );
  let body: unknown;
  try {
    body = JSON.parse(response.body.toString('utf8'));
  } catch {
    throw bad('failure.not-json');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !Array.isArray((body as { value?: unknown }).value)) {
    throw bad('failure.no-value');
  }
  const page = body as { value: unknown[]; '@odata.nextLink'?: unknown };
  const items = page.value.filter((a): a is GraphEntity => a !== null && typeof a === 'object' && !Array.isArray(a));
  const next = page['@odata.nextLink'];
  const bytes = response.body.length;
  if (next === undefined || next === null || next === '') return { items, bytes };
  let url: URL | undefined;
  try {
    url = typeof next === 'string' ? new URL(next) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || url.origin !== origin) {
    throw new DefenderError('BAD_RESPONSE', message('body.foreign-next-link', { origin }), { statusCode: response.status });
  }
  return { items, nextLink: url.toString(), bytes };
}

/** Graph refused or ignored `$orderby`: the caller reads the window another way. */
export class OrderByNotHonoured extends Error {
  constructor() {
    super('Microsoft Graph did not honour $orderby');
    this.name = 'OrderByNotHonoured';
  }
}

/**
 * More alerts share one lastUpdateDateTime than Graph pages through without `@odata.nextLink` (`$top` stops
 * at 1000, `$skip` at 500), and no window is narrower than one instant. The pull stops here rather than pass
 * over the rest: a TOO_LARGE that no narrower window cures, so the slicers do not try one.
 */
export class InstantBeyondPaging extends DefenderError {
  constructor(time: string, count: number) {
    super('TOO_LARGE', message('slice.instant-unpageable', { time, count }));
    this.name = 'InstantBeyondPaging';
  }
}

/** One page of the window, oldest first; `final` when nothing follows it. */
export interface AscendingPage {
  detections: Detection[];
  final: boolean;
}

/** A page of entities in lastUpdateDateTime order; `last` when nothing follows it. */
interface OrderedPage {
  items: GraphEntity[];
  bytes: number;
  last: boolean;
}

/**
 * A collection of Graph's security API (alerts_v2, incidents) behind the same contract as the SIEM API's
 * client: one call answers the SIEM-style parameters pull.ts sends, with the SIEM API's meaning of `limit`
 * (the *most recent* N of the window), which pull.ts relies on to page backwards.
 *
 * Without `limit` the window is read whole. With `limit`, the pages are asked newest first
 * (`$orderby=lastUpdateDateTime desc`, `$top`) and reading stops after N matching entities. Graph documents
 * `$count`, `$filter`, `$skip` and `$top` for these lists but not `$orderby`; if Graph refuses it (400/501)
 * or answers out of order, the window is read whole and the newest N are taken here — slower, never
 * wrong — and the config node remembers not to ask again. Every way pages whether Graph sends
 * `@odata.nextLink` or not: it may not (elastic/integrations#20234).
 *
 * What the pull gets of each entity is the collection client's to say (`complete`): alerts mapped to the
 * SIEM shape, incidents with their alerts.
 */
export abstract class GraphCollectionClient implements DetectionsSource {
  abstract readonly accessor: DetectionAccessor;
  private readonly origin: string;

  constructor(
    protected readonly collection: GraphCollection,
    protected readonly transport: Pick<HttpTransport, 'get'>,
    protected readonly connection: Connection,
    protected readonly tokens: TokenProvider,
    protected readonly session: GraphSession,
    protected readonly options: GraphClientOptions,
  ) {
    this.origin = new URL(connection.endpoints.apiBaseUrl).origin;
  }

  /** The entities as the pull gets them, from those a page or a window gave. */
  protected abstract complete(items: GraphEntity[]): Promise<Detection[]>;

  async fetchPage(params: URLSearchParams, options: PageOptions = {}): Promise<Detection[]> {
    const nowMs = (this.options.now ?? Date.now)();
    const query = graphQuery(params, nowMs, this.collection);
    let items: GraphEntity[];
    if (query.limit !== undefined && !refuses(this.session, this.collection, '$orderby')) {
      try {
        items = await this.newestFirst(params, query, query.limit, nowMs, options.meter);
      } catch (err) {
        if (!(err instanceof OrderByNotHonoured)) throw err;
        items = await this.wholeWindow(params, query, nowMs, options.meter);
      }
    } else {
      items = await this.wholeWindow(params, query, nowMs, options.meter);
    }
    return this.complete(items);
  }

  /**
   * The window oldest first, one page at a time (byKey), so a pull holds one page however many entities the
   * window has. The repeats at each page boundary are dropped by the pull's dedupe. `$top` is sized from the
   * bytes the entities took so far, to fit the slice's budget.
   *
   * A refused `$orderby` (400/501) or a page out of order throws OrderByNotHonoured before that page is
   * handed out, and the caller cuts time windows from where the pages stopped; the config node remembers.
   */
  async *oldestFirst(params: URLSearchParams, budget: SliceBudget): AsyncGenerator<AscendingPage> {
    if (refuses(this.session, this.collection, '$orderby')) throw new OrderByNotHonoured();
    const nowMs = (this.options.now ?? Date.now)();
    const device = graphQuery(params, nowMs, this.collection).device;
    const most = Math.max(1, Math.min(this.pageSize, budget.maxCount));
    let top = most;
    for await (const page of this.byKey(params, 'asc', nowMs, () => top)) {
      if (page.items.length > 0) top = Math.max(1, Math.min(most, Math.floor((budget.maxBytes / (page.bytes / page.items.length)) * 0.75)));
      yield { detections: await this.complete(page.items.filter((item) => matchesDeviceFilter(item, device))), final: page.last };
    }
  }

  /**
   * The entities of a query in lastUpdateDateTime order (`asc` or `desc`), page by page, paged by key rather
   * than by offset: each page is asked afresh from the time the page before it reached (`ge` it oldest
   * first, `le` it newest first). So an entity updated during a long pull (it leaves the window's pinned end)
   * cannot shift the pages and hide one not read yet, and the pages go on whether or not Graph sends
   * `@odata.nextLink`. The entities at the time reached come again; the caller drops the repeats, so ties on
   * a page's edge lose nothing. Only a page that is one instant through cannot move the bound: its nextLink
   * goes on, else `$skip` past what that instant gave, up to the 500 Graph allows (an instant of more than
   * 500 and a page is InstantBeyondPaging).
   * `topFor` sizes each request as it is made.
   */
  private async *byKey(params: URLSearchParams, order: 'asc' | 'desc', nowMs: number, topFor: () => number): AsyncGenerator<OrderedPage> {
    const bounded = order === 'asc' ? 'sinceTimeUtc' : 'untilTimeUtc';
    const outOfOrder = (before: string, after: string): boolean => (order === 'asc' ? after < before : after > before);
    let bound: string | undefined;
    let skip = 0;
    let url: string | undefined;
    let top = 0;
    // How far the pages have come, in time: each entity must be at or past it.
    let reached = '';
    let first = true;
    for (;;) {
      if (!url) {
        top = topFor();
        const asked = new URLSearchParams(params);
        if (bound !== undefined) asked.set(bounded, bound);
        url = this.listUrl(graphQuery(asked, nowMs, this.collection), top, order, skip);
      }
      let page: GraphPage;
      try {
        page = await this.getPage(url);
      } catch (err) {
        if (first && err instanceof DefenderError && (err.statusCode === 400 || err.statusCode === 501)) throw this.orderByNotHonoured();
        throw err;
      }
      first = false;
      let edge: string | undefined;
      for (const item of page.items) {
        const t = timeKey(item.lastUpdateDateTime);
        if (t === '') continue;
        if (reached !== '' && outOfOrder(reached, t)) throw this.orderByNotHonoured();
        reached = t;
        edge = String(item.lastUpdateDateTime);
      }
      const more = page.items.length >= top || page.nextLink !== undefined;
      const moved = edge !== undefined && (bound === undefined || timeKey(edge) !== timeKey(bound));
      if (more && !moved && page.nextLink === undefined && skip >= GRAPH_MAX_SKIP) throw new InstantBeyondPaging(bound ?? '', skip + page.items.length);
      yield { items: page.items, bytes: page.bytes, last: !more };
      if (!more) return;
      if (moved) {
        bound = edge;
        skip = 0;
        url = undefined;
      } else if (page.nextLink !== undefined) {
        url = page.nextLink;
      } else {
        // The last offset Graph allows may overlap the page before it: the repeats are dropped like the others.
        skip = Math.min(skip + page.items.length, GRAPH_MAX_SKIP);
        url = undefined;
      }
    }
  }

  private orderByNotHonoured(): OrderByNotHonoured {
    rememberRefusal(this.session, this.collection, '$orderby');
    return new OrderByNotHonoured();
  }

  /** A page read whole counts against the slice's budget: its bytes, and the entities kept of it. */
  private tally(meter: BudgetMeter | undefined, bodyBytes: number, kept: readonly GraphEntity[]): void {
    if (!meter) return;
    meter.beginAnswer();
    meter.addBytes(bodyBytes);
    for (const item of kept) meter.addDetection(item.lastUpdateDateTime);
    meter.endAnswer();
  }

  private get pageSize(): number {
    return Math.min(this.options.pageSize ?? this.collection.maxTop, this.collection.maxTop);
  }

  /** The newest `limit` entities of the window that pass the device filter, newest first (byKey), each once. */
  private async newestFirst(params: URLSearchParams, query: GraphQuery, limit: number, nowMs: number, meter?: BudgetMeter): Promise<GraphEntity[]> {
    const found: GraphEntity[] = [];
    const seen = new Set<string>();
    const top = Math.min(limit, this.pageSize);
    for await (const page of this.byKey(params, 'desc', nowMs, () => top)) {
      const kept: GraphEntity[] = [];
      for (const item of page.items) {
        if (timeKey(item.lastUpdateDateTime) === '') continue;
        // The entities on the page's edge come again on the next page: they count once towards the limit.
        const key = graphAlertKey(item);
        if (seen.has(key)) continue;
        seen.add(key);
        if (!matchesDeviceFilter(item, query.device)) continue;
        kept.push(item);
        if (found.length + kept.length >= limit) break;
      }
      this.tally(meter, page.bytes, kept);
      for (const item of kept) found.push(item);
      if (found.length >= limit) break;
    }
    return found;
  }

  /**
   * Every entity of the window in Graph's own order, each once; with `limit`, the newest N of them (ties in
   * Graph's order). Unordered pages have no key to page by: when Graph sends no nextLink after a full page,
   * the window is halved in time and each half read the same way (what lies on the cut comes in both), down
   * to a millisecond, which `$skip` pages as far as Graph allows.
   */
  private async wholeWindow(params: URLSearchParams, query: GraphQuery, nowMs: number, meter?: BudgetMeter): Promise<GraphEntity[]> {
    const found: GraphEntity[] = [];
    const seen = new Set<string>();
    const top = this.pageSize;
    const read = async (part?: { since: string; until: string }): Promise<void> => {
      const asked = new URLSearchParams(params);
      if (part) {
        asked.set('sinceTimeUtc', part.since);
        asked.set('untilTimeUtc', part.until);
      }
      const request = (skip: number): string => this.listUrl(graphQuery(asked, nowMs, this.collection), top, undefined, skip);
      let skip = 0;
      let url: string | undefined = request(skip);
      while (url) {
        const page = await this.getPage(url);
        const kept: GraphEntity[] = [];
        for (const item of page.items) {
          const key = graphAlertKey(item);
          if (seen.has(key)) continue;
          seen.add(key);
          if (matchesDeviceFilter(item, query.device)) kept.push(item);
        }
        this.tally(meter, page.bytes, kept);
        for (const item of kept) found.push(item);
        if (page.nextLink !== undefined || page.items.length < top) {
          url = page.nextLink;
          continue;
        }
        // A full page and no link: the rest is there, and only a narrower window or an offset reaches it.
        const since = part?.since ?? query.since;
        const until = part?.until ?? query.until ?? new Date(nowMs).toISOString();
        const lo = keyToMillis(timeKey(since), 'floor');
        const hi = keyToMillis(timeKey(until), 'floor');
        if (hi - lo >= 2) {
          const middle = new Date(Math.floor((lo + hi) / 2)).toISOString();
          await read({ since, until: middle });
          await read({ since: middle, until });
          return;
        }
        if (skip >= GRAPH_MAX_SKIP) throw new InstantBeyondPaging(since, skip + page.items.length);
        skip = Math.min(skip + page.items.length, GRAPH_MAX_SKIP);
        url = request(skip);
      }
    };
    await read();
    if (query.limit === undefined) return found;
    const keyed = found.map((item, i) => ({ item, i, t: timeKey(item.lastUpdateDateTime) }));
    keyed.sort((a, b) => (a.t > b.t ? -1 : a.t < b.t ? 1 : a.i - b.i));
    return keyed.slice(0, query.limit).map((k) => k.item);
  }

  /** A list request of the collection, with its optional option while Graph takes it. */
  private listUrl(query: GraphQuery, top: number, order?: 'asc' | 'desc', skip = 0): string {
    const optional = this.collection.optional;
    const options = optional && !refuses(this.session, this.collection, optional.name, this.now()) ? [`${optional.name}=${encodeURIComponent(optional.value)}`] : [];
    return `${collectionUrl(this.connection, this.collection.name)}?${graphRequestQuery(query, top, order, skip, options)}`;
  }

  /**
   * One page of the list. A request with the collection's optional option that Graph fails (after the
   * retries) is asked again without it, and the config node does not ask it again.
   */
  private async getPage(url: string): Promise<GraphPage> {
    try {
      return await this.get(url, (response, token) => parseGraphPage(response, this.origin, [token], this.collection.badBody));
    } catch (err) {
      const optional = this.collection.optional;
      const asked = new URL(url);
      if (!optional || !asked.searchParams.has(optional.name) || !optional.failsWith(err)) throw err;
      rememberRefusal(this.session, this.collection, optional.name, this.now() + optional.restMs);
      asked.searchParams.delete(optional.name);
      return this.getPage(asked.toString().replace(/\+/g, '%20'));
    }
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** One GET: the rate limit, then the token, the 401 refresh and the retries, as for the SIEM API. */
  protected get<T>(url: string, read: (response: HttpResponse, token: string) => T): Promise<T> {
    const client = { ...graphRequestClient(this.tokens, this.session, this.options, this.collection.service), transport: this.transport };
    return authorizedGet(url, client, read);
  }
}

/**
 * GET /v1.0/security/alerts_v2: the SIEM API's replacement, each alert mapped to the SIEM shape (`siem`,
 * the default) or passed on as Graph sent it (`native`).
 */
export class GraphClient extends GraphCollectionClient {
  readonly accessor: DetectionAccessor;
  private readonly shape: GraphShape;

  constructor(transport: Pick<HttpTransport, 'get'>, connection: Connection, tokens: TokenProvider, session: GraphSession, options: GraphClientOptions) {
    super(ALERTS_V2, transport, connection, tokens, session, options);
    this.shape = options.shape ?? 'siem';
    this.accessor = this.shape === 'native' ? GRAPH_NATIVE_ACCESSOR : SIEM_ACCESSOR;
  }

  protected async complete(alerts: GraphEntity[]): Promise<Detection[]> {
    return this.shape === 'native' ? alerts : alerts.map((alert) => withFacts(toSiemDetection(alert), graphFacts(alert)));
  }
}
