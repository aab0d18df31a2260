import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node } from 'node-red';
import { PullStatus } from '../../src/nodes/status';

/** A node that only keeps its last status, and a catalog with some keys, as Node-RED's i18n answers. */
function rig(catalog: Record<string, string>) {
  const shown: Array<Record<string, unknown>> = [];
  const node = { status: (s: Record<string, unknown>) => shown.push(s) } as unknown as Node;
  const translate = (key: string, vars?: Record<string, string | number>): string =>
    key in catalog ? catalog[key].replace(/__(\w+)__/g, (_, name: string) => String(vars?.[name] ?? '')) : key;
  return { status: new PullStatus(node, translate), shown };
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
    status.done(3, new Date(2020, 0, 1, 9, 5, 7));
    assert.deepEqual(shown.at(-1), { fill: 'green', shape: 'dot', text: '3 new at 09:05:07' });
  });
});
