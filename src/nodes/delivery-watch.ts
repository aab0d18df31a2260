import type { NodeAPI } from 'node-red';
import { invalidConfig } from '../defender/errors';
import { message } from '../defender/messages';
import { Journey, type JourneyEnd, type Route, routeTo, type Station } from '../defender/delivery/journey';

/**
 * Delivery confirmation seen through Node-RED's own messaging hooks (the events the Complete and Catch nodes
 * are built on): each detection message a detections node sends with confirmation on has an `_msgid` of its
 * own, and this watch follows it and its copies through the flow, node by node, until the delivering nodes
 * are done with it, one failed, or it was dropped on the way.
 *
 * One watch per runtime serves every detections node; its hooks are in place while any node confirms
 * deliveries or any delivery is still under way. An outcome for a node being redeployed waits for the node
 * with the same id to come back, so a delivery that completes across a deploy still confirms.
 */

/** Which delivery a message is: of which node, for which checkpoint, which version and which try. */
export interface DeliveryRef {
  checkpoint: string;
  key: string;
  attempt: number;
}

/** What a detections node with confirmation on is to the watch. */
export interface DeliveryOwner {
  readonly id: string;
  settle(ref: DeliveryRef, end: JourneyEnd): void;
}

/** The route of the flows as deployed, with which nodes it knows (a node inside a subflow instance it does not). */
type KnownRoute = Route & { knows(node: string): boolean };

/** A delivery followed: its journey, whose it is, and until when it is waited for. One is made per message. */
class Tracked extends Journey implements DeliveryRef {
  /** Timed out: kept a while longer, so that a late confirmation still counts. */
  overdue = false;

  constructor(
    readonly msgid: string,
    readonly owner: string,
    readonly checkpoint: string,
    readonly key: string,
    readonly attempt: number,
    readonly known: KnownRoute,
    timeoutMs: number,
    readonly deadline: number,
  ) {
    // A node that never says it is done is given a moment to pass a copy on before it is taken to drop it.
    super(known, Math.min(SILENCE_MS, timeoutMs / 4));
    this.forgetAt = deadline + timeoutMs;
  }

  readonly forgetAt: number;
}

/** The live node object as the hooks show it: its id, type and, inside a subflow instance, the instance (z). */
interface LiveNode {
  id: string;
  type?: string;
  z?: string;
}

/** A node config as `RED.nodes.eachNode` gives it. */
interface NodeConfig {
  id: string;
  type: string;
  z?: string;
  wires?: unknown;
  links?: unknown;
  mode?: unknown;
}

const LABEL = 'defender-delivery';
const SWEEP_MS = 100;
/** How long a node that never says it is done may hold a copy before it is taken to have dropped it. */
const SILENCE_MS = 1000;
/** Outcomes kept for a node that is being redeployed, at most this long. */
const PARK_MS = 60_000;

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) return [];
  return value.flatMap((v) => (Array.isArray(v) ? v : [v])).filter((v): v is string => typeof v === 'string');
}

/**
 * The flow as stations for the route: each node with the nodes it passes messages to, through its wires, a
 * link out node's links, a link call's target and return. A link out in return mode answers to whichever
 * link call called it, so it is taken to lead wherever a link call leads.
 */
export function stationsOf(configs: readonly NodeConfig[]): Station[] {
  const linkCalls = configs.filter((c) => c.type === 'link call').map((c) => c.id);
  return configs
    .filter((c) => typeof c.z === 'string')
    .map((c) => {
      const next = strings(c.wires);
      if (c.type === 'link call' || (c.type === 'link out' && c.mode !== 'return')) next.push(...strings(c.links));
      if (c.type === 'link out' && c.mode === 'return') next.push(...linkCalls);
      return { id: c.id, next };
    });
}

/** An HTTP status left in msg.statusCode by a delivering node (the core http request node): 2xx, or absent. */
function statusOk(status: unknown): boolean {
  if (status === undefined || status === null || status === '') return true;
  const n = Number(status);
  return Number.isInteger(n) && n >= 200 && n < 300;
}

class DeliveryWatch {
  private readonly tracked = new Map<string, Tracked>();
  private readonly owners = new Map<string, DeliveryOwner>();
  private readonly parked = new Map<string, Array<{ ref: DeliveryRef; end: JourneyEnd; until: number }>>();
  private readonly dirty = new Set<Tracked>();
  private flushing = false;
  /** Nodes seen completing a message: they say when they are done. */
  private readonly completing = new Set<string>();
  private sweeper?: ReturnType<typeof setInterval>;
  private hooked = false;

  constructor(private readonly RED: NodeAPI) {}

  /** The route of the flows as deployed now, to these delivering nodes. */
  route(delivering: readonly string[]): KnownRoute {
    const configs: NodeConfig[] = [];
    this.RED.nodes.eachNode((n) => configs.push(n as unknown as NodeConfig));
    const stations = stationsOf(configs);
    const known = new Set(stations.map((s) => s.id));
    return { ...routeTo(stations, delivering), knows: (node) => known.has(node) };
  }

  join(owner: DeliveryOwner): void {
    this.owners.set(owner.id, owner);
    this.hook();
    const parked = this.parked.get(owner.id);
    this.parked.delete(owner.id);
    for (const p of parked ?? []) owner.settle(p.ref, p.end);
  }

  leave(owner: DeliveryOwner): void {
    if (this.owners.get(owner.id) === owner) this.owners.delete(owner.id);
    this.unhookWhenIdle();
  }

  /** Follows a message about to be sent: register it before send(), whose first hop runs the hooks at once. */
  track(msgid: string, owner: string, checkpoint: string, key: string, attempt: number, route: KnownRoute, timeoutMs: number): void {
    const t = new Tracked(msgid, owner, checkpoint, key, attempt, route, timeoutMs, Date.now() + timeoutMs);
    this.tracked.set(msgid, t);
    // An output wired to nothing ends the journey at once: nothing to deliver to.
    this.touch(t);
    this.sweep();
  }

  private hook(): void {
    if (this.hooked) return;
    this.hooked = true;
    const hooks = this.RED.hooks;
    hooks.add(`preDeliver.${LABEL}`, (e: { msg: { _msgid?: string }; source?: { node?: LiveNode }; destination: { id: string; node?: LiveNode } }) => {
      const t = this.find(e.msg);
      if (!t) return;
      // A node that never says it is done (a switch, a subflow instance) is done with what it passes on.
      const source = e.source?.node;
      if (source && !this.tellsWhenDone(source)) t.passOn(this.place(t, source));
      t.queue(this.place(t, e.destination.node ?? { id: e.destination.id }));
    });
    hooks.add(`onReceive.${LABEL}`, (e: { msg: Record<string, unknown> & { _msgid?: string }; destination: { id: string; node?: LiveNode } }) => {
      const t = this.find(e.msg);
      if (!t) return;
      const error = e.msg.error as { source?: { id?: unknown } } | undefined;
      const complete = e.msg.complete as { source?: unknown } | undefined;
      if (error && typeof error === 'object' && error.source) {
        // A node reported an error for this message to a Catch node (the e-mail node does only that).
        if (e.destination.node?.type === 'catch' && typeof error.source.id === 'string') {
          t.fail(this.place(t, this.live(error.source.id)));
          this.touch(t);
        }
        return;
      }
      // A Complete node's copy is a report, not part of the journey.
      if (complete && typeof complete === 'object' && complete.source) return;
      const node = e.destination.node ?? { id: e.destination.id };
      t.arrive(this.place(t, node), !this.tellsWhenDone(node), Date.now());
    });
    hooks.add(`onComplete.${LABEL}`, (e: { msg: { _msgid?: string; statusCode?: unknown }; error?: unknown; node: { id: string; node?: LiveNode } }) => {
      const t = this.find(e.msg);
      if (!t) return;
      const node = e.node.node ?? { id: e.node.id };
      this.completing.add(node.id);
      const place = this.place(t, node);
      // The http request node reports a refused delivery to Catch nodes and still says it is done: the
      // status it leaves in the message tells.
      const ok = !e.error && (!t.known.delivers(place) || statusOk(e.msg.statusCode));
      t.complete(place, ok);
      this.touch(t);
    });
  }

  private unhookWhenIdle(): void {
    if (!this.hooked || this.owners.size > 0 || this.tracked.size > 0) return;
    this.RED.hooks.remove(`*.${LABEL}`);
    this.hooked = false;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /**
   * Whether a node says when it is done with a message. Node-RED counts a node's input handlers that take
   * `done` (`_expectedDoneCount`); a node with none, such as the core switch node, never completes a message
   * (the Complete node cannot watch it either). Where the runtime does not show the count, a node seen
   * completing a message says so.
   */
  tellsWhenDone(node: LiveNode): boolean {
    const expected = (node as LiveNode & { _expectedDoneCount?: unknown })._expectedDoneCount;
    return typeof expected === 'number' ? expected > 0 : this.completing.has(node.id);
  }

  private find(msg: { _msgid?: string } | undefined): Tracked | undefined {
    const id = msg?._msgid;
    return typeof id === 'string' ? this.tracked.get(id) : undefined;
  }

  private live(id: string): LiveNode {
    return (this.RED.nodes.getNode(id) as unknown as LiveNode | null) ?? { id };
  }

  /**
   * Where a node stands on the route: itself, or, for a node inside a subflow instance (which the route does
   * not know), the instance it runs in.
   */
  private place(t: Tracked, node: LiveNode): string {
    let at: LiveNode | undefined = node;
    for (let depth = 0; at && depth < 16; depth++) {
      if (t.known.knows(at.id)) return at.id;
      at = at.z ? this.live(at.z) : undefined;
    }
    return node.id;
  }

  /** The journey changed: see whether it ended, once the events of this turn are all in. */
  private touch(t: Tracked): void {
    this.dirty.add(t);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      const batch = [...this.dirty];
      this.dirty.clear();
      const now = Date.now();
      for (const d of batch) {
        const end = d.end(now, false);
        if (end && this.tracked.get(d.msgid) === d) this.finish(d, end);
      }
    });
  }

  private finish(t: Tracked, end: JourneyEnd): void {
    if (end === 'timed-out') t.overdue = true;
    else this.tracked.delete(t.msgid);
    const owner = this.owners.get(t.owner);
    // The journey is the reference itself: nothing more is made per message.
    if (owner) owner.settle(t, end);
    else if (end !== 'timed-out') {
      let list = this.parked.get(t.owner);
      if (!list) this.parked.set(t.owner, (list = []));
      list.push({ ref: t, end, until: Date.now() + PARK_MS });
    }
  }

  private sweep(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const t of this.tracked.values()) {
        if (t.overdue) {
          if (now >= t.forgetAt) this.tracked.delete(t.msgid);
        } else if (now >= t.deadline) {
          this.finish(t, t.end(now, true) ?? 'timed-out');
        } else if (t.waitsOnSilence) {
          const end = t.end(now, false);
          if (end) this.finish(t, end);
        }
      }
      for (const [owner, list] of this.parked) {
        const kept = list.filter((p) => p.until > now);
        if (kept.length > 0) this.parked.set(owner, kept);
        else this.parked.delete(owner);
      }
      if (this.tracked.size === 0 && this.parked.size === 0 && this.sweeper) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
        this.unhookWhenIdle();
      }
    }, SWEEP_MS);
    this.sweeper.unref();
  }
}

const watches = new WeakMap<object, DeliveryWatch>();

/** The runtime's one delivery watch; an error when the runtime has no messaging hooks (before Node-RED 2). */
export function deliveryWatch(RED: NodeAPI): DeliveryWatch {
  if (!RED.hooks) throw invalidConfig(message('settings.no-hooks'));
  let watch = watches.get(RED.hooks);
  if (!watch) watches.set(RED.hooks, (watch = new DeliveryWatch(RED)));
  return watch;
}

export type { DeliveryWatch };
