import { invalidQuery } from '../errors';
import { fieldName, message, type Message } from '../messages';
import { describeValue } from '../pulling/query';
import { describeKind, isPlainObject } from '../realm';

/*
 * What an update node may change on one kind of Graph entity (an alert, an incident), validated before
 * anything is sent. Graph's enums are taken in any case and sent in Graph's own casing; Graph's sentinel
 * `unknownFutureValue` ("don't use") is not among them.
 */

/** A value of a change: text, a list (an incident's tags), or null (unassign). */
export type ChangeValue = string | string[] | null;

/**
 * A change set. A field that is absent or undefined is left as it is; `assignedTo: null` unassigns.
 * `comment` is added to the entity's comments (a separate Graph request).
 */
export type Changes = { [field: string]: ChangeValue | undefined };

/** The texts of one kind's errors, where they name the entity. */
export interface UpdateTexts {
  nothing(): Message;
  notNull(field: string): Message;
  /** An enum member Graph has that a client cannot set (an incident's redirected): kinds with `setByService`. */
  refused?(value: string): Message;
  /** A list field given as something else: kinds with `lists`. */
  badList?(value: string): Message;
  badId(from: Message | string, value: string): Message;
}

/** One kind of entity the update nodes change. */
export interface UpdateKind {
  /** Everything the update node can change, in the order the editor shows them; `comment` last. */
  fields: readonly string[];
  /** The enum-valued fields and the values a client may set, as Graph spells them. */
  enums: Readonly<Record<string, readonly string[]>>;
  /** Enum members of a field that Graph has but sets itself: refused with their own error. */
  setByService?: Readonly<Record<string, readonly string[]>>;
  /** The fields that are lists of texts. */
  lists: readonly string[];
  texts: UpdateTexts;
}

function member(values: readonly string[], text: string): string | undefined {
  const lower = text.toLowerCase();
  return values.find((v) => v.toLowerCase() === lower);
}

/** A list field: a list of texts, or texts separated by commas (a dialog's field); [] empties it, "" leaves it. */
function parseList(kind: UpdateKind, value: unknown): string[] | undefined {
  if (typeof value === 'string') {
    if (value.trim() === '') return undefined;
    return value.split(',').map((t) => t.trim()).filter((t) => t !== '');
  }
  if (!Array.isArray(value) || !value.every((t) => typeof t === 'string')) {
    throw invalidQuery(kind.texts.badList?.(describeValue(value)) ?? message('update.not-text', { field: 'list', value: describeValue(value) }));
  }
  return (value as string[]).map((t) => t.trim()).filter((t) => t !== '');
}

/**
 * One value of a change set: "" (or only spaces) and undefined mean "leave it as it is" and give undefined;
 * an enum value is matched in any case and answered in Graph's casing.
 */
export function parseChange(kind: UpdateKind, field: string, value: unknown): ChangeValue | undefined {
  if (value === undefined) return undefined;
  if (value === null) {
    if (field === 'assignedTo') return null;
    throw invalidQuery(kind.texts.notNull(field));
  }
  if (kind.lists.includes(field)) return parseList(kind, value);
  if (typeof value !== 'string') throw invalidQuery(message('update.not-text', { field: fieldName(field), value: describeValue(value) }));
  const text = value.trim();
  if (text === '') return undefined;
  const values = kind.enums[field];
  if (values) {
    const known = member(values, text);
    if (known !== undefined) return known;
    const own = kind.setByService?.[field] ?? [];
    const theirs = member(own, text);
    if (theirs !== undefined && kind.texts.refused) throw invalidQuery(kind.texts.refused(theirs));
    throw invalidQuery(message('update.bad-enum', { field: fieldName(field), valid: values.join(', '), value: describeValue(value) }));
  }
  // A comment is sent as written (its line breaks are the analyst's); an owner's name without stray spaces.
  return field === 'comment' ? value : text;
}

/**
 * The change set of `values` (keys as Graph names them). A field given as "" is present with the value
 * undefined, so that spread over another change set it keeps that field as it is.
 */
export function parseChanges(kind: UpdateKind, values: Readonly<Record<string, unknown>>): Changes {
  const changes: Changes = {};
  for (const field of kind.fields) {
    if (!(field in values) || values[field] === undefined) continue;
    changes[field] = parseChange(kind, field, values[field]);
  }
  return changes;
}

/** What a function node or a change node sends as `msg.update`: any plain object, its keys in any case. */
export function parseUpdate(kind: UpdateKind, update: unknown): Changes {
  if (!isPlainObject(update)) throw invalidQuery(message('update.not-object', { got: describeKind(update) }));
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(update)) {
    const field = kind.fields.find((f) => f.toLowerCase() === key.toLowerCase());
    if (!field) throw invalidQuery(message('update.unknown-key', { key, known: kind.fields.join(', ') }));
    values[field] = value;
  }
  return parseChanges(kind, values);
}

/** The change set without the fields it leaves as they are, refused when nothing is left. */
export function requiredChanges(kind: UpdateKind, changes: Changes): Changes {
  const out: Changes = {};
  for (const field of kind.fields) {
    if (changes[field] !== undefined) out[field] = changes[field];
  }
  if (Object.keys(out).length === 0) throw invalidQuery(kind.texts.nothing());
  return out;
}

/**
 * Graph's ids are letters, digits, "_", "-" and "." (alerts `da637551227677560813_-961444813`, GUIDs;
 * incidents `29135`). The id becomes a path segment, so anything that could change which URL is asked (a
 * slash, a query, a fragment, an encoded character, a dot-dot) is refused before a request is made.
 */
const ENTITY_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$/;

/** The id as it was given; `from` says where it was found, for the error. */
export function validateId(kind: UpdateKind, value: unknown, from: Message | string): string {
  if (typeof value !== 'string' || !ENTITY_ID.test(value) || value.includes('..')) throw invalidQuery(kind.texts.badId(from, describeValue(value)));
  return value;
}

/**
 * The first of `sources` (name, value) that is present, as a valid id: a present but bad one is refused
 * rather than passed over for the next.
 */
export function firstId(kind: UpdateKind, sources: ReadonlyArray<readonly [string, unknown]>, missing: Message): string {
  for (const [from, value] of sources) {
    if (value !== undefined && value !== null && value !== '') return validateId(kind, value, from);
  }
  throw invalidQuery(missing);
}
