import { type AlertChanges, requireChanges, validateAlertId } from './alert-update';
import { authorizedRequest, type ClientOptions, type SendRequest } from './authorized-request';
import { DefenderError } from './errors';
import { GRAPH_API, type GraphSession, graphRequestClient } from './graph';
import type { GraphAlert } from './graph-mapping';
import type { HttpResponse, HttpTransport } from './http';
import { message } from './messages';
import { alertUrl, type Connection } from './regions';
import { bodyExcerpt, type ServiceDescription } from './response';
import type { TokenProvider } from './token';

/** Timeouts, retries and the close signal of the writes, as for a pull. */
export type AlertWriterOptions = ClientOptions;

/** The statuses Graph answers a write with: 200 with the result, or 204 (no body) when asked to be brief. */
const written = (status: number): boolean => status === 200 || status === 201 || status === 204;

/** Microsoft Graph as a write names it: 403 is the write permission, 404 an alert id it does not know. */
function writeService(alertId: string): ServiceDescription {
  return {
    ...GRAPH_API,
    meanings: {
      ...GRAPH_API.meanings,
      400: message('update.graph-400'),
      403: message('update.graph-403'),
      404: message('update.graph-404', { id: alertId }),
    },
  };
}

/** A 2xx body must be a JSON object (the alert, or the comments list with its `value` array). */
function jsonObject(response: HttpResponse, expected: 'update.expected-alert' | 'update.expected-comments', token: string): Record<string, unknown> {
  const refuse = (failure: 'failure.not-json' | 'update.not-an-object' | 'failure.no-value'): DefenderError =>
    new DefenderError(
      'BAD_RESPONSE',
      message('update.bad-body', {
        status: response.status,
        type: response.headers['content-type'] || message('http.no-content-type'),
        size: response.body.length,
        failure: message(failure),
        expected: message(expected),
        excerpt: bodyExcerpt(response.body, [token]),
      }),
      { statusCode: response.status },
    );
  let body: unknown;
  try {
    body = JSON.parse(response.body.toString('utf8'));
  } catch {
    throw refuse('failure.not-json');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw refuse('update.not-an-object');
  const object = body as Record<string, unknown>;
  if (expected === 'update.expected-comments' && !Array.isArray(object.value)) throw refuse('failure.no-value');
  return object;
}

/** The alert of a 2xx answer, without its OData envelope. */
function readAlert(response: HttpResponse, token: string): GraphAlert {
  const alert = jsonObject(response, 'update.expected-alert', token);
  // The OData envelope says where the entity came from; the node's output is the alert itself.
  delete alert['@odata.context'];
  return alert as GraphAlert;
}

/**
 * What a comment's answer proves. Graph documents it as the list of the alert's comments, which shows the
 * comment stored. Any other answer (nothing, the one comment, a gateway's page) proves nothing either way:
 * its refusal is kept, to be raised only if the alert read next does not show the comment.
 */
function unprovenComment(response: HttpResponse, token: string): DefenderError | undefined {
  try {
    jsonObject(response, 'update.expected-comments', token);
    return undefined;
  } catch (err) {
    if (err instanceof DefenderError) return err;
    throw err;
  }
}

function showsComment(alert: GraphAlert, comment: string): boolean {
  return Array.isArray(alert.comments) && alert.comments.some((c: unknown) => (c as { comment?: unknown } | null)?.comment === comment);
}

/** A PATCH answers the changed alert, or 204 without a body when Graph is brief (then it is read afterwards). */
function readPatched(response: HttpResponse, token: string): GraphAlert | undefined {
  return response.status === 204 ? undefined : readAlert(response, token);
}

/**
 * Changes alerts through Microsoft Graph: `PATCH /v1.0/security/alerts_v2/{id}` for status,
 * classification, determination and assignedTo, and `POST …/{id}/comments` for a comment, with the same
 * token, 401 refresh, retries and rate limit as the reads.
 *
 * The PATCH goes first: it is idempotent, so a message sent again after a failed comment changes nothing
 * twice. A comment is not: retried after a 5xx or a dropped connection, it appears twice if Graph had
 * stored it before failing (Graph gives no way to tell), a rare case accepted so that throttling and
 * outages do not lose comments. The answer is the alert after every change: the PATCH answers it; a
 * comment answers only the comment list (and moves the alert's lastUpdateDateTime), so after a comment
 * the alert is read again, and that read also tells whether a comment whose answer was not the list was
 * stored.
 */
export class AlertWriter {
  constructor(
    private readonly transport: Pick<HttpTransport, 'get' | 'sendJson'>,
    private readonly connection: Connection,
    private readonly tokens: TokenProvider,
    private readonly session: GraphSession,
    private readonly options: AlertWriterOptions,
  ) {}

  /** Applies `changes` to the alert `alertId` and answers the alert as Graph shows it afterwards. */
  async update(alertId: string, changes: AlertChanges): Promise<GraphAlert> {
    const id = validateAlertId(alertId, 'alertId');
    const { comment, ...properties } = requireChanges(changes);
    const url = alertUrl(this.connection, id);
    let alert: GraphAlert | undefined;
    if (Object.keys(properties).length > 0) {
      alert = await this.request(id, (headers, o) => this.transport.sendJson('PATCH', url, headers, properties, o), readPatched);
    }
    const read = (): Promise<GraphAlert> => this.request(id, (headers, o) => this.transport.get(url, headers, o), readAlert);
    if (comment === undefined) return alert ?? read();
    const body = { '@odata.type': 'microsoft.graph.security.alertComment', comment };
    const unproven = await this.request(id, (headers, o) => this.transport.sendJson('POST', `${url}/comments`, headers, body, o), unprovenComment);
    const after = await read();
    // A stored comment is no error, whatever its answer looked like: a message sent again would add it twice.
    if (unproven && !showsComment(after, comment)) {
      throw new DefenderError('BAD_RESPONSE', message('update.comment-not-stored', { answer: unproven.text ?? unproven.message }), { statusCode: unproven.statusCode });
    }
    return after;
  }

  /** One request: the shared rate limit, then the token, the 401 refresh and the retries. */
  private request<T>(alertId: string, send: SendRequest<unknown>, read: (response: HttpResponse, token: string) => T): Promise<T> {
    return authorizedRequest(send, graphRequestClient(this.tokens, this.session, this.options, writeService(alertId)), read, written);
  }
}
