import type { DefenderError } from '../errors';
import { notADetectionsArray } from '../transport/response';
import { Message, message, MessageValue } from '../messages';

/** What the error message says about the answer whose body is split. */
export interface JsonArrayAnswer {
  status: number;
  contentType?: string;
  /** Texts that must never appear in an error excerpt. */
  secrets?: readonly string[];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const BOM = [0xef, 0xbb, 0xbf];

/** Bytes of the beginning of the body kept for the excerpt of an error message. */
const HEAD_BYTES = 400;
/** A body that is not an array is kept up to this size, to tell "JSON but not an array" from "not JSON". */
const NOT_ARRAY_BYTES = 64 * 1024;

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The first byte of a number, true, false or null. */
function startsScalar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x74 || c === 0x66 || c === 0x6e;
}

/**
 * Whether the bytes may end inside a UTF-8 character, so that they cannot be decoded apart from what
 * follows. Only an ASCII byte, or a lead byte whose whole sequence is there, counts as a clean end.
 */
function endsInsideCharacter(bytes: Buffer): boolean {
  const n = bytes.length;
  for (let back = 1; back <= 4 && back <= n; back++) {
    const b = bytes[n - back];
    if (b < 0x80) return back > 1;
    if (b >= 0xc0) {
      const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return b > 0xf4 || length !== back;
    }
  }
  return true;
}

function shown(c: number): MessageValue {
  return c >= 0x20 && c < 0x7f ? `"${String.fromCharCode(c)}"` : message('failure.byte', { hex: c.toString(16).padStart(2, '0') });
}

type Phase = 'start' | 'array' | 'done' | 'not-array' | 'failed';
type Expect = 'first' | 'value' | 'separator';

const NOTHING: readonly never[] = Object.freeze([]);

/**
 * Splits a top-level JSON array that arrives in pieces (an HTTP body) into its elements, each parsed by
 * JSON.parse, so a 200 MB answer is never held whole: only the element still arriving is kept.
 *
 * Finding where an element ends means following strings and nesting, which costs a third to a half of what
 * JSON.parse costs when done byte by byte in JavaScript. So each piece is first guessed: everything from the
 * start of the current element up to the piece's last "}" is handed to JSON.parse as `[…]`. JSON.parse
 * accepts that text only if it is whole elements (a cut inside a string or an object leaves it unbalanced),
 * so a success is exact. A "}" inside a string makes the guess fail; that piece, and the element the guess
 * stumbled on, are then scanned exactly (skipping through strings with indexOf), which also finds where a
 * malformed body goes wrong. At most one guess fails per piece and per element, so a body costs at most one
 * extra parse in the worst case and no scan in the usual one.
 *
 * A body that is not one JSON array (an HTML page, an object, a cut-short answer) ends in the same
 * BAD_RESPONSE as before the body was streamed: status, content type, size and the first characters.
 */
export class JsonArraySplitter<T = unknown> {
  private phase: Phase = 'start';
  private failure: Message = message('failure.not-json');
  private size = 0;
  private head: Buffer = Buffer.alloc(0);
  private bomSeen = 0;
  /** A body that is not an array, from its first significant byte, up to NOT_ARRAY_BYTES. */
  private notArray: Buffer[] = [];
  private notArrayBytes = 0;

  private expect: Expect = 'first';
  /** An element has begun and not ended. */
  private inValue = false;
  /** Its bytes from earlier pieces; its bytes in the current piece start at valueStart. */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private valueStart = 0;
  /** Body offset of the element's first byte, for error messages. */
  private valueOffset = 0;
  /** Exact-scan state of the element: nesting depth, inside a string, an escape cut by the piece's end. */
  private depth = 0;
  private inString = false;
  private escapeNext = false;
  /** A number, true, false or null at the top level: it ends at a delimiter. */
  private scalar = false;
  /** A guess failed on this element: it is scanned exactly until it ends. */
  private guessFailed = false;
  /** Next backslash in the current piece at or after the scan position (indexOf cache); -1: not looked up. */
  private backslash = -1;

  constructor(private readonly answer: JsonArrayAnswer) {}

  /** Bytes taken so far. */
  get bytes(): number {
    return this.size;
  }

  /** Bytes held for the element still arriving (at most one element, plus nothing else). */
  get buffered(): number {
    return this.partsBytes + this.notArrayBytes;
  }

  /** Takes the next piece of the body; returns the elements it completed, in order. */
  write(chunk: Buffer): readonly T[] {
    const n = chunk.length;
    if (n === 0) return NOTHING;
    const offset = this.size;
    this.size += n;
    if (this.head.length < HEAD_BYTES) this.head = Buffer.concat([this.head, chunk.subarray(0, HEAD_BYTES - this.head.length)]);
    switch (this.phase) {
      case 'array':
        return this.split(chunk, 0, offset);
      case 'start': {
        const from = this.findArray(chunk, offset);
        return from < 0 ? NOTHING : this.split(chunk, from, offset);
      }
      case 'done':
        this.trailing(chunk, 0, offset);
        return NOTHING;
      case 'not-array':
        this.keepNotArray(chunk, 0);
        return NOTHING;
      default:
        return NOTHING;
    }
  }

  /** The body has ended: throws the BAD_RESPONSE unless it was exactly one JSON array. */
  end(): void {
    switch (this.phase) {
      case 'done':
        return;
      case 'failed':
        throw this.error(this.failure);
      case 'start':
        throw this.error(message(this.size === 0 ? 'failure.empty' : 'failure.blank'));
      case 'array':
        throw this.error(message('failure.cut-short'));
      case 'not-array': {
        const complete = this.notArrayBytes <= NOT_ARRAY_BYTES;
        let json = false;
        if (complete) {
          try {
            JSON.parse(Buffer.concat(this.notArray).toString('utf8'));
            json = true;
          } catch {
            // not JSON at all
          }
        }
        throw this.error(message(json ? 'failure.not-array' : complete ? 'failure.not-json' : 'failure.not-json-array'));
      }
    }
  }

  private error(failure: Message): DefenderError {
    return notADetectionsArray(
      { status: this.answer.status, contentType: this.answer.contentType, size: this.size, head: this.head },
      failure,
      this.answer.secrets,
    );
  }

  private fail(failure: Message): readonly never[] {
    this.phase = 'failed';
    this.failure = failure;
    this.parts = [];
    this.partsBytes = 0;
    this.notArray = [];
    this.notArrayBytes = 0;
    return NOTHING;
  }

  /** Skips a byte order mark and whitespace up to "["; returns the index after it, or -1 while there is none. */
  private findArray(chunk: Buffer, offset: number): number {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      const at = offset + i;
      if (at < BOM.length && at === this.bomSeen && c === BOM[at]) {
        this.bomSeen++;
        continue;
      }
      const partialBom = this.bomSeen > 0 && this.bomSeen < BOM.length;
      if (!partialBom && isWhitespace(c)) continue;
      if (!partialBom && c === OPEN_BRACKET) {
        this.phase = 'array';
        return i + 1;
      }
      this.phase = 'not-array';
      this.keepNotArray(chunk, i);
      return -1;
    }
    return -1;
  }

  private keepNotArray(chunk: Buffer, from: number): void {
    // One byte over the limit is kept, so that end() can tell a body of exactly the limit from a longer one.
    if (this.notArrayBytes > NOT_ARRAY_BYTES) return;
    const piece = chunk.subarray(from, from + NOT_ARRAY_BYTES - this.notArrayBytes + 1);
    this.notArray.push(Buffer.from(piece));
    this.notArrayBytes += piece.length;
  }

  /** After the closing "]" only whitespace may follow. */
  private trailing(chunk: Buffer, from: number, offset: number): void {
    for (let i = from; i < chunk.length; i++) {
      if (!isWhitespace(chunk[i])) {
        this.fail(message('failure.after-end', { char: shown(chunk[i]), at: offset + i }));
        return;
      }
    }
  }

  private split(chunk: Buffer, from: number, offset: number): readonly T[] {
    const n = chunk.length;
    let out: T[] | undefined;
    const emit = (values: T[]): void => {
      if (!out) out = values;
      else for (const v of values) out.push(v);
    };
    let i = from;
    let lastBrace = -2;
    let guessedWrong = false;
    this.backslash = -1;
    if (this.inValue) {
      this.valueStart = 0;
      // An element begun in an earlier piece: one parse may finish it and every element after it.
      if (!this.guessFailed) {
        lastBrace = chunk.lastIndexOf(CLOSE_BRACE);
        if (lastBrace >= 0) {
          const guessed = this.guess(this.valueText(chunk, lastBrace + 1));
          if (guessed) {
            emit(guessed);
            this.endValue();
            i = lastBrace + 1;
          } else {
            this.guessFailed = true;
            guessedWrong = true;
          }
        }
      }
    }
    while (i < n) {
      if (this.inValue) {
        const end = this.scanValue(chunk, i);
        if (this.inValue) break;
        const text = this.partsBytes === 0 ? chunk.toString('utf8', this.valueStart, end) : this.valueText(chunk, end);
        const at = this.valueOffset;
        this.endValue();
        try {
          emit([JSON.parse(text) as T]);
        } catch {
          return this.fail(message('failure.bad-element', { at }));
        }
        i = end;
        continue;
      }
      const c = chunk[i];
      if (isWhitespace(c)) {
        i++;
        continue;
      }
      if (this.expect === 'separator') {
        if (c === COMMA) {
          this.expect = 'value';
          i++;
          continue;
        }
        if (c === CLOSE_BRACKET) {
          this.phase = 'done';
          this.trailing(chunk, i + 1, offset);
          return this.phase === 'done' ? out ?? NOTHING : NOTHING;
        }
        return this.fail(message('failure.no-separator', { char: shown(c), at: offset + i }));
      }
      if (c === CLOSE_BRACKET) {
        if (this.expect === 'value') return this.fail(message('failure.trailing-comma', { at: offset + i }));
        this.phase = 'done';
        this.trailing(chunk, i + 1, offset);
        return this.phase === 'done' ? out ?? NOTHING : NOTHING;
      }
      if (!guessedWrong) {
        if (lastBrace === -2) lastBrace = chunk.lastIndexOf(CLOSE_BRACE);
        if (lastBrace > i) {
          const guessed = this.guess(chunk.toString('utf8', i, lastBrace + 1));
          if (guessed) {
            emit(guessed);
            this.expect = 'separator';
            i = lastBrace + 1;
            continue;
          }
          guessedWrong = true;
          this.guessFailed = true;
        }
      }
      if (!this.beginValue(c, i, offset)) {
        return this.fail(message('failure.no-element', { char: shown(c), at: offset + i }));
      }
      i++;
    }
    if (this.inValue) {
      const rest = Buffer.from(chunk.subarray(this.valueStart));
      this.parts.push(rest);
      this.partsBytes += rest.length;
    }
    return out ?? NOTHING;
  }

  /**
   * Whole elements from a top-level position, or undefined. JSON.parse accepts `[text]` only when the text
   * is complete elements separated by commas: a text cut inside a string or a nested value does not parse.
   */
  private guess(text: string): T[] | undefined {
    try {
      return JSON.parse(`[${text}]`) as T[];
    } catch {
      return undefined;
    }
  }

  /**
   * The text of the element in progress, its earlier pieces then the current one up to `end`. Pieces are
   * decoded one by one when none ends inside a multi-byte character, which spares copying them together.
   */
  private valueText(chunk: Buffer, end: number): string {
    if (this.parts.some(endsInsideCharacter)) return Buffer.concat([...this.parts, chunk.subarray(0, end)]).toString('utf8');
    let text = '';
    for (const part of this.parts) text += part.toString('utf8');
    return text + chunk.toString('utf8', 0, end);
  }

  private beginValue(c: number, at: number, offset: number): boolean {
    this.depth = 0;
    this.inString = false;
    this.escapeNext = false;
    this.scalar = false;
    if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth = 1;
    else if (c === QUOTE) this.inString = true;
    else if (startsScalar(c)) this.scalar = true;
    else return false;
    this.inValue = true;
    this.valueStart = at;
    this.valueOffset = offset + at;
    return true;
  }

  private endValue(): void {
    this.inValue = false;
    this.parts = [];
    this.partsBytes = 0;
    this.guessFailed = false;
    this.escapeNext = false;
    this.expect = 'separator';
  }

  /** Follows the element from i; returns the index just past its end (inValue turns false), or the piece's length. */
  private scanValue(chunk: Buffer, i: number): number {
    const n = chunk.length;
    if (this.escapeNext) {
      this.escapeNext = false;
      i++;
    }
    if (this.scalar) {
      for (; i < n; i++) {
        const c = chunk[i];
        if (c === COMMA || c === CLOSE_BRACKET || isWhitespace(c)) {
          this.inValue = false;
          return i;
        }
      }
      return n;
    }
    while (i < n) {
      if (this.inString) {
        i = this.skipString(chunk, i);
        if (this.inString) return n;
        if (this.depth === 0) {
          this.inValue = false;
          return i;
        }
        continue;
      }
      const c = chunk[i++];
      if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        // Mismatched brackets ("{]") close too; JSON.parse of the element then refuses them.
        if (--this.depth === 0) {
          this.inValue = false;
          return i;
        }
      }
    }
    return n;
  }

  /** Inside a string at i: jumps to its closing quote with indexOf; returns the index after it, or n. */
  private skipString(chunk: Buffer, i: number): number {
    const n = chunk.length;
    for (;;) {
      const quote = chunk.indexOf(QUOTE, i);
      if (this.backslash < i) {
        const b = chunk.indexOf(BACKSLASH, i);
        this.backslash = b < 0 ? n : b;
      }
      const stop = quote < 0 ? n : quote;
      if (this.backslash < stop) {
        // The escaped character, a quote perhaps, cannot end the string.
        i = this.backslash + 2;
        if (i > n) {
          this.escapeNext = true;
          return n;
        }
        continue;
      }
      if (quote < 0) return n;
      this.inString = false;
      return quote + 1;
    }
  }
}
