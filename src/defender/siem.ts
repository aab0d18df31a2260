import { DefenderError } from './errors';
import type { Detection } from './detection';
import { authorizedGet } from './authorized-request';
import type { BodyReader, HttpTransport } from './http';
import { JsonArraySplitter } from './json-array';
import { message } from './messages';
import type { ServiceDescription } from './response';
import { alertsUrl, Connection } from './regions';
import type { RetryPolicy } from './retry';
import { TokenProvider } from './token';

/** What a pull needs from the API: one page of detections for a query. */
export interface DetectionsSource {
  fetchPage(params: URLSearchParams): Promise<Detection[]>;
}

/** The meaning of each status as Microsoft's SIEM API page documents it. */
export const SIEM_API: ServiceDescription = {
  name: message('service.siem'),
  meanings: {
    401: message('meaning.siem-401'),
    403: message('meaning.siem-403'),
    429: message('meaning.too-many'),
    500: message('meaning.service-error'),
  },
};

export interface SiemClientOptions {
  timeoutMs: number;
  maxResponseBytes: number;
  retry: RetryPolicy;
  signal?: AbortSignal;
  /** Called for every HTTP request sent to the detections API, retries included. */
  onRequest?: () => void;
  onRetry?: (error: DefenderError, delayMs: number, attempt: number) => void;
}

/**
 * A 200 answer is parsed as it streams: each detection is parsed as soon as its bytes are in, so the body
 * is never held whole beside the objects made from it.
 */
function detectionsReader(status: number, headers: Record<string, string>): BodyReader<Detection[]> | undefined {
  if (status !== 200) return undefined;
  const splitter = new JsonArraySplitter<Detection>({ status, contentType: headers['content-type'] });
  const detections: Detection[] = [];
  return {
    write: (chunk) => {
      for (const d of splitter.write(chunk)) detections.push(d);
    },
    end: () => {
      splitter.end();
      return detections;
    },
  };
}

/** GET /api/alerts with the token, the 401 refresh, retries and the status meanings of the seed. */
export class SiemClient implements DetectionsSource {
  constructor(
    private readonly transport: HttpTransport,
    private readonly connection: Connection,
    private readonly tokens: TokenProvider,
    private readonly options: SiemClientOptions,
  ) {}

  async fetchPage(params: URLSearchParams): Promise<Detection[]> {
    const query = params.toString();
    const url = `${alertsUrl(this.connection)}${query ? `?${query}` : ''}`;
    const client = { transport: this.transport, tokens: this.tokens, service: SIEM_API, options: this.options };
    return authorizedGet(url, client, (response) => response.read ?? [], detectionsReader);
  }
}
