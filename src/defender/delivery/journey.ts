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
  /** Copies on their way to each node and copies each node holds. */
  private readonly queued = new Map<string, number>();
  private readonly held = new Map<string, number>();
  private reached = false;
  private failure = false;

  constructor(private readonly route: Route) {}

  /** A copy is on its way to `node`. */
  queue(node: string): void {
    this.queued.set(node, (this.queued.get(node) ?? 0) + 1);
  }

  /** `node` received a copy: one that was on its way to it, or one handed to it directly (a link in node). */
  arrive(node: string): void {
    const q = this.queued.get(node) ?? 0;
    if (q > 1) this.queued.set(node, q - 1);
    else this.queued.delete(node);
    this.held.set(node, (this.held.get(node) ?? 0) + 1);
    if (this.route.delivers(node)) this.reached = true;
  }

  /** `node` is done with its copy; `ok` false when it failed (done(err), or an HTTP status that is not 2xx). */
  complete(node: string, ok: boolean): void {
    this.release(node);
    if (!ok && this.route.leadsOn(node)) this.failure = true;
  }

  /** `node` passed its copy on and will never say it is done (a subflow instance): it holds it no longer. */
  passOn(node: string): void {
    this.release(node);
  }

  /** `node` reported an error for its copy (to a Catch node), and may never say it is done. */
  fail(node: string): void {
    if (this.route.leadsOn(node)) this.failure = true;
  }

  /**
   * How the journey ended, or undefined while a copy may still reach a delivering node. Once it is
   * `overdue` (not confirmed within the delivery timeout) it is ended either way: delivered when every
   * delivering node it reached is done with it (a node before them that never says it is done, such as a
   * subflow instance, is not waited for), else timed out.
   */
  end(overdue: boolean): JourneyEnd | undefined {
    if (this.failure) return 'failed';
    let underway = false;
    let atDelivery = false;
    for (const counts of [this.queued, this.held]) {
      for (const node of counts.keys()) {
        if (!this.route.leadsOn(node)) continue;
        underway = true;
        if (this.route.delivers(node)) atDelivery = true;
      }
    }
    if (!underway) return this.reached ? 'delivered' : 'filtered';
    if (!overdue) return undefined;
    return this.reached && !atDelivery ? 'delivered' : 'timed-out';
  }

  private release(node: string): void {
    const h = this.held.get(node) ?? 0;
    if (h > 1) this.held.set(node, h - 1);
    else this.held.delete(node);
  }
}
