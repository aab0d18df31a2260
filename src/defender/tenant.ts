import { invalidConfig } from './errors';
import { message } from './messages';
import { GraphClient, type GraphSession, type GraphShape } from './services/graph';
import { GRAPH_RATE_LIMIT, RateLimiter, type RateLimitSettings } from './services/graph-rate';
import { ALERT_TARGET, type AlertWriterOptions, GraphWriter, INCIDENT_TARGET } from './writing/graph-writer';
import { HttpTransport, TransportOptions } from './transport/http';
import { IncidentsClient, type IncidentsClientOptions } from './services/incidents';
import type { PullSource } from './pulling/pull';
import { type Connection, type ConnectionSettings, graphConnection } from './services/regions';
import { DEFAULT_RETRY_POLICY, RetryPolicy } from './transport/retry';
import type { CredentialSource, Environment } from './sign-in/credential';
import { resolveSignIn, type SignInCredentials, type SignInSettings } from './sign-in/modes';
import { SiemClient, SiemClientOptions } from './services/siem';
import { TokenProvider } from './sign-in/token';

export interface TenantOptions {
  tokenTimeoutMs?: number;
  retry?: RetryPolicy;
  now?: () => number;
  /** Proxy and TLS settings of the config node. */
  transport?: TransportOptions;
  /** Graph's rate limit for this app and tenant (default about 150 a minute). */
  graphRateLimit?: RateLimitSettings;
  /** Where managed and workload identities find their endpoint, ids and token file (default process.env). */
  env?: Environment;
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
 * Everything one defender-config node holds: the validated connection, how it signs in, its keep-alive
 * transport, its token caches and, for Graph, the rate limit its nodes share. Secrets stay inside the
 * credential source and are never handed out.
 */
export class Tenant {
  readonly connection: Connection;
  /** How this config node gets tokens, for whatever target: `tokenProvider` makes a cache for another one. */
  readonly credential: CredentialSource;
  readonly tokens: TokenProvider;
  /** Graph allows about 150 requests a minute per app and tenant, across all nodes using this config. */
  readonly graph: GraphSession;
  private readonly transport: HttpTransport;
  private readonly closing = new AbortController();
  private readonly options: TenantOptions;
  /** The Graph token cache of a `siem` config node, made when an update node first writes. */
  private graphOnlyTokens?: TokenProvider;

  constructor(settings: ConnectionSettings & SignInSettings, credentials: SignInCredentials, options: TenantOptions = {}) {
    const now = options.now ?? Date.now;
    const signIn = resolveSignIn(settings, credentials, options.env ?? process.env, now());
    this.connection = signIn.connection;
    this.credential = signIn.credential;
    this.options = options;
    this.transport = new HttpTransport(options.transport);
    const rate = options.graphRateLimit ?? {
      perMinute: rateSetting('graphRequestsPerMinute', settings.graphRequestsPerMinute, GRAPH_RATE_LIMIT.perMinute),
      burst: Math.max(1, Math.floor(rateSetting('graphBurst', settings.graphBurst, GRAPH_RATE_LIMIT.burst))),
    };
    this.graph = { limiter: new RateLimiter(rate, now) };
    this.tokens = this.tokenProvider(this.connection);
  }

  /**
   * A token cache of its own for `connection` (its token URL and its resource or scope), signing in as this
   * config node does, over its transport, stopped when it closes.
   */
  private tokenProvider(connection: Connection): TokenProvider {
    const now = this.options.now ?? Date.now;
    return new TokenProvider(
      (request) =>
        this.credential.requestToken(connection, {
          transport: this.transport,
          timeoutMs: request.timeoutMs ?? this.options.tokenTimeoutMs ?? 30_000,
          maxResponseBytes: 1024 * 1024,
          retry: this.options.retry ?? DEFAULT_RETRY_POLICY,
          signal: this.closing.signal,
          now,
        }),
      now,
    );
  }

  /**
   * Tokens for Microsoft Graph with this tenant's sign-in: the config node's own cache when it reads from
   * Graph, else a second cache for the Graph scope (a SIEM API token is for another resource), made on
   * first use so a config node whose flows only read never asks for it.
   */
  get graphTokens(): TokenProvider {
    if (this.connection.api === 'graph') return this.tokens;
    this.graphOnlyTokens ??= this.tokenProvider(graphConnection(this.connection));
    return this.graphOnlyTokens;
  }

  /** Changes alerts through Microsoft Graph, whatever API this config node reads detections from. */
  alerts(options: AlertWriterOptions): GraphWriter {
    return new GraphWriter(ALERT_TARGET, this.transport, graphConnection(this.connection), this.graphTokens, this.graph, options);
  }

  /** Changes incidents through Microsoft Graph, whatever API this config node reads detections from. */
  incidentWriter(options: AlertWriterOptions): GraphWriter {
    return new GraphWriter(INCIDENT_TARGET, this.transport, graphConnection(this.connection), this.graphTokens, this.graph, options);
  }

  /**
   * Defender's incidents, which only Microsoft Graph serves: read through Graph whatever API this config
   * node reads detections from, with its Graph tokens and rate limit.
   */
  incidents(options: IncidentsClientOptions): PullSource {
    return new IncidentsClient(this.transport, graphConnection(this.connection), this.graphTokens, this.graph, options);
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
