import type { Detection } from './detection';
import { authorizedGet, type ClientOptions } from '../transport/authorized-request';
import type { HttpTransport, ReaderFor } from '../transport/http';
import type { BudgetMeter } from '../pulling/slice-budget';
import { JsonArraySplitter } from './json-array';
import { message } from '../messages';
import type { ServiceDescription } from '../transport/response';
import { alertsUrl, Connection } from './regions';
import { TokenProvider } from '../sign-in/token';

/** How one request of a pull is read. */
export interface PageOptions {
  /**
   * Counts the answer against the slice's budget as it is read; past the budget the reading stops with a
   * SliceOverflow. Without one the answer is read whole (within maxResponseBytes).
   */
  meter?: BudgetMeter;
}

/** What a pull needs from the API: one page of detections for a query, with the SIEM API's meaning of it. */
export interface DetectionsSource {
  fetchPage(params: URLSearchParams, options?: PageOptions): Promise<Detection[]>;
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

/** The SIEM client's options are those of every client (authorized-request.ts). */
export type SiemClientOptions = ClientOptions;

/**
 * A 200 answer is parsed as it streams: each detection is parsed as soon as its bytes are in, so the body
 * is never held whole beside the objects made from it. A meter stops the reading once the answer outgrows
 * the slice it is for.
 */
function detectionsReader(meter: BudgetMeter | undefined): ReaderFor<Detection[]> {
  return (status, headers) => {
    if (status !== 200) return undefined;
    const splitter = new JsonArraySplitter<Detection>({ status, contentType: headers['content-type'] });
    const detections: Detection[] = [];
    meter?.beginAnswer();
    return {
      write: (chunk) => {
        meter?.addBytes(chunk.length);
        for (const d of splitter.write(chunk)) {
          detections.push(d);
          meter?.addDetection(d.LastProcessedTimeUtc);
        }
      },
      end: () => {
        splitter.end();
        meter?.endAnswer();
        return detections;
      },
    };
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

  async fetchPage(params: URLSearchParams, options: PageOptions = {}): Promise<Detection[]> {
    const query = params.toString();
    const url = `${alertsUrl(this.connection)}${query ? `?${query}` : ''}`;
    const client = { transport: this.transport, tokens: this.tokens, service: SIEM_API, options: this.options };
    return authorizedGet(url, client, (response) => response.read ?? [], detectionsReader(options.meter));
  }
}
