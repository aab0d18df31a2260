import { invalidConfig } from './errors';
import { message } from './messages';
import { GraphClient, type GraphSession, type GraphShape } from './graph';
import { GRAPH_RATE_LIMIT, RateLimiter, type RateLimitSettings } from './graph-rate';
import { HttpTransport, TransportOptions } from './http';
import type { PullSource } from './pull';
import { Connection, ConnectionSettings, graphConnection, resolveConnection } from './regions';
import { DEFAULT_RETRY_POLICY, RetryPolicy } from './retry';
import { SiemClient, SiemClientOptions } from './siem';
import { requestToken, type TokenRequestOptions, TokenProvider } from './token';
import { AlertWriter, type AlertWriterOptions } from './graph-writer';

export interface TenantOptions {
  tokenTimeoutMs?: number;
  retry?: RetryPolicy;
  now?: () => number;
  /** Proxy and TLS settings of the config node. */
  transport?: TransportOptions;
  /** Graph's rate limit for this app and tenant (default about 150 a minute). */
  graphRateLimit?: RateLimitSettings;
}

/** What a pull asks of the config node's client: the SIEM client's options, and the output shape for Graph. */
export interface DetectionsClientOptions extends SiemClientOptions {
  /** Graph only; the SIEM API's detections are SIEM-shaped already. Default `siem`. */
  shape?: GraphShape;
}

function rateSetting(name: string, raw: number | string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw invalidConfig(message('config.not-positive', { name, value: String(raw) }));
  return n;
}

/**
 * Everything one defender-config node holds: the validated connection, its keep-alive transport, its
 * token cache and, for Graph, the rate limit its nodes share. The secret stays inside the token request
 * closure and is never handed out.
 */
export class Tenant {
  readonly connection: Connection;
  readonly tokens: TokenProvider;
  /** Graph allows about 150 requests a minute per app and tenant, across all nodes using this config. */
  readonly graph: GraphSession;
  private readonly transport: HttpTransport;
  private readonly closing = new AbortController();
  /** Asks for a token for one connection of this tenant; the secret stays in this closure. */
  private readonly fetchToken: (connection: Connection) => (request: TokenRequestOptions) => ReturnType<typeof requestToken>;
  private readonly now: () => number;
  /** The Graph token cache of a `siem` config node, made when an update node first writes. */
  private graphOnlyTokens?: TokenProvider;

  constructor(settings: ConnectionSettings, clientSecret: string, options: TenantOptions = {}) {
    this.connection = resolveConnection(settings);
    this.transport = new HttpTransport(options.transport);
    const now = options.now ?? Date.now;
    const rate = options.graphRateLimit ?? {
      perMinute: rateSetting('graphRequestsPerMinute', settings.graphRequestsPerMinute, GRAPH_RATE_LIMIT.perMinute),
      burst: Math.max(1, Math.floor(rateSetting('graphBurst', settings.graphBurst, GRAPH_RATE_LIMIT.burst))),
    };
    this.graph = { limiter: new RateLimiter(rate, now) };
    this.now = now;
    this.fetchToken = (connection) => (request) =>
      requestToken(this.transport, connection, clientSecret, {
        timeoutMs: request.timeoutMs ?? options.tokenTimeoutMs ?? 30_000,
        maxResponseBytes: 1024 * 1024,
        retry: options.retry ?? DEFAULT_RETRY_POLICY,
        signal: this.closing.signal,
        now,
      });
    this.tokens = new TokenProvider(this.fetchToken(this.connection), now);
  }

  /**
   * Tokens for Microsoft Graph with this tenant's sign-in: the config node's own cache when it reads from
   * Graph, else a second cache for the Graph scope (a SIEM API token is for another resource), made on
   * first use so a config node whose flows only read never asks for it.
   */
  get graphTokens(): TokenProvider {
    if (this.connection.api === 'graph') return this.tokens;
    this.graphOnlyTokens ??= new TokenProvider(this.fetchToken(graphConnection(this.connection)), this.now);
    return this.graphOnlyTokens;
  }

  /** Changes alerts through Microsoft Graph, whatever API this config node reads detections from. */
  alerts(options: AlertWriterOptions): AlertWriter {
    return new AlertWriter(this.transport, graphConnection(this.connection), this.graphTokens, this.graph, options);
  }

  /** The client of the configured API: the SIEM API's /api/alerts, or Graph's alerts_v2. */
  detections(options: DetectionsClientOptions): PullSource {
    if (this.connection.api === 'graph') {
      return new GraphClient(this.transport, this.connection, this.tokens, this.graph, options);
    }
    return new SiemClient(this.transport, this.connection, this.tokens, options);
  }

  close(): void {
    this.closing.abort();
    this.tokens.clear();
    this.graphOnlyTokens?.clear();
    this.transport.close();
  }
}
