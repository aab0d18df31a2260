import type { Node } from 'node-red';

/** The node's status dot, telling the truth about the last pull. */
export class PullStatus {
  constructor(private readonly node: Node) {}

  pulling(): void {
    this.node.status({ fill: 'blue', shape: 'ring', text: 'pulling…' });
  }

  done(count: number, at: Date = new Date()): void {
    this.node.status({ fill: 'green', shape: 'dot', text: `${count} new at ${at.toTimeString().slice(0, 8)}` });
  }

  info(text: string): void {
    this.node.status({ fill: 'grey', shape: 'dot', text });
  }

  failed(reason: string): void {
    const short = reason.length > 60 ? `${reason.slice(0, 59)}…` : reason;
    this.node.status({ fill: 'red', shape: 'ring', text: short });
  }

  clear(): void {
    this.node.status({});
  }
}
