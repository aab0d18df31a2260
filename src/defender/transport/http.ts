import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import axios, { AxiosInstance, AxiosRequestConfig, isAxiosError } from 'axios';
import { DefenderError } from '../errors';
import { message } from '../messages';
import { ProxySettings, proxyFor, TlsSettings, TunnelAgent } from './proxy';

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Record<string, string>;
  /** The body, unless a BodyReader took it as it arrived (then empty). */
  body: Buffer;
  /** What the BodyReader made of the body, when one took it. */
  read?: T;
}

/**
 * Takes a response body piece by piece as it arrives, so a large answer is never held whole. The size cap
 * and the request timeout still cover the whole body.
 */
export interface BodyReader<T> {
  /** The next piece of the body. */
  write(chunk: Buffer): void;
  /** The body is complete: the result, or a DefenderError when the body was not what was expected. */
  end(): T;
}

/** Chooses, once the status and headers are in, whether a BodyReader takes the body. */
export type ReaderFor<T> = (status: number, headers: Record<string, string>) => BodyReader<T> | undefined;

export interface RequestOptions {
  /** The whole exchange, headers and body, must finish within this time. */
  timeoutMs: number;
  /** A body larger than this is refused rather than buffered without bound. */
  maxResponseBytes: number;
  /** Aborts the request when the node closes. */
  signal?: AbortSignal;
  /**
   * Past any proxy: a managed identity endpoint is on this host or link-local (169.254.169.254), which a
   * proxy cannot reach and Azure's instance metadata service refuses to be reached through.
   */
  direct?: boolean;
}

const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH',
  'ENETUNREACH', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE',
]);

/**
 * HTTP for one defender-config node: keep-alive agents shared by every detections node that uses it,
 * destroyed when the config node closes. Redirects are never followed, so an access token is never sent to
 * a host it was not meant for. Errors carry no request details: an HTTP library's error object holds the
 * Authorization header.
 */
export interface TransportOptions {
  /** A proxy chosen in the config node (the core `http proxy` node); it wins over the environment. */
  proxy?: ProxySettings;
  /** Read https_proxy / http_proxy / no_proxy as the core http request node does (default true). */
  useEnvironmentProxy?: boolean;
  /** TLS options from the core `tls-config` node: a custom CA, a client certificate, verification. */
  tls?: TlsSettings;
}

export class HttpTransport {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly httpsAgent: https.Agent;
  /** One tunnelling agent per proxy, so tunnels are kept alive and reused like direct connections. */
  private readonly tunnels = new Map<string, TunnelAgent>();
  private readonly client: AxiosInstance;

  constructor(private readonly options: TransportOptions = {}) {
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16, ...options.tls });
    this.client = axios.create({
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      maxRedirects: 0,
      validateStatus: () => true,
      responseType: 'stream',
      decompress: true,
      // Proxies are chosen here, per URL: axios's own reading of the environment would not tunnel https.
      proxy: false,
    });
  }

  /** GET; when `reader` hands out a BodyReader for the answer, the body is read through it as it streams. */
  async get<T = unknown>(url: string, headers: Record<string, string>, options: RequestOptions, reader?: ReaderFor<T>): Promise<HttpResponse<T>> {
    return this.request('GET', url, headers, undefined, options, reader);
  }

  async postForm(url: string, form: Record<string, string>, options: RequestOptions): Promise<HttpResponse> {
    const body = new URLSearchParams(form).toString();
    return this.request(
      'POST',
      url,
      { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body,
      options,
    );
  }

  /** A JSON body (Graph's PATCH and POST); the answer is read whole, as writes answer small bodies. */
  async sendJson(method: 'PATCH' | 'POST', url: string, headers: Record<string, string>, body: unknown, options: RequestOptions): Promise<HttpResponse> {
    return this.request(method, url, { ...headers, 'Content-Type': 'application/json' }, JSON.stringify(body), options);
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    for (const agent of this.tunnels.values()) agent.destroy();
    this.tunnels.clear();
  }

  /** How to reach a URL: directly, through a CONNECT tunnel (https), or as a proxy request (http). */
  private route(url: string): Pick<AxiosRequestConfig, 'httpsAgent' | 'proxy'> {
    const target = new URL(url);
    const proxy = proxyFor(target, this.options.proxy, this.options.useEnvironmentProxy ?? true);
    if (!proxy) return {};
    if (target.protocol === 'https:') {
      let agent = this.tunnels.get(proxy.url);
      if (!agent) {
        agent = new TunnelAgent(proxy, { keepAlive: true, maxSockets: 16, ...this.options.tls });
        this.tunnels.set(proxy.url, agent);
      }
      return { httpsAgent: agent };
    }
    const p = new URL(proxy.url);
    const username = proxy.username ?? decodeURIComponent(p.username);
    return {
      proxy: {
        protocol: p.protocol.replace(':', ''),
        host: p.hostname,
        port: Number(p.port || (p.protocol === 'https:' ? 443 : 80)),
        ...(username ? { auth: { username, password: proxy.password ?? decodeURIComponent(p.password) } } : {}),
      },
    };
  }

  private async request<T = unknown>(
    method: 'GET' | 'POST' | 'PATCH',
    url: string,
    headers: Record<string, string>,
    data: string | undefined,
    options: RequestOptions,
    readerFor?: ReaderFor<T>,
  ): Promise<HttpResponse<T>> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, options.timeoutMs);
    const onAbort = (): void => controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const host = safeHost(url);
    try {
      if (options.signal?.aborted) throw new DefenderError('CANCELLED', message('http.cancelled', { host }));
      const response = await this.client.request<Readable>({ method, url, headers, data, signal: controller.signal, ...(options.direct ? {} : this.route(url)) });
      const responseHeaders: Record<string, string> = {};
      for (const [k, v] of Object.entries(response.headers)) {
        if (v !== undefined && v !== null) responseHeaders[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
      }
      const reader = readerFor?.(response.status, responseHeaders);
      if (reader) {
        await readBody(response.data, responseHeaders, options.maxResponseBytes, host, (chunk) => reader.write(chunk));
        return { status: response.status, headers: responseHeaders, body: EMPTY, read: reader.end() };
      }
      const chunks: Buffer[] = [];
      const size = await readBody(response.data, responseHeaders, options.maxResponseBytes, host, (chunk) => chunks.push(chunk));
      return { status: response.status, headers: responseHeaders, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) };
    } catch (err) {
      if (err instanceof DefenderError) throw err;
      if (timedOut) {
        throw new DefenderError('TIMEOUT', message('http.timeout', { host, seconds: options.timeoutMs / 1000 }), {
          retryable: true,
        });
      }
      if (options.signal?.aborted) throw new DefenderError('CANCELLED', message('http.cancelled', { host }));
      const cause = isAxiosError(err) ? (err.cause as NodeJS.ErrnoException | undefined) ?? err : (err as NodeJS.ErrnoException | undefined);
      const code = (isAxiosError(err) ? err.code : undefined) ?? cause?.code;
      const reason = cause?.message || code || String(err);
      // Only faults of the network are worth another try; a refused proxy login or a TLS certificate the
      // CA does not vouch for will fail the same way again.
      throw new DefenderError('NETWORK', message('http.network', { host, reason }), {
        retryable: code !== undefined && NETWORK_CODES.has(code),
      });
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the service';
  }
}

const EMPTY = Buffer.alloc(0);

/** Hands the body to `take` piece by piece, refusing it as soon as it outgrows the cap; returns its size. */
async function readBody(stream: Readable, headers: Record<string, string>, maxBytes: number, host: string, take: (chunk: Buffer) => void): Promise<number> {
  const tooLarge = (): DefenderError =>
    new DefenderError('TOO_LARGE', message('http.too-large', { host, limit: formatBytes(maxBytes) }));
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    stream.destroy();
    throw tooLarge();
  }
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > maxBytes) throw tooLarge();
      take(buf);
    }
  } catch (err) {
    stream.destroy();
    throw err;
  }
  return size;
}

/** A limit as the user set it, in megabytes (maxResponseMB), down to hundredths of one. */
export function megabytes(n: number): string {
  return `${Math.round((n / 1024 / 1024) * 100) / 100} MB`;
}

/** The same, or in bytes for a limit too small for megabytes to say. */
function formatBytes(n: number): string {
  return n >= 64 * 1024 ? megabytes(n) : `${n} bytes`;
}
