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
  /**
   * Where its copies are: on their way to a node (queued), at a node (held), at a node that never says it
   * is done (silent, with when each arrived: such a node, Node-RED's switch or a subflow instance, is done
   * with a copy once it passed it on, or, having not, once `graceMs` passed: a switch whose rules none
   * matched dropped it). A journey is made for every message and has a copy or two: kept lean.
   */
  private readonly queued = new Tally();
  private readonly held = new Tally();
  private silent?: Array<{ node: string; at: number }>;
  private reached = false;
  private failure = false;

  constructor(
    private readonly route: Route,
    private readonly graceMs: number,
  ) {}

  /** A copy is on its way to `node`. */
  queue(node: string): void {
    this.queued.add(node);
  }

  /**
   * `node` received a copy: one that was on its way to it, or one handed to it directly (a link in node).
   * `silent`: the node never says when it is done with a message.
   */
  arrive(node: string, silent: boolean, now: number): void {
    this.queued.take(node);
    if (silent) (this.silent ??= []).push({ node, at: now });
    else this.held.add(node);
    if (this.route.delivers(node)) this.reached = true;
  }

  /** `node` is done with its copy; `ok` false when it failed (done(err), or an HTTP status that is not 2xx). */
  complete(node: string, ok: boolean): void {
    this.held.take(node);
    if (!ok && this.route.leadsOn(node)) this.failure = true;
  }

  /** `node` passed a copy on: a node that never says it is done has then done with it. */
  passOn(node: string): void {
    const i = this.silent?.findIndex((s) => s.node === node) ?? -1;
    if (i >= 0) this.silent?.splice(i, 1);
  }

  /** `node` reported an error for its copy (to a Catch node), and may never say it is done. */
  fail(node: string): void {
    if (this.route.leadsOn(node)) this.failure = true;
  }

  /** Whether a node that never says it is done holds a copy: the journey is looked at again as time passes. */
  get waitsOnSilence(): boolean {
    return (this.silent?.length ?? 0) > 0;
  }

  /**
   * How the journey ended, or undefined while a copy may still reach a delivering node. Once it is
   * `overdue` (not confirmed within the delivery timeout) it is ended either way: delivered when it reached
   * a delivering node and none still holds it, else timed out.
   */
  end(now: number, overdue: boolean): JourneyEnd | undefined {
    if (this.failure) return 'failed';
    const where = this.where(now);
    if (where === 'nowhere') return this.reached ? 'delivered' : 'filtered';
    if (!overdue) return undefined;
    return this.reached && where !== 'at-delivery' ? 'delivered' : 'timed-out';
  }

  /** Where the copies that may still reach a delivering node are: none left, on the way, or at one. */
  private where(now: number): 'nowhere' | 'on-the-way' | 'at-delivery' {
    let found: 'nowhere' | 'on-the-way' = 'nowhere';
    const look = (node: string): boolean => {
      if (!this.route.leadsOn(node)) return false;
      if (this.route.delivers(node)) return true;
      found = 'on-the-way';
      return false;
    };
    if (this.queued.some(look) || this.held.some(look)) return 'at-delivery';
    for (const s of this.silent ?? []) if (s.at + this.graceMs > now && look(s.node)) return 'at-delivery';
    return found;
  }
}

/**
 * Copies of a message per node. A journey's copies are mostly at one node at a time, so the first node is
 * kept in two fields, and only others in a map: no list is made for every message.
 */
class Tally {
  private node?: string;
  private count = 0;
  private others?: Map<string, number>;

  add(node: string): void {
    if (this.count === 0 || this.node === node) {
      this.node = node;
      this.count++;
    } else {
      const others = (this.others ??= new Map());
      others.set(node, (others.get(node) ?? 0) + 1);
    }
  }

  /** Takes one copy at `node` away, if there is one. */
  take(node: string): void {
    if (this.count > 0 && this.node === node) {
      this.count--;
    } else {
      const n = this.others?.get(node) ?? 0;
      if (n > 1) this.others?.set(node, n - 1);
      else this.others?.delete(node);
    }
  }

  /** Whether `test` holds for a node with a copy (each such node once). */
  some(test: (node: string) => boolean): boolean {
    if (this.count > 0 && test(this.node as string)) return true;
    for (const node of this.others?.keys() ?? []) if (test(node)) return true;
    return false;
  }
}
