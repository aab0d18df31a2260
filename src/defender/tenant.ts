import { HttpTransport } from './http';
import { Connection, ConnectionSettings, resolveConnection } from './regions';
import { DEFAULT_RETRY_POLICY, RetryPolicy } from './retry';
import { SiemClient, SiemClientOptions } from './siem';
import { requestToken, TokenProvider } from './token';

export interface TenantOptions {
  tokenTimeoutMs?: number;
  retry?: RetryPolicy;
  now?: () => number;
}

/**
 * Everything one defender-config node holds: the validated connection, its keep-alive transport and its
 * token cache. The secret stays inside the token request closure and is never handed out.
 */
export class Tenant {
  readonly connection: Connection;
  readonly tokens: TokenProvider;
  private readonly transport = new HttpTransport();
  private readonly closing = new AbortController();

  constructor(settings: ConnectionSettings, clientSecret: string, options: TenantOptions = {}) {
    this.connection = resolveConnection(settings);
    const now = options.now ?? Date.now;
    this.tokens = new TokenProvider(
      (request) =>
        requestToken(this.transport, this.connection, clientSecret, {
          timeoutMs: request.timeoutMs ?? options.tokenTimeoutMs ?? 30_000,
          maxResponseBytes: 1024 * 1024,
          retry: options.retry ?? DEFAULT_RETRY_POLICY,
          signal: this.closing.signal,
          now,
        }),
      now,
    );
  }

  detections(options: SiemClientOptions): SiemClient {
    return new SiemClient(this.transport, this.connection, this.tokens, options);
  }

  close(): void {
    this.closing.abort();
    this.tokens.clear();
    this.transport.close();
  }
}
