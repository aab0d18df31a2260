/**
 * Error texts in the runtime's language: Node-RED's own i18n (the one the runtime uses, set to Japanese as
 * `lang: 'ja'` in settings.js or LANG=ja_JP would) reading the node set's catalogs, and the nodes'
 * translate function on top of it. The node-red-node-test-helper runtime cannot show this: its RED._
 * answers every key unchanged, so the node tests see English.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { NodeAPI } from 'node-red';
import { DefenderError } from '../../src/defender/errors';
import type { MessageId } from '../../src/defender/messages';
import { parseAlertValue } from '../../src/defender/writing/alert-update';
import { parseQuery } from '../../src/defender/pulling/query';
import { validateBaseUrl, validateClientId, validateTenantId } from '../../src/defender/services/regions';
import { statusError } from '../../src/defender/transport/response';
import { SIEM_API } from '../../src/defender/services/siem';
import { readPullRequest } from '../../src/nodes/input';
import { runtimeTranslate } from '../../src/nodes/language';
import { contextQuery } from '../../src/nodes/settings';
import { requireFromNodeRed } from '../fixtures/harness';
import { thrown } from '../fixtures/thrown';

interface I18n {
  init(settings: { lang: string }): Promise<void>;
  registerMessageCatalog(namespace: string, dir: string, file: string): Promise<void>;
  _(key: string, vars?: Record<string, unknown>): string;
}

const NAMESPACE = 'node-red-contrib-defender-detections/defender-detections';

describe('error texts in Japanese through Node-RED’s i18n', () => {
  let translate: ReturnType<typeof runtimeTranslate>;
  before(async () => {
    const { i18n } = requireFromNodeRed('@node-red/util') as { i18n: I18n };
    await i18n.init({ lang: 'ja' });
    // The build copies nodes/locales next to the node files, where Node-RED finds them.
    await i18n.registerMessageCatalog(NAMESPACE, path.join(__dirname, '..', '..', 'src', 'nodes', 'locales'), 'defender-detections.json');
    // What a node module's RED._ does: a key without a namespace belongs to the node set's own catalog.
    const RED = { _: (key: string, vars?: Record<string, unknown>) => i18n._(key.includes(':') ? key : `${NAMESPACE}:${key}`, vars) };
    translate = runtimeTranslate(RED as unknown as NodeAPI);
  });

  it('says a refused query parameter in Japanese, with the value given', () => {
    const error = thrown(() => parseQuery({ limit: 'abc' }));
    assert.equal(error.message, 'limit must be a positive integer, got "abc"');
    const ja = error.translated(translate);
    assert.equal(ja.message, 'limit には正の整数を指定してください (指定値: "abc")。');
    assert.equal(ja.code, 'INVALID_QUERY');
  });

  it('translates the parts of a nested text too (where a default came from)', () => {
    const error = thrown(() => contextQuery([{ from: { key: 'limit', scope: 'flow', name: 'max' }, value: 0 }]));
    assert.equal(error.message, 'limit from flow context "max": limit must be a positive integer, got 0');
    assert.equal(error.translated(translate).message, 'flow コンテキスト "max" から取得した limit: limit には正の整数を指定してください (指定値: 0)。');
  });

  it('names the kind of a wrong msg.query in the same language', () => {
    const error = thrown(() => readPullRequest({ query: ['limit', 5] }, {}, 1000));
    assert.equal(error.message, 'msg.query must be an object of query parameters such as {"limit": 20}, got an array');
    assert.equal(error.translated(translate).message, 'msg.query には、{"limit": 20} のようなクエリ パラメーターのオブジェクトを指定してください (指定値: 配列)。');
  });

  it('keeps the stack of where the error arose', () => {
    const error = thrown(() => parseQuery({ ago: 'soon' }));
    const ja = error.translated(translate);
    assert.equal(ja.stack?.split('\n')[0], `DefenderError: ${ja.message}`);
    assert.equal(ja.stack?.split('\n').slice(1).join('\n'), error.stack?.split('\n').slice(1).join('\n'));
    assert.match(ja.stack ?? '', /parseDuration/);
  });

  it('keeps the service’s own words and the status as they were, even when they look like placeholders', () => {
    const body = Buffer.from(JSON.stringify({ error: { message: 'quota __value__ reached $& $1' } }));
    const error = statusError({ status: 429, headers: { 'retry-after': '30' }, body }, SIEM_API);
    const ja = error.translated(translate);
    assert.equal(ja.message, '検出 API が HTTP 429 を返しました: 要求が多すぎます (Retry-After 30 秒) — サービスからのメッセージ: quota __value__ reached $& $1');
    assert.deepEqual([ja.code, ja.statusCode, ja.retryable, ja.retryAfterMs], ['HTTP_429', 429, true, 30_000]);
  });

  it('answers nothing for a text the catalog lacks, so the English stands', () => {
    assert.equal(translate('no.such-text' as MessageId, {}), undefined);
    assert.equal(translate('query.bad-limit', { value: '"x"' }), 'limit には正の整数を指定してください (指定値: "x")。');
  });

  it('leaves an error without an id as it is', () => {
    const error = new DefenderError('INVALID_CONFIG', 'said only in English');
    assert.equal(error.translated(translate), error);
  });

  it('says an update node\'s refused value in Japanese, listing the valid ones', () => {
    const error = thrown(() => parseAlertValue('status', 'closed'));
    assert.equal(error.translated(translate).message, '状態 (status) には new, inProgress, resolved のいずれか (大文字と小文字は区別しません) を指定してください (指定値: "closed")。');
  });

  it('names a setting as the dialog shows it, with its property after it, and keeps the property alone in English', () => {
    const cases: Array<[() => unknown, string, string]> = [
      [() => validateTenantId(''), 'tenantId is missing', 'テナント ID (tenantId) がありません。'],
      [() => validateBaseUrl('authorityUrl', ''), 'authorityUrl is missing', '機関 URL (authorityUrl) がありません。'],
      [() => validateClientId('managedIdentityClientId', 'a b'), 'managedIdentityClientId must not contain', 'マネージド ID のクライアント ID (managedIdentityClientId) には'],
      [() => parseAlertValue('determination', 'evil'), 'determination must be one of', '判定 (determination) には'],
    ];
    for (const [fails, english, japanese] of cases) {
      const error = thrown(fails);
      assert.ok(error.message.startsWith(english), error.message);
      assert.ok(error.translated(translate).message.startsWith(japanese), error.translated(translate).message);
    }
  });
});
