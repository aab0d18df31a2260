import type { DeliveryOutcome } from './ledger';

/**
 * The journey of one delivery through a flow, told by the flow's events: a copy of the message is on its way
 * to a node, a node received one, a node is done with one (or failed). It ends when no copy is left where it
 * could still reach a delivering node: delivered if it reached one and every delivering node was done with it
 * without a failure, dropped on purpose (filtered) if it never reached one, failed if anything on the way
 * failed.
 */

/** Which places of the flow matter to a delivery. */
export interface Route {
  /** A node that delivers (an e-mail node, an http request node): being done with a message confirms it. */
  delivers(node: string): boolean;
  /** Whether a copy at this node may still reach a delivering node: at one, before one, or not known. */
  leadsOn(node: string): boolean;
}

/** A graph of nodes by the nodes each one may pass a message to. */
export interface Station {
  id: string;
  next: readonly string[];
}

/**
 * The route of a flow to its delivering nodes: a node leads on when a delivering node can be reached from
 * it. A node the graph does not know (a node inside a subflow instance, added after the graph was read) is
 * taken as leading on, so that a message there is waited for rather than taken as dropped.
 */
export function routeTo(stations: Iterable<Station>, delivering: readonly string[]): Route {
  const from = new Map<string, string[]>();
  const known = new Set<string>();
  for (const s of stations) {
    known.add(s.id);
    for (const n of s.next) {
      let list = from.get(n);
      if (!list) from.set(n, (list = []));
      list.push(s.id);
    }
  }
  const target = new Set(delivering);
  const leads = new Set<string>(delivering);
  const todo = [...delivering];
  while (todo.length > 0) {
    for (const up of from.get(todo.pop() as string) ?? []) {
      if (!leads.has(up)) {
        leads.add(up);
        todo.push(up);
      }
    }
  }
  return {
    delivers: (node) => target.has(node),
    leadsOn: (node) => leads.has(node) || !known.has(node),
  };
}

/** The end of a journey: how the delivery went, or that it is still under way when it was given up on. */
export type JourneyEnd = DeliveryOutcome | 'timed-out';

export class Journey {
  /** Copies on their way to each node, and copies each node holds. */
  private readonly queued = new Map<string, number>();
  private readonly held = new Map<string, number>();
  /**
   * Copies held by nodes that never say they are done (Node-RED's switch node, a subflow instance), by when
   * each arrived: such a node is done with a copy once it passed it on, or, having not, once `graceMs`
   * passed (it dropped it: a switch whose rules none matched).
   */
  private readonly silent = new Map<string, number[]>();
  private reached = false;
  private failure = false;

  constructor(
    private readonly route: Route,
    private readonly graceMs: number,
  ) {}

  /** A copy is on its way to `node`. */
  queue(node: string): void {
    count(this.queued, node, 1);
  }

  /**
   * `node` received a copy: one that was on its way to it, or one handed to it directly (a link in node).
   * `silent`: the node never says when it is done with a message.
   */
  arrive(node: string, silent: boolean, now: number): void {
    count(this.queued, node, -1);
    if (silent) {
      const list = this.silent.get(node);
      if (list) list.push(now);
      else this.silent.set(node, [now]);
    } else {
      count(this.held, node, 1);
    }
    if (this.route.delivers(node)) this.reached = true;
  }

  /** `node` is done with its copy; `ok` false when it failed (done(err), or an HTTP status that is not 2xx). */
  complete(node: string, ok: boolean): void {
    count(this.held, node, -1);
    if (!ok && this.route.leadsOn(node)) this.failure = true;
  }

  /** `node` passed a copy on: a node that never says it is done has then done with it. */
  passOn(node: string): void {
    const list = this.silent.get(node);
    if (!list) return;
    list.shift();
    if (list.length === 0) this.silent.delete(node);
  }

  /** `node` reported an error for its copy (to a Catch node), and may never say it is done. */
  fail(node: string): void {
    if (this.route.leadsOn(node)) this.failure = true;
  }

  /** Whether a node that never says it is done holds a copy: the journey is looked at again as time passes. */
  get waitsOnSilence(): boolean {
    return this.silent.size > 0;
  }

  /**
   * How the journey ended, or undefined while a copy may still reach a delivering node. Once it is
   * `overdue` (not confirmed within the delivery timeout) it is ended either way: delivered when it reached
   * a delivering node and none still holds it, else timed out.
   */
  end(now: number, overdue: boolean): JourneyEnd | undefined {
    if (this.failure) return 'failed';
    let underway = false;
    let atDelivery = false;
    const look = (node: string): void => {
      if (!this.route.leadsOn(node)) return;
      underway = true;
      if (this.route.delivers(node)) atDelivery = true;
    };
    for (const node of this.queued.keys()) look(node);
    for (const node of this.held.keys()) look(node);
    for (const [node, since] of this.silent) if (since[since.length - 1] + this.graceMs > now) look(node);
    if (!underway) return this.reached ? 'delivered' : 'filtered';
    if (!overdue) return undefined;
    return this.reached && !atDelivery ? 'delivered' : 'timed-out';
  }
}

/** Adds `by` to a count, which goes away at zero. */
function count(counts: Map<string, number>, node: string, by: number): void {
  const n = (counts.get(node) ?? 0) + by;
  if (n > 0) counts.set(node, n);
  else counts.delete(node);
}
