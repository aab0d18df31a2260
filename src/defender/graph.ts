import { Duration } from 'luxon';
import { timeKey } from './checkpoint';
import { type Detection, type DetectionAccessor, SIEM_ACCESSOR } from './detection';
import { DefenderError } from './errors';
import { type GraphAlert, type DeviceFilter, GRAPH_NATIVE_ACCESSOR, matchesDeviceFilter, toSiemDetection } from './graph-mapping';
import type { RateLimiter } from './graph-rate';
import { type AuthorizedClient, authorizedGet, type ClientOptions } from './authorized-request';
import type { HttpResponse, HttpTransport } from './http';
import { graphFacts, withFacts } from './lifecycle';
import { message } from './messages';
import { alertsUrl, type Connection } from './regions';
import { bodyExcerpt, type ServiceDescription, statusError } from './response';
import type { DetectionsSource, PageOptions, SiemClientOptions } from './siem';
import type { BudgetMeter, SliceBudget } from './slice-budget';
import type { TokenProvider } from './token';

/** `siem`: each alert mapped to the SIEM API's detection fields. `native`: the alerts_v2 object as Graph sent it. */
export const GRAPH_SHAPES = ['siem', 'native'] as const;
export type GraphShape = (typeof GRAPH_SHAPES)[number];

export interface GraphClientOptions extends SiemClientOptions {
  /** Default `siem`. */
  shape?: GraphShape;
  /** `$top` of each page (default 1000); with `limit`, the smaller of the two. */
  pageSize?: number;
  /** Clock for `ago` and the default window (tests). */
  now?: () => number;
}

/** What the Graph clients of one config node share: the rate limit, and what Graph was found to refuse. */
export interface GraphSession {
  limiter: RateLimiter;
  /** Set once Graph refused or ignored `$orderby`: from then on `limit` is applied here, after reading the window. */
  orderByUnsupported?: boolean;
}

const SERVICE_SOURCE = 'microsoftDefenderForEndpoint';
const DEFAULT_PAGE_SIZE = 1000;
/** The SIEM API answers the last two hours when no time is given; the Graph query does the same. */
const DEFAULT_WINDOW_MS = 2 * 60 * 60 * 1000;

/** A SIEM API query (the parameters pull.ts sends) as Graph asks it. */
export interface GraphQuery {
  /** The `$filter` text. */
  filter: string;
  /** The most recent N of the window, as the SIEM API's `limit`. */
  limit?: number;
  /** machinegroups and tags, applied to the device evidence here because Graph's $filter cannot reach it. */
  device: DeviceFilter;
}

/**
 * Translates the SIEM API's parameters: the time range becomes bounds on lastUpdateDateTime (both
 * inclusive, as sinceTimeUtc/untilTimeUtc are), `ago` and the default two hours are counted from `nowMs`,
 * and only Defender for Endpoint's alerts are asked for, as the SIEM API gave only those.
 */
export function graphQuery(params: URLSearchParams, nowMs: number): GraphQuery {
  const ago = params.get('ago');
  const since = params.get('sinceTimeUtc')
    ?? new Date(nowMs - (ago ? Duration.fromISO(ago).toMillis() : DEFAULT_WINDOW_MS)).toISOString();
  const until = params.get('untilTimeUtc');
  const clauses = [`serviceSource eq '${SERVICE_SOURCE}'`, `lastUpdateDateTime ge ${since}`];
  if (until) clauses.push(`lastUpdateDateTime le ${until}`);
  const limit = params.get('limit');
  const tags = [params.get('DeviceCreatedMachineTags'), params.get('CloudCreatedMachineTags')].filter((t): t is string => !!t);
  const groups = params.getAll('machinegroups');
  return {
    filter: clauses.join(' and '),
    ...(limit ? { limit: Number(limit) } : {}),
    device: { ...(groups.length > 0 ? { machinegroups: groups } : {}), ...(tags.length > 0 ? { tags } : {}) },
  };
}

/** The query string of the first request of a query. `$` stays literal; values are %-encoded (no "+"). */
export function graphRequestQuery(query: GraphQuery, top: number, order?: 'asc' | 'desc'): string {
  const parts = [`$filter=${encodeURIComponent(query.filter)}`];
  if (order) parts.push(`$orderby=${encodeURIComponent(`lastUpdateDateTime ${order}`)}`);
  parts.push(`$top=${top}`);
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
  alerts: GraphAlert[];
  nextLink?: string;
  /** Size of the body it came in. */
  bytes: number;
}

/**
 * A 200 page must be `{"value": [...], "@odata.nextLink"?: "..."}`. A nextLink to another origin is refused:
 * following it would send the access token there.
 */
export function parseGraphPage(response: HttpResponse, origin: string, secrets: readonly string[] = []): GraphPage {
  const bad = (failure: 'failure.not-json' | 'failure.no-value'): DefenderError =>
    new DefenderError(
      'BAD_RESPONSE',
      message('body.not-alerts', {
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
  const alerts = page.value.filter((a): a is GraphAlert => a !== null && typeof a === 'object' && !Array.isArray(a));
  const next = page['@odata.nextLink'];
  const bytes = response.body.length;
  if (next === undefined || next === null || next === '') return { alerts, bytes };
  let url: URL | undefined;
  try {
    url = typeof next === 'string' ? new URL(next) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || url.origin !== origin) {
    throw new DefenderError('BAD_RESPONSE', message('body.foreign-next-link', { origin }), { statusCode: response.status });
  }
  return { alerts, nextLink: url.toString(), bytes };
}

/** Graph refused or ignored `$orderby`: the caller reads the window another way. */
export class OrderByNotHonoured extends Error {
  constructor() {
    super('Microsoft Graph did not honour $orderby');
    this.name = 'OrderByNotHonoured';
  }
}

/** One page of the window, oldest first; `final` when no nextLink follows it. */
export interface AscendingPage {
  detections: Detection[];
  final: boolean;
}

/**
 * GET /v1.0/security/alerts_v2 behind the same contract as the SIEM API's client: one call answers the
 * SIEM-style parameters pull.ts sends, with the SIEM API's meaning of `limit` (the *most recent* N of the
 * window), which pull.ts relies on to page backwards.
 *
 * Without `limit` every `@odata.nextLink` page of the window is read. With `limit`, the pages are asked
 * newest first (`$orderby=lastUpdateDateTime desc`, `$top`) and reading stops after N matching alerts.
 * Graph documents `$count`, `$filter`, `$skip` and `$top` for alerts_v2 but not `$orderby`; if Graph
 * refuses it (400/501) or answers out of order, the window is read whole and the newest N are taken here —
 * slower, never wrong — and the config node remembers not to ask again.
 */
export class GraphClient implements DetectionsSource {
  readonly accessor: DetectionAccessor;
  private readonly shape: GraphShape;
  private readonly origin: string;

  constructor(
    private readonly transport: Pick<HttpTransport, 'get'>,
    private readonly connection: Connection,
    private readonly tokens: TokenProvider,
    private readonly session: GraphSession,
    private readonly options: GraphClientOptions,
  ) {
    this.shape = options.shape ?? 'siem';
    this.accessor = this.shape === 'native' ? GRAPH_NATIVE_ACCESSOR : SIEM_ACCESSOR;
    this.origin = new URL(connection.endpoints.apiBaseUrl).origin;
  }

  async fetchPage(params: URLSearchParams, options: PageOptions = {}): Promise<Detection[]> {
    const query = graphQuery(params, (this.options.now ?? Date.now)());
    let alerts: GraphAlert[];
    if (query.limit !== undefined && !this.session.orderByUnsupported) {
      try {
        alerts = await this.newestFirst(query, query.limit, options.meter);
      } catch (err) {
        if (!(err instanceof OrderByNotHonoured)) throw err;
        this.session.orderByUnsupported = true;
        alerts = await this.wholeWindow(query, options.meter);
      }
    } else {
      alerts = await this.wholeWindow(query, options.meter);
    }
    return this.shaped(alerts);
  }

  /**
   * The window oldest first, one page at a time, so a pull holds one page however many alerts the window has.
   * Each page is asked afresh from the newest time the last one held (`lastUpdateDateTime ge …`,
   * `$orderby=lastUpdateDateTime asc`, `$top`): paging by key rather than by offset, so an alert updated
   * during a long pull (it leaves the window's pinned end) cannot shift the pages and hide one that was not
   * read yet. The repeats at each page boundary are dropped by the pull's dedupe; only a page that is one
   * instant through is followed by its nextLink. `$top` is sized from the bytes the alerts took so far, to fit
   * the slice's budget.
   *
   * A refused `$orderby` (400/501) or a page out of order throws OrderByNotHonoured before that page is
   * handed out, and the caller cuts time windows from where the pages stopped; the config node remembers.
   */
  async *oldestFirst(params: URLSearchParams, budget: SliceBudget): AsyncGenerator<AscendingPage> {
    if (this.session.orderByUnsupported) throw new OrderByNotHonoured();
    const nowMs = (this.options.now ?? Date.now)();
    const most = Math.max(1, Math.min(this.pageSize, budget.maxCount));
    let top = most;
    let lower: string | undefined;
    let url: string | undefined;
    let first = true;
    for (;;) {
      if (!url) {
        const asked = new URLSearchParams(params);
        if (lower !== undefined) asked.set('sinceTimeUtc', lower);
        url = `${alertsUrl(this.connection)}?${graphRequestQuery(graphQuery(asked, nowMs), top, 'asc')}`;
      }
      let page: GraphPage;
      try {
        page = await this.getPage(url);
      } catch (err) {
        if (first && err instanceof DefenderError && (err.statusCode === 400 || err.statusCode === 501)) {
          this.session.orderByUnsupported = true;
          throw new OrderByNotHonoured();
        }
        throw err;
      }
      first = false;
      let newest = '';
      let newestRaw: string | undefined;
      for (const alert of page.alerts) {
        const t = timeKey(alert.lastUpdateDateTime);
        if (t === '') continue;
        if (t < newest) {
          this.session.orderByUnsupported = true;
          throw new OrderByNotHonoured();
        }
        newest = t;
        newestRaw = String(alert.lastUpdateDateTime);
      }
      const device = graphQuery(params, nowMs).device;
      const detections = this.shaped(page.alerts.filter((alert) => matchesDeviceFilter(alert, device)));
      // Fewer than asked, and nothing more to follow: the window is read.
      const final = page.alerts.length < top && page.nextLink === undefined;
      const progressed = newestRaw !== undefined && (lower === undefined || newest > timeKey(lower));
      if (page.alerts.length > 0) top = Math.max(1, Math.min(most, Math.floor((budget.maxBytes / (page.bytes / page.alerts.length)) * 0.75)));
      yield { detections, final: final || (!progressed && page.nextLink === undefined) };
      if (final) return;
      if (progressed) {
        lower = newestRaw;
        url = undefined;
      } else if (page.nextLink !== undefined) {
        // A whole page at one instant: the next page of that instant, by the link Graph gave.
        url = page.nextLink;
      } else {
        return;
      }
    }
  }

  private shaped(alerts: GraphAlert[]): Detection[] {
    return this.shape === 'native' ? alerts : alerts.map((alert) => withFacts(toSiemDetection(alert), graphFacts(alert)));
  }

  /** A page read whole counts against the slice's budget: its bytes, and the alerts kept of it. */
  private tally(meter: BudgetMeter | undefined, bodyBytes: number, kept: readonly GraphAlert[]): void {
    if (!meter) return;
    meter.beginAnswer();
    meter.addBytes(bodyBytes);
    for (const alert of kept) meter.addDetection(alert.lastUpdateDateTime);
    meter.endAnswer();
  }

  private get pageSize(): number {
    return this.options.pageSize ?? DEFAULT_PAGE_SIZE;
  }

  private async newestFirst(query: GraphQuery, limit: number, meter?: BudgetMeter): Promise<GraphAlert[]> {
    let url: string | undefined = `${alertsUrl(this.connection)}?${graphRequestQuery(query, Math.min(limit, this.pageSize), 'desc')}`;
    const found: GraphAlert[] = [];
    let previous: string | undefined;
    let first = true;
    while (url) {
      let page: GraphPage;
      try {
        page = await this.getPage(url);
      } catch (err) {
        if (first && err instanceof DefenderError && (err.statusCode === 400 || err.statusCode === 501)) throw new OrderByNotHonoured();
        throw err;
      }
      first = false;
      const kept: GraphAlert[] = [];
      for (const alert of page.alerts) {
        const t = timeKey(alert.lastUpdateDateTime);
        if (t === '') continue;
        if (previous !== undefined && t > previous) throw new OrderByNotHonoured();
        previous = t;
        if (!matchesDeviceFilter(alert, query.device)) continue;
        kept.push(alert);
        if (found.length + kept.length >= limit) break;
      }
      this.tally(meter, page.bytes, kept);
      for (const alert of kept) found.push(alert);
      if (found.length >= limit) return found;
      url = page.nextLink;
    }
    return found;
  }

  /** Every alert of the window, page after page; with `limit`, the newest N of them (ties in Graph's order). */
  private async wholeWindow(query: GraphQuery, meter?: BudgetMeter): Promise<GraphAlert[]> {
    let url: string | undefined = `${alertsUrl(this.connection)}?${graphRequestQuery(query, this.pageSize)}`;
    const found: GraphAlert[] = [];
    while (url) {
      const page = await this.getPage(url);
      const kept = page.alerts.filter((alert) => matchesDeviceFilter(alert, query.device));
      this.tally(meter, page.bytes, kept);
      for (const alert of kept) found.push(alert);
      url = page.nextLink;
    }
    if (query.limit === undefined) return found;
    const keyed = found.map((alert, i) => ({ alert, i, t: timeKey(alert.lastUpdateDateTime) }));
    keyed.sort((a, b) => (a.t > b.t ? -1 : a.t < b.t ? 1 : a.i - b.i));
    return keyed.slice(0, query.limit).map((k) => k.alert);
  }

  /** One page: the rate limit, then the token, the 401 refresh and the retries, as for the SIEM API. */
  private getPage(url: string): Promise<GraphPage> {
    const client = { ...graphRequestClient(this.tokens, this.session, this.options), transport: this.transport };
    return authorizedGet(url, client, (response, token) => parseGraphPage(response, this.origin, [token]));
  }
}
