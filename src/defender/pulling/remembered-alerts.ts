import { keyToMillis } from './time-key';

/**
 * What a node remembers of the alerts it sent (lifecycle.ts decides with it), kept compact: a node may
 * remember a million alerts, on a small device. Each alert is a fixed-size record in typed arrays (a 64-bit
 * fingerprint of its id, the time of the version sent last, whether that went out as new, when it was last
 * touched, and its tracked values as references into one table of the values seen), found through an
 * open-addressing index. About 40 bytes an alert, where objects took some 390.
 *
 * The same object is what the checkpoint stores: a context store that keeps objects (Node-RED's `memory`)
 * keeps it as it is; one that writes JSON (`localfilesystem`) writes it through `toJSON`, and `from` reads
 * either form back, and the object form of 0.2.0 too.
 */

/** A tracked value of an alert version. */
export type AlertValue = string | number | boolean | null;

/** What the checkpoint holds as the memory: the live object, its JSON, or the form of 0.2.0. */
export type StoredAlerts = RememberedAlerts | AlertsJson | LegacyAlerts;

/** The JSON form: the records packed little-endian, in base64. */
export interface AlertsJson {
  version: 2;
  fields: string[];
  since?: string;
  /** The values the records refer to. */
  values: AlertValue[];
  /** Bytes of each field's reference: 2 or 4. */
  widths: number[];
  count: number;
  records: string;
}

/** The form of 0.2.0: one array per alert id, [sent time key, sent as new 1|0, touched epoch ms, ...values]. */
export interface LegacyAlerts {
  fields: string[];
  since?: string;
  alerts: Record<string, unknown[]>;
}

export function isStoredAlerts(value: unknown): value is StoredAlerts {
  if (value instanceof RememberedAlerts) return true;
  if (!value || typeof value !== 'object') return false;
  const v = value as Partial<AlertsJson & LegacyAlerts>;
  if (!Array.isArray(v.fields) || !v.fields.every((f) => typeof f === 'string')) return false;
  if (v.version === 2) {
    return Array.isArray(v.values) && Array.isArray(v.widths) && v.widths.length === v.fields.length && typeof v.count === 'number' && typeof v.records === 'string';
  }
  return !!v.alerts && typeof v.alerts === 'object' && !Array.isArray(v.alerts);
}

/** Bytes of a record before its values: fingerprint (2 × 4), sent ms (8), sent 100 ns and new flag (2), touched s (4). */
const HEAD = 22;
/** The 100 ns part of a time key (0..9999) in the low bits; the top bit says the version went out as new. */
const NEW_BIT = 0x8000;
const SUB_MASK = 0x3fff;

/** A 64-bit fingerprint of an id, as two 32-bit halves (two independent multiplicative hashes). */
let fpHi = 0;
let fpLo = 0;
function fingerprint(id: string): void {
  let a = 0x9e3779b9 ^ id.length;
  let b = 0x85ebca6b ^ id.length;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x27d4eb2d);
    b = Math.imul(b ^ c, 0x165667b1);
  }
  a = Math.imul(a ^ (a >>> 15), 0x2c1b3c6d) ^ Math.imul(b ^ (b >>> 13), 0x297a2d39);
  b = Math.imul(b ^ (b >>> 16), 0x5bd1e995) ^ Math.imul(a ^ (a >>> 13), 0x1b873593);
  fpHi = (a ^ (a >>> 16)) >>> 0;
  fpLo = (b ^ (b >>> 15)) >>> 0;
}

/** The ms and the 100 ns part of a time key ("YYYY-MM-DDTHH:mm:ss.fffffff"). */
export function splitTime(time: string): { ms: number; sub: number } {
  return { ms: keyToMillis(time, 'floor'), sub: Number(time.slice(23, 27)) || 0 };
}

function joinTime(ms: number, sub: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}${String(sub).padStart(4, '0')}`;
}

/** A snapshot of a record's contents, to put it back on rollback. */
export interface RecordSnapshot {
  sentMs: number;
  sentSub: number;
  touched: number;
  values: number[];
}

export class RememberedAlerts {
  fields: string[];
  /** A time key before which the node sent alerts it does not remember (see lifecycle.ts). */
  since?: string;
  private count = 0;
  private hi: Uint32Array;
  private lo: Uint32Array;
  private sentMs: Float64Array;
  private sentSub: Uint16Array;
  private touched: Uint32Array;
  /**
   * Which records changed since changes() was last asked (1 each), and their indices: what a store that
   * writes only what changed (coordination/redis-checkpoints.ts) writes at the next commit.
   */
  private changed: Uint8Array;
  private changedList: number[] = [];
  /** Counts the changes a list of changed records cannot tell (records dropped, other fields). */
  private reshaped = 0;
  private columns: Array<Uint16Array | Uint32Array>;
  /** Open addressing: record index + 1 per slot, 0 for empty; at most half full. */
  private slots: Int32Array;
  /** The values the records refer to, each once, and where each is. */
  private readonly table: AlertValue[] = [];
  private readonly refs = new Map<AlertValue, number>();

  constructor(fields: readonly string[], capacity = 64, since?: string) {
    this.fields = [...fields];
    if (since !== undefined) this.since = since;
    const cap = Math.max(16, capacity);
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.sentMs = new Float64Array(cap);
    this.sentSub = new Uint16Array(cap);
    this.touched = new Uint32Array(cap);
    this.changed = new Uint8Array(cap);
    this.columns = this.fields.map(() => new Uint16Array(cap));
    this.slots = new Int32Array(slotsFor(cap));
  }

  /** The memory a checkpoint holds, in any of its forms; undefined for something else. */
  static from(stored: unknown): RememberedAlerts | undefined {
    if (stored instanceof RememberedAlerts) return stored;
    if (!isStoredAlerts(stored)) return undefined;
    return 'version' in stored && stored.version === 2 ? fromJson(stored) : fromLegacy(stored as LegacyAlerts);
  }

  get size(): number {
    return this.count;
  }

  /** The record of an alert, or -1. */
  find(id: string): number {
    fingerprint(id);
    return this.lookup(fpHi, fpLo);
  }

  /** A new record for the alert `find` was just asked for and did not know: its index. */
  addFound(): number {
    if (this.count === this.hi.length) this.grow(Math.ceil(this.count * 1.25) + 16);
    const r = this.count++;
    this.hi[r] = fpHi;
    this.lo[r] = fpLo;
    this.place(r);
    this.mark(r);
    return r;
  }

  /** Takes away the newest record (an add put back). */
  removeLast(): void {
    const r = this.count - 1;
    this.unplace(r);
    this.changed[r] = 0;
    this.count--;
    this.reshaped++;
  }

  sentTime(r: number): string {
    return joinTime(this.sentMs[r], this.sentSub[r] & SUB_MASK);
  }

  /** Whether the version sent last is the one at `time` ({ms, sub} of splitTime). */
  sentAt(r: number, ms: number, sub: number): boolean {
    return this.sentMs[r] === ms && (this.sentSub[r] & SUB_MASK) === sub;
  }

  sentAsNew(r: number): boolean {
    return (this.sentSub[r] & NEW_BIT) !== 0;
  }

  /** When the alert was last touched, epoch ms (to the second). */
  touchedMs(r: number): number {
    return this.touched[r] * 1000;
  }

  touch(r: number, ms: number): void {
    this.touched[r] = Math.floor(ms / 1000);
    this.mark(r);
  }

  value(r: number, field: number): AlertValue {
    return this.table[this.columns[field][r]];
  }

  /** Whether field `field` of record `r` holds `value`. */
  holds(r: number, field: number, value: AlertValue): boolean {
    return this.table[this.columns[field][r]] === value;
  }

  /** Record `r` is now the version sent at `ms`/`sub`, with these values. */
  write(r: number, ms: number, sub: number, asNew: boolean, touchedMs: number, values: readonly AlertValue[]): void {
    this.sentMs[r] = ms;
    this.sentSub[r] = (sub & SUB_MASK) | (asNew ? NEW_BIT : 0);
    this.touched[r] = Math.floor(touchedMs / 1000);
    this.mark(r);
    // A value the record holds already keeps its reference: no lookup for what did not change.
    for (let f = 0; f < values.length; f++) if (this.table[this.columns[f][r]] !== values[f]) this.setRef(r, f, this.ref(values[f]));
  }

  snapshot(r: number): RecordSnapshot {
    return { sentMs: this.sentMs[r], sentSub: this.sentSub[r], touched: this.touched[r], values: this.columns.map((c) => c[r]) };
  }

  restore(r: number, s: RecordSnapshot): void {
    this.sentMs[r] = s.sentMs;
    this.sentSub[r] = s.sentSub;
    this.touched[r] = s.touched;
    this.mark(r);
    for (let f = 0; f < s.values.length; f++) this.columns[f][r] = s.values[f];
  }

  /** Forgets every alert last touched before `ms`, and starts afresh under other fields. */
  forgetBefore(ms: number): void {
    const floor = Math.floor(ms / 1000);
    let kept = 0;
    for (let r = 0; r < this.count; r++) {
      if (this.touched[r] < floor) continue;
      if (kept !== r) this.move(r, kept);
      kept++;
    }
    if (kept === this.count) return;
    this.count = kept;
    // The changed records moved with the others. Those forgotten need no word: a reader forgets them too.
    this.changedList = [];
    for (let r = 0; r < kept; r++) if (this.changed[r]) this.changedList.push(r);
    this.changed.fill(0, kept);
    this.reindex();
    this.compactTable();
  }

  /** Keeps in the table only the values some record still refers to (titles of forgotten alerts go). */
  private compactTable(): void {
    const used = new Uint8Array(this.table.length);
    for (const c of this.columns) for (let r = 0; r < this.count; r++) used[c[r]] = 1;
    const remap = new Int32Array(this.table.length);
    const kept: AlertValue[] = [];
    for (let i = 0; i < this.table.length; i++) {
      if (!used[i]) continue;
      remap[i] = kept.length;
      kept.push(this.table[i]);
    }
    if (kept.length === this.table.length) return;
    for (const c of this.columns) for (let r = 0; r < this.count; r++) c[r] = remap[c[r]];
    this.table.length = 0;
    this.refs.clear();
    this.load(kept);
  }

  /** Drops every record: the memory of other fields (the node switched APIs). */
  reset(fields: readonly string[], since?: string): void {
    this.fields = [...fields];
    this.count = 0;
    this.changed.fill(0);
    this.changedList = [];
    this.reshaped++;
    this.columns = this.fields.map(() => new Uint16Array(this.hi.length));
    this.slots.fill(0);
    if (since !== undefined) this.since = since;
    else delete this.since;
  }

  /**
   * How many times the memory changed in a way a list of changed records cannot tell (records dropped, other
   * fields): a store that writes only changes writes the whole memory when this moved.
   */
  get reshapes(): number {
    return this.reshaped;
  }

  /**
   * The records that changed since the last call, in the JSON form (a memory of those records alone), and
   * from now on none: what a commit writes when the store keeps the memory as a base and its changes.
   */
  changes(): AlertsJson {
    const out = new RememberedAlerts(this.fields, this.changedList.length + 16, this.since);
    const refs = new Array<number>(this.fields.length);
    for (const r of this.changedList) {
      if (r >= this.count || !this.changed[r]) continue;
      for (let f = 0; f < refs.length; f++) refs[f] = out.ref(this.table[this.columns[f][r]]);
      RememberedAlerts.append(out, this.hi[r], this.lo[r], this.sentMs[r], this.sentSub[r], this.touched[r], refs);
      this.changed[r] = 0;
    }
    this.changedList = [];
    return out.toJSON();
  }

  /** Takes over the records of `delta` (a changes() of this memory, written later): each replaces its alert's. */
  merge(delta: AlertsJson): void {
    const other = RememberedAlerts.build(delta);
    if (other.fields.length !== this.fields.length || other.fields.some((f, i) => f !== this.fields[i])) this.reset(other.fields, other.since);
    for (let d = 0; d < other.count; d++) {
      let r = this.lookup(other.hi[d], other.lo[d]);
      if (r < 0) {
        fpHi = other.hi[d];
        fpLo = other.lo[d];
        r = this.addFound();
      }
      this.sentMs[r] = other.sentMs[d];
      this.sentSub[r] = other.sentSub[d];
      this.touched[r] = other.touched[d];
      for (let f = 0; f < this.fields.length; f++) this.setRef(r, f, this.ref(other.table[other.columns[f][d]]));
    }
  }

  private mark(r: number): void {
    if (this.changed[r]) return;
    this.changed[r] = 1;
    this.changedList.push(r);
  }

  /** The JSON form, as a file context store writes it. */
  toJSON(): AlertsJson {
    const widths = this.columns.map((c) => (c instanceof Uint32Array ? 4 : 2));
    const size = HEAD + widths.reduce((a, b) => a + b, 0);
    const buf = Buffer.alloc(size * this.count);
    for (let r = 0, o = 0; r < this.count; r++) {
      o = buf.writeUInt32LE(this.hi[r], o);
      o = buf.writeUInt32LE(this.lo[r], o);
      o = buf.writeDoubleLE(this.sentMs[r], o);
      o = buf.writeUInt16LE(this.sentSub[r], o);
      o = buf.writeUInt32LE(this.touched[r], o);
      for (let f = 0; f < widths.length; f++) o = widths[f] === 4 ? buf.writeUInt32LE(this.columns[f][r], o) : buf.writeUInt16LE(this.columns[f][r], o);
    }
    return {
      version: 2,
      fields: [...this.fields],
      ...(this.since !== undefined ? { since: this.since } : {}),
      values: [...this.table],
      widths,
      count: this.count,
      records: buf.toString('base64'),
    };
  }

  /** The reference of a value in the table, added the first time it is seen. */
  private ref(value: AlertValue): number {
    let ref = this.refs.get(value);
    if (ref === undefined) {
      ref = this.table.length;
      this.table.push(value);
      this.refs.set(value, ref);
    }
    return ref;
  }

  /** Puts a reference into a field, widening the field's column once a reference does not fit 16 bits. */
  private setRef(r: number, f: number, ref: number): void {
    let column = this.columns[f];
    if (ref > 0xffff && column instanceof Uint16Array) {
      const wide = new Uint32Array(column.length);
      wide.set(column);
      this.columns[f] = column = wide;
    }
    column[r] = ref;
  }

  /** Adds values to the table as they are (reading a stored form): their references keep their order. */
  private load(values: readonly AlertValue[]): void {
    for (const v of values) {
      this.refs.set(v, this.table.length);
      this.table.push(v);
    }
  }

  private lookup(hi: number, lo: number): number {
    const mask = this.slots.length - 1;
    for (let s = (lo ^ Math.imul(hi, 0x9e3779b1)) & mask; ; s = (s + 1) & mask) {
      const at = this.slots[s];
      if (at === 0) return -1;
      if (this.hi[at - 1] === hi && this.lo[at - 1] === lo) return at - 1;
    }
  }

  private place(r: number): void {
    if ((this.count + 1) * 2 > this.slots.length) {
      this.slots = new Int32Array(this.slots.length * 2);
      this.reindex();
      return;
    }
    const mask = this.slots.length - 1;
    let s = (this.lo[r] ^ Math.imul(this.hi[r], 0x9e3779b1)) & mask;
    while (this.slots[s] !== 0) s = (s + 1) & mask;
    this.slots[s] = r + 1;
  }

  /** Takes a record out of the index (linear probing: the slots after it move back where they belong). */
  private unplace(r: number): void {
    const mask = this.slots.length - 1;
    let s = (this.lo[r] ^ Math.imul(this.hi[r], 0x9e3779b1)) & mask;
    while (this.slots[s] !== r + 1) s = (s + 1) & mask;
    this.slots[s] = 0;
    for (let next = (s + 1) & mask; this.slots[next] !== 0; next = (next + 1) & mask) {
      const moved = this.slots[next];
      this.slots[next] = 0;
      let t = (this.lo[moved - 1] ^ Math.imul(this.hi[moved - 1], 0x9e3779b1)) & mask;
      while (this.slots[t] !== 0) t = (t + 1) & mask;
      this.slots[t] = moved;
    }
  }

  private reindex(): void {
    this.slots = new Int32Array(Math.max(this.slots.length, slotsFor(this.count)));
    const mask = this.slots.length - 1;
    for (let r = 0; r < this.count; r++) {
      let s = (this.lo[r] ^ Math.imul(this.hi[r], 0x9e3779b1)) & mask;
      while (this.slots[s] !== 0) s = (s + 1) & mask;
      this.slots[s] = r + 1;
    }
  }

  private move(from: number, to: number): void {
    this.hi[to] = this.hi[from];
    this.lo[to] = this.lo[from];
    this.sentMs[to] = this.sentMs[from];
    this.sentSub[to] = this.sentSub[from];
    this.touched[to] = this.touched[from];
    this.changed[to] = this.changed[from];
    for (const c of this.columns) c[to] = c[from];
  }

  private grow(capacity: number): void {
    const widen = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(capacity);
      b.set(a);
      return b;
    };
    this.hi = widen(this.hi);
    this.lo = widen(this.lo);
    this.sentMs = widen(this.sentMs);
    this.sentSub = widen(this.sentSub);
    this.touched = widen(this.touched);
    this.changed = widen(this.changed);
    this.columns = this.columns.map(widen);
  }

  /** Fills a record from a stored form (fingerprint already known). */
  private static append(target: RememberedAlerts, hi: number, lo: number, sentMs: number, sentSub: number, touched: number, refs: readonly number[]): void {
    if (target.count === target.hi.length) target.grow(Math.ceil(target.count * 1.25) + 16);
    const r = target.count++;
    target.hi[r] = hi;
    target.lo[r] = lo;
    target.sentMs[r] = sentMs;
    target.sentSub[r] = sentSub;
    target.touched[r] = touched;
    for (let f = 0; f < refs.length; f++) target.setRef(r, f, refs[f]);
  }

  /** @internal for the readers below. */
  static build(json: AlertsJson): RememberedAlerts {
    const out = new RememberedAlerts(json.fields, json.count + 16, json.since);
    out.load(json.values);
    const buf = Buffer.from(json.records, 'base64');
    const size = HEAD + json.widths.reduce((a, b) => a + b, 0);
    const refs = new Array<number>(json.widths.length);
    for (let r = 0, o = 0; r < json.count && o + size <= buf.length; r++) {
      const hi = buf.readUInt32LE(o);
      const lo = buf.readUInt32LE(o + 4);
      const sentMs = buf.readDoubleLE(o + 8);
      const sentSub = buf.readUInt16LE(o + 16);
      const touched = buf.readUInt32LE(o + 18);
      o += HEAD;
      for (let f = 0; f < json.widths.length; f++) {
        refs[f] = json.widths[f] === 4 ? buf.readUInt32LE(o) : buf.readUInt16LE(o);
        o += json.widths[f];
      }
      RememberedAlerts.append(out, hi, lo, sentMs, sentSub, touched, refs);
    }
    out.reindex();
    return out;
  }

  /** @internal for the readers below. */
  static upgrade(legacy: LegacyAlerts): RememberedAlerts {
    const ids = Object.keys(legacy.alerts);
    const out = new RememberedAlerts(legacy.fields, ids.length + 16, legacy.since);
    for (const id of ids) {
      const entry = legacy.alerts[id];
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[2] !== 'number') continue;
      if (out.find(id) >= 0) continue;
      const r = out.addFound();
      const { ms, sub } = splitTime(entry[0]);
      const values = legacy.fields.map((_, f) => {
        const v = entry[3 + f];
        return v === undefined ? null : (v as AlertValue);
      });
      out.write(r, ms, sub, entry[1] === 1, entry[2], values);
    }
    return out;
  }
}

function fromJson(json: AlertsJson): RememberedAlerts {
  return RememberedAlerts.build(json);
}

function fromLegacy(legacy: LegacyAlerts): RememberedAlerts {
  return RememberedAlerts.upgrade(legacy);
}

/** Index slots for `n` records: a power of two at least twice as many. */
function slotsFor(n: number): number {
  let s = 32;
  while (s < n * 2) s *= 2;
  return s;
}
