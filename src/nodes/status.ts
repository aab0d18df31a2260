import type { Node } from 'node-red';

/** The local time of day a status reports, as hh:mm:ss. */
const clock = (at: Date): string => at.toTimeString().slice(0, 8);

/** Node-RED's translate function; it answers the key itself when no catalog has it. */
export type Translate = (key: string, vars?: Record<string, string | number>) => string;

/**
 * A node's status dot, telling the truth about its last message, in the runtime's language: the texts are
 * `<catalog>.status.*` of the node's own message catalog, with English as the fallback.
 */
class NodeStatus {
  constructor(
    protected readonly node: Node,
    protected readonly translate: Translate,
    protected readonly catalog: string,
    /** The HTTP_* codes with a short text of their own; other statuses say "service error" or "request refused". */
    private readonly ownHttpCodes: readonly string[],
  ) {}

  retrying(attempt: number, max: number): void {
    this.node.status({ fill: 'yellow', shape: 'ring', text: this.text('retrying', { attempt, max }, `retrying (${attempt}/${max})…`) });
  }

  /** A client's onRetry: the status says which try comes, the debug log why. */
  retryReporter(max: number): (error: { code: string }, delayMs: number, attempt: number) => void {
    return (error, delayMs, attempt) => {
      this.retrying(attempt, max);
      this.node.debug(`retry ${attempt}/${max} in ${Math.round(delayMs)} ms after ${error.code}`);
    };
  }

  /** A short reason in the runtime's language; the whole story is in the message the Catch node gets. */
  failed(code: string, message: string, statusCode?: number): void {
    const bucket = !code.startsWith('HTTP_') || this.ownHttpCodes.includes(code) ? code : statusCode !== undefined && statusCode >= 500 ? 'HTTP_5xx' : 'HTTP';
    const short = message.length > 60 ? `${message.slice(0, 59)}…` : message;
    this.node.status({ fill: 'red', shape: 'ring', text: this.text(`failed.${bucket}`, { status: statusCode ?? '' }, short) });
  }

  clear(): void {
    this.node.status({});
  }

  protected text(key: string, vars: Record<string, string | number>, english: string): string {
    const id = `${this.catalog}.status.${key}`;
    const out = this.translate(id, vars);
    return out && out !== id ? out : english;
  }
}

/** A pull node's status: pulling, retrying, how many were new, or why the pull failed. */
export class PullStatus extends NodeStatus {
  /** `catalog`: the node's own (defender-detections, defender-incidents). */
  constructor(node: Node, translate: Translate, catalog = 'defender-detections') {
    super(node, translate, catalog, ['HTTP_401', 'HTTP_403', 'HTTP_429']);
  }

  pulling(): void {
    // The pull under way is what the status tells of now, until it is done.
    this.last = undefined;
    this.node.status({ fill: 'blue', shape: 'ring', text: this.text('pulling', {}, 'pulling…') });
  }

  /** A count with its digits grouped as the runtime's language writes them: 12 400 in English, 12,400 in Japanese. */
  private grouped(n: number): string {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, this.text('digit-group', {}, ' '));
  }

  /** A pull of several slices: how many detections went out so far. */
  progress(sent: number): void {
    const count = this.grouped(sent);
    this.node.status({ fill: 'blue', shape: 'ring', text: this.text('progress', { count }, `${count} sent…`) });
  }

  private last?: { sent: { new: number; updates: number }; at: Date };
  private owed = 0;

  /**
   * How many first versions and updates of alerts went out: "3 new, 2 updated at 12:00:00", and with delivery
   * confirmation how many are still waiting for theirs: "3 new at 12:00:00 · 2 pending delivery".
   */
  done(sent: { new: number; updates: number }, at: Date = new Date()): void {
    this.last = { sent, at };
    const time = clock(at);
    const [count, updates, owed] = [this.grouped(sent.new), this.grouped(sent.updates), this.grouped(this.owed)];
    let text =
      sent.updates === 0
        ? this.text('done', { count, time }, `${count} new at ${time}`)
        : this.text('done-updates', { count, updates, time }, `${count} new, ${updates} updated at ${time}`);
    if (this.owed > 0) text += ` · ${this.text('pending', { count: owed }, `${owed} pending delivery`)}`;
    this.node.status({ fill: this.owed > 0 ? 'yellow' : 'green', shape: 'dot', text });
  }

  /** Delivery confirmation: how many detections wait for theirs now; the last pull's status says it. */
  pending(count: number): void {
    if (count === this.owed) return;
    this.owed = count;
    if (this.last) this.done(this.last.sent, this.last.at);
  }

  /** Coordination: another Node-RED instance holds this node's lease and pulls; this one makes no call. */
  standby(at: Date = new Date()): void {
    this.last = undefined;
    const time = clock(at);
    this.node.status({ fill: 'grey', shape: 'ring', text: this.text('standby', { time }, `standby (${time})`) });
  }

  /** Coordination: Redis cannot be reached, so no instance pulls (reported to Catch once per outage). */
  unavailable(): void {
    this.last = undefined;
    this.failed('COORDINATION_UNAVAILABLE', 'coordination unavailable');
  }

  reset(): void {
    this.last = undefined;
    this.node.status({ fill: 'grey', shape: 'dot', text: this.text('reset', {}, 'checkpoint cleared') });
  }
}

/** An update node's status: writing, retrying, the entity's status after the change, or why it failed. */
export class UpdateStatus extends NodeStatus {
  /** `catalog`: the node's own (defender-alert-update, defender-incident-update). */
  constructor(node: Node, translate: Translate, catalog = 'defender-alert-update') {
    // A write meets 400 (a change Graph refused) and 404 (an unknown id) where a pull does not.
    super(node, translate, catalog, ['HTTP_400', 'HTTP_401', 'HTTP_403', 'HTTP_404', 'HTTP_429']);
  }

  writing(): void {
    this.node.status({ fill: 'blue', shape: 'ring', text: this.text('writing', {}, 'updating…') });
  }

  /**
   * `entityStatus` is the alert's or incident's status as Graph answered it after the change (inProgress,
   * resolved…), said as Microsoft says it in the runtime's language (解決済み (10:20:01)); English keeps
   * Graph's word, and so does any language for a status the catalog does not name.
   */
  done(entityStatus: string, at: Date = new Date()): void {
    const time = clock(at);
    const key = `${this.catalog}.values.status.${entityStatus}`;
    const said = /^\w+$/.test(entityStatus) ? this.translate(key) : key;
    const status = said && said !== key ? said : entityStatus;
    const text = entityStatus === '' ? this.text('updated', { time }, `updated at ${time}`) : this.text('done', { status, time }, `${entityStatus} at ${time}`);
    this.node.status({ fill: 'green', shape: 'dot', text });
  }
}
