import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Detection } from '../../../src/defender/services/detection';
import { DefenderError } from '../../../src/defender/errors';
import { HttpTransport } from '../../../src/defender/transport/http';
import { JsonArrayAnswer, JsonArraySplitter } from '../../../src/defender/services/json-array';
import { resolveConnection } from '../../../src/defender/services/regions';
import { SiemClient } from '../../../src/defender/services/siem';
import { TokenProvider } from '../../../src/defender/sign-in/token';
import { drained, JSON_TYPE } from '../../../src/emulator/http';
import { SeededRandom } from '../../../src/emulator/random';


/** Feeds the pieces to a splitter; returns every element and the elements each piece completed. */
function split(pieces: Buffer[], answer: JsonArrayAnswer = { status: 200, contentType: JSON_TYPE }): { values: unknown[]; perPiece: unknown[][] } {
  const splitter = new JsonArraySplitter(answer);
  const perPiece = pieces.map((p) => [...splitter.write(p)]);
  splitter.end();
  return { values: perPiece.flat(), perPiece };
}

function splitError(pieces: Buffer[], answer: JsonArrayAnswer = { status: 200, contentType: JSON_TYPE }): DefenderError {
  try {
    split(pieces, answer);
  } catch (err) {
    assert.ok(err instanceof DefenderError, `expected a DefenderError, got ${String(err)}`);
    return err;
  }
  assert.fail('the body was accepted');
}

function cutAt(body: Buffer, ...offsets: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const at of offsets) {
    pieces.push(body.subarray(from, at));
    from = at;
  }
  pieces.push(body.subarray(from));
  return pieces;
}

function inPiecesOf(body: Buffer, size: number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) pieces.push(body.subarray(i, i + size));
  return pieces;
}

// Escapes, quotes and brackets inside strings (a "}" in a string is what misleads a guess), multi-byte
// UTF-8 of 2, 3 and 4 bytes, nesting, scalars at the top level and whitespace everywhere.
const SAMPLE = Buffer.from(
  ' \r\n[ {"AlertId":"da1","FilePath":"C:\\\\Program Files\\\\","CommandLine":"echo \\"},{\\" \\\\\\" ]","n":-1.5e3},\n' +
    '\t{"Title":"Détection 検出 😀","u":"\\u00e9\\ud83d\\ude00","nested":{"a":[1,{"b":"}"}],"c":{}},"ok":true,"no":null} ,' +
    '"a top-level string with \\\\ and }",42,true,false,null,[],{},[[1,2],["]"]] ,\n{"last":"x\\\\"} ]\n ',
);

describe('JsonArraySplitter', () => {
  it('yields the same elements as JSON.parse when the sample is cut in two at every byte offset', () => {
    const expected = JSON.parse(SAMPLE.toString('utf8')) as unknown[];
    for (let at = 0; at <= SAMPLE.length; at++) {
      assert.deepEqual(split(cutAt(SAMPLE, at)).values, expected, `cut at byte ${at}`);
    }
  });

  it('yields the same elements when the sample is cut in three at every pair of offsets', () => {
    const expected = JSON.parse(SAMPLE.toString('utf8')) as unknown[];
    for (let a = 1; a < SAMPLE.length; a += 3) {
      for (let b = a; b < SAMPLE.length; b += 2) {
        assert.deepEqual(split(cutAt(SAMPLE, a, b)).values, expected, `cut at bytes ${a} and ${b}`);
      }
    }
  });

  it('yields the same elements when the body arrives one byte at a time', () => {
    assert.deepEqual(split(inPiecesOf(SAMPLE, 1)).values, JSON.parse(SAMPLE.toString('utf8')));
  });

  it('keeps a multi-byte character whole when a piece ends inside it', () => {
    const body = Buffer.from('[{"t":"é検😀"}]');
    const fourByte = body.indexOf(Buffer.from('😀'));
    for (let at = fourByte; at <= fourByte + 4; at++) {
      assert.deepEqual(split(cutAt(body, at)).values, [{ t: 'é検😀' }]);
    }
  });

  it('follows escaped quotes and backslashes, also when a piece ends right after a backslash', () => {
    const body = Buffer.from('["\\\\","\\"","\\\\\\"}]","a\\\\\\\\"]');
    const expected = ['\\', '"', '\\"}]', 'a\\\\'];
    for (let at = 0; at <= body.length; at++) assert.deepEqual(split(cutAt(body, at)).values, expected, `cut at byte ${at}`);
  });

  it('yields each element as soon as the piece that completes it arrives', () => {
    const body = Buffer.from('[{"a":1},{"b":"}"},{"c":3}]');
    const { perPiece } = split(cutAt(body, 5, 10, 16, 21));
    assert.deepEqual(perPiece, [[], [{ a: 1 }], [], [{ b: '}' }], [{ c: 3 }]]);
  });

  it('keeps only the element still arriving, not the elements already yielded', () => {
    const element = JSON.stringify({ AlertId: 'x'.repeat(1000), Path: 'C:\\dir\\}' });
    const body = Buffer.from(`[${Array.from({ length: 200 }, () => element).join(',')}]`);
    const splitter = new JsonArraySplitter({ status: 200 });
    let yielded = 0;
    for (const piece of inPiecesOf(body, 777)) {
      yielded += splitter.write(piece).length;
      assert.ok(splitter.buffered <= Buffer.byteLength(element), `holds ${splitter.buffered} bytes`);
    }
    splitter.end();
    assert.equal(yielded, 200);
  });

  it('reads generated detections in pieces of any size exactly as JSON.parse reads the whole', () => {
    const random = new SeededRandom(11);
    const detections = Array.from({ length: 300 }, (_, i) => ({
      AlertId: `da${i}`,
      CommandLine: random.chance(0.3) ? `powershell -c "& {Get-Item C:\\\\x}" ${'}'.repeat(random.int(0, 3))}` : '',
      Title: random.chance(0.2) ? 'Détection «suspecte» 検出' : 'Suspicious activity',
      RemediationIsSuccess: random.chance(0.5) ? null : true,
      AlertPart: random.int(0, 9),
    }));
    const body = Buffer.from(JSON.stringify(detections, null, random.chance(0.5) ? 2 : 0));
    for (const size of [1, 7, 100, 1000, 4096, 65536, body.length]) {
      assert.deepEqual(split(inPiecesOf(body, size)).values, detections, `pieces of ${size} bytes`);
    }
  });

  it('agrees with JSON.parse on random JSON arrays cut at random places', () => {
    const random = new SeededRandom(5);
    const strings = ['', 'plain', 'q"uote', 'back\\slash', '}', '},{', ']', '[{', 'é', '検出', '😀', '\u2028', 'tab\t', '\\"'];
    const value = (depth: number): unknown => {
      const kind = random.int(0, depth > 3 ? 3 : 5);
      if (kind === 0) return strings[random.int(0, strings.length - 1)] + strings[random.int(0, strings.length - 1)];
      if (kind === 1) return random.int(-1000, 1000) / (random.chance(0.5) ? 1 : 8);
      if (kind === 2) return [true, false, null][random.int(0, 2)];
      if (kind === 3) return random.int(0, 9);
      if (kind === 4) return Array.from({ length: random.int(0, 4) }, () => value(depth + 1));
      const o: Record<string, unknown> = {};
      for (let k = random.int(0, 4); k > 0; k--) o[strings[random.int(0, strings.length - 1)] + k] = value(depth + 1);
      return o;
    };
    for (let round = 0; round < 400; round++) {
      const array = Array.from({ length: random.int(0, 12) }, () => value(0));
      const body = Buffer.from(JSON.stringify(array, null, random.chance(0.3) ? 1 : 0));
      const cuts = Array.from({ length: random.int(0, 6) }, () => random.int(0, body.length)).sort((a, b) => a - b);
      assert.deepEqual(split(cutAt(body, ...cuts)).values, array, `round ${round}: ${body.toString()} cut at ${cuts.join(',')}`);
    }
  });

  it('accepts an empty array, surrounding whitespace and a byte order mark', () => {
    assert.deepEqual(split([Buffer.from('[]')]).values, []);
    assert.deepEqual(split([Buffer.from(' \n[ \t]\r\n')]).values, []);
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[{"a":1}]')]);
    for (let at = 0; at <= 4; at++) assert.deepEqual(split(cutAt(withBom, at)).values, [{ a: 1 }]);
  });

  describe('refuses a body that is not one JSON array with BAD_RESPONSE', () => {
    const page = '<!DOCTYPE html>\n<html><head><title>Sign in to continue</title></head><body>Sign in</body></html>';
    const cases: Array<[string, string, string, RegExp]> = [
      ['an HTML page', page, 'text/html; charset=utf-8', /with a body that is not JSON;/],
      ['a JSON object', '{"error":{"code":"BadRequest","message":"no"}}', JSON_TYPE, /with a body that is JSON but not an array;/],
      ['an empty body', '', JSON_TYPE, /with a body that is empty;/],
      ['an array without its closing "]"', '[{"a":1},{"b":2}', JSON_TYPE, /is cut short: it ends before the array is closed/],
      ['an array cut inside an element', '[{"a":1},{"b":"tw', JSON_TYPE, /is cut short: it ends before the array is closed/],
      ['an array cut after a comma', '[{"a":1},', JSON_TYPE, /is cut short/],
      ['a malformed element', '[{"a":1},{"b":}]', JSON_TYPE, /is not JSON: the element that starts at byte 9 is malformed/],
      ['elements without a comma between', '[{"a":1} {"b":2}]', JSON_TYPE, /is not JSON: "\{" at byte 9 where "," or "\]" should follow/],
      ['a trailing comma', '[{"a":1},]', JSON_TYPE, /a "," comes just before the closing "\]"/],
      ['data after the array', '[{"a":1}] <html>', JSON_TYPE, /"<" follows the closing "\]" of the array at byte 10/],
      ['a bare word', '[{"a":1},nope]', JSON_TYPE, /the element that starts at byte 9 is malformed/],
    ];
    for (const [name, text, contentType, failure] of cases) {
      it(`${name}, however the body is cut`, () => {
        const body = Buffer.from(text);
        for (let at = 0; at <= body.length; at++) {
          const err = splitError(cutAt(body, at), { status: 200, contentType });
          assert.equal(err.code, 'BAD_RESPONSE');
          assert.equal(err.statusCode, 200);
          assert.equal(err.retryable, false);
          assert.match(err.message, failure, `cut at byte ${at}`);
          assert.ok(
            err.message.startsWith(`the detections API answered HTTP 200 (${contentType}, ${body.length} bytes) with a body that `),
            err.message,
          );
        }
      });
    }

    it('quotes the beginning of the body on one line, and never a secret', () => {
      const err = splitError([Buffer.from(page.replace('Sign in</body>', 'token s3cr3t</body>'))], {
        status: 200,
        contentType: 'text/html',
        secrets: ['s3cr3t'],
      });
      assert.match(err.message, /It began: "<!DOCTYPE html> <html><head><title>Sign in to continue<\/title>/);
      assert.ok(!err.message.includes('s3cr3t'));
    });

    it('says "not a JSON array" for a long body that is not one, holding only its beginning', () => {
      const splitter = new JsonArraySplitter({ status: 200, contentType: 'text/plain' });
      for (let i = 0; i < 100; i++) splitter.write(Buffer.alloc(10_000, 'x'));
      assert.ok(splitter.buffered <= 64 * 1024 + 1);
      assert.throws(() => splitter.end(), /\(text\/plain, 1000000 bytes\) with a body that is not a JSON array/);
    });
  });
});

// ---- the detections response, read as it streams ------------------------------------------------------

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

describe('SiemClient reads detections as the answer streams', () => {
  let server: Server;
  let url: string;
  let handler: Handler = (_req, res) => res.end('[]');
  const transport = new HttpTransport();
  const tokens = new TokenProvider(async () => ({ value: 'test-token', expiresAt: Date.now() + 3_600_000 }));
  const client = (options: { timeoutMs?: number; maxResponseBytes?: number } = {}): SiemClient =>
    new SiemClient(
      transport,
      resolveConnection({ tenantId: 'contoso.onmicrosoft.com', clientId: 'app', region: 'custom', apiBaseUrl: url, authorityUrl: url }),
      tokens,
      {
        timeoutMs: options.timeoutMs ?? 5000,
        maxResponseBytes: options.maxResponseBytes ?? 1024 * 1024,
        retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1 },
      },
    );
  const detections = (count: number): Detection[] =>
    Array.from({ length: count }, (_, i) => ({ AlertId: `da${i}`, FullId: `da${i}:x`, LastProcessedTimeUtc: `2024-05-01T10:00:${String(i % 60).padStart(2, '0')}.1234567Z`, Title: 'Détection }' }));
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  before(async () => {
    server = createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    transport.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('returns every detection of a chunked answer that arrives in uneven pieces', async () => {
    const expected = detections(500);
    const body = Buffer.from(JSON.stringify(expected));
    handler = async (_req, res) => {
      res.writeHead(200, { 'Content-Type': JSON_TYPE });
      for (let i = 0, size = 1; i < body.length; i += size, size = (size * 7 + 3) % 5000 + 1) {
        res.write(body.subarray(i, i + size));
        if (i % 3 === 0) await sleep(0);
      }
      res.end();
    };
    assert.deepEqual(await client().fetchPage(new URLSearchParams()), expected);
  });

  it('refuses a chunked answer that outgrows maxResponseBytes while it streams (TOO_LARGE)', async () => {
    let sent = 0;
    handler = async (_req, res) => {
      res.writeHead(200, { 'Content-Type': JSON_TYPE });
      res.write('[');
      const element = JSON.stringify(detections(1)[0]);
      while (!res.destroyed && sent < 50 * 1024 * 1024) {
        const ok = res.write(`${element},`);
        sent += element.length + 1;
        if (!ok) await drained(res);
      }
      res.end();
    };
    await assert.rejects(client({ maxResponseBytes: 256 * 1024 }).fetchPage(new URLSearchParams()), (err: DefenderError) => {
      assert.equal(err.code, 'TOO_LARGE');
      return true;
    });
    assert.ok(sent < 10 * 1024 * 1024, `the server could send ${sent} bytes before the client hung up`);
  });

  it('times out when the body stalls halfway (TIMEOUT), the timeout covering the whole body', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': JSON_TYPE });
      res.write('[{"AlertId":"da1"},{"AlertId":');
    };
    await assert.rejects(client({ timeoutMs: 300 }).fetchPage(new URLSearchParams()), (err: DefenderError) => {
      assert.equal(err.code, 'TIMEOUT');
      assert.equal(err.retryable, true);
      return true;
    });
  });

  it('reports a body that ends early as BAD_RESPONSE with its status, content type, size and beginning', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': JSON_TYPE });
      res.end('[{"AlertId":"da1"},{"AlertId":"da');
    };
    await assert.rejects(client().fetchPage(new URLSearchParams()), (err: DefenderError) => {
      assert.equal(err.code, 'BAD_RESPONSE');
      assert.match(err.message, /HTTP 200 \(application\/json; charset=utf-8, 33 bytes\) with a body that is cut short.*It began: "\[\{"AlertId":"da1"\}/);
      return true;
    });
  });

  it('still reads an error answer whole, for the service\'s own words', async () => {
    handler = (_req, res) => {
      res.writeHead(403, { 'Content-Type': JSON_TYPE });
      res.end(JSON.stringify({ error: { code: 'Forbidden', message: 'tenant state is deleted' } }));
    };
    await assert.rejects(client().fetchPage(new URLSearchParams()), (err: DefenderError) => {
      assert.equal(err.code, 'HTTP_403');
      assert.match(err.message, /the service said: tenant state is deleted/);
      return true;
    });
  });
});
