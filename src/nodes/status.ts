import type { Node } from 'node-red';

/** Node-RED's translate function; it answers the key itself when no catalog has it. */
export type Translate = (key: string, vars?: Record<string, string | number>) => string;

/** The node's status dot, telling the truth about the last pull, in the runtime's language. */
export class PullStatus {
  constructor(
    private readonly node: Node,
    private readonly translate: Translate,
  ) {}

  pulling(): void {
    this.node.status({ fill: 'blue', shape: 'ring', text: this.text('pulling', {}, 'pulling…') });
  }

  retrying(attempt: number, max: number): void {
    this.node.status({ fill: 'yellow', shape: 'ring', text: this.text('retrying', { attempt, max }, `retrying (${attempt}/${max})…`) });
  }

  /** A pull of several slices: how many detections went out so far. */
  progress(sent: number): void {
    const count = String(sent).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
    this.node.status({ fill: 'blue', shape: 'ring', text: this.text('progress', { count }, `${count} sent…`) });
  }

  done(count: number, at: Date = new Date()): void {
    const time = at.toTimeString().slice(0, 8);
    this.node.status({ fill: 'green', shape: 'dot', text: this.text('done', { count, time }, `${count} new at ${time}`) });
  }

  reset(): void {
    this.node.status({ fill: 'grey', shape: 'dot', text: this.text('reset', {}, 'checkpoint cleared') });
  }

  /** A short reason in the runtime's language; the whole story is in the message the Catch node gets. */
  failed(code: string, message: string, statusCode?: number): void {
    const bucket = !code.startsWith('HTTP_') || ['HTTP_401', 'HTTP_403', 'HTTP_429'].includes(code) ? code : statusCode !== undefined && statusCode >= 500 ? 'HTTP_5xx' : 'HTTP';
    const short = message.length > 60 ? `${message.slice(0, 59)}…` : message;
    this.node.status({ fill: 'red', shape: 'ring', text: this.text(`failed.${bucket}`, { status: statusCode ?? '' }, short) });
  }

  clear(): void {
    this.node.status({});
  }

  private text(key: string, vars: Record<string, string | number>, english: string): string {
    const id = `defender-detections.status.${key}`;
    const out = this.translate(id, vars);
    return out && out !== id ? out : english;
  }
}
