import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Node } from 'node-red';
import { PullStatus, UpdateStatus } from '../../src/nodes/status';

/** A node that only keeps its last status, and a catalog with some keys, as Node-RED's i18n answers. */
type Translate = (key: string, vars?: Record<string, string | number>) => string;

function rig(catalog: Record<string, string>): { status: PullStatus; shown: Array<Record<string, unknown>> };
function rig<S>(catalog: Record<string, string>, make: (node: Node, translate: Translate) => S): { status: S; shown: Array<Record<string, unknown>> };
function rig(catalog: Record<string, string>, make: (node: Node, translate: Translate) => unknown = (node, translate) => new PullStatus(node, translate)) {
  const shown: Array<Record<string, unknown>> = [];
  const node = { status: (s: Record<string, unknown>) => shown.push(s) } as unknown as Node;
  const translate = (key: string, vars?: Record<string, string | number>): string =>
    key in catalog ? catalog[key].replace(/__(\w+)__/g, (_, name: string) => String(vars?.[name] ?? '')) : key;
  return { status: make(node, translate), shown };
}

describe('PullStatus', () => {
  it('shows the failure reason in the runtime’s language, by error code', () => {
    const { status, shown } = rig({
      'defender-detections.status.failed.HTTP_403': 'HTTP 403: このテナントへのアクセスが許可されていません',
      'defender-detections.status.failed.HTTP_5xx': 'HTTP __status__: サービスのエラー',
    });
    status.failed('HTTP_403', 'detections API answered HTTP 403: unauthorized …', 403);
    assert.deepEqual(shown.at(-1), { fill: 'red', shape: 'ring', text: 'HTTP 403: このテナントへのアクセスが許可されていません' });
    status.failed('HTTP_503', 'detections API answered HTTP 503: service error', 503);
    assert.equal(shown.at(-1)?.text, 'HTTP 503: サービスのエラー');
  });

  it('falls back to the English message, shortened, where the catalog has no entry', () => {
    const { status, shown } = rig({});
    status.failed('INVALID_QUERY', 'limit must be a positive integer, got "abc"; and a much longer tail that goes on and on');
    assert.equal(shown.at(-1)?.text, 'limit must be a positive integer, got "abc"; and a much lon…');
    status.done({ new: 3, updates: 0 }, new Date(2020, 0, 1, 9, 5, 7));
    assert.deepEqual(shown.at(-1), { fill: 'green', shape: 'dot', text: '3 new at 09:05:07' });
    status.done({ new: 3, updates: 2 }, new Date(2020, 0, 1, 9, 5, 7));
    assert.deepEqual(shown.at(-1), { fill: 'green', shape: 'dot', text: '3 new, 2 updated at 09:05:07' });
  });
});

/** A node set's catalog as Node-RED's i18n reads it, flattened to "a.b.c" keys. */
function catalogOf(file: string, lang: string): Record<string, string> {
  const flat: Record<string, string> = {};
  const walk = (o: unknown, prefix: string): void => {
    if (typeof o === 'string') flat[prefix.slice(0, -1)] = o;
    else for (const [k, v] of Object.entries(o as object)) walk(v, `${prefix}${k}.`);
  };
  walk(JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'nodes', 'locales', lang, file), 'utf8')), '');
  return flat;
}

describe('PullStatus in each language', () => {
  it('groups the digits of a count as the language writes them: 12 400 in English, 12,400 in Japanese', () => {
    const at = new Date(2020, 0, 1, 9, 5, 7);
    const en = rig(catalogOf('defender-detections.json', 'en-US'));
    en.status.progress(12400);
    assert.equal(en.shown.at(-1)?.text, '12 400 sent…');
    const ja = rig(catalogOf('defender-detections.json', 'ja'));
    ja.status.progress(12400);
    assert.equal(ja.shown.at(-1)?.text, '12,400 件送信済み…');
    ja.status.done({ new: 1234, updates: 5678 }, at);
    assert.equal(ja.shown.at(-1)?.text, '新規 1,234 件、更新 5,678 件 (09:05:07)');
    ja.status.done({ new: 999, updates: 0 }, at);
    assert.equal(ja.shown.at(-1)?.text, '新規 999 件 (09:05:07)');
  });
});

describe('PullStatus of the incidents node', () => {
  it('reads the incidents node\'s own catalog: its 403 names the permission incidents need', () => {
    const en = rig(catalogOf('defender-incidents.json', 'en-US'), (node, translate) => new PullStatus(node, translate, 'defender-incidents'));
    en.status.failed('HTTP_403', 'Microsoft Graph answered HTTP 403: forbidden …', 403);
    assert.equal(en.shown.at(-1)?.text, 'HTTP 403: needs SecurityIncident.Read.All');
    en.status.done({ new: 2, updates: 1 }, new Date(2020, 0, 1, 9, 5, 7));
    assert.equal(en.shown.at(-1)?.text, '2 new, 1 updated at 09:05:07');
    const ja = rig(catalogOf('defender-incidents.json', 'ja'), (node, translate) => new PullStatus(node, translate, 'defender-incidents'));
    ja.status.failed('HTTP_403', 'Microsoft Graph answered HTTP 403: forbidden …', 403);
    assert.equal(ja.shown.at(-1)?.text, 'HTTP 403: SecurityIncident.Read.All が必要です');
  });

  it('has a text of its own for every status the detections node can show (both use PullStatus), in each language', () => {
    for (const lang of ['en-US', 'ja']) {
      const statusKeys = (file: string, type: string) =>
        Object.keys(catalogOf(file, lang)).filter((k) => k.startsWith(`${type}.status.`)).map((k) => k.slice(type.length));
      const incidents = new Set(statusKeys('defender-incidents.json', 'defender-incidents'));
      const missing = statusKeys('defender-detections.json', 'defender-detections').filter((k) => !incidents.has(k));
      assert.deepEqual(missing, [], `${lang}: the incidents node would show these in English`);
    }
    const ja = rig(catalogOf('defender-incidents.json', 'ja'), (node, translate) => new PullStatus(node, translate, 'defender-incidents'));
    ja.status.done({ new: 12400, updates: 0 }, new Date(2020, 0, 1, 9, 5, 7));
    assert.match(String(ja.shown.at(-1)?.text), /12,400/);
    ja.status.standby(new Date(2020, 0, 1, 9, 5, 7));
    assert.equal(ja.shown.at(-1)?.text, 'スタンバイ (09:05:07)');
  });
});

describe('UpdateStatus', () => {
  const catalog = (lang: string): Record<string, string> => {
    const flat: Record<string, string> = {};
    const walk = (o: unknown, prefix: string): void => {
      if (typeof o === 'string') flat[prefix.slice(0, -1)] = o;
      else for (const [k, v] of Object.entries(o as object)) walk(v, `${prefix}${k}.`);
    };
    walk(JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'nodes', 'locales', lang, 'defender-alert-update.json'), 'utf8')), '');
    return flat;
  };
  const update = (lang: string) => rig(catalog(lang), (node, translate) => new UpdateStatus(node, translate));

  it('says writing, the alert\'s new status and the time, from the node\'s own catalog', () => {
    const { status, shown } = update('en-US');
    status.writing();
    assert.deepEqual(shown.at(-1), { fill: 'blue', shape: 'ring', text: 'updating…' });
    status.done('inProgress', new Date(2020, 0, 1, 9, 5, 7));
    assert.deepEqual(shown.at(-1), { fill: 'green', shape: 'dot', text: 'inProgress at 09:05:07' });
    status.done('', new Date(2020, 0, 1, 9, 5, 7));
    assert.equal(shown.at(-1)?.text, 'updated at 09:05:07');
  });

  it('gives 400, 403 and 404 a short reason of their own, in English and Japanese', () => {
    const en = update('en-US');
    en.status.failed('HTTP_403', 'Microsoft Graph answered HTTP 403: forbidden …', 403);
    assert.deepEqual(en.shown.at(-1), { fill: 'red', shape: 'ring', text: 'HTTP 403: needs SecurityAlert.ReadWrite.All' });
    en.status.failed('HTTP_404', 'Microsoft Graph answered HTTP 404: not found …', 404);
    assert.equal(en.shown.at(-1)?.text, 'HTTP 404: unknown alert id');
    en.status.failed('HTTP_400', 'Microsoft Graph answered HTTP 400 …', 400);
    assert.equal(en.shown.at(-1)?.text, 'HTTP 400: Graph refused the change');
    en.status.failed('HTTP_502', 'Microsoft Graph answered HTTP 502 …', 502);
    assert.equal(en.shown.at(-1)?.text, 'HTTP 502: service error');
    const ja = update('ja');
    ja.status.failed('HTTP_403', 'Microsoft Graph answered HTTP 403: forbidden …', 403);
    assert.equal(ja.shown.at(-1)?.text, 'HTTP 403: SecurityAlert.ReadWrite.All が必要です');
    ja.status.done('resolved', new Date(2020, 0, 1, 9, 5, 7));
    assert.equal(ja.shown.at(-1)?.text, '解決済み (09:05:07)');
    ja.status.done('inProgress', new Date(2020, 0, 1, 9, 5, 7));
    assert.equal(ja.shown.at(-1)?.text, '進行中 (09:05:07)');
    ja.status.done('', new Date(2020, 0, 1, 9, 5, 7));
    assert.equal(ja.shown.at(-1)?.text, '更新済み (09:05:07)');
    // A status Graph adds later has no Japanese yet: its own word stands.
    ja.status.done('awaitingReview', new Date(2020, 0, 1, 9, 5, 7));
    assert.equal(ja.shown.at(-1)?.text, 'awaitingReview (09:05:07)');
  });
});

describe('UpdateStatus of the update incident node', () => {
  it('reads the incident node\'s own catalog: its 403 names SecurityIncident.ReadWrite.All, its statuses are the incident\'s', () => {
    const update = (lang: string) => rig(catalogOf('defender-incident-update.json', lang), (node, translate) => new UpdateStatus(node, translate, 'defender-incident-update'));
    const en = update('en-US');
    en.status.failed('HTTP_403', 'Microsoft Graph answered HTTP 403: forbidden …', 403);
    assert.equal(en.shown.at(-1)?.text, 'HTTP 403: needs SecurityIncident.ReadWrite.All');
    en.status.failed('HTTP_404', 'Microsoft Graph answered HTTP 404: not found …', 404);
    assert.equal(en.shown.at(-1)?.text, 'HTTP 404: unknown incident id');
    en.status.done('active', new Date(2020, 0, 1, 9, 5, 7));
    assert.equal(en.shown.at(-1)?.text, 'active at 09:05:07');
    const ja = update('ja');
    ja.status.failed('HTTP_403', 'Microsoft Graph answered HTTP 403: forbidden …', 403);
    assert.equal(ja.shown.at(-1)?.text, 'HTTP 403: SecurityIncident.ReadWrite.All が必要です');
    ja.status.done('active', new Date(2020, 0, 1, 9, 5, 7));
    assert.equal(ja.shown.at(-1)?.text, 'アクティブ (09:05:07)');
    ja.status.done('inProgress', new Date(2020, 0, 1, 9, 5, 7));
    assert.equal(ja.shown.at(-1)?.text, '進行中 (09:05:07)');
    // Defender's own statuses have no word in the catalog: Graph's stands.
    ja.status.done('redirected', new Date(2020, 0, 1, 9, 5, 7));
    assert.equal(ja.shown.at(-1)?.text, 'redirected (09:05:07)');
  });
});
