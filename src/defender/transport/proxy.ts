import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { isIP } from 'node:net';
import tls from 'node:tls';

/** An outbound proxy, as the core `http proxy` config node or the environment describes it. */
export interface ProxySettings {
  /** http://host:port (or https://) of the proxy. */
  url: string;
  /** Hosts reached directly: names, `.suffix` or `*.suffix`, `host:port`, or `*` for all. */
  noProxy?: string[];
  username?: string;
  password?: string;
}

/** TLS options as the core `tls-config` node gives them (a custom CA for TLS-inspecting proxies, …). */
export interface TlsSettings {
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
  passphrase?: string;
  servername?: string;
  rejectUnauthorized?: boolean;
}

function listFrom(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * The proxy the environment names for a URL, read as the core http request node and curl read it:
 * https_proxy for https targets, http_proxy for http ones, either case, and no_proxy for exceptions.
 */
export function proxyFromEnvironment(target: URL, env: NodeJS.ProcessEnv = process.env): ProxySettings | undefined {
  const pick = (name: string): string | undefined => env[name.toLowerCase()] || env[name.toUpperCase()] || undefined;
  const url = target.protocol === 'https:' ? (pick('https_proxy') ?? pick('http_proxy')) : pick('http_proxy');
  if (!url) return undefined;
  return { url, noProxy: listFrom(pick('no_proxy')) };
}

function defaultPort(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}

/** Whether no_proxy sends this target around the proxy. */
export function bypassesProxy(target: URL, noProxy: readonly string[] = []): boolean {
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = defaultPort(target);
  return noProxy.some((raw) => {
    const entry = raw.toLowerCase().trim();
    if (entry === '*') return true;
    const [name, entryPort] = entry.startsWith('[') ? [entry.slice(1, entry.indexOf(']')), entry.split(']:')[1]] : entry.split(':');
    if (entryPort && entryPort !== port) return false;
    // "example.com", ".example.com" and "*.example.com" all cover the domain and its subdomains, as curl reads them.
    const bare = name.replace(/^\*?\./, '');
    return host === bare || host.endsWith(`.${bare}`);
  });
}

/** The proxy to use for a URL: the configured one, else the environment's, unless no_proxy says not to. */
export function proxyFor(target: URL, configured: ProxySettings | undefined, useEnvironment: boolean): ProxySettings | undefined {
  const proxy = configured ?? (useEnvironment ? proxyFromEnvironment(target) : undefined);
  if (!proxy || bypassesProxy(target, proxy.noProxy)) return undefined;
  return proxy;
}

function proxyAuthorization(proxy: ProxySettings, url: URL): string | undefined {
  const user = proxy.username ?? decodeURIComponent(url.username);
  const pass = proxy.password ?? decodeURIComponent(url.password);
  return user ? `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` : undefined;
}

/**
 * An https agent whose connections go through an HTTP CONNECT tunnel: the proxy sees only the host and
 * port; TLS (and the Authorization header inside it) runs end to end with the service.
 */
export class TunnelAgent extends https.Agent {
  private readonly proxyUrl: URL;
  private readonly authorization?: string;

  constructor(proxy: ProxySettings, options: https.AgentOptions) {
    super(options);
    this.proxyUrl = new URL(proxy.url);
    this.authorization = proxyAuthorization(proxy, this.proxyUrl);
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | undefined {
    const done = (err: Error | null, stream?: Duplex): void => callback?.(err, stream as Duplex);
    const target = `${options.host}:${options.port ?? 443}`;
    const headers: Record<string, string> = { Host: target };
    if (this.authorization) headers['Proxy-Authorization'] = this.authorization;
    const transport = this.proxyUrl.protocol === 'https:' ? https : http;
    const request = transport.request({
      host: this.proxyUrl.hostname.replace(/^\[|\]$/g, ''),
      port: Number(defaultPort(this.proxyUrl)),
      method: 'CONNECT',
      path: target,
      headers,
      agent: false,
    });
    request.once('connect', (response, socket) => {
      if (response.statusCode !== 200) {
        socket.destroy();
        const reason = response.statusCode === 407 ? 'proxy authentication required' : response.statusMessage ?? '';
        done(Object.assign(new Error(`the proxy ${this.proxyUrl.host} refused to connect to ${target}: HTTP ${response.statusCode} ${reason}`.trim()), { code: 'EPROXY' }));
        return;
      }
      const host = String(options.host ?? '');
      const secure = tls.connect({ ...(options as tls.ConnectionOptions), socket, servername: options.servername ?? (isIP(host) ? undefined : host) });
      done(null, secure);
    });
    request.once('error', (err) => done(err));
    request.end();
    return undefined;
  }
}
