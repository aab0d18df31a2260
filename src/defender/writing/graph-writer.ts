import { ALERT_UPDATE } from './alert-update';
import { authorizedRequest, type ClientOptions, type SendRequest } from '../transport/authorized-request';
import { type Changes, requiredChanges, type UpdateKind, validateId } from './entity-update';
import { DefenderError } from '../errors';
import { GRAPH_API, type GraphEntity, type GraphSession, graphRequestClient } from '../services/graph';
import type { HttpResponse, HttpTransport } from '../transport/http';
import { INCIDENT_UPDATE } from './incident-update';
import { message, type Message } from '../messages';
import { collectionUrl, type Connection } from '../services/regions';
import { bodyExcerpt, type ServiceDescription } from '../transport/response';
import type { TokenProvider } from '../sign-in/token';

/** Timeouts, retries and the close signal of the writes, as for a pull. */
export type AlertWriterOptions = ClientOptions;

/** What a writer changes, and how its errors name it. */
export interface WriteTarget {
  kind: UpdateKind;
  /** Its Graph collection under /v1.0/security/. */
  collection: 'alerts_v2' | 'incidents';
  /** What the id is called where the writer is given it, for the error of a bad one. */
  idName: string;
  /** 403: the write permission it needs. */
  forbidden: Message;
  /** 404: an id the tenant does not know. */
  notFound(id: string): Message;
  /** A 2xx body that is not the entity. */
  expected: 'update.expected-alert' | 'incident.expected-incident';
  /** A comment whose answer was not the list, and that the entity read after it does not show. */
  notStored(answer: Message | string): Message;
}

/** alerts_v2 alerts: `SecurityAlert.ReadWrite.All`. */
export const ALERT_TARGET: WriteTarget = {
  kind: ALERT_UPDATE,
  collection: 'alerts_v2',
  idName: 'alertId',
  forbidden: message('update.graph-403'),
  notFound: (id) => message('update.graph-404', { id }),
  expected: 'update.expected-alert',
  notStored: (answer) => message('update.comment-not-stored', { answer }),
};

/** Defender incidents: `SecurityIncident.ReadWrite.All`. */
export const INCIDENT_TARGET: WriteTarget = {
  kind: INCIDENT_UPDATE,
  collection: 'incidents',
  idName: 'incidentId',
  forbidden: message('incident.graph-403'),
  notFound: (id) => message('incident.graph-404', { id }),
  expected: 'incident.expected-incident',
  notStored: (answer) => message('incident.comment-not-stored', { answer }),
};

/** The statuses Graph answers a write with: 200 with the result, or 204 (no body) when asked to be brief. */
const written = (status: number): boolean => status === 200 || status === 201 || status === 204;

/** Microsoft Graph as a write names it: 403 is the write permission, 404 an id it does not know. */
function writeService(target: WriteTarget, id: string): ServiceDescription {
  return {
    ...GRAPH_API,
    meanings: {
      ...GRAPH_API.meanings,
      400: message('update.graph-400'),
      403: target.forbidden,
      404: target.notFound(id),
    },
  };
}

/** A 2xx body must be a JSON object (the entity, or the comments list with its `value` array). */
export function jsonObject(response: HttpResponse, expected: WriteTarget['expected'] | 'update.expected-comments', token: string): Record<string, unknown> {
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

/** The entity of a 2xx answer, without its OData envelope. */
function entityReader(target: WriteTarget): (response: HttpResponse, token: string) => GraphEntity {
  return (response, token) => {
    const entity = jsonObject(response, target.expected, token);
    // The OData envelope says where the entity came from; the node's output is the entity itself.
    delete entity['@odata.context'];
    return entity as GraphEntity;
  };
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

function showsComment(entity: GraphEntity, comment: string): boolean {
  return Array.isArray(entity.comments) && entity.comments.some((c: unknown) => (c as { comment?: unknown } | null)?.comment === comment);
}

/**
 * Changes alerts or incidents through Microsoft Graph (`target`): `PATCH /v1.0/security/alerts_v2/{id}` for
 * status, classification, determination and assignedTo (`…/incidents/{id}`: and customTags), and
 * `POST …/{id}/comments` for a comment, with the same token, 401 refresh, retries and rate limit as the reads.
 *
 * The PATCH goes first: it is idempotent, so a message sent again after a failed comment changes nothing
 * twice. A comment is not: retried after a 5xx or a dropped connection, it appears twice if Graph had
 * stored it before failing (Graph gives no way to tell), a rare case accepted so that throttling and
 * outages do not lose comments. The answer is the alert after every change: the PATCH answers it; a
 * comment answers only the comment list (and moves the alert's lastUpdateDateTime), so after a comment
 * the alert is read again, and that read also tells whether a comment whose answer was not the list was
 * stored.
 */
export class GraphWriter {
  constructor(
    private readonly target: WriteTarget,
    private readonly transport: Pick<HttpTransport, 'get' | 'sendJson'>,
    private readonly connection: Connection,
    private readonly tokens: TokenProvider,
    private readonly session: GraphSession,
    private readonly options: AlertWriterOptions,
  ) {}

  /** Applies `changes` to the entity `entityId` and answers it as Graph shows it afterwards. */
  async update(entityId: string, changes: Changes): Promise<GraphEntity> {
    const id = validateId(this.target.kind, entityId, this.target.idName);
    const { comment, ...properties } = requiredChanges(this.target.kind, changes);
    // The id is %-encoded, so it stays one path segment.
    const url = `${collectionUrl(this.connection, this.target.collection)}/${encodeURIComponent(id)}`;
    const readEntity = entityReader(this.target);
    let entity: GraphEntity | undefined;
    if (Object.keys(properties).length > 0) {
      // A PATCH answers the changed entity, or 204 without a body when Graph is brief (then it is read afterwards).
      const readPatched = (response: HttpResponse, token: string): GraphEntity | undefined => (response.status === 204 ? undefined : readEntity(response, token));
      entity = await this.request(id, (headers, o) => this.transport.sendJson('PATCH', url, headers, properties, o), readPatched);
    }
    const read = (): Promise<GraphEntity> => this.request(id, (headers, o) => this.transport.get(url, headers, o), readEntity);
    if (typeof comment !== 'string') return entity ?? read();
    const body = { '@odata.type': 'microsoft.graph.security.alertComment', comment };
    const unproven = await this.request(id, (headers, o) => this.transport.sendJson('POST', `${url}/comments`, headers, body, o), unprovenComment);
    const after = await read();
    // A stored comment is no error, whatever its answer looked like: a message sent again would add it twice.
    if (unproven && !showsComment(after, comment)) {
      throw new DefenderError('BAD_RESPONSE', this.target.notStored(unproven.text ?? unproven.message), { statusCode: unproven.statusCode });
    }
    return after;
  }

  /** One request: the shared rate limit, then the token, the 401 refresh and the retries. */
  private request<T>(id: string, send: SendRequest<unknown>, read: (response: HttpResponse, token: string) => T): Promise<T> {
    return authorizedRequest(send, graphRequestClient(this.tokens, this.session, this.options, writeService(this.target, id)), read, written);
  }
}
