import type { Node, NodeAPI } from 'node-red';
import { type Checkpoint, withParts } from '../defender/pulling/checkpoint';
import type { CheckpointStore } from '../defender/pulling/checkpoint-store';
import type { JourneyEnd } from '../defender/delivery/journey';
import { DeliveryLedger, type DeliveryPolicy } from '../defender/delivery/ledger';
import { message, type Message } from '../defender/messages';
import type { Delivery } from '../defender/pulling/pull';
import { deliveryWatch, type DeliveryOwner, type DeliveryRef, type DeliveryWatch } from './delivery-watch';

/** Delivery confirmation as a node's settings hold it: the delivering nodes and the policy. */
export interface DeliverySettings {
  /** The ids of the nodes whose being done with a message confirms its delivery. */
  nodes: string[];
  policy: DeliveryPolicy;
}


/** Changes of what is owed are stored, and shown in the status, this soon after them, together. */
const SAVE_AFTER_MS = 100;

/**
 * One detections node's delivery confirmation: what it owes per checkpoint (a ledger each, stored with the
 * checkpoint), the messages it follows through the runtime's delivery watch, and what the flow says of them.
 */
export class DeliveryTracker implements DeliveryOwner {
  readonly id: string;
  private readonly watch: DeliveryWatch;
  private readonly books = new Map<string, { ledger: DeliveryLedger; base?: Checkpoint; saving?: ReturnType<typeof setTimeout> }>();
  /** Outcomes of deliveries made before a redeploy, for checkpoints this node has not read yet. */
  private readonly early = new Map<string, Array<[DeliveryRef, JourneyEnd]>>();
  private route?: ReturnType<DeliveryWatch['route']>;
  private saves: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly idBase: string;
  private sent = 0;
  private readonly warned = new Set<string>();

  constructor(
    private readonly RED: NodeAPI,
    node: Node,
    readonly settings: DeliverySettings,
    private readonly store: CheckpointStore,
    /** Told how many versions are owed in all, whenever that changes. */
    private readonly owing: (count: number) => void,
    /** A failure to store what is owed, for the log. */
    private readonly failed: (err: unknown) => void,
    /** Something the user should know of the delivering nodes, for the log. */
    private readonly warn: (text: Message) => void,
  ) {
    this.id = node.id;
    this.idBase = RED.util.generateId();
    this.watch = deliveryWatch(RED);
    this.watch.join(this);
  }

  /**
   * The nodes that deliver, as deployed now: read again for every pull, since a deploy may rewire them. A
   * delivering node that is gone, or that cannot say it is done, is warned of once.
   */
  routeForPull(): void {
    this.route = this.watch.route(this.settings.nodes);
    for (const id of this.settings.nodes) {
      if (this.warned.has(id)) continue;
      const live = this.RED.nodes.getNode(id) as (Node & { name?: string }) | null;
      if (live && this.watch.tellsWhenDone(live)) continue;
      this.warned.add(id);
      this.warn(live ? message('delivery.node-silent', { name: live.name || `${live.type} ${id}` }) : message('delivery.node-missing', { id }));
    }
  }

  /** The checkpoint of `key` with what is owed for it, and its ledger (read from the store the first time). */
  async open(key: string): Promise<{ checkpoint?: Checkpoint; ledger: DeliveryLedger }> {
    let book = this.books.get(key);
    if (!book) {
      const stored = await this.store.load(key);
      const ledger = new DeliveryLedger(stored?.pending, this.settings.policy, () => this.changed(key));
      book = { ledger, base: stored };
      this.books.set(key, book);
      for (const [ref, end] of this.early.get(key) ?? []) this.settle(ref, end);
      this.early.delete(key);
    }
    return { checkpoint: book.base ? withParts(book.base, { pending: book.ledger.state() }) : undefined, ledger: book.ledger };
  }

  /**
   * A pull's commit: stores `checkpoint` with what is owed now. Every write of a checkpoint with
   * confirmation on goes through here, one after the other, each with the latest of both.
   */
  commit(key: string, checkpoint: Checkpoint): Promise<void> {
    const book = this.books.get(key);
    if (!book) return this.store.save(key, checkpoint);
    book.base = checkpoint;
    return this.saveNow(key);
  }

  /**
   * Marks a message as delivery `delivery` of checkpoint `key` and follows it; call right before send().
   * Each message gets an id of its own: a random one per node and a count (cheaper than one random id each).
   */
  follow(msg: { _msgid?: string; redelivery?: number }, key: string, delivery: Delivery): void {
    const id = `${this.idBase}.${(this.sent++).toString(36)}`;
    msg._msgid = id;
    if (delivery.attempt > 1) msg.redelivery = delivery.attempt;
    if (!this.route) this.routeForPull();
    this.watch.track(id, this.id, key, delivery.key, delivery.attempt, this.route as ReturnType<DeliveryWatch['route']>, this.settings.policy.timeoutMs);
  }

  settle(ref: DeliveryRef, end: JourneyEnd): void {
    const book = this.books.get(ref.checkpoint);
    if (!book) {
      let list = this.early.get(ref.checkpoint);
      if (!list) this.early.set(ref.checkpoint, (list = []));
      list.push([ref, end]);
      return;
    }
    // A time-out changes nothing stored (the ledger tells it by the time), but the status says it soon.
    if (end === 'timed-out') this.changed(ref.checkpoint);
    else book.ledger.outcome(ref.key, ref.attempt, end, Date.now());
  }

  /** Versions owed in all. */
  total(): number {
    let n = 0;
    for (const book of this.books.values()) n += book.ledger.size;
    return n;
  }

  /**
   * msg.reset: the checkpoints are cleared, and what they owed with them. Also when what the node holds of
   * them is stale (another replica pulled meanwhile, SPEC section 13): they are read again at the next pull.
   */
  reset(): void {
    for (const book of this.books.values()) if (book.saving) clearTimeout(book.saving);
    this.books.clear();
    this.early.clear();
    this.owing(0);
  }

  /** The node closes: what changed is stored now, and outcomes still to come wait for its successor. */
  async close(): Promise<void> {
    this.watch.leave(this);
    for (const key of this.books.keys()) void this.saveNow(key);
    this.closed = true;
    await this.saves;
  }

  /**
   * What is owed changed: stored, and told to the status, shortly after, together with the changes that
   * follow it (a pull of thousands changes it thousands of times; the editor is told a few times a second).
   */
  private changed(key: string): void {
    const book = this.books.get(key);
    if (!book || book.saving || this.closed) return;
    book.saving = setTimeout(() => {
      void this.saveNow(key);
      this.owing(this.total());
    }, SAVE_AFTER_MS);
  }

  private saveNow(key: string): Promise<void> {
    const book = this.books.get(key);
    if (!book) return this.saves;
    if (book.saving) clearTimeout(book.saving);
    book.saving = undefined;
    const write = async (): Promise<void> => {
      // Nothing is stored before a pull stored a checkpoint (what is owed is stored with one), nor after a reset.
      if (!book.base || this.books.get(key) !== book) return;
      await this.store.save(key, withParts(book.base, { pending: book.ledger.state() }));
    };
    const done = this.saves.then(write);
    this.saves = done.catch((err) => this.failed(err));
    return done;
  }
}
